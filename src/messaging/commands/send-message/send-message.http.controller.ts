import { Body, Controller, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthUser, CurrentUser, RequestMetadata } from '../../../common/http/request-context';
import type { EventMetadata } from '../../../event-store/event-store.port';
import { SendMessageCommand, SentMessage } from './send-message.command';
import {
  SendMessageRequestDto,
  SendMessageResponseDto,
  toSendInput,
  toSendResponse,
} from './send-message.request.dto';

@ApiTags('messages')
@ApiBearerAuth()
@Controller('api/v1/messages')
export class SendMessageHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @ApiOperation({
    summary:
      'Send a message, or recall one (msg_type 5, content the msg_key); a retry with the same ' +
      'dev_id returns the first send',
  })
  @ApiResponse({ status: 201, type: SendMessageResponseDto, description: 'sent' })
  @ApiResponse({ status: 200, type: SendMessageResponseDto, description: 'a retry: already sent' })
  async send(
    @CurrentUser() user: AuthUser,
    @Body() body: SendMessageRequestDto,
    @RequestMetadata() metadata: EventMetadata,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SendMessageResponseDto> {
    const sent: SentMessage = await this.commands.execute(
      new SendMessageCommand(toSendInput(user.uid, body), metadata),
    );
    res.status(sent.duplicate ? 200 : 201);
    return toSendResponse(sent);
  }
}

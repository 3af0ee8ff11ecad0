import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { EventMetadata } from '../../../event-store/event-store.port';
import { Public, RequestMetadata } from '../../../common/http/request-context';
import { AdminKeyGuard } from '../../auth.guards';
import { GetTokenRequestDto } from './get-token.request.dto';
import { IssueTokenCommand } from './issue-token.command';

@ApiTags('gateway (inner)')
@Controller('inner')
export class GetTokenHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post('get_token')
  @HttpCode(200)
  @Public()
  @UseGuards(AdminKeyGuard)
  @ApiHeader({ name: 'X-Admin-Key', required: true })
  @ApiOperation({ summary: 'Issue a user token, registering the user on first use' })
  async getToken(
    @Body() body: GetTokenRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ code: 0; data: string }> {
    const { token } = await this.commands.execute(
      new IssueTokenCommand(body.session, body.platform, metadata),
    );
    return { code: 0, data: token };
  }
}

import { Body, Controller, Param, Put, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../../../accounts/auth.guards';
import { Public, RequestMetadata } from '../../../common/http/request-context';
import type { EventMetadata } from '../../../event-store/event-store.port';
import { TargetParamsDto } from '../../relations.http.controller';
import { UpdateProfileCommand } from './update-profile.command';
import { ProfileDto } from './update-profile.request.dto';

@ApiTags('admin: users')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/users')
export class UpdateProfileHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Put(':uid/profile')
  @ApiOperation({
    summary: "Create or update a user's profile (name, face, official and system type)",
  })
  update(
    @Param() p: TargetParamsDto,
    @Body() body: ProfileDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ registered: boolean }> {
    return this.commands.execute(new UpdateProfileCommand(p.uid, body, metadata));
  }
}

import { Body, Controller, Param, Put, UseGuards } from '@nestjs/common';
import { CommandBus, Command, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsIn, IsInt, IsString, IsUrl, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { AdminKeyGuard } from '../../../accounts/auth.guards';
import { UserDirectory } from '../../../accounts/user-directory';
import { Public, RequestMetadata } from '../../../common/http/request-context';
import { Clock } from '../../../core/clock';
import type { EventMetadata } from '../../../event-store/event-store.port';
import { UserRelationsStore } from '../../user-relations.store';
import { TargetParamsDto } from '../../relations.http.controller';

export class ProfileDto {
  @ApiProperty({ description: 'Display name' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  name!: string;

  @ApiProperty({ description: 'Avatar URL (http or https), or empty' })
  @IsString()
  @MaxLength(1024)
  @ValidateIf((o: ProfileDto) => o.face !== '')
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true })
  face!: string;

  @ApiProperty({ description: '-1 none, 0 personal, 1 organisation' })
  @IsInt()
  @IsIn([-1, 0, 1])
  official_type!: number;

  @ApiProperty({
    description:
      '0 a person; a system account: 1 live assistant, 7 UP assistant, 8 customer service',
  })
  @IsInt()
  @IsIn([0, 1, 7, 8])
  system_msg_type!: number;
}

export class UpdateProfileCommand extends Command<{ registered: boolean }> {
  constructor(
    readonly uid: string,
    readonly profile: ProfileDto,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}

/** Creates or updates a profile; a user who did not exist is registered with it. */
@CommandHandler(UpdateProfileCommand)
export class UpdateProfileHandler implements ICommandHandler<
  UpdateProfileCommand,
  { registered: boolean }
> {
  constructor(
    private readonly relations: UserRelationsStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
  ) {}

  async execute(c: UpdateProfileCommand): Promise<{ registered: boolean }> {
    const existed = await this.users.exists(c.uid);
    await this.relations.execute(
      {
        kind: 'UpdateProfile',
        uid: c.uid,
        name: c.profile.name,
        face: c.profile.face,
        officialType: c.profile.official_type,
        systemMsgType: c.profile.system_msg_type,
        nowUs: this.clock.nowUs(),
      },
      c.metadata,
    );
    this.users.remember(c.uid);
    return { registered: !existed };
  }
}

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

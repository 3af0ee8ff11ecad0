import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { ProfileDto } from './update-profile.request.dto';

export class UpdateProfileCommand extends Command<{ registered: boolean }> {
  constructor(
    readonly uid: string,
    readonly profile: ProfileDto,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}

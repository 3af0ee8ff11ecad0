import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { SentMessage } from '../send-message/send-message.command';

/**
 * A system recall (the seed's `sys_cancel`), by an administrator: any message, any age. The
 * message disappears from history; a recall notice with `sys_cancel: true` takes its place at the
 * end of the conversation. Retrying it for the same message changes nothing (21042).
 */
export class SysCancelCommand extends Command<SentMessage> {
  constructor(
    readonly msgKey: string,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}

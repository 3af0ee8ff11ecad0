import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { Errors } from '../../../common/errors';
import { Clock } from '../../../core/clock';
import { PG_POOL } from '../../../core/core.module';
import { EventStore } from '../../../event-store/event-store.port';
import { sessionsStream } from '../../../sessions/sessions.events';
import { GROUP_ASSISTANT_ACKED, GroupAssistantAckedData } from '../../groups.events';
import { AckAssistantCommand, AssistantAcked } from './ack-assistant.command';

/**
 * Moves the group assistant's read progress: never past its newest notice (400), and an ack at or
 * below the current one writes nothing (the projection keeps the maximum either way).
 */
@CommandHandler(AckAssistantCommand)
export class AckAssistantHandler implements ICommandHandler<AckAssistantCommand, AssistantAcked> {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly clock: Clock,
  ) {}

  async execute(c: AckAssistantCommand): Promise<AssistantAcked> {
    const { rows } = await this.pool.query<{ max_seqno: string; ack_seqno: string }>(
      `SELECT max_seqno, ack_seqno FROM rm_group_assistant WHERE owner_uid = $1`,
      [c.ownerUid],
    );
    const max = Number(rows[0]?.max_seqno ?? 0);
    const acked = Number(rows[0]?.ack_seqno ?? 0);
    if (c.ackSeqno > max) {
      throw Errors.validation(`ack_seqno ${c.ackSeqno} is beyond the newest notice (${max})`);
    }
    if (c.ackSeqno <= acked) return { ackSeqno: acked, changed: false };
    const data: GroupAssistantAckedData = {
      ownerUid: c.ownerUid,
      ackSeqno: c.ackSeqno,
      atUs: this.clock.nowUs(),
    };
    await this.store.append(
      sessionsStream(c.ownerUid),
      [{ id: randomUUID(), type: GROUP_ASSISTANT_ACKED, data, metadata: c.metadata }],
      'any',
    );
    return { ackSeqno: c.ackSeqno, changed: true };
  }
}

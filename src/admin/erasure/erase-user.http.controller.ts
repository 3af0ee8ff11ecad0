import { Controller, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import type { Pool } from 'pg';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { UID_PATTERN, UID_RULE } from '../../accounts/commands/issue-token/get-token.request.dto';
import { DomainError } from '../../common/errors';
import { Public, RequestMetadata } from '../../common/http/request-context';
import { Clock } from '../../core/clock';
import { PG_POOL } from '../../core/core.module';
import { KeyRing } from '../../crypto/key-ring';
import { EventMetadata, EventStore } from '../../event-store/event-store.port';
import { recordAdminOperation } from '../admin-actions';
import { EraseUserResult, eraseUser } from './erase-user';

export class EraseUserParamsDto {
  @Matches(UID_PATTERN, { message: `uid must be a user id: ${UID_RULE}` })
  uid!: string;
}

/** Erasure over REST, for administrators (X-Admin-Key): `npm run admin -- erase-user` too. */
@ApiTags('admin: erasure')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/users')
export class EraseUserHttpController {
  constructor(
    private readonly store: EventStore,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @Post(':uid/erase')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Erase a user: destroy their data key, record UserErased, redact the read models',
    description:
      'Cannot be undone. Their content can no longer be read from the log, exports, backups ' +
      'taken after, or any rebuild; the read models are redacted once the projections pass ' +
      '`event.position`, their copies (time-travel snapshots, rebuild and verify copies) at once ' +
      '(`copies_redacted`). Ids, metadata and the other party’s messages stay. Erasing again is ' +
      'harmless (status already_erased). See docs/admin/streams-export-erasure.md.',
  })
  async erase(
    @Param() p: EraseUserParamsDto,
    @RequestMetadata() m: EventMetadata,
  ): Promise<EraseUserResult> {
    try {
      const result = await eraseUser(
        {
          store: this.store,
          pool: this.pool,
          destroyKey: (uid) => this.keyRing.destroyKey(uid),
          nowUs: () => this.clock.nowUs(),
        },
        p.uid,
        m,
      );
      await recordAdminOperation(this.store, m, {
        operation: 'erase-user',
        args: { uid: p.uid },
        outcome: result.status,
        detail: { event_id: result.event.id },
      });
      return result;
    } catch (err) {
      await recordAdminOperation(this.store, m, {
        operation: 'erase-user',
        args: { uid: p.uid },
        outcome: err instanceof DomainError && err.status === 404 ? 'not_found' : 'failed',
        detail: { error: err instanceof Error ? err.message : String(err) },
      }).catch(() => undefined);
      throw err;
    }
  }
}

import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Actor, EventMetadata, EventStore, Position } from '../event-store/event-store.port';

/** Event type of an administrator's operation (rebuild, verify, export, import, erase, …). */
export const ADMIN_OPERATION_RECORDED = 'AdminOperationRecorded';

export interface AdminOperationRecorded {
  /** The CLI command or REST operation, e.g. `rebuild`, `erase-user`. */
  readonly operation: string;
  /** Its arguments, as given (no secrets). */
  readonly args: Record<string, unknown>;
  /** How it ended: `completed`, `failed`, `interrupted`, `differs`, … */
  readonly outcome: string;
  readonly detail?: Record<string, unknown>;
}

/** Stream of one recorded operation: `adminop-<uuid>`. */
export const adminOperationStream = (id: string) => `adminop-${id}`;

/**
 * Who runs the CLI: `ADMIN_ACTOR` when set (say, the operator's name in a runbook), else the
 * operating-system user. The REST API's operations are the admin key's (`admin-key`).
 */
export function cliActor(env: NodeJS.ProcessEnv): Actor {
  const name = env.ADMIN_ACTOR?.trim() || safeUserName();
  return { kind: 'admin', id: `cli:${name}`.slice(0, 128) };
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Metadata of an operation the CLI performs. */
export function cliMetadata(env: NodeJS.ProcessEnv): EventMetadata {
  return {
    actor: cliActor(env),
    correlationId: randomUUID(),
    device: 'admin-cli',
    at: new Date().toISOString(),
  };
}

/**
 * Records an administrator's operation as an event, so the audit log audits the administrators
 * too. One event per operation, on a stream of its own.
 */
export async function recordAdminOperation(
  store: EventStore,
  metadata: EventMetadata,
  operation: AdminOperationRecorded,
): Promise<Position> {
  const id = randomUUID();
  const result = await store.append(
    adminOperationStream(id),
    [{ id, type: ADMIN_OPERATION_RECORDED, data: operation, metadata }],
    'no_stream',
  );
  return result.position;
}

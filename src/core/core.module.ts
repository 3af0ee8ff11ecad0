import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Pool } from 'pg';
import { allProjectors } from '../../projections';
import { KeyRing } from '../crypto/key-ring';
import { ProjectionRunner } from '../../projections/projection-runner';
import { MsgKeyGenerator } from '../common/ids';
import { withReadSchemas } from '../common/read-schema';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { EventStore } from '../event-store/event-store.port';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import { Clock, SYSTEM_CLOCK } from './clock';
import { EventStoreDbEventStore } from '../event-store/eventstoredb/eventstoredb-event-store';
import { LeaderLock, PROJECTIONS_LOCK_KEY } from './leader-lock';
import { NodeIdLease } from './node-id-lease';

export const PG_POOL = Symbol('PG_POOL');

/** Whether this process runs the projections (while it holds the lead among those that may). */
export function runsProjections(settings: AppSettings): boolean {
  return settings.config.PROJECTIONS === 'on' && (settings.role ?? 'all') !== 'api';
}

/**
 * Runs the projections while this process leads (one process at a time, over every process on
 * the database), and closes what the core opened, in order.
 */
@Injectable()
class CoreLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly lead: LeaderLock | null;

  constructor(
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
    private readonly lease: NodeIdLease,
  ) {
    const logger = new Logger('projections');
    this.lead = runsProjections(settings)
      ? new LeaderLock(
          {
            connectionString: settings.databaseUrl,
            key: PROJECTIONS_LOCK_KEY,
            pollMs: settings.config.PROJECTOR_LOCK_POLL_MS,
            logger: {
              info: (obj, msg) => logger.log({ ...obj, msg: `projections: ${msg}` }),
              warn: (obj, msg) => logger.warn({ ...obj, msg: `projections: ${msg}` }),
            },
          },
          runner,
        )
      : null;
  }

  onApplicationBootstrap(): void {
    this.lead?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lead?.stop();
    await this.runner.stop();
    await this.store.close();
    await this.lease.release();
    await this.pool.end();
  }
}

@Global()
@Module({})
export class CoreModule {
  static forRoot(settings: AppSettings) {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_SETTINGS, useValue: settings },
        { provide: Clock, useValue: SYSTEM_CLOCK },
        {
          provide: PG_POOL,
          useFactory: () => {
            const pool = new Pool({
              connectionString: settings.databaseUrl,
              max: settings.config.DB_POOL_SIZE,
            });
            // An idle client that loses its connection must not take the process down.
            pool.on('error', (err) => new Logger('pg').warn(`idle client error: ${err.message}`));
            // A request with ?as_of= reads a time-travel snapshot's tables through this pool.
            return withReadSchemas(pool);
          },
        },
        {
          provide: EventStore,
          inject: [PG_POOL],
          useFactory: (pool: Pool): EventStore => {
            if (settings.eventStore) return settings.eventStore;
            const esdb = settings.config.EVENTSTORE_CONNECTION_STRING;
            if (!esdb) return new PostgresEventStore(pool);
            const logger = new Logger('eventstoredb');
            return EventStoreDbEventStore.fromConnectionString(esdb, {
              logger: { warn: (obj, msg) => logger.warn({ ...obj, msg }) },
            });
          },
        },
        {
          provide: NodeIdLease,
          useFactory: () => NodeIdLease.acquire({ connectionString: settings.databaseUrl }),
        },
        {
          provide: MsgKeyGenerator,
          inject: [NodeIdLease],
          useFactory: (lease: NodeIdLease) => new MsgKeyGenerator(lease.nodeId),
        },
        {
          provide: KeyRing,
          inject: [PG_POOL],
          useFactory: (pool: Pool) => new KeyRing(pool, settings.masterKey),
        },
        {
          provide: ProjectionRunner,
          inject: [EventStore, PG_POOL, KeyRing],
          useFactory: (store: EventStore, pool: Pool, keyRing: KeyRing) => {
            const logger = new Logger('projections');
            return new ProjectionRunner(store, pool, allProjectors(keyRing), {
              // Read models may trail the log by a few ms more, for far fewer commits under
              // light load (bench:realtime).
              gatherMs: 10,
              logger: { error: (obj, msg) => logger.error({ ...obj, msg }) },
            });
          },
        },
        CoreLifecycle,
      ],
      exports: [
        APP_SETTINGS,
        Clock,
        PG_POOL,
        EventStore,
        MsgKeyGenerator,
        KeyRing,
        ProjectionRunner,
      ],
    };
  }
}

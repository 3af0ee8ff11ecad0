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
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { EventStore } from '../event-store/event-store.port';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import { Clock, SYSTEM_CLOCK } from './clock';
import { NodeIdLease } from './node-id-lease';

export const PG_POOL = Symbol('PG_POOL');

/** Starts the in-process projections with the app, and closes what the core opened, in order. */
@Injectable()
class CoreLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
    private readonly lease: NodeIdLease,
  ) {}

  onApplicationBootstrap(): void {
    if (this.settings.config.PROJECTIONS === 'on') this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
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
            return pool;
          },
        },
        {
          provide: EventStore,
          inject: [PG_POOL],
          useFactory: (pool: Pool) => new PostgresEventStore(pool),
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

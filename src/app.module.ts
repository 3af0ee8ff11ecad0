import { DynamicModule, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import pino, { DestinationStream } from 'pino';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AccountsModule } from './accounts/accounts.module';
import { AdminHttpModule } from './admin/admin-http.module';
import { BilibiliCompatModule } from './compat/bilibili/bilibili.module';
import { OpenImCompatModule } from './compat/openim/openim.module';
import { GatewayCompatModule } from './compat/gateway/gateway.module';
import { HttpErrorFilter } from './common/http/error.filter';
import { AppSettings } from './config/app-config';
import { ConfigModule } from '@nestjs/config';
import { CoreModule } from './core/core.module';
import { GroupsModule } from './groups/groups.module';
import { HealthModule } from './health/health.module';
import { MessagingModule } from './messaging/messaging.module';
import { RealtimeModule } from './realtime/realtime.module';
import { RelationsModule } from './relations/relations.module';
import { SessionsModule } from './sessions/sessions.module';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** What pino-http hands a request serializer. */
interface SerializedRequest {
  id: unknown;
  method: string;
  url: string;
  remoteAddress?: string;
  headers: Record<string, unknown>;
}
const LOG_DESTINATION = Symbol('LOG_DESTINATION');

@Injectable()
class LogFlusher implements OnApplicationShutdown {
  constructor(@Inject(LOG_DESTINATION) private readonly destination: DestinationStream) {}

  onApplicationShutdown(): void {
    (this.destination as { flushSync?: () => void }).flushSync?.();
  }
}

@Module({})
export class AppModule {
  static forRoot(settings: AppSettings): DynamicModule {
    // Log lines are written asynchronously (buffered while a write is pending) so that logging
    // one line per request does not block the event loop; flushed when the app shuts down.
    const logDestination = pino.destination({ dest: 1, sync: false });
    return {
      module: AppModule,
      imports: [
        // The validated configuration, also readable through ConfigService.
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ ...settings.config })],
        }),
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: settings.config.LOG_LEVEL,
              // A caller's X-Request-Id becomes the correlation id of the events it causes.
              genReqId: (req: IncomingMessage) => {
                const given = req.headers['x-request-id'];
                return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
              },
              // One short line per request: which, from where, outcome, time. Headers stay out of
              // the log (they carry credentials); the redaction guards any that get in.
              serializers: {
                req: (req: SerializedRequest) => ({
                  id: req.id,
                  method: req.method,
                  // A token in the query (`/notify?token=`, for EventSource) stays out of the log.
                  url: req.url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]'),
                  ip: req.remoteAddress,
                  device: req.headers['x-device-id'],
                }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
              redact: [
                'req.headers.authorization',
                'req.headers["x-admin-key"]',
                'req.headers.cookie',
              ],
              customLogLevel: (_req, res, err) =>
                err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            },
            logDestination,
          ],
        }),
        CoreModule.forRoot(settings),
        // A projector process serves only its health; everything else is the API's.
        ...(settings.role === 'projector'
          ? []
          : [
              AccountsModule,
              RelationsModule,
              MessagingModule,
              GroupsModule,
              SessionsModule,
              RealtimeModule,
              BilibiliCompatModule,
              OpenImCompatModule,
              GatewayCompatModule,
              AdminHttpModule,
            ]),
        HealthModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: HttpErrorFilter },
        { provide: LOG_DESTINATION, useValue: logDestination },
        LogFlusher,
      ],
    };
  }
}

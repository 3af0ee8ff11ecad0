import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AccountsModule } from './accounts/accounts.module';
import { HttpErrorFilter } from './common/http/error.filter';
import { AppSettings } from './config/app-config';
import { ConfigModule } from '@nestjs/config';
import { CoreModule } from './core/core.module';
import { HealthModule } from './health/health.module';
import { MessagingModule } from './messaging/messaging.module';
import { SessionsModule } from './sessions/sessions.module';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

@Module({})
export class AppModule {
  static forRoot(settings: AppSettings): DynamicModule {
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
          pinoHttp: {
            level: settings.config.LOG_LEVEL,
            // A caller's X-Request-Id becomes the correlation id of the events it causes.
            genReqId: (req: IncomingMessage) => {
              const given = req.headers['x-request-id'];
              return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
            },
            redact: [
              'req.headers.authorization',
              'req.headers["x-admin-key"]',
              'req.headers.cookie',
            ],
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
          },
        }),
        CoreModule.forRoot(settings),
        AccountsModule,
        MessagingModule,
        SessionsModule,
        HealthModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
    };
  }
}

import { Module } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { JwtModule } from '@nestjs/jwt';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { AdminKeyGuard, JwtAuthGuard } from './auth.guards';
import { GetTokenHttpController } from './commands/issue-token/get-token.http.controller';
import { IssueTokenHandler } from './commands/issue-token/issue-token.handler';
import { UserDirectory } from './user-directory';

@Module({
  imports: [
    CqrsModule,
    JwtModule.registerAsync({
      global: true,
      inject: [APP_SETTINGS],
      useFactory: (settings: AppSettings) => ({
        // A KeyObject made once: given a string, the JWT library derives one on every
        // verification, which cost a third of a request's CPU time.
        secret: createSecretKey(Buffer.from(settings.jwtSecret, 'utf8')),
        signOptions: { algorithm: 'HS256' },
      }),
    }),
  ],
  controllers: [GetTokenHttpController],
  providers: [
    IssueTokenHandler,
    UserDirectory,
    AdminKeyGuard,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [UserDirectory, AdminKeyGuard],
})
export class AccountsModule {}

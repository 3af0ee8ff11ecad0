import { Module } from '@nestjs/common';
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
        secret: settings.jwtSecret,
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

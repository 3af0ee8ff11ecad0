import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { APP_SETTINGS, AppSettings } from '../../../config/app-config';
import { Clock } from '../../../core/clock';
import {
  EventData,
  EventStore,
  WrongExpectedVersionError,
} from '../../../event-store/event-store.port';
import {
  TOKEN_ISSUED,
  TokenIssuedData,
  USER_REGISTERED,
  UserRegisteredData,
  userStream,
} from '../../accounts.events';
import { UserDirectory } from '../../user-directory';
import { IssuedToken, IssueTokenCommand } from './issue-token.command';

@CommandHandler(IssueTokenCommand)
export class IssueTokenHandler implements ICommandHandler<IssueTokenCommand, IssuedToken> {
  constructor(
    private readonly store: EventStore,
    private readonly jwt: JwtService,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  async execute(cmd: IssueTokenCommand): Promise<IssuedToken> {
    const tokenId = randomUUID();
    const ttl = this.settings.config.JWT_TTL_SECONDS;
    const expiresAt = new Date(this.clock.nowMs() + ttl * 1000).toISOString();
    const issued: EventData<TokenIssuedData> = {
      id: randomUUID(),
      type: TOKEN_ISSUED,
      data: { uid: cmd.uid, platform: cmd.platform, tokenId, expiresAt },
      metadata: cmd.metadata,
    };
    const stream = userStream(cmd.uid);
    let registered = false;
    if (await this.users.exists(cmd.uid)) {
      await this.store.append(stream, [issued], 'stream_exists');
    } else {
      const registration: EventData<UserRegisteredData> = {
        id: randomUUID(),
        type: USER_REGISTERED,
        data: { uid: cmd.uid, platform: cmd.platform },
        metadata: cmd.metadata,
      };
      try {
        await this.store.append(stream, [registration, issued], 'no_stream');
        registered = true;
      } catch (err) {
        // Registered concurrently by another request: this one only issues a token.
        if (!(err instanceof WrongExpectedVersionError)) throw err;
        await this.store.append(stream, [issued], 'stream_exists');
      }
      this.users.remember(cmd.uid);
    }
    const token = await this.jwt.signAsync(
      { sub: cmd.uid, plat: cmd.platform, jti: tokenId },
      { expiresIn: ttl, algorithm: 'HS256' },
    );
    return { token, registered };
  }
}

import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config';

/** Socket.IO with the configured frame limit; the client bundle is not served. */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      // A frame over this closes that client's connection (engine.io's rule), nothing else.
      maxHttpBufferSize: this.config.REALTIME_MAX_FRAME_BYTES,
      serveClient: false,
      // A handshake that does not authenticate is closed after this long.
      connectTimeout: 10_000,
    }) as Server;
  }
}

import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { json, Request, Response, urlencoded } from 'express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { createValidationPipe, StorableTextPipe } from './common/http/validation';
import { bodyParseError } from './common/http/error.filter';
import { AppSettings } from './config/app-config';
import { ConfiguredIoAdapter } from './realtime/socket-io.adapter';

type Middleware = (req: Request, res: Response, next: (err?: unknown) => void) => void;

/** Body-parser failures become domain errors here, before Nest reduces them to a message. */
function withBodyErrors(parser: Middleware): Middleware {
  return (req, res, next) => parser(req, res, (err) => next(err ? bodyParseError(err) : undefined));
}

/** Builds the Nest application (not yet listening) for a resolved configuration. */
export async function createApp(settings: AppSettings): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(settings), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  const limit = settings.config.BODY_LIMIT_BYTES;
  app.use(withBodyErrors(json({ limit, strict: true })));
  app.use(withBodyErrors(urlencoded({ limit, extended: true, parameterLimit: 200 })));
  app.set('trust proxy', 'loopback');
  app.disable('x-powered-by');
  app.useGlobalPipes(new StorableTextPipe(), createValidationPipe());
  app.useWebSocketAdapter(new ConfiguredIoAdapter(app, settings.config));

  const openApi = new DocumentBuilder()
    .setTitle('IM backend')
    .setDescription('Event-sourced messaging backend: native REST API and seed-compatible surfaces')
    .setVersion('0.1.0')
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Admin-Key' }, 'admin-key')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi));
  return app;
}

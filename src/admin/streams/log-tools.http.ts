import { EraseUserHttpController } from '../erasure/erase-user.http.controller';
import { ExportHttpController } from '../export/export.http.controller';
import { StreamsHttpController } from './streams.http.controller';

/** The REST controllers of stream inspection, export and erasure (admin-http.module.ts). */
export const LOG_TOOL_CONTROLLERS = [
  StreamsHttpController,
  ExportHttpController,
  EraseUserHttpController,
];

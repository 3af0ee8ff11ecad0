import { EraseUserCommand } from '../erasure/erase-user.command';
import { ExportCommand } from '../export/export.command';
import { ImportCommand } from '../export/import.command';
import { StreamCommand } from './stream.command';

/** The CLI commands of stream inspection, export/import and erasure (admin.module.ts). */
export const LOG_TOOL_COMMANDS = [StreamCommand, ExportCommand, ImportCommand, EraseUserCommand];

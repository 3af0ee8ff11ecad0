import { DynamicModule, Module } from '@nestjs/common';
import { ADMIN_CONTEXT, AdminContext } from './admin-context';
import { AuditCommand } from './audit/audit.command';
import { CopyToEventStoreDbCommand } from './copy-to-eventstoredb/copy-to-eventstoredb.command';
import { REPLAY_COMMANDS } from './replay/replay.commands';
import { LOG_TOOL_COMMANDS } from './streams/log-tools.commands';

/** Every command of `npm run admin -- <command>`; a new command is one more entry. */
const COMMANDS = [
  CopyToEventStoreDbCommand,
  AuditCommand,
  ...LOG_TOOL_COMMANDS,
  ...REPLAY_COMMANDS,
];

/**
 * The admin CLI's root module: the commands and the context they run in. Nothing of the HTTP
 * application is imported: each command opens what it needs (database, event store) itself.
 */
@Module({})
export class AdminModule {
  static forContext(context: AdminContext): DynamicModule {
    return {
      module: AdminModule,
      providers: [{ provide: ADMIN_CONTEXT, useValue: context }, ...COMMANDS],
    };
  }
}

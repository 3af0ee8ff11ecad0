import { DynamicModule, Module } from '@nestjs/common';
import { ADMIN_CONTEXT, AdminContext } from './admin-context';
import { CopyToEventStoreDbCommand } from './copy-to-eventstoredb/copy-to-eventstoredb.command';

/** Every command of `npm run admin -- <command>`; a new command is one more entry. */
const COMMANDS = [CopyToEventStoreDbCommand];

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

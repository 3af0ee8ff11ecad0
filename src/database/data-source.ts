import { DataSource } from 'typeorm';
import { MIGRATIONS } from './migrations';

/** The TypeORM data source: schema changes go through its migrations, never `synchronize`. */
export function createDataSource(databaseUrl: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
  });
}

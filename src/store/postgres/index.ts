/** PostgreSQL adapter of the store port (also used by the embedded default and the tests). */
import { PostgresStore, type PostgresStoreOptions } from './adapter.ts';

export { PostgresStore, mapPgError, type PostgresStoreOptions } from './adapter.ts';
export { MIGRATIONS, migrate, type Migration } from './schema.ts';

/** Creates the adapter; no connection is made until the first call (usually `migrate()`). */
export function createPostgresStore(opts: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(opts);
}

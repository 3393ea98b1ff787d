/** MongoDB adapter of the store port (the design card's production choice; selected by a mongodb:// URL). */
import { MongoStore, type MongoStoreOptions } from './adapter.ts';

export { DEFAULT_MONGO_DB, MongoStore, mapMongoError, dbNameFromUrl, mongoUrlWithDatabase, type MongoStoreOptions } from './adapter.ts';

/** Creates the adapter; the driver connects on the first call (usually `migrate()`). */
export function createMongoStore(opts: MongoStoreOptions): MongoStore {
  return new MongoStore(opts);
}

/**
 * Opens the store the configuration asks for: an existing PostgreSQL, MongoDB, or the embedded
 * PostgreSQL (started here). Runs `migrate()` before handing the store out. The returned
 * `databaseUrl` is the same database, for Agenda's backend.
 */
import type { Config } from '../config.ts';
import { ConnectorError } from '../errors.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import type { Store } from './port.ts';
import { createPostgresStore } from './postgres/index.ts';

export type { Store } from './port.ts';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from './embedded.ts';

export interface OpenedStore {
  store: Store;
  /** `postgres://…` or `mongodb://…` of the database the store uses. */
  databaseUrl: string;
  /** Closes the store, then stops the embedded PostgreSQL if one was started. */
  close(): Promise<void>;
}

export async function openStore(database: Config['database'], opts: { log: (msg: string) => void; debug?: (msg: string) => void }): Promise<OpenedStore> {
  let store: Store;
  let databaseUrl: string;
  let stopEmbedded: (() => Promise<void>) | null = null;

  switch (database.kind) {
    case 'postgres':
      databaseUrl = database.url;
      store = createPostgresStore({ url: database.url, log: opts.log });
      break;
    case 'mongodb': {
      // Loaded only for MongoDB: a PostgreSQL process never pays for the driver.
      const { DEFAULT_MONGO_DB, createMongoStore, mongoUrlWithDatabase } = await import('./mongodb/index.ts');
      databaseUrl = mongoUrlWithDatabase(database.url, DEFAULT_MONGO_DB);
      store = createMongoStore({ url: database.url, log: opts.log });
      break;
    }
    case 'embedded-postgres': {
      const embedded = await startEmbeddedPostgres({
        dataDir: database.dataDir,
        port: database.port,
        log: opts.log,
        ...(opts.debug ? { debug: opts.debug } : {}),
      });
      databaseUrl = embedded.url;
      stopEmbedded = embedded.stop;
      store = createPostgresStore({ url: embedded.url, log: opts.log });
      break;
    }
    default:
      throw new ConnectorError('internal', `Unknown database kind ${(database as { kind: string }).kind}`);
  }

  const close = async (): Promise<void> => {
    try {
      await store.close();
    } finally {
      if (stopEmbedded) await stopEmbedded();
    }
  };

  try {
    await store.migrate();
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  return { store, databaseUrl, close };
}

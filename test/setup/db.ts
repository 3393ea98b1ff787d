/** Per-file databases on the test PostgreSQL server started by test/setup/global.ts. */
import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Store } from '../../src/store/port.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';

/** Creates a new, empty, uniquely named database on the test server and returns its URL. */
export async function freshDatabase(): Promise<string> {
  const base = inject('pgUrl');
  const name = `ic_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // template0: never busy (CREATE DATABASE from template1 fails while anyone is connected to it).
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A migrated PostgreSQL store on a fresh database for the test file that calls it (at its top level):
 * opened before its tests, closed after them. Read it inside tests with `store()`.
 */
export function usePostgresStore(): () => Store {
  let store: Store | undefined;
  beforeAll(async () => {
    store = createPostgresStore({ url: await freshDatabase() });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
  });
  return () => {
    if (!store) throw new Error('the store is opened in beforeAll');
    return store;
  };
}

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isConnectorError } from '../../src/errors.ts';
import { openStore } from '../../src/store/index.ts';
import { MIGRATIONS, createPostgresStore } from '../../src/store/postgres/index.ts';
import { freshDatabase } from '../setup/db.ts';
import { storeContractSuite } from './contract.ts';

storeContractSuite('postgres', async () => createPostgresStore({ url: await freshDatabase() }));

describe('postgres store specifics', () => {
  it('migrations started by several processes at once are applied exactly once', async () => {
    const url = await freshDatabase();
    const stores = Array.from({ length: 6 }, () => createPostgresStore({ url, maxConnections: 2 }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await Promise.all(stores.map((s) => s.migrate()));
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const rows = (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows;
      await client.end();
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('an unreachable database is store_unavailable', async () => {
    // A port nothing listens on (the test server's port + a database that is surely closed is not enough).
    const store = createPostgresStore({ url: 'postgres://nobody:x@127.0.0.1:1/none' });
    try {
      const err = await store.getInstallation('x').catch((e: unknown) => e);
      expect(isConnectorError(err, 'store_unavailable')).toBe(true);
      expect((err as { retryable: boolean }).retryable).toBe(true);
      const migrateErr = await store.migrate().catch((e: unknown) => e);
      expect(isConnectorError(migrateErr, 'store_unavailable')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a database that does not exist is store_unavailable', async () => {
    const url = new URL(await freshDatabase());
    url.pathname = '/surely_missing_database';
    const store = createPostgresStore({ url: url.toString() });
    try {
      const err = await store.listInstallations().catch((e: unknown) => e);
      expect(isConnectorError(err, 'store_unavailable')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('openStore with a postgres URL migrates and hands out that URL for the scheduler', async () => {
    const url = await freshDatabase();
    const opened = await openStore({ kind: 'postgres', url }, { log: () => undefined });
    try {
      expect(opened.databaseUrl).toBe(url);
      expect(opened.store.kind).toBe('postgres');
      expect(await opened.store.listInstallations()).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});

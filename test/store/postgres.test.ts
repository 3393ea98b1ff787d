import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isConnectorError } from '../../src/errors.ts';
import { openStore } from '../../src/store/index.ts';
import { defaultSettings } from '../../src/settings/schema.ts';
import { SETTINGS_VERSION } from '../../src/settings/stored.ts';
import { MIGRATIONS, createPostgresStore, migrate } from '../../src/store/postgres/index.ts';
import { freshDatabase } from '../setup/db.ts';
import { storeContractSuite } from './contract.ts';

storeContractSuite('postgres', async () => {
  const url = await freshDatabase();
  return {
    store: createPostgresStore({ url }),
    async writeStoredSettings(installationId, settings, version) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // The column's default stands for a row written before the settings version existed.
        await client.query('UPDATE installations SET settings = $2::jsonb, settings_version = COALESCE($3::int, 1) WHERE id = $1', [
          installationId,
          JSON.stringify(settings),
          version,
        ]);
      } finally {
        await client.end();
      }
    },
  };
});

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

  it('an installation stored before the settings version existed (schema 6, without the newer optional settings) reads after migrating with their defaults; a save stores the current version', async () => {
    const url = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const store = createPostgresStore({ url });
    try {
      await migrate(
        client,
        MIGRATIONS.filter((m) => m.version <= 6),
      );
      const { alertEmail: _a, stripProductCodes: _s, attachKsefXml: _k, ...older } = defaultSettings();
      await client.query(
        `INSERT INTO installations (id, host_kind, host_url, host_database, integration_login, integration_secret, settings, status, created_at, updated_at, version)
         VALUES ('old-1', 'odoo', 'http://127.0.0.1:8069', 'demo', 'connector', '{"keyId":"k","data":"eA=="}', $1, 'active', now(), now(), 3)`,
        [JSON.stringify({ ...older, schedule: { startAt: '09:00', repeatEvery: '2h', until: '15:00' } })],
      );
      await store.migrate();
      const read = await store.getInstallation('old-1');
      expect(read?.settings).toStrictEqual({ ...defaultSettings(), schedule: { startAt: '09:00', repeatEvery: '2h', until: '15:00', days: 'every_day' } });
      const version = async () => (await client.query<{ v: number }>(`SELECT settings_version AS v FROM installations WHERE id = 'old-1'`)).rows[0]?.v;
      expect(await version()).toBe(1);
      await store.updateInstallation('old-1', { settings: { ...read!.settings, enabled: false } }, 3);
      expect(await version()).toBe(SETTINGS_VERSION);
    } finally {
      await client.end();
      await store.close();
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

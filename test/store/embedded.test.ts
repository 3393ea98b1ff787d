import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { assertTraversable, startEmbeddedPostgres } from '../../src/store/embedded.ts';
import { openStore } from '../../src/store/index.ts';
import { defaultSettings } from '../../src/settings/schema.ts';
import { freePort } from '../support/ports.ts';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];

async function tempDir(mode = 0o755): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ic-embedded-test-'));
  await fs.chmod(dir, mode);
  dirs.push(dir);
  return dir;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it("keeps the server's own chatter (initdb, start, shutdown) out of the info log: it goes to debug", async () => {
    const dataDir = path.join(await tempDir(), 'pg');
    const info: string[] = [];
    const debug: string[] = [];
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), log: (m) => info.push(m), debug: (m) => debug.push(m) });
    await server.stop();
    expect(debug.length).toBeGreaterThan(0);
    expect(info.filter((m) => !/initialising a new cluster|ready on|^embedded PostgreSQL: (stopping|stopped)/.test(m))).toEqual([]);
  });

  it('starts again on a data dir whose previous server was left running, keeping the data', async () => {
    const dataDir = path.join(await tempDir(), 'pg');
    const port = await freePort();
    const messages: string[] = [];
    const first = await startEmbeddedPostgres({ dataDir, port, log: () => undefined });
    await query(first.url, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the crash')`);
    const firstPid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(alive(firstPid)).toBe(true);

    // No stop(): as after a SIGKILL of the connector, the server still runs and holds postmaster.pid.
    const second = await startEmbeddedPostgres({ dataDir, port, log: (m) => messages.push(m) });
    try {
      expect(messages.some((m) => m.includes(`pid ${firstPid}`) && m.includes('still running'))).toBe(true);
      expect(alive(firstPid)).toBe(false);
      expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 'before the crash' }]);
      await first.stop(); // its server is already gone: returns without touching the new one
      expect(await query(second.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 1 }]);
    } finally {
      await second.stop();
    }
    await expect(query(second.url, 'SELECT 1')).rejects.toThrow();
  });

  it('openStore on the embedded kind initialises, migrates, and keeps data across restarts', async () => {
    const database = { kind: 'embedded-postgres' as const, dataDir: path.join(await tempDir(), 'data', 'postgres'), port: await freePort() };
    const opened = await openStore(database, { log: () => undefined });
    expect(opened.databaseUrl).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/invoice_courier$/);
    const created = await opened.store.createInstallation({
      hostKind: 'odoo',
      hostUrl: 'http://127.0.0.1:8069',
      hostDatabase: 'demo',
      companyId: null,
      integrationLogin: 'connector',
      integrationSecret: { keyId: 'k', data: 'eA==' },
      operatorSecret: null,
      settings: defaultSettings(),
      callbackUrl: null,
      webhookSecret: null,
      apiTokenHash: null,
    });
    await opened.close();

    const reopened = await openStore(database, { log: () => undefined });
    try {
      expect(reopened.databaseUrl).toBe(opened.databaseUrl); // same persisted password
      expect(await reopened.store.getInstallation(created.id)).toEqual(created);
    } finally {
      await reopened.close();
    }
  });

  it('a data dir below a folder others cannot enter is refused, naming the folder and DATA_DIR', async () => {
    const closed = await tempDir(0o700);
    const err = await assertTraversable(path.join(closed, 'data', 'postgres'), null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(closed);
    expect((err as Error).message).toContain('DATA_DIR');
    await expect(assertTraversable(path.join(await tempDir(0o755), 'pg'), null)).resolves.toBeUndefined();
  });

  it.runIf(isRoot)('as root, starting on such a data dir fails before touching anything', async () => {
    const closed = await tempDir(0o700);
    const err = await startEmbeddedPostgres({ dataDir: path.join(closed, 'pg'), port: await freePort(), log: () => undefined }).catch((e: unknown) => e);
    expect((err as Error).message).toContain(closed);
    await expect(fs.access(path.join(closed, 'pg'))).rejects.toThrow();
  });
});

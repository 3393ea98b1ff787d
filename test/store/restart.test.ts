/**
 * The database goes away under a running connector: the embedded PostgreSQL (real server) is stopped
 * and started again on the same data and port. The connector (composed as main.ts does, Agenda's
 * LISTEN channel included) must not die, must report the store as down on /health meanwhile, and must
 * work again afterwards: a run after the restart completes and delivers.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/store/embedded.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';
import { freePort } from '../support/ports.ts';
import { rpcProxy } from '../support/rpc-proxy.ts';

let dir: string;
let port: number;
let pg: EmbeddedPostgresHandle | null = null;
let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
const errors: unknown[] = [];
const onError = (e: unknown) => errors.push(e);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ic-restart-'));
  await fs.chmod(dir, 0o755);
  port = await freePort();
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, log: () => undefined, postgresFlags: ['-c', 'fsync=off'] });
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 40 });
  connector = await startTestConnector({ databaseUrl: pg.url, scheduler: { retryBaseMs: 1000 } });
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
}, 120_000);

afterAll(async () => {
  process.off('uncaughtException', onError);
  process.off('unhandledRejection', onError);
  await connector?.close();
  await pg?.stop();
  await sandbox?.stop();
  await smtp?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

async function health(): Promise<{ status: number; body: any }> {
  return connector.api('GET', '/health');
}

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a PostgreSQL restart under a running connector', () => {
  it('the connector survives, reports the store down meanwhile, reconnects and runs again', async () => {
    const fromDate = dayBeforeFirstInvoice(sandbox);
    const { id, token } = await installSandbox(connector.api, sandbox, { enabled: false, fromDate, attachments: { pln: 'none', foreign: 'none' } });
    expect((await health()).body).toMatchObject({ status: 'ok', store: 'up' });

    // Stop the server (fast shutdown: every connection gets 57P01, also Agenda's LISTEN connection).
    await pg!.stop();
    pg = null;
    const down = await until(
      '/health to report the store down',
      async () => {
        const h = await health();
        return h.status === 503 ? h : null;
      },
      20_000,
    );
    expect(down.body).toMatchObject({ status: 'unavailable', store: 'down' });
    // A run asked for while the database is away is refused with an error, not a crash.
    const refused = await connector.api('POST', `/api/installations/${id}/runs`, { token });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await new Promise((r) => setTimeout(r, 1500)); // pollers and the LISTEN channel hit the dead server

    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, log: () => undefined, postgresFlags: ['-c', 'fsync=off'] });
    await until('/health to report the store up', async () => ((await health()).status === 200 ? true : null), 30_000);

    const before = smtp.messages.length;
    const since = Date.now();
    const asked = await connector.api('POST', `/api/installations/${id}/runs`, { token });
    expect(asked.status, JSON.stringify(asked.body)).toBeLessThan(300);
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since, timeoutMs: 60_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(5);
    expect(smtp.messages.length - before).toBe(run.counts.sent);
    expect(errors.map(String)).toEqual([]);
  }, 150_000);
});

describe('a host that is down at a slot run', () => {
  it('the failed slot run is retried with backoff before the next slot, and completes once the host is back', async () => {
    // A host of its own (the one above has marked its invoices sent), reached through a proxy that can be down.
    const host = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 30 });
    const proxy = await rpcProxy(host.url);
    try {
      const fromDate = dayBeforeFirstInvoice(host);
      const { id, token } = await installSandbox(connector.api, { url: proxy.url, database: host.database } as SandboxHost, {
        enabled: true,
        fromDate,
        attachments: { pln: 'none', foreign: 'none' },
        schedule: { startAt: '00:00', repeatEvery: '30m', until: '23:59' },
        timezone: 'Europe/Warsaw',
      });
      proxy.down = true;
      const since = Date.now();
      await connector.scheduler.runNow(id, 'catch_up');
      const failed = await connector.waitForRun(id, token, { trigger: 'catch_up', since, timeoutMs: 30_000 });
      expect(failed.status).toBe('failed');
      await new Promise((r) => setTimeout(r, 2500)); // the first retry (after 1 s) finds the host still down
      proxy.down = false;
      const deadline = Date.now() + 30_000;
      let completed: any = null;
      while (!completed && Date.now() < deadline) {
        const { body } = await connector.api('GET', `/api/installations/${id}/runs`, { token });
        completed = (body.runs as any[]).find((r) => r.trigger === 'catch_up' && r.status === 'completed') ?? null;
        if (!completed) await new Promise((r) => setTimeout(r, 200));
      }
      expect(completed, 'a retry completed without anyone asking').not.toBeNull();
      const { body } = await connector.api('GET', `/api/installations/${id}/runs`, { token });
      const slotRuns = (body.runs as any[]).filter((r) => r.trigger === 'catch_up');
      // At least the first failure and one failed retry, then the completed one; retries spaced out, not a storm.
      expect(slotRuns.filter((r) => r.status === 'failed').length).toBeGreaterThanOrEqual(2);
      expect(slotRuns.filter((r) => r.status === 'failed').length).toBeLessThanOrEqual(4);
      expect(completed.counts.sent).toBeGreaterThan(0);
      expect(Date.parse(completed.startedAt) - since).toBeLessThan(20_000);
    } finally {
      await proxy.close();
      await host.stop();
    }
  }, 90_000);
});

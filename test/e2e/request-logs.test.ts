/**
 * What the connector writes to its console: request logs keep the method and path for support, never
 * credentials in the URL, and stay quiet at `info` for endpoints pages poll every few seconds; each run
 * ends with one human line with its counts (and a long run says how far it is once a minute); on a
 * terminal the lines are pretty, elsewhere JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { createRunConsole } from '../../src/jobs/run/run-console.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, unmarkSent } from '../support/sandbox-installation.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

let connector: TestConnector;
let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let text = '';

/** The JSON lines written since `from` (an offset into `text`). */
function linesSince(from: number): Record<string, any>[] {
  return text
    .slice(from)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

const settle = () => new Promise((r) => setTimeout(r, 100));

beforeAll(async () => {
  const out = new PassThrough();
  out.on('data', (d) => (text += d));
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 12 });
  // Every posted invoice due again (the seed marks some as sent already).
  unmarkSent(sandbox);
  connector = await startTestConnector({ logger: createLogger('info', out) });
}, 120_000);
afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('request logs', () => {
  it('record the page URL with its signed link token redacted', async () => {
    const res = await fetch(`${connector.url}/ui/installations/00000000-0000-4000-8000-000000000000/settings?lang=pl&t=THIS-IS-A-LINK-TOKEN`);
    expect(res.status).toBe(401);
    await settle();
    expect(text).toContain('/ui/installations/00000000-0000-4000-8000-000000000000/settings');
    expect(text).toContain('t=[redacted]');
    expect(text).not.toContain('THIS-IS-A-LINK-TOKEN');
  });

  it('write no access log at info for the endpoints pages and monitors poll (runs, logs, health, the pages’ assets, the favicon), and still do for the others', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    const from = text.length;
    for (const path of [
      `/api/installations/${id}/runs`,
      `/ui/api/installations/${id}/runs`,
      `/ui/api/installations/${id}/logs`,
      `/api/installations/${id}/logs`,
      '/health',
      '/ui/assets/pages.css',
      '/favicon.ico',
    ]) {
      for (let i = 0; i < 3; i++) await fetch(`${connector.url}${path}`);
    }
    await fetch(`${connector.url}/api/installations/${id}/settings`);
    await settle();
    const urls = linesSince(from)
      .filter((l) => l.req?.url)
      .map((l) => l.req.url as string);
    expect(urls.filter((u) => /\/(runs|logs|health|pages\.css|favicon\.ico)$/.test(u))).toEqual([]);
    expect(urls).toContain(`/api/installations/${id}/settings`);
    // One line per request, with its method, URL, status and time.
    const settingsLines = linesSince(from).filter((l) => l.req?.url === `/api/installations/${id}/settings`);
    expect(settingsLines).toHaveLength(1);
    expect(settingsLines[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET' }, res: { statusCode: 401 } });
    expect(typeof settingsLines[0]!.responseTime).toBe('number');
  });
});

describe('run lines', () => {
  it('a run ends with one human line naming the installation, with its counts and duration', async () => {
    const fromDate = new Date(Date.now() - 400 * 86_400_000).toISOString().slice(0, 10);
    const { id, token } = await installSandbox(connector.api, sandbox, { fromDate });
    const from = text.length;
    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
    expect(run.counts.sent).toBeGreaterThan(0);
    await settle();
    const host = new URL(sandbox.url).host;
    const lines = linesSince(from).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('run '));
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^run ${run.id.slice(0, 8)} for ${sandbox.database} at ${host.replace('.', '\\.')}: ${run.counts.sent} sent, ${run.counts.skipped} skipped, ${run.counts.failed} failed in \\d+ s$`,
        ),
      ),
    ]);
    expect(lines[0]!.level).toBe(30); // info
    expect(lines[0]!.run).toMatchObject({ id: run.id, installationId: id, status: 'completed', counts: run.counts });
  });

  it('a run still going after a minute says how far it is (here: every 200 ms), and stops saying so once it has ended', async () => {
    const { id } = await installSandbox(connector.api, sandbox);
    const out = new PassThrough();
    let own = '';
    out.on('data', (d) => (own += d));
    const runConsole = createRunConsole({ store: connector.store, logger: createLogger('info', out), everyMs: 200 });
    try {
      // A real run record, started 5 minutes ago and still running, with progress stored.
      const started = new Date(Date.now() - 5 * 60_000).toISOString();
      const run = await connector.store.startRun({ installationId: id, trigger: 'manual', startedAt: started });
      const counts = { due: 400, sent: 118, drafted: 0, skipped: 2, failed: 0, retry: 0, uncertain: 0 };
      await connector.store.updateRunProgress(run.id, 120, 400, counts);
      runConsole.observe({ type: 'invoice.sent', installationId: id, invoiceId: '1', invoiceNumber: 'FV/1', detail: null });
      await new Promise((r) => setTimeout(r, 500));
      const progress = own
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg as string);
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress[0]).toMatch(
        new RegExp(`^run ${run.id.slice(0, 8)} for ${sandbox.database} at .+: 120 of 400 done so far \\(118 sent, 2 skipped, 0 failed\\), 5 min \\d+ s$`),
      );

      const finished = await connector.store.finishRun(run.id, 'completed', { ...counts, sent: 398 }, null, new Date().toISOString());
      runConsole.observe({ type: 'run.completed', installationId: id, run: finished });
      await settle();
      const after = own.length;
      await new Promise((r) => setTimeout(r, 500));
      expect(own.slice(after)).toBe('');
      expect(own).toMatch(/: 398 sent, 2 skipped, 0 failed in 5 min \d+ s"/);
    } finally {
      runConsole.stop();
    }
  });
});

describe('console format', () => {
  it('is pretty on a terminal (time, level, request line, message) and one JSON object per line elsewhere', () => {
    const prettyOut = new PassThrough();
    let pretty = '';
    prettyOut.on('data', (d) => (pretty += d));
    const p = createLogger('info', prettyOut, { pretty: true });
    p.info({ req: { method: 'GET', url: '/api/x?t=SECRET' }, res: { statusCode: 200 }, responseTime: 3 }, 'request completed');
    p.info('run 3f2a9c1e for sandbox at 127.0.0.1:8069: 80 sent, 2 skipped, 0 failed in 14 s');
    const lines = pretty.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO: GET \/api\/x\?t=\[redacted\] 200 request completed in 3 ms$/);
    expect(lines[1]).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO: run 3f2a9c1e for sandbox at 127\.0\.0\.1:8069: 80 sent, 2 skipped, 0 failed in 14 s$/);
    expect(() => JSON.parse(lines[1]!)).toThrow();

    const jsonOut = new PassThrough();
    let json = '';
    jsonOut.on('data', (d) => (json += d));
    createLogger('info', jsonOut).info('run x: 1 sent');
    expect(JSON.parse(json.trim())).toMatchObject({ level: 30, msg: 'run x: 1 sent' });
  });
});

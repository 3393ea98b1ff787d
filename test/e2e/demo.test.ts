/**
 * `npm start` as a newcomer runs it: no database URL, the embedded PostgreSQL, the sandbox host, the
 * SMTP sink and the demo installation, all from sandbox/start.ts (what `npm start` runs) in a child process (only ports and the
 * data folder are moved so the test does not collide with anything). Every due invoice is e-mailed
 * once; a restart sends nothing again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'ic-demo-'));
chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root

interface Started {
  child: ChildProcess;
  token: string;
  installationId: string;
  api: string;
  output: () => string;
}

let ports: Record<string, string> | null = null;
let running: ChildProcess | null = null;

async function start(): Promise<Started> {
  ports ??= {
    PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    SMTP_SINK_PORT: String(await freePort()),
    SMTP_SINK_WEB_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
  };
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...ports };
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running = child;
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 120_000;
  while (!/API token\s+(\S+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    token: /API token\s+(\S+)/.exec(out)![1]!,
    installationId: /Installation\s+(\S+)/.exec(out)![1]!,
    api: `http://127.0.0.1:${ports.PORT}`,
    output: () => out,
  };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
  running = null;
}

async function runs(s: Started): Promise<any[]> {
  const res = await fetch(`${s.api}/api/installations/${s.installationId}/runs`, { headers: { authorization: `Bearer ${s.token}` } });
  return ((await res.json()) as { runs: any[] }).runs;
}

async function waitForRun(s: Started, predicate: (r: any) => boolean): Promise<any> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = (await runs(s)).find((x) => x.status !== 'running' && predicate(x));
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`no run finished:\n${s.output()}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

function mails(): string[] {
  try {
    return readdirSync(path.join(dataDir, 'mail')).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
}

afterAll(async () => {
  running?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start with no configuration', () => {
  it('e-mails every due sandbox invoice once, marks it sent, and sends nothing again after a restart', async () => {
    const first = await start();
    // The demo asks for the first run of its new installation itself (manual); a restart catches up on nothing.
    const run = await waitForRun(first, (r) => r.trigger === 'manual' || r.trigger === 'schedule');
    expect(run.status, first.output()).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(10);
    expect(mails()).toHaveLength(run.counts.sent);

    // The sandbox now marks exactly those invoices as sent by us (the notes say so).
    const sandbox = `http://127.0.0.1:${ports!['SANDBOX_PORT']}/jsonrpc`;
    const rpc = async (model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}) => {
      const res = await fetch(sandbox, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          method: 'call',
          id: 1,
          params: { service: 'object', method: 'execute_kw', args: ['sandbox', 2, 'admin', model, method, args, kwargs] },
        }),
      });
      return ((await res.json()) as { result: unknown }).result;
    };
    const notes = (await rpc('mail.message', 'search_count', [
      [
        ['model', '=', 'account.move'],
        ['body', 'ilike', 'Invoice Courier'],
      ],
    ])) as number;
    expect(notes).toBe(run.counts.sent);

    await stop(first);
    const second = await start();
    const since = Date.now();
    await fetch(`${second.api}/api/installations/${second.installationId}/runs`, { method: 'POST', headers: { authorization: `Bearer ${second.token}` } });
    const again = await waitForRun(second, (r) => r.trigger === 'manual' && Date.parse(r.startedAt) >= since - 1000);
    expect(again.status).toBe('completed');
    expect(again.counts.sent).toBe(0);
    expect(second.installationId).toBe(first.installationId);
    expect(mails()).toHaveLength(run.counts.sent);
    await stop(second);
  }, 300_000);
});

/**
 * `npm start` as a person runs it, killed and stopped the hard ways (sandbox/start.ts, what `npm start` runs, in a child process,
 * the embedded PostgreSQL, the sandbox host and the SMTP sink; only ports and the data folder moved):
 * - SIGKILLed 5 times during its first run, then started again: every due invoice is e-mailed within
 *   two minutes of the last start, and none twice (the dead runs are closed, their claims given back,
 *   the dead process's Agenda job taken over instead of waiting out its lock);
 * - Ctrl-C (SIGINT to the whole process group, as a terminal sends it): exit 0, one line, no stack trace,
 *   and the embedded PostgreSQL is stopped too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, chmodSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const children = new Set<ChildProcess>();

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ic-demo-crash-'));
  chmodSync(dir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
  dirs.push(dir);
  return dir;
}

interface Started {
  child: ChildProcess;
  token: string;
  installationId: string;
  api: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function ports(): Promise<Record<string, string>> {
  return {
    PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    SMTP_SINK_PORT: String(await freePort()),
    SMTP_SINK_WEB_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
  };
}

async function start(dir: string, env: Record<string, string>): Promise<Started> {
  // Its own process group, so the test can send SIGINT to the group as a terminal does.
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/start.ts'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', DATA_DIR: dir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  void exited.then(() => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!/API token\s+(\S+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    token: /API token\s+(\S+)/.exec(out)![1]!,
    installationId: /Installation\s+(\S+)/.exec(out)![1]!,
    api: `http://127.0.0.1:${env['PORT']}`,
    output: () => out,
    exited,
  };
}

/** Message-IDs of the messages in the sink's folder, with how often each arrived. */
function arrived(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  let files: string[];
  try {
    files = readdirSync(path.join(dir, 'mail')).filter((f) => f.endsWith('.eml'));
  } catch {
    return counts;
  }
  for (const f of files) {
    const head = readFileSync(path.join(dir, 'mail', f), 'utf8').split(/\r?\n\r?\n/)[0]!;
    const id = /^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? `?${f}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function api(s: Started, p: string): Promise<any> {
  const res = await fetch(`${s.api}/api/installations/${s.installationId}${p}`, { headers: { authorization: `Bearer ${s.token}` } });
  return res.json();
}

function postgresPid(dir: string): number | null {
  try {
    return Number(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

function alive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const dir of dirs) {
    const pid = postgresPid(dir);
    if (alive(pid)) process.kill(pid!, 'SIGQUIT');
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm start, killed', () => {
  it('SIGKILLed 5 times during its first run and started again: every due invoice e-mailed within two minutes, once', async () => {
    const dir = dataDir();
    const env = await ports();
    const random = (() => {
      let a = 20261201;
      return () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296;
    })();
    const timings: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await start(dir, env);
      const before = total(arrived(dir));
      const t0 = Date.now();
      // Killed during its first run: once in the middle of sending (a moment after this life's first
      // message arrived), the other times at a random moment after the run began (listing, claiming,
      // rendering or sending).
      if (i === 2) {
        while (total(arrived(dir)) === before && Date.now() - t0 < 40_000) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, Math.floor(random() * 1000)));
      } else {
        while (Date.now() - t0 < 40_000) {
          const { runs } = await api(s, '/runs').catch(() => ({ runs: [] }));
          if ((runs as any[]).some((r) => r.status === 'running')) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 300 + Math.floor(random() * 2700)));
      }
      s.child.kill('SIGKILL');
      await s.exited;
      timings.push(`+${total(arrived(dir)) - before} in ${Date.now() - t0} ms`);
    }
    const lastStart = Date.now();
    const s = await start(dir, env);
    const startedIn = Date.now() - lastStart;
    // Wait for a slot run that completed (the interrupted first run's slot is still owed) and left nothing open.
    let done: any = null;
    while (!done && Date.now() - lastStart < 120_000) {
      const { runs } = await api(s, '/runs');
      done = (runs as any[]).find((r) => r.status === 'completed' && r.trigger !== 'manual') ?? null;
      if (!done) await new Promise((r) => setTimeout(r, 250));
    }
    const resumedIn = Date.now() - lastStart;
    expect(done, `no slot run completed within two minutes of the last start\n${s.output()}`).not.toBeNull();

    const { runs } = await api(s, '/runs?limit=100');
    console.info(
      `runs: ${(runs as any[]).map((r) => `${r.trigger}/${r.status}/${r.counts.sent}`).join(' ')}; kills ${timings.join(', ')}; up in ${startedIn} ms, done ${resumedIn} ms after the last start`,
    );
    const entries: any[] = [];
    for (let after: string | null = null, n = 0; n < 50; n++) {
      const page: any = await api(s, `/ledger?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      entries.push(...page.entries);
      after = page.next;
      if (!after) break;
    }
    const mail = arrived(dir);
    const twice = [...mail].filter(([, n]) => n > 1);
    expect(JSON.stringify(twice), 'no message arrived twice').toBe('[]');
    const problems: string[] = [];
    const byState: Record<string, number> = {};
    for (const e of entries) {
      byState[e.state] = (byState[e.state] ?? 0) + 1;
      const n = mail.get(e.messageId) ?? 0;
      if (e.state === 'sent' && n !== 1) problems.push(`${e.invoiceNumber}: sent, arrived ${n}×`);
      if (e.state === 'uncertain' && n > 1) problems.push(`${e.invoiceNumber}: uncertain, arrived ${n}×`);
      if (['claimed', 'sending', 'retry'].includes(e.state)) problems.push(`${e.invoiceNumber}: left ${e.state}`);
      if (e.state === 'skipped' && n !== 0) problems.push(`${e.invoiceNumber}: skipped, arrived ${n}×`);
    }
    expect(problems.join('\n')).toBe('');
    // Every message that arrived is one the ledger knows (the operator's failure digest, sent after a run
    // that left invoices uncertain, is not an invoice).
    const known = new Set(entries.map((e) => e.messageId));
    expect([...mail.keys()].filter((id) => !known.has(id) && !/^<ic-digest-/.test(id))).toEqual([]);
    expect(byState['sent'] ?? 0).toBeGreaterThan(20);
    expect(resumedIn).toBeLessThan(120_000);
    // The killed runs were closed as interrupted.
    expect((runs as any[]).filter((r) => r.status === 'interrupted').length).toBeGreaterThanOrEqual(4);
    // None stays running: a run the live process took up again (the demo's first "run now" job, left queued
    // by a killed process) may still be finishing, but a dead process's run would never end.
    let running: any[] = (runs as any[]).filter((r) => r.status === 'running');
    for (const until = Date.now() + 30_000; running.length && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 250));
      running = ((await api(s, '/runs?limit=100')).runs as any[]).filter((r) => r.status === 'running');
    }
    expect(running).toEqual([]);
    console.info(
      `demo crash: kills ${timings.join(', ')}; last start up in ${startedIn} ms, all due settled ${resumedIn} ms after the last start; ledger ${JSON.stringify(byState)}; ${mail.size} distinct messages`,
    );
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  }, 240_000);

  it('Ctrl-C (SIGINT to the process group): exit 0, one line, no stack trace, the database stopped too', async () => {
    const dir = dataDir();
    const s = await start(dir, await ports());
    // Mid-run is the hard case: wait for the first message, then press Ctrl-C.
    const t0 = Date.now();
    while (total(arrived(dir)) === 0 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    const pgPid = postgresPid(dir);
    expect(alive(pgPid)).toBe(true);
    const printedBefore = s.output().length;
    process.kill(-s.child.pid!, 'SIGINT');
    const code = await s.exited;
    const after = s.output().slice(printedBefore);
    expect(code, after).toBe(0);
    expect(after, 'no stack trace').not.toMatch(/^\s+at /m);
    expect(after).not.toMatch(/"stack"|Error:/);
    expect(after.split('\n').filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(/stopping \(SIGINT\)/)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pgPid)).toBe(false);
  }, 120_000);
});

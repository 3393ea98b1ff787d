/**
 * The whole product, end to end (host → ledger → PDF → SMTP → write-back), measured on this machine:
 *   npx tsx bench/e2e.ts [--n 5000] [--workers 0,2] [--runtime compiled,tsx] [--node-flags "..."] [--quick] [--trace FILE] [--memory]   (--help lists them)
 *
 * The parent process runs the far side: the sandbox host seeded with N invoices (behind a proxy that
 * counts host calls by model.method), a real SMTP server on loopback in a thread of its own (which
 * timestamps every accepted Message-ID; in this thread the host's work would hold its replies too, as it
 * never would in production) and one embedded PostgreSQL. For each RENDER_WORKERS value a child process runs the
 * connector composed exactly as `src/main.ts` composes it, installs the sandbox through the HTTP API,
 * runs it once and reports. So the child's peak RSS (VmHWM) is the connector's own. Each configuration
 * runs in both runtimes, labelled: `compiled` = `npm run build` output on plain node, as production runs
 * (`node dist/main.js`), and `tsx` = the TypeScript sources through tsx, as `npm start` and the tests run
 * them (tsx keeps every module's source and source map in the heap: more memory, same code).
 *
 * Per configuration it prints: invoices/s, peak RSS, idle RSS after install and after the runs (once the
 * render workers stopped; after install both at once and after 2 s quiet), the main thread's heap/external breakdown at the peak and live after the run
 * (the child runs with --expose-gc for that one full GC; nothing else calls it), host calls per 100 invoices (by method),
 * SQL statements per invoice, the share of the run with no e-mail leaving (100 ms buckets without an
 * accepted message), and — in the same child, on the run's own invoices, each once in the host's order —
 * the render+send ceiling (PDF render + message composition + SMTP delivery with the same in-flight bound,
 * no ledger and no host) and the ratio end-to-end / ceiling. For both windows it also prints the CPU per
 * invoice by process (read from /proc: the connector with its render workers, PostgreSQL, and this parent,
 * which is the host and the SMTP server) and how busy the whole machine was: on 2 cores the run shares
 * them with the host and the database, the ceiling does not. Then the steady state: a second run with nothing new, and
 * a run after 20 new invoices were posted. Targets (issue 12) are printed beside each figure; they are
 * never asserted in tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');

/** The parts of the connector's API answers the bench reads. */
interface ApiBody {
  id?: string;
  apiToken?: string;
  options?: { value: string; label: string }[];
}

interface ChildReport {
  workers: number;
  /** VmRSS the moment the installation was set up, and once the process had been quiet for `QUIET_MS` (idle). */
  installRssMb: number;
  idleRssMb: number;
  peakRssMb: number;
  /** This process's main-thread breakdown at the highest RSS sampled during the first run (MB). */
  atPeak: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** The main thread's live heap right after the first run, after a full GC (MB): what the run retains. */
  liveAfterRun: { heapUsed: number; external: number; arrayBuffers: number };
  /** VmRSS after the runs and the ceiling, once the render workers' idle time has passed. */
  afterRssMb: number;
  /** `monotonicUs`: the window on the clock of V8's CPU profiles (for --node-flags --cpu-prof), in µs. */
  run: {
    ms: number;
    startedAt: number;
    finishedAt: number;
    monotonicUs: [number, number];
    sent: number;
    skipped: number;
    failed: number;
    sql: number;
    /** The first run's statements by their first words, most frequent first. */
    sqlByStatement: [string, number][];
  };
  ceiling: { invoices: number; distinct: number; ms: number; startedAt: number; finishedAt: number };
  steady: { ms: number; sql: number; startedAt: number; finishedAt: number };
  fresh: { ms: number; sent: number; sql: number; startedAt: number; finishedAt: number };
  /** --memory: samples during the first run (MB; seconds since its start). */
  memory?: MemorySample[];
  /** --memory: the process's CPU time over the first run (all threads: main, render workers, V8's helpers), ms. */
  runCpuMs?: number;
}

/** --memory: one sample of the connector child during the first run, MB (see `memoryLines`). */
interface MemorySample {
  t: number;
  rss: number;
  /** VmRSS split: anonymous memory (heaps, malloc, stacks) and file-backed pages (node's binary, libraries). */
  anon: number;
  file: number;
  /** The main thread: heap committed (physical), used, young generation committed, external, array buffers. */
  main: { physical: number; used: number; newSpace: number; external: number; arrayBuffers: number };
  /** Each running render worker (src/render/pool.ts `sampleRenderWorkers`). */
  workers: { physical: number; used: number; newSpace: number; external: number; arrayBuffers: number; malloced: number; renders: number }[];
}

// ---------------------------------------------------------------------------------------------------
// Child: the connector as main.ts builds it.
// ---------------------------------------------------------------------------------------------------
async function child(): Promise<void> {
  // as src/main.ts starts: the young-generation hold before the product's modules load
  (await product<typeof import('../src/render/young-generation.ts')>('render/young-generation')).startHoldingYoungGeneration();
  const { loadConfig } = await product<typeof import('../src/config.ts')>('config');
  const { composeConnector } = await product<typeof import('../src/compose.ts')>('compose');
  const { createLogger } = await product<typeof import('../src/observability/logger.ts')>('observability/logger');
  const { createSecretBox, generateSecretKey } = await product<typeof import('../src/secrets/secret-box.ts')>('secrets/secret-box');
  // the process-level tuning src/boot.ts applies first thing (main.ts boots through it)
  (await product<typeof import('../src/boot.ts')>('boot')).tuneHeap();

  // Count SQL statements: every query of every pool (the store's and Agenda's) goes through Client#query.
  let sql = 0;
  // and by statement (its first words, numbers and parameters left out), for the first run's breakdown
  const byStatement = new Map<string, number>();
  const statementKeys = new Map<string, string>();
  let countingStatements = false;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function counted(this: pg.Client, ...args: unknown[]) {
    sql++;
    if (countingStatements) {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string } | null)?.text ?? '?');
      // the statements' texts are constants: each is squashed once (squashing every call cost the run 0.1 ms per invoice)
      let key = statementKeys.get(text);
      if (key === undefined) {
        key = text.replace(/\s+/g, ' ').trim().slice(0, 70);
        if (statementKeys.size < 1000) statementKeys.set(text, key);
      }
      byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;

  const workers = Number(arg('workers') ?? '0');
  const hostUrl = arg('host')!;
  const config = loadConfig({ DATABASE_URL: arg('db')!, PORT: '0', DEMO: 'false', LOG_LEVEL: 'warn', RENDER_WORKERS: String(workers) });
  // The end of a run is its `run.completed` event (a listener only, as the webhook dispatcher listens),
  // not a poll of the API: a poll would add its own SQL to the run's and up to its period to the run's time.
  const completed = new Map<string, (run: { status: string; counts: Record<string, number> }) => void>();
  const connector = await composeConnector({
    config,
    logger: createLogger('warn'),
    secrets: createSecretBox([generateSecretKey('bench')]),
    version: 'bench',
    events: (event) => {
      if (event.type === 'run.completed') completed.get(event.installationId)?.({ status: event.run.status, counts: { ...event.run.counts } });
    },
  });
  const api = async (method: string, p: string, token?: string, body?: unknown): Promise<ApiBody> => {
    const res = await fetch(`${connector.url}${p}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const parsed = (text ? JSON.parse(text) : {}) as ApiBody;
    if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return parsed;
  };
  const installed = await api('POST', '/api/installations', undefined, {
    hostKind: arg('kind') ?? 'odoo',
    hostUrl,
    database: arg('database') ?? 'sandbox',
    integration: { login: 'admin', secret: 'admin' },
  });
  const id = installed.id!;
  const token = installed.apiToken!;
  const accounts = await api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, token);
  const account = (accounts.options ?? []).find((a) => a.label === 'Sandbox SMTP');
  if (!account) throw new Error(`no Sandbox SMTP account: ${JSON.stringify(accounts)}`);
  await api('PUT', `/api/installations/${id}/settings`, token, {
    operator: 'ksiegowa',
    operatorPassword: 'ksiegowa',
    emailAccount: account.value,
    emailTemplate: 'connector:invoice',
    delivery: 'send_now',
    documents: 'confirmed_only',
    dateBasis: 'issue_date',
    fromDate: '2000-01-01',
  });
  // Idle is what the process holds with nothing to do (between two runs, 30 minutes apart): the moment the
  // settings were saved it still holds what saving them used (the allocator and V8's compiler give ~30 MB
  // back within a second), so both are reported.
  const installRssMb = vm('VmRSS');
  await sleep(QUIET_MS);
  const idleRssMb = vm('VmRSS');

  const runOnce = async () => {
    const ended = new Promise<{ status: string; counts: Record<string, number> }>((resolve) => completed.set(id, resolve));
    const sql0 = sql;
    const startedAt = Date.now();
    const monoStart = monotonicUs();
    await api('POST', `/api/installations/${id}/runs`, token);
    const last = await ended;
    const finishedAt = Date.now();
    const monoEnd = monotonicUs();
    const statements = sql - sql0;
    completed.delete(id);
    return {
      ms: finishedAt - startedAt,
      startedAt,
      finishedAt,
      monotonicUs: [monoStart, monoEnd] as [number, number],
      sql: statements,
      counts: last.counts,
      status: last.status,
    };
  };

  const atPeak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    const mb = (x: number) => x / 1048576;
    if (mb(m.rss) > atPeak.rss)
      Object.assign(atPeak, {
        rss: mb(m.rss),
        heapUsed: mb(m.heapUsed),
        heapTotal: mb(m.heapTotal),
        external: mb(m.external),
        arrayBuffers: mb(m.arrayBuffers),
      });
  }, 200);
  const memory = argv.includes('--memory') ? await memorySampler() : null;
  const cpu0 = process.cpuUsage();
  countingStatements = true;
  const first = await runOnce();
  countingStatements = false;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const samples = await memory?.stop();
  // twice, with a pause: ArrayBuffer backing stores are freed by V8's concurrent sweeper after a GC
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(500);
  (globalThis as { gc?: () => void }).gc?.();
  const m1 = process.memoryUsage();
  const liveAfterRun = { heapUsed: m1.heapUsed / 1048576, external: m1.external / 1048576, arrayBuffers: m1.arrayBuffers / 1048576 };
  if (first.status !== 'completed') throw new Error(`the run ended ${first.status}: ${JSON.stringify(first)}`);
  const peakRssMb = vm('VmHWM');
  const steady = await runOnce();
  process.stdout.write('BENCH-POST-20\n');
  await waitForLine('BENCH-POSTED');
  const fresh = await runOnce();

  // The ceiling, in this same process: render + compose + deliver invoices of the run, each once and in the
  // host's order (as the run met them, so the renderer's word cache is no warmer than in the run), with the
  // pipeline's own in-flight bound, renderer and mail delivery; nothing recorded.
  const { createHost } = await product<typeof import('../src/connector/registry.ts')>('connector/registry');
  const { composeMessage } = await product<typeof import('../src/jobs/run/message.ts')>('jobs/run/message');
  const { isValidEmail } = await product<typeof import('../src/jobs/rules/selection.ts')>('jobs/rules/selection');
  const host = createHost({
    kind: (arg('kind') ?? 'odoo') as 'odoo',
    baseUrl: hostUrl,
    database: arg('database') ?? 'sandbox',
    companyId: null,
    integration: { login: 'admin', secret: 'admin' },
    operator: { login: 'ksiegowa', secret: 'ksiegowa' },
  });
  const operator = await host.checkOperator();
  const acc = (await host.listEmailAccounts(operator)).find((a) => a.id === account.value)!;
  const total = Math.min(first.counts['sent'] ?? 0, quick ? 400 : 1500);
  const page: import('../src/domain.ts').Invoice[] = [];
  for await (const p of host.listDueInvoices({
    documents: 'confirmed_only',
    dateBasis: 'issue_date',
    fromDate: '2000-01-01',
    pageSize: 200,
    excludeHostMarkedSent: false,
  })) {
    page.push(...p.filter((i) => i.state === 'posted' && isValidEmail(i.customer.email ?? '')));
    if (page.length >= total) break;
  }
  await host.close?.();
  const { pipeline } = connector;
  const template = { subject: 'Faktura', html: '<p>Dzień dobry, w załączeniu faktura.</p>', lang: 'pl_PL' };
  let next = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const invoice = page[i % page.length]!;
      const { pdf } = await pipeline.prints.render(invoice, 'invoice');
      // A Message-ID of its own per message: the ceiling's messages never count as the run's.
      const message = composeMessage({
        installationId: `ceiling-${i}`,
        invoice,
        template,
        recipients: [invoice.customer.email!],
        account: acc,
        operator,
        attachment: pdf,
        timeZone: 'Europe/Warsaw',
        date: new Date(),
      });
      await pipeline.mail.deliver(acc, message, 'send_now');
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, config.delivery.maxInFlight) }, worker));
  const ceilingEnd = Date.now();
  const ceilingMs = ceilingEnd - t0;
  // the render workers stop after DEFAULT_WORKER_IDLE_MS without renders (src/render/pool.ts): idle again
  const { DEFAULT_WORKER_IDLE_MS } = await product<typeof import('../src/render/pool.ts')>('render/pool');
  await sleep(DEFAULT_WORKER_IDLE_MS + 2_000);
  const afterRssMb = vm('VmRSS');

  const report: ChildReport = {
    workers,
    installRssMb,
    idleRssMb,
    peakRssMb,
    atPeak,
    liveAfterRun,
    afterRssMb,
    run: {
      ms: first.ms,
      startedAt: first.startedAt,
      finishedAt: first.finishedAt,
      monotonicUs: first.monotonicUs,
      sqlByStatement: [...byStatement.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12),
      sent: first.counts['sent'] ?? 0,
      skipped: first.counts['skipped'] ?? 0,
      failed: first.counts['failed'] ?? 0,
      sql: first.sql,
    },
    ceiling: { invoices: total, distinct: Math.min(total, page.length), ms: ceilingMs, startedAt: t0, finishedAt: ceilingEnd },
    steady: { ms: steady.ms, sql: steady.sql, startedAt: steady.startedAt, finishedAt: steady.finishedAt },
    fresh: { ms: fresh.ms, sent: fresh.counts['sent'] ?? 0, sql: fresh.sql, startedAt: fresh.startedAt, finishedAt: fresh.finishedAt },
    ...(samples ? { memory: samples, runCpuMs: (cpu.user + cpu.system) / 1000 } : {}),
  };
  process.stdout.write(`BENCH-REPORT ${JSON.stringify(report)}\n`);
  await connector.close();
  process.exit(0);
}

/**
 * --memory: samples the child every 500 ms during the first run — VmRSS, the main thread's heap
 * (v8.getHeapStatistics) and array buffers, and each render worker's own heap as the worker reports it
 * (src/render/pool.ts `sampleRenderWorkers`).
 */
async function memorySampler(): Promise<{ stop: () => Promise<MemorySample[]> }> {
  const v8 = (await import('node:v8')).default;
  // (a build without the diagnostic, e.g. an older commit measured as "before", reports no workers)
  const pool = await product<Partial<typeof import('../src/render/pool.ts')>>('render/pool');
  const sampleRenderWorkers = pool.sampleRenderWorkers ?? (async () => []);
  const mb = (x: number) => Math.round((x / 1048576) * 10) / 10;
  const samples: MemorySample[] = [];
  const t0 = Date.now();
  let busy = false;
  const take = async () => {
    if (busy) return;
    busy = true;
    const m = process.memoryUsage();
    const h = v8.getHeapStatistics();
    const workers = await sampleRenderWorkers();
    samples.push({
      t: (Date.now() - t0) / 1000,
      rss: vm('VmRSS'),
      anon: vm('RssAnon'),
      file: vm('RssFile'),
      main: {
        physical: mb(h.total_physical_size),
        used: mb(h.used_heap_size),
        newSpace: mb(v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0),
        external: mb(m.external),
        arrayBuffers: mb(m.arrayBuffers),
      },
      workers: workers.map((w) => ({
        physical: mb(w.physical),
        used: mb(w.used),
        newSpace: mb(w.newSpace),
        external: mb(w.external),
        arrayBuffers: mb(w.arrayBuffers),
        malloced: mb(w.malloced),
        renders: w.renders,
      })),
    });
    busy = false;
  };
  const timer = setInterval(() => void take(), 500);
  return {
    stop: async () => {
      clearInterval(timer);
      while (busy) await sleep(10);
      return samples;
    },
  };
}

/** --memory: the samples at 10 %, 25 %, 50 %, 75 % and 100 % of the run, and the one with the highest RSS. */
function memoryLines(samples: MemorySample[]): string[] {
  if (!samples.length) return [];
  const f = (x: number) => x.toFixed(0);
  const line = (label: string, s: MemorySample) => {
    const w = s.workers;
    const sum = (k: keyof MemorySample['workers'][number]) => w.reduce((a, x) => a + x[k], 0);
    const rest = s.rss - s.main.physical - s.main.arrayBuffers - sum('physical') - sum('arrayBuffers');
    const each = w
      .map((x) => `heap ${f(x.physical)} (used ${f(x.used)}, new ${f(x.newSpace)}) ab ${f(x.arrayBuffers)} malloc ${f(x.malloced)} after ${x.renders}`)
      .join('; ');
    return `    ${label.padEnd(9)} ${s.t.toFixed(1).padStart(6)} s  RSS ${f(s.rss)} = main heap ${f(s.main.physical)} (used ${f(s.main.used)}) + ab ${f(s.main.arrayBuffers)} (external ${f(s.main.external)}) + workers [${each || 'none'}] + rest ${f(rest)}; main new ${f(s.main.newSpace)}; anon ${f(s.anon)}, file ${f(s.file)}`;
  };
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor((samples.length - 1) * q))]!;
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  return [
    '  memory during the first run (--memory; MB, each worker as it reports its own isolate):',
    ...[0.1, 0.25, 0.5, 0.75, 1].map((q) => line(`${q * 100} %`, at(q))),
    line('max RSS', peak),
  ];
}

/**
 * A module of the product, as this child runs it: `--runtime compiled` imports the build output
 * (dist/, what `node dist/main.js` runs: plain node, no tsx hooks, no source maps kept), `--runtime tsx`
 * the TypeScript sources through tsx (as `npm start` and the tests run them).
 */
function product<T>(module: string): Promise<T> {
  const url = arg('runtime') === 'compiled' ? new URL(`${module}.js`, arg('dist')) : new URL(`../src/${module}.ts`, import.meta.url);
  return import(url.href) as Promise<T>;
}

/** The monotonic clock V8's CPU profiles stamp their samples with, in µs. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Resident memory of this process in MB, from /proc (VmHWM = the peak since the process started). */
function vm(field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** How long the child is left quiet after the install before its idle RSS is read. */
const QUIET_MS = 2_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function waitForLine(line: string): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').includes(line)) {
        process.stdin.off('data', onData);
        process.stdin.pause();
        resolve();
      }
    };
    process.stdin.on('data', onData);
  });
}

// ---------------------------------------------------------------------------------------------------
// Parent: the far side, and the table.
// ---------------------------------------------------------------------------------------------------
/** CPU time of one process (all its threads) in ms from /proc/<pid>/stat; with `reaped`, also its children that exited. */
function processCpuMs(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // after the command: state ppid … utime(11) stime(12) cutime(13) cstime(14), in clock ticks (100 per second)
    const ticks = f[11]! + f[12]! + (reaped ? f[13]! + f[14]! : 0);
    return ticks * 10;
  } catch {
    return 0; // gone
  }
}

/** PostgreSQL's CPU in ms: the postmaster, its live backends and the ones it reaped. */
function postgresCpuMs(postmaster: number): number {
  let ms = processCpuMs(postmaster, true);
  try {
    for (const pid of readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').split(' ').filter(Boolean)) ms += processCpuMs(Number(pid), true);
  } catch {
    /* no children file: the postmaster's own figure only */
  }
  return ms;
}

/** The whole machine's busy and total CPU time in ms (all cores) from /proc/stat. */
function machineCpuMs(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - f[3]! - f[4]!) * 10, total: total * 10 };
}

interface CpuSample {
  at: number;
  connector: number;
  postgres: number;
  parent: number;
  machineBusy: number;
  machineTotal: number;
}

/** Samples every 100 ms the CPU of the connector child, PostgreSQL, this process (host, SMTP server, proxy) and the machine. */
function sampleCpu(childPid: number, postmaster: number): { samples: CpuSample[]; stop: () => void } {
  const samples: CpuSample[] = [];
  const take = () => {
    const u = process.cpuUsage();
    const m = machineCpuMs();
    samples.push({
      at: Date.now(),
      connector: processCpuMs(childPid),
      postgres: postgresCpuMs(postmaster),
      parent: (u.user + u.system) / 1000,
      machineBusy: m.busy,
      machineTotal: m.total,
    });
  };
  take();
  const timer = setInterval(take, 100);
  return { samples, stop: () => clearInterval(timer) };
}

/** CPU used between two instants (the samples nearest inside the window), in ms per part. */
function cpuBetween(samples: CpuSample[], from: number, to: number): Omit<CpuSample, 'at'> & { wallMs: number } {
  const inside = samples.filter((x) => x.at >= from && x.at <= to);
  const a = inside[0] ?? samples[0]!;
  const b = inside[inside.length - 1] ?? samples[samples.length - 1]!;
  return {
    wallMs: b.at - a.at,
    connector: b.connector - a.connector,
    postgres: b.postgres - a.postgres,
    parent: b.parent - a.parent,
    machineBusy: b.machineBusy - a.machineBusy,
    machineTotal: b.machineTotal - a.machineTotal,
  };
}

/**
 * When this process (the host and the SMTP server share its one thread) could not answer: a 5 ms timer
 * that fires late by 10 ms or more marks the thread held for that long, ending at `at`.
 */
function sampleStalls(): { held: { at: number; ms: number }[]; stop: () => void } {
  const held: { at: number; ms: number }[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last >= 15) held.push({ at: Date.now(), ms: now - last - 5 });
    last = now;
  }, 5);
  return { held, stop: () => clearInterval(timer) };
}

function quietShare(accepted: { at: number }[], from: number, to: number): number {
  const bucket = 100;
  const buckets = Math.max(1, Math.ceil((to - from) / bucket));
  const busy = new Set<number>();
  for (const a of accepted) if (a.at >= from && a.at <= to) busy.add(Math.floor((a.at - from) / bucket));
  return 1 - busy.size / buckets;
}

async function parent(): Promise<void> {
  const n = Number(arg('n') ?? (quick ? '1000' : '5000'));
  const workerSets = (arg('workers') ?? '0,2').split(',').map(Number);
  // compiled = dist/ on plain node, as production runs (`node dist/main.js`); tsx = the sources, as `npm start`
  const runtimes = (arg('runtime') ?? 'compiled,tsx').split(',') as ('compiled' | 'tsx')[];
  const configs = runtimes.flatMap((runtime) => workerSets.map((workers) => ({ runtime, workers })));
  const { buildCompiledChild, callsBetween, startBenchPostgres, startCountingProxy, startSmtpSink } = await import('./support/far-side.ts');
  const compiled = runtimes.includes('compiled') ? await buildCompiledChild(import.meta.url) : null;
  const { startSandboxHost } = await import('../sandbox/index.ts');

  const postgres = await startBenchPostgres('e2e');
  const self = fileURLToPath(import.meta.url);
  console.log(
    `end-to-end bench: N=${n} seeded invoices, RENDER_WORKERS ${workerSets.join(' and ')}, runtime ${runtimes.join(' and ')}, ${os.cpus().length} cores, node ${process.version}`,
  );
  const rows: string[] = [];
  try {
    for (const { runtime, workers } of configs) {
      const smtp = await startSmtpSink();
      const seededAt = Date.now();
      const sandbox = await startSandboxHost({ smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: n });
      const seedMs = Date.now() - seededAt;
      const proxy = await startCountingProxy(sandbox.url);
      const dbUrl = await postgres.freshDatabase(`bench_${workers}`);

      const entry = runtime === 'compiled' ? [compiled!.file, '--dist', compiled!.dist] : ['--import', 'tsx', self];
      // --node-flags "...": extra node/V8 flags for the child (to measure one; production passes none)
      const nodeFlags = (arg('node-flags') ?? '').split(' ').filter(Boolean);
      const proc = spawn(
        process.execPath,
        [
          '--expose-gc',
          ...nodeFlags,
          ...entry,
          '--child',
          '--runtime',
          runtime,
          '--workers',
          String(workers),
          '--db',
          dbUrl,
          '--host',
          proxy.url,
          '--database',
          sandbox.database,
          ...(quick ? ['--quick'] : []),
          ...(argv.includes('--memory') ? ['--memory'] : []),
        ],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      const postmaster = await postgres.postmasterPid();
      const cpu = sampleCpu(proc.pid!, postmaster);
      const stalls = sampleStalls();
      let out = '';
      const report = await new Promise<ChildReport>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('BENCH-POST-20\n') && !out.includes('#posted')) {
            out += '#posted';
            void postTwentyDrafts(sandbox).then(
              () => proc.stdin.write('BENCH-POSTED\n'),
              (e: unknown) => reject(e as Error),
            );
          }
          const m = /BENCH-REPORT (.+)\n/.exec(out);
          if (m) resolve(JSON.parse(m[1]!) as ChildReport);
        });
        proc.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench child exited ${code}: ${out.slice(-2000)}`))));
      });
      await new Promise((r) => proc.once('exit', r));
      cpu.stop();
      stalls.stop();
      await smtp.flush();

      // --json FILE: the child reports as they came (the run's window on the profiler's clock is in them)
      const json = arg('json');
      if (json) await fs.appendFile(json, `${JSON.stringify({ runtime, workers, report })}\n`);
      const { run, ceiling, steady, fresh } = report;
      const duplicates = smtp.accepted.length - new Set(smtp.accepted.map((a) => a.messageId)).size;
      const e2eRate = (run.sent / run.ms) * 1000;
      const ceilingRate = (ceiling.invoices / ceiling.ms) * 1000;
      const runCalls = callsBetween(proxy.calls, run.startedAt, run.finishedAt);
      const totalCalls = [...runCalls.values()].reduce((a, b) => a + b, 0);
      const steadyByMethod = callsBetween(proxy.calls, steady.startedAt, steady.finishedAt);
      const freshByMethod = callsBetween(proxy.calls, fresh.startedAt, fresh.finishedAt);
      const steadyCalls = [...steadyByMethod.values()].reduce((a, b) => a + b, 0);
      const freshCalls = [...freshByMethod.values()].reduce((a, b) => a + b, 0);
      const byMethod = (m: Map<string, number>) =>
        [...m.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
      const quiet = quietShare(smtp.accepted, run.startedAt, run.finishedAt);
      const ceilingQuiet = quietShare(smtp.accepted, ceiling.startedAt, ceiling.finishedAt);
      const trace = arg('trace');
      if (trace) {
        // Per 100 ms of the run: e-mails accepted, and host calls (to see where the gaps are).
        const buckets = Math.ceil((run.finishedAt - run.startedAt) / 100);
        const lines: string[] = [];
        for (let b = 0; b < buckets; b++) {
          const from = run.startedAt + b * 100;
          const mails = smtp.accepted.filter((a) => a.at >= from && a.at < from + 100).length;
          const calls = [...callsBetween(proxy.calls, from, from + 99.999).entries()].map(([k, v]) => `${k}×${v}`).join(' ');
          const held = stalls.held
            .filter((h) => h.at > from && h.at - h.ms < from + 100)
            .reduce((a, h) => a + Math.min(h.at, from + 100) - Math.max(h.at - h.ms, from), 0);
          lines.push(`${(b / 10).toFixed(1)}s ${'#'.repeat(mails)} ${calls}${held >= 10 ? ` [far side held ${held.toFixed(0)} ms]` : ''}`);
        }
        await fs.writeFile(`${trace}.${runtime}.${workers}.txt`, lines.join('\n') + '\n');
      }
      const fmt = (x: number, d = 1) => x.toFixed(d);
      // CPU per invoice by process, in the run's and the ceiling's windows (the ceiling has no host and no
      // database: what it uses besides the connector is the SMTP server in this process)
      const cores = os.cpus().length;
      const runCpu = cpuBetween(cpu.samples, run.startedAt, run.finishedAt);
      const ceilCpu = cpuBetween(cpu.samples, ceiling.startedAt, ceiling.finishedAt);
      const per = (ms: number, count: number) => ms / Math.max(1, count);
      const runOurs = runCpu.connector + runCpu.postgres + runCpu.parent;
      const ceilOurs = ceilCpu.connector + ceilCpu.postgres + ceilCpu.parent;
      const cpuLine = (label: string, c: typeof runCpu, ours: number, count: number) =>
        `  CPU per invoice, ${label}: connector ${fmt(per(c.connector, count), 2)} ms, PostgreSQL ${fmt(per(c.postgres, count), 2)} ms, host + SMTP server ${fmt(per(c.parent, count), 2)} ms = ${fmt(per(ours, count), 2)} ms (all ${cores} cores would carry ${fmt((cores * 1000) / Math.max(0.001, per(ours, count)), 0)} inv/s); machine busy ${fmt((c.machineBusy / Math.max(1, c.machineTotal)) * 100, 0)} %, ours ${fmt((ours / Math.max(1, c.wallMs * cores)) * 100, 0)} % of ${cores} cores`;
      rows.push(
        [
          `RENDER_WORKERS=${workers}, ${runtime === 'compiled' ? 'compiled (node dist/, as production runs)' : 'tsx (the TypeScript sources, as npm start runs)'}: seeded ${n} (${fmt(seedMs / 1000)} s), sent ${run.sent}, skipped ${run.skipped}, failed ${run.failed}, duplicates at the SMTP server ${duplicates}`,
          `  end-to-end          ${fmt(e2eRate)} inv/s   ceiling (render+send, same run) ${fmt(ceilingRate)} inv/s   ratio ${fmt((e2eRate / ceilingRate) * 100, 0)} %   (target ≥ 85 %)`,
          `    the ceiling: ${ceiling.invoices} deliveries of ${ceiling.distinct} distinct invoices of the run, in the host's order`,
          cpuLine('run    ', runCpu, runOurs, run.sent),
          cpuLine('ceiling', ceilCpu, ceilOurs, ceiling.invoices),
          `  no e-mail leaving   ${fmt(quiet * 100, 1)} % of the run, ${fmt(ceilingQuiet * 100, 1)} % of the ceiling      (target ≤ 5 %)`,
          `  peak RSS (VmHWM)    ${fmt(report.peakRssMb, 0)} MB   idle after install ${fmt(report.idleRssMb, 0)} MB (${fmt(report.installRssMb, 0)} at once)   idle after the runs ${fmt(report.afterRssMb, 0)} MB   (targets ≤ 300 MB, idle ≤ 150 MB)`,
          `    main thread at the highest sampled RSS (${fmt(report.atPeak.rss, 0)} MB): heap used ${fmt(report.atPeak.heapUsed, 0)} of ${fmt(report.atPeak.heapTotal, 0)} MB, external ${fmt(report.atPeak.external, 0)} MB (array buffers ${fmt(report.atPeak.arrayBuffers, 0)}); the rest is code, worker isolates and native`,
          `    main thread live after the run (full GC): heap ${fmt(report.liveAfterRun.heapUsed, 0)} MB, external ${fmt(report.liveAfterRun.external, 0)} MB (array buffers ${fmt(report.liveAfterRun.arrayBuffers, 0)})`,
          `  host calls          ${fmt((totalCalls / Math.max(1, run.sent)) * 100, 1)} per 100 invoices                            (target ≤ 10, connector template)`,
          `    by method: ${byMethod(runCalls)}`,
          `  SQL statements      ${fmt(run.sql / Math.max(1, run.sent), 1)} per invoice`,
          `    by statement (per 100 invoices): ${run.sqlByStatement.map(([k, v]) => `${fmt((v / Math.max(1, run.sent)) * 100, 1)} ${k}`).join(' | ')}`,
          `  steady, nothing new ${fmt(steady.ms / 1000, 2)} s, ${steadyCalls} host calls, ${steady.sql} SQL         (target ≤ 0.5 s, ≤ 10 host calls)`,
          `    by method: ${byMethod(steadyByMethod)}`,
          `  steady, 20 new      ${fmt(fresh.ms / 1000, 2)} s, sent ${fresh.sent}, ${freshCalls} host calls, ${fresh.sql} SQL`,
          `    by method: ${byMethod(freshByMethod)}`,
          ...(report.runCpuMs !== undefined
            ? [`  CPU over the first run ${fmt(report.runCpuMs / Math.max(1, run.sent), 1)} ms per invoice sent (all threads)`]
            : []),
          ...memoryLines(report.memory ?? []),
        ].join('\n'),
      );
      console.log(rows[rows.length - 1]);
      await proxy.stop();
      await sandbox.stop();
      await smtp.stop();
    }
  } finally {
    await postgres.stop();
    await compiled?.remove();
  }
}

/**
 * Posts 20 draft invoices whose customer has an e-mail address: the "20 new" of the steady state.
 * Found over the host's own JSON-RPC (search_read), posted as the superuser (numbering hooks run).
 */
async function postTwentyDrafts(sandbox: import('../sandbox/index.ts').SandboxHost): Promise<number> {
  const rpc = async (model: string, method: string, args: unknown[], kwargs: Record<string, unknown>) => {
    const res = await fetch(`${sandbox.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        id: 1,
        params: { service: 'object', method: 'execute_kw', args: [sandbox.database, 2, 'admin', model, method, args, kwargs] },
      }),
    });
    const body = (await res.json()) as { result?: unknown; error?: unknown };
    if (body.error) throw new Error(`${model}.${method}: ${JSON.stringify(body.error)}`);
    return body.result as never;
  };
  const drafts: { id: number; partner_id: [number, string] | false }[] = await rpc(
    'account.move',
    'search_read',
    [
      [
        ['state', '=', 'draft'],
        ['move_type', '=', 'out_invoice'],
      ],
    ],
    { fields: ['partner_id'], limit: 500 },
  );
  const partnerIds = [...new Set(drafts.flatMap((d) => (d.partner_id ? [d.partner_id[0]] : [])))];
  const partners: { id: number; email: string | false }[] = await rpc('res.partner', 'read', [partnerIds, ['email']], {});
  const withEmail = new Set(partners.filter((p) => p.email).map((p) => p.id));
  let posted = 0;
  for (const d of drafts) {
    if (posted >= 20) break;
    if (!d.partner_id || !withEmail.has(d.partner_id[0])) continue;
    sandbox.write('account.move', d.id, { state: 'posted' });
    posted++;
  }
  return posted;
}

if (argv.includes('--help') || argv.includes('-h')) {
  console.log(`npx tsx bench/e2e.ts [--n 5000] [--workers 0,2] [--runtime compiled,tsx] [--node-flags "..."] [--quick] [--trace FILE]
  --n N          invoices seeded in the sandbox host (default 5000; 1000 with --quick)
  --workers L    comma-separated RENDER_WORKERS values, one child process each (default 0,2)
  --runtime L    compiled (npm run build, plain node on dist/, as production runs) and/or tsx (the sources); default both
  --node-flags F extra node flags for the connector child (to measure one)
  --quick        a smaller N and a shorter render+send ceiling
  --trace FILE   write e-mails and host calls per 100 ms of the first run to FILE.<workers>.txt, and how
                 long the host's thread (this process) was held in each 100 ms, from 10 ms up
  --json FILE    append each child's report (JSON, one line per configuration) to FILE
  --memory       sample the child's memory during the first run (main thread and each render worker)
Per configuration: the first run (all due invoices), then the steady state: a run with nothing new
and a run after 20 new invoices were posted, each with its host calls by method and SQL statements.`);
} else if (argv.includes('--child')) await child();
else await parent();

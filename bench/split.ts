/**
 * One run split over connector processes (issue 12 item 6), measured on this machine:
 *   npx tsx bench/split.ts [--n 3000] [--procs 1,2] [--runtime compiled|tsx] [--quick]
 *
 * The parent runs the far side: the sandbox host seeded with N invoices (behind a proxy that counts host
 * calls), a real SMTP server on loopback (which notes every accepted Message-ID and its connection) and
 * one embedded PostgreSQL. For each process count it starts that many connector processes on one fresh
 * database, each composed as `src/main.ts` composes it (RENDER_WORKERS=0), installs the sandbox through
 * the first one's API and asks for one run; whichever process takes the run coordinates it, every
 * process works its page jobs. Printed per process count: invoices/s over the run, the e-mails each
 * process sent (from the process's own `invoice.sent` announcements, checked against the SMTP server's
 * connections: one connection carries one process's mail), duplicates at the SMTP server (must be 0)
 * and host calls per 100 invoices. `--runtime compiled` (the default) runs `npm run build` output on
 * plain node, as production runs and as `bench/e2e.ts --runtime compiled` measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');

// ---------------------------------------------------------------------------------------------------
// Child: one connector process as main.ts builds it; it reports the invoices it sent when asked.
// ---------------------------------------------------------------------------------------------------
async function child(): Promise<void> {
  const { loadConfig } = await product<typeof import('../src/config.ts')>('config');
  const { composeConnector } = await product<typeof import('../src/compose.ts')>('compose');
  const { createLogger } = await product<typeof import('../src/observability/logger.ts')>('observability/logger');
  const { createSecretBox } = await product<typeof import('../src/secrets/secret-box.ts')>('secrets/secret-box');
  (await product<typeof import('../src/boot.ts')>('boot')).tuneHeap();
  const config = loadConfig({
    DATABASE_URL: arg('db')!,
    PORT: '0',
    DEMO: 'false',
    LOG_LEVEL: 'warn',
    RENDER_WORKERS: '0',
    SECRET_KEYS: arg('keys')!,
  });
  const sent: string[] = [];
  const connector = await composeConnector({
    config,
    logger: createLogger('warn'),
    secrets: createSecretBox(config.secretKeys!),
    version: 'bench',
    events: (e) => {
      if (e.type === 'invoice.sent') sent.push(e.invoiceId);
    },
  });
  process.stdout.write(`BENCH-READY ${connector.url}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'report') process.stdout.write(`BENCH-SENT ${JSON.stringify(sent)}\n`);
    if (line === 'stop') void connector.close().then(() => process.exit(0));
  });
}

/** A module of the product: the build output (`--runtime compiled`) or the TypeScript sources through tsx. */
function product<T>(module: string): Promise<T> {
  const url = arg('runtime') === 'compiled' ? new URL(`${module}.js`, arg('dist')) : new URL(`../src/${module}.ts`, import.meta.url);
  return import(url.href) as Promise<T>;
}

// ---------------------------------------------------------------------------------------------------
// Parent: the far side, the processes, and the table.
// ---------------------------------------------------------------------------------------------------
/** The parts of the connector's API answers the bench reads. */
interface RunRow {
  status: string;
  counts: Record<string, number>;
}
interface ApiBody {
  id?: string;
  apiToken?: string;
  options?: { value: string; label: string }[];
  runs?: RunRow[];
}

interface Proc {
  proc: ChildProcess;
  url: string;
  lines: string[];
  waitFor(prefix: string): Promise<string>;
}

function startChild(entry: string[], args: string[]): Promise<Proc> {
  const proc = spawn(process.execPath, [...entry, '--child', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters])
      if (line.startsWith(w.prefix)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line.slice(w.prefix.length).trim());
      }
  });
  const waitFor = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      waiters.push({ prefix, resolve });
      proc.once('exit', (code) => reject(new Error(`bench child exited ${code}`)));
    });
  return waitFor('BENCH-READY').then((url) => ({ proc, url, lines, waitFor }));
}

async function parent(): Promise<void> {
  const n = Number(arg('n') ?? (quick ? '1000' : '3000'));
  const procCounts = (arg('procs') ?? '1,2').split(',').map(Number);
  const runtime = (arg('runtime') ?? 'compiled') as 'compiled' | 'tsx';
  const { buildCompiledChild, startBenchPostgres, startCountingProxy, startSmtpSink } = await import('./support/far-side.ts');
  const compiled = runtime === 'compiled' ? await buildCompiledChild(import.meta.url) : null;
  const entry = compiled ? [compiled.file, '--dist', compiled.dist] : ['--import', 'tsx', fileURLToPath(import.meta.url)];
  const { startSandboxHost } = await import('../sandbox/index.ts');
  const { generateSecretKey } = await import('../src/secrets/secret-box.ts');
  const key = generateSecretKey('bench');
  const keys = `${key.id}:${key.key.toString('base64')}`;

  const postgres = await startBenchPostgres('split');
  console.log(
    `split-run bench: N=${n} seeded invoices, ${procCounts.join(' and ')} connector process(es) on one database, RENDER_WORKERS 0, runtime ${runtime}, ${os.cpus().length} cores, node ${process.version}`,
  );
  const results: { procs: number; rate: number }[] = [];
  try {
    for (const procs of procCounts) {
      const smtp = await startSmtpSink();
      const sandbox = await startSandboxHost({ smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: n });
      const proxy = await startCountingProxy(sandbox.url);
      const dbUrl = await postgres.freshDatabase(`split_${procs}`);
      const childArgs = ['--runtime', runtime, '--db', dbUrl, '--keys', keys];
      // The first creates the schema (store and Agenda); the others start on it.
      const children: Proc[] = [await startChild(entry, childArgs)];
      children.push(...(await Promise.all(Array.from({ length: procs - 1 }, () => startChild(entry, childArgs)))));
      try {
        const api = async (method: string, p: string, token?: string, body?: unknown) => {
          const res = await fetch(`${children[0]!.url}${p}`, {
            method,
            headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
          const text = await res.text();
          if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
          return (text ? JSON.parse(text) : {}) as ApiBody;
        };
        const installed = await api('POST', '/api/installations', undefined, {
          hostKind: 'odoo',
          hostUrl: proxy.url,
          database: sandbox.database,
          integration: { login: 'admin', secret: 'admin' },
        });
        const id = installed.id!;
        const token = installed.apiToken!;
        const accounts = await api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, token);
        const account = (accounts.options ?? []).find((a) => a.label === 'Sandbox SMTP')!;
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
        await smtp.flush();
        const smtpFrom = smtp.accepted.length;
        const startedAt = Date.now();
        await api('POST', `/api/installations/${id}/runs`, token);
        let run: RunRow | undefined;
        for (;;) {
          await new Promise((r) => setTimeout(r, 100));
          run = (await api('GET', `/api/installations/${id}/runs?limit=1`, token)).runs?.[0];
          if (run && run.status !== 'running') break;
        }
        const finishedAt = Date.now();
        const sentBy = await Promise.all(
          children.map(async (c) => {
            const answer = c.waitFor('BENCH-SENT');
            c.proc.stdin!.write('report\n');
            return new Set(JSON.parse(await answer) as string[]);
          }),
        );
        await smtp.flush();
        const accepted = smtp.accepted.slice(smtpFrom);
        const duplicates = accepted.length - new Set(accepted.map((a) => a.messageId)).size;
        // One SMTP connection carries the mail of one process: checks the processes' own counts.
        const sessionsOf = children.map(() => new Set<string>());
        for (const a of accepted) {
          const inv = /^<[^.]+\.([^.@]+)/.exec(a.messageId)?.[1];
          const p = sentBy.findIndex((s) => inv !== undefined && s.has(inv));
          if (p >= 0) sessionsOf[p]!.add(a.session);
        }
        const shared = sessionsOf.flatMap((s, i) => [...s].filter((x) => sessionsOf.some((o, j) => j !== i && o.has(x)))).length;
        const calls = proxy.calls.filter((c) => c.at >= startedAt && c.at <= finishedAt);
        const counts = run!.counts;
        const sent = counts['sent'] ?? 0;
        const seconds = (finishedAt - startedAt) / 1000;
        const rate = sent / seconds;
        results.push({ procs, rate });
        const byMethod = new Map<string, number>();
        for (const c of calls) byMethod.set(c.key, (byMethod.get(c.key) ?? 0) + 1);
        console.log(
          [
            `${procs} process(es): seeded ${n}, run ${run!.status}, sent ${sent} (SMTP accepted ${accepted.length}), skipped ${counts['skipped'] ?? 0}, failed ${counts['failed'] ?? 0}, duplicates at the SMTP server ${duplicates}`,
            `  throughput          ${rate.toFixed(1)} inv/s over the run (${seconds.toFixed(1)} s)`,
            `  sent per process    ${sentBy.map((s) => s.size).join(' / ')} (${sentBy.map((s) => `${((s.size / Math.max(1, sent)) * 100).toFixed(0)} %`).join(' / ')}); pages of 200 ≈ ${sentBy.map((s) => (s.size / 200).toFixed(1)).join(' / ')}; SMTP connections used by two processes: ${shared}`,
            `  host calls          ${((calls.length / Math.max(1, sent)) * 100).toFixed(1)} per 100 invoices (${calls.length}; target ≤ 10): ${[...byMethod]
              .sort((a, b) => b[1] - a[1])
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
          ].join('\n'),
        );
      } finally {
        await Promise.all(
          children.map(async (c) => {
            c.proc.stdin!.write('stop\n');
            await new Promise((r) => c.proc.once('exit', r));
          }),
        );
        await proxy.stop();
        await sandbox.stop();
        await smtp.stop();
      }
    }
    const one = results.find((r) => r.procs === 1);
    for (const r of results)
      if (one && r.procs > 1) console.log(`speed-up with ${r.procs} processes on this ${os.cpus().length}-core machine: ${(r.rate / one.rate).toFixed(2)}×`);
  } finally {
    await postgres.stop();
    await compiled?.remove();
  }
}

if (argv.includes('--help')) {
  console.log('npx tsx bench/split.ts [--n 3000] [--procs 1,2] [--runtime compiled|tsx] [--quick]');
} else if (argv.includes('--child')) {
  await child();
} else {
  await parent();
}

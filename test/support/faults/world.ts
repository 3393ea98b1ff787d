/**
 * One fault-injection world on real parts: the fault SMTP server (fault-smtp.ts), the sandbox host
 * behind a TCP fault proxy, a fresh database on the real embedded PostgreSQL behind another TCP fault
 * proxy, and the connector as a child process (test/support/process.ts) that talks to the database
 * and the host only through the proxies. The test reads the ledger directly (not through the proxy)
 * and the host's flags and notes over the sandbox's JSON-RPC.
 *
 *   const w = await startFaultWorld({ invoices: 300, leaseSeconds: 35 });
 *   const running = w.child!.runDirect(w.installationId);
 *   await w.smtp.waitForAccepted(60); await w.pg.stallFor(30_000);
 *   await w.settle();
 *   const verdict = await w.verify({ uncertainAllowed: () => false });
 *   expect(verdict.problems).toEqual([]);
 */
import { startSandboxHost, type SandboxHost } from '../../../sandbox/host/index.ts';
import { sandboxMessageId, waitsForKsef, unmarkSent, dayBeforeFirstInvoice } from '../sandbox-installation.ts';
import { generateSecretKey } from '../../../src/secrets/secret-box.ts';
import { openStore } from '../../../src/store/index.ts';
import type { LedgerEntry, LogEntry, Run, Store } from '../../../src/store/port.ts';
import { freshDatabase } from '../../setup/db.ts';
import { startConnectorProcess, type ConnectorProcess } from '../process.ts';
import { installSandbox } from '../sandbox-installation.ts';
import { startFaultSmtp, type FaultSmtp } from './fault-smtp.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

export interface FaultWorldOptions {
  /** Seeded invoices in the sandbox (most of them become due). Default 300. */
  invoices?: number;
  leaseSeconds?: number;
  /** MAX_IN_FLIGHT for the connector; default: the connector's own default (16, more than its pool of 10). */
  maxInFlight?: number;
  pageSize?: number;
  /** Extra environment for the connector child. */
  env?: Record<string, string>;
}

export interface Verdict {
  due: number;
  sent: number;
  uncertain: number;
  failed: number;
  retry: number;
  skipped: number;
  /** One line per broken rule, naming the invoice / Message-ID and the evidence. */
  problems: string[];
  /** Possibly-delivered Message-IDs seen more than once at the SMTP server, with their times. */
  duplicates: { messageId: string; at: string[] }[];
  summary: string;
}

export interface VerifyRules {
  /** Whether an `uncertain` entry is justified by what the SMTP server saw for this Message-ID. */
  uncertainAllowed: (messageId: string) => boolean;
  /** `retry` left at the end (a temporary refusal, retried automatically later) is acceptable. */
  retryAllowed?: boolean;
  /** `failed` is acceptable (a permanent refusal was injected). */
  failedAllowed?: boolean;
}

export interface FaultWorld {
  smtp: FaultSmtp;
  sandbox: SandboxHost;
  /** Proxy in front of PostgreSQL (the connector's only way to the database). */
  pg: TcpProxy;
  /** Proxy in front of the sandbox host (the connector's only way to the host). */
  host: TcpProxy;
  store: Store;
  env: Record<string, string>;
  installationId: string;
  leaseSeconds: number;
  child: ConnectorProcess | null;
  /** Connector processes that died on their own (not killed by the test), with their error. */
  readonly deaths: string[];
  /** Starts (or restarts) a connector child on the proxied database; `warm`: one spawned earlier (warming up meanwhile). */
  startChild(warm?: Promise<ConnectorProcess>): Promise<ConnectorProcess>;
  /** Spawns a child for a later `startChild(warm)` (it starts up while the current one runs). */
  spawnChild(): Promise<ConnectorProcess>;
  /** SIGKILLs the current child on purpose (not counted as a death). */
  killChild(): Promise<void>;
  /** Resolves when the current child died on its own (never resolves for a child the test kills). */
  childDied(): Promise<void>;
  /**
   * Runs the installation again (waiting out leases of claims left by a dead or failed run) until
   * nothing is claimed, sending or owed to the host, and a run completes with nothing new to send.
   */
  settle(options?: { rounds?: number; deadlineMs?: number }): Promise<{ runs: (Run | string)[] }>;
  /** ledger = SMTP log = host flags, per due invoice. */
  verify(rules: VerifyRules): Promise<Verdict>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFaultWorld(options: FaultWorldOptions = {}): Promise<FaultWorld> {
  const leaseSeconds = options.leaseSeconds ?? 5;
  const smtp = await startFaultSmtp();
  const sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: options.invoices ?? 300 });
  unmarkSent(sandbox);
  const moves = sandbox.records('account.move');
  const fromDate = dayBeforeFirstInvoice(sandbox);

  const databaseUrl = await freshDatabase();
  const direct = new URL(databaseUrl);
  const pg = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
  const proxied = new URL(databaseUrl);
  proxied.hostname = pg.host;
  proxied.port = String(pg.port);
  const sandboxUrl = new URL(sandbox.url);
  const host = await startTcpProxy({ host: sandboxUrl.hostname, port: Number(sandboxUrl.port) });

  const key = generateSecretKey('faults');
  const env: Record<string, string> = {
    DATABASE_URL: proxied.toString(),
    SECRET_KEYS: `${key.id}:${key.key.toString('base64')}`,
    LEASE_SECONDS: String(leaseSeconds),
    ...(options.maxInFlight ? { MAX_IN_FLIGHT: String(options.maxInFlight) } : {}),
    PAGE_SIZE: String(options.pageSize ?? 50),
    ...options.env,
  };
  const opened = await openStore({ kind: 'postgres', url: databaseUrl }, { log: () => undefined });
  const store = opened.store;

  const deaths: string[] = [];
  const killed = new Set<number>();
  const dying = new Map<number, Promise<void>>();
  const world: FaultWorld = {
    smtp,
    sandbox,
    pg,
    host,
    store,
    env,
    installationId: '',
    leaseSeconds,
    child: null,
    deaths,
    spawnChild: () => startConnectorProcess(env),
    async startChild(warm) {
      const child = await (warm ?? startConnectorProcess(env));
      world.child = child;
      const died = child.exited.then((code) => {
        if (killed.has(child.pid)) return new Promise<void>(() => undefined);
        deaths.push(`connector process ${child.pid} died on its own (exit ${code}): ${crashLine(child.stderr())}`);
        if (world.child === child) world.child = null;
        return undefined;
      });
      dying.set(child.pid, died);
      return child;
    },
    async killChild() {
      const child = world.child;
      if (!child) return;
      killed.add(child.pid);
      child.kill('SIGKILL');
      await child.exited;
      if (world.child === child) world.child = null;
    },
    childDied() {
      return world.child ? (dying.get(world.child.pid) ?? Promise.resolve()) : Promise.resolve();
    },
    async settle(opts = {}) {
      const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
      const runs: (Run | string)[] = [];
      for (let round = 0; round < (opts.rounds ?? 6) && Date.now() < deadline; round++) {
        const child = world.child ?? (await world.startChild());
        // Claims of a run that died or failed wait for their lease (nothing else may take them earlier).
        const held = await store.listLedger(world.installationId, { states: ['claimed', 'sending'], limit: 100_000 });
        const until = Math.max(0, ...held.map((e) => (e.leaseUntil ? Date.parse(e.leaseUntil) : 0)));
        if (until > Date.now()) await sleep(Math.min(until - Date.now() + 300, Math.max(0, deadline - Date.now())));
        const run = await child.runDirect(world.installationId, Math.max(10_000, deadline - Date.now())).catch((e: unknown) => String(e));
        runs.push(run);
        const open = await store.listLedger(world.installationId, { states: ['claimed', 'sending'], limit: 10 });
        const owed = await store.listPendingWriteBacks(world.installationId, 10);
        if (typeof run !== 'string' && run.status === 'completed' && open.length === 0 && owed.length === 0 && run.counts.sent === 0 && run.counts.retry === 0)
          break;
      }
      return { runs };
    },
    async verify(rules) {
      const id = world.installationId;
      const ledger = new Map((await store.listLedger(id, { limit: 100_000 })).map((e) => [e.invoiceId, e]));
      const logs = await store.listLogs({ installationId: id, limit: 100_000 });
      const hostMoves = await readHostMoves(sandbox);
      const notes = await readHostNotes(sandbox);
      const verdict = judge({ installationId: id, fromDate, movesAtStart: moves, ledger, logs, hostMoves, notes, smtp, rules });
      verdict.problems.unshift(...deaths);
      return verdict;
    },
    async close() {
      await world.killChild();
      await opened.close().catch(() => undefined);
      await pg.close();
      await host.close();
      await sandbox.stop();
      await smtp.stop();
    },
  };

  const child = await world.startChild();
  const hostForConnector = { url: `http://${host.host}:${host.port}`, database: sandbox.database } as SandboxHost;
  const { id } = await installSandbox((method, path, o) => child.api(method, path, o), hostForConnector, {
    enabled: false,
    fromDate,
    attachments: { pln: 'none', foreign: 'none' },
  });
  world.installationId = id;
  return world;
}

/** The error line of a crashed child's stderr (e.g. an unhandled 'error' event). */
function crashLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  const i = lines.findIndex((l) => /^(\w*Error|error):|Unhandled|uncaught/i.test(l) && !l.startsWith('throw'));
  const at = lines.slice(i + 1).find((l) => l.startsWith('at '));
  return i < 0 ? lines.filter(Boolean).slice(-3).join(' | ') : `${lines[i]}${at ? ` (${at})` : ''}`;
}

// ---- the host over its JSON-RPC (not through the proxy) ----

async function rpc(sandbox: SandboxHost, service: string, method: string, args: unknown[]): Promise<any> {
  const res = await fetch(`${sandbox.url}/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'call', params: { service, method, args } }),
  });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  if (body.error) throw new Error(`host JSON-RPC ${service}.${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function searchRead(sandbox: SandboxHost, model: string, domain: unknown[], fields: string[]): Promise<Record<string, any>[]> {
  const uid = await rpc(sandbox, 'common', 'login', [sandbox.database, 'admin', 'admin']);
  return rpc(sandbox, 'object', 'execute_kw', [sandbox.database, uid, 'admin', model, 'search_read', [domain], { fields, context: { active_test: false } }]);
}

export async function readHostMoves(sandbox: SandboxHost): Promise<Map<string, { isMoveSent: boolean }>> {
  const rows = await searchRead(sandbox, 'account.move', [], ['id', 'is_move_sent']);
  return new Map(rows.map((r) => [String(r['id']), { isMoveSent: r['is_move_sent'] === true }]));
}

/** Chatter notes the connector posted, by invoice id. */
export async function readHostNotes(sandbox: SandboxHost): Promise<Map<string, string[]>> {
  const rows = await searchRead(
    sandbox,
    'mail.message',
    [
      ['model', '=', 'account.move'],
      ['message_type', '=', 'comment'],
    ],
    ['res_id', 'body'],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const body = String(r['body'] ?? '');
    if (!body.includes('Invoice Courier')) continue;
    const k = String(r['res_id']);
    out.set(k, [...(out.get(k) ?? []), body]);
  }
  return out;
}

// ---- the judgement: ledger = SMTP log = host flags ----

function judge(input: {
  installationId: string;
  fromDate: string;
  movesAtStart: Record<string, unknown>[];
  ledger: Map<string, LedgerEntry>;
  logs: LogEntry[];
  hostMoves: Map<string, { isMoveSent: boolean }>;
  notes: Map<string, string[]>;
  smtp: FaultSmtp;
  rules: VerifyRules;
}): Verdict {
  const { installationId: id, fromDate, movesAtStart, ledger, logs, hostMoves, notes, smtp, rules } = input;
  const skippedLog = new Set(logs.filter((l) => l.event.startsWith('invoice.skipped.') && l.invoiceId).map((l) => l.invoiceId!));
  const uncertainLog = new Set(logs.filter((l) => l.event === 'invoice.uncertain' && l.invoiceId).map((l) => l.invoiceId!));
  const acceptedBy = new Map<string, number>();
  for (const t of smtp.accepted) if (t.messageId) acceptedBy.set(t.messageId, (acceptedBy.get(t.messageId) ?? 0) + 1);
  const due = movesAtStart.filter(
    (m) =>
      m['state'] === 'posted' &&
      ['out_invoice', 'out_refund'].includes(String(m['move_type'])) &&
      String(m['invoice_date']) >= fromDate &&
      !m['sending_data'] &&
      !waitsForKsef(m),
  );
  const dueMessageIds = new Set(due.map((m) => sandboxMessageId(id, String(m['id']))));
  const problems: string[] = [];
  const duplicates = smtp.duplicates();
  for (const d of duplicates) problems.push(`Message-ID ${d.messageId} received ${d.at.length} times at the SMTP server (${d.at.join(', ')})`);
  const v = { sent: 0, uncertain: 0, failed: 0, retry: 0, skipped: 0, sentNotes: 0 };
  for (const m of due) {
    const inv = String(m['id']);
    const mid = sandboxMessageId(id, inv);
    const entry = ledger.get(inv);
    const delivered = smtp.delivered(mid);
    const accepted = acceptedBy.get(mid) ?? 0;
    const hostSent = hostMoves.get(inv)?.isMoveSent === true;
    const sentNotes = (notes.get(inv) ?? []).filter((b) => b.includes('faktura wysłana'));
    if (sentNotes.length > 1) problems.push(`${inv}: ${sentNotes.length} "sent" notes on the host`);
    if (sentNotes.length) v.sentNotes++;
    const state = entry?.state ?? 'none';
    if (state === 'sent') {
      v.sent++;
      if (accepted !== 1) problems.push(`${inv}: sent in the ledger, accepted ${accepted}× at the SMTP server`);
      if (!hostSent) problems.push(`${inv}: sent in the ledger, not marked sent on the host`);
      if (entry?.writeBackPending) problems.push(`${inv}: sent, write-back still pending`);
      if (sentNotes.length === 0) problems.push(`${inv}: sent, but no "sent" note on the host`);
    } else if (state === 'uncertain') {
      v.uncertain++;
      if (!rules.uncertainAllowed(mid))
        problems.push(`${inv}: uncertain although the interruption was not inside the window (SMTP server: ${describeSmtp(smtp, mid)})`);
      if (!uncertainLog.has(inv)) problems.push(`${inv}: uncertain without an invoice.uncertain log entry`);
      if (hostSent) problems.push(`${inv}: uncertain but marked sent on the host`);
    } else if (state === 'failed') {
      v.failed++;
      if (!rules.failedAllowed) problems.push(`${inv}: failed although no permanent refusal was injected (${entry?.reason}: ${entry?.detail})`);
      if (delivered) problems.push(`${inv}: failed, but delivered ${delivered}×`);
      if (hostSent) problems.push(`${inv}: failed but marked sent on the host`);
    } else if (state === 'retry') {
      v.retry++;
      if (!rules.retryAllowed) problems.push(`${inv}: left as retry (${entry?.reason}: ${entry?.detail})`);
      if (delivered) problems.push(`${inv}: retry, but delivered ${delivered}×`);
      if (hostSent) problems.push(`${inv}: retry but marked sent on the host`);
    } else if (skippedLog.has(inv) && (state === 'none' || state === 'skipped')) {
      v.skipped++;
      if (delivered) problems.push(`${inv}: skipped by rule, delivered ${delivered}×`);
    } else {
      problems.push(`${inv}: left ${state}${entry?.owner ? ` (owner ${entry.owner})` : ''}, SMTP server: ${describeSmtp(smtp, mid)}`);
    }
  }
  for (const [inv, h] of hostMoves) {
    if (h.isMoveSent && ledger.get(inv)?.state !== 'sent' && due.some((m) => String(m['id']) === inv))
      problems.push(`${inv}: marked sent on the host, ledger ${ledger.get(inv)?.state ?? 'none'}`);
  }
  // The operator's failure digest (one per run with failures, src/jobs/run/digest.ts) is not an invoice.
  const isDigest = (mid: string) => /^<ic-digest-/.test(mid);
  for (const t of smtp.log)
    if (t.messageId && !dueMessageIds.has(t.messageId) && !isDigest(t.messageId)) problems.push(`unexpected message ${t.messageId} at the SMTP server`);
  const summary = `${due.length} due: ${v.sent} sent once, ${v.uncertain} uncertain, ${v.failed} failed, ${v.retry} retry, ${v.skipped} skipped by rule; ${v.sentNotes} with a "sent" note on the host; SMTP log ${smtp.log.length} transactions, ${smtp.accepted.length} accepted, ${duplicates.length} duplicated Message-IDs`;
  const { sentNotes: _notes, ...counts } = v;
  return { due: due.length, ...counts, problems, duplicates, summary };
}

function describeSmtp(smtp: FaultSmtp, mid: string): string {
  const seen = smtp.log.filter((t) => t.messageId === mid);
  if (seen.length === 0) return 'never saw its data';
  return seen.map((t) => `${t.outcome}${t.code ? ` ${t.code}` : ''} at ${new Date(t.at).toISOString()}`).join(', ');
}

/** Prints the problems of a verdict (all of them with FAULTS_DEBUG, else the first 10) to stderr. */
export function reportProblems(name: string, verdict: Verdict): void {
  if (verdict.problems.length === 0) return;
  const shown = process.env['FAULTS_DEBUG'] ? verdict.problems : verdict.problems.slice(0, 10);
  process.stderr.write(`${name}: ${verdict.problems.length} problem(s); ${verdict.summary}\n  ${shown.join('\n  ')}\n`);
}

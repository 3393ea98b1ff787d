/**
 * Delivery faults through the whole pipeline, against real servers: the sandbox host over JSON-RPC, a
 * real SMTP server with injected faults, a real Dovecot for Drafts and for the Sent/Drafts evidence
 * search, a real PostgreSQL. Each case checks the ledger, the log, the events, and that the host's
 * "sent" flag (`is_move_sent`) is set exactly for mail a server accepted or stored.
 *
 * Every scenario gets its own sandbox host in which only its target invoices are still unsent, so a
 * fault switched on for one scenario touches nothing else.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { ImapFlow } from 'imapflow';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { runInstallation, type PipelineEvent } from '../../src/jobs/run/pipeline.ts';
import type { LedgerEntry, Store } from '../../src/store/port.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { PipelineDeps } from '../../src/jobs/run/pipeline.ts';
import type { HostErp, RunSummary } from '../../src/connector/port.ts';
import type { Invoice } from '../../src/domain.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { DOVECOT_INSTALL_HINT, dovecotAvailable, startDovecot, type TestDovecot } from '../support/dovecot.ts';
import { sandboxMessageId as midFor, waitsForKsef } from '../support/sandbox-installation.ts';

// The SMTP server requires AUTH with the same credentials as the Dovecot mailbox, so the sandbox pairs
// its "Sandbox SMTP" account with the IMAP server (Odoo has no link; the adapter pairs by user).
const MAILBOX = { user: 'faktury', password: 'Tajne-Haslo-1' };
const MAX_ATTEMPTS = 2;

let smtp: TestSmtpServer;
let dovecot: TestDovecot | null;
let connector: TestConnector;
const events: PipelineEvent[] = [];
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  smtp = await startTestSmtpServer({ auth: MAILBOX });
  dovecot = await startDovecot();
  if (!dovecot) console.warn(`IMAP cases skipped: ${DOVECOT_INSTALL_HINT}`);
  connector = await startTestConnector({ env: { MAX_ATTEMPTS: String(MAX_ATTEMPTS) }, events: (e) => events.push(e), clock });
}, 120_000);

afterAll(async () => {
  await connector?.close();
  await dovecot?.stop();
  await smtp?.stop();
});

afterEach(async () => {
  smtp.faults.rcpt = {};
  smtp.faults.data = null;
  smtp.faults.dropAfterData = false;
  smtp.faults.rejectAuth = false;
  smtp.faults.dropAt = null;
  for (const c of cleanups.splice(0)) await c();
});

/** A pass-through HTTP proxy in front of the sandbox that can refuse the host's write-backs (503). */
async function startHostProxy(target: string): Promise<{ url: string; failWrites: boolean; stop(): Promise<void> }> {
  const state = { failWrites: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      if (state.failWrites && (/"account\.move",\s*"write"/.test(text) || /"message_post"/.test(text))) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body.length ? { body } : {}) })
        .then(async (r) => {
          const out: Record<string, string | string[]> = {};
          r.headers.forEach((v, k) => {
            if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(k)) out[k] = v;
          });
          const setCookie = r.headers.getSetCookie();
          if (setCookie.length) out['set-cookie'] = setCookie;
          res.writeHead(r.status, out).end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => res.writeHead(502).end('Bad Gateway'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
}

interface Scenario {
  sandbox: SandboxHost;
  id: string;
  token: string;
  accountId: string;
  /** Invoice ids (host ids as strings) still unsent in the host: the only ones a run may send. */
  targets: string[];
  run(deps?: Partial<PipelineDeps>): Promise<NonNullable<Awaited<ReturnType<typeof runInstallation>>>>;
  ledger(invoiceId: string): Promise<LedgerEntry>;
  hostSent(invoiceId: string): boolean;
  messagesFor(invoiceId: string): TestSmtpServer['messages'];
  logs(invoiceId?: string): Promise<any[]>;
  eventsFor(type: PipelineEvent['type']): PipelineEvent[];
  settings(patch: Record<string, unknown>): Promise<{ status: number; body: any }>;
}

async function scenario(o: {
  targets: number;
  imap?: boolean;
  delivery?: 'send_now' | 'save_draft';
  proxy?: boolean;
  twoAddresses?: boolean;
}): Promise<Scenario> {
  const imap = o.imap ? dovecot! : null;
  const sandbox = await startSandboxHost({
    port: 0,
    smtp: { host: smtp.host, port: smtp.port, user: MAILBOX.user, password: MAILBOX.password },
    imap: imap ? { host: imap.host, port: imap.port, user: imap.user, password: imap.password, ssl: false } : null,
    invoiceCount: 40,
  });
  cleanups.push(() => sandbox.stop());
  const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'], p]));
  const moves = sandbox.records('account.move');
  const candidates = moves.filter((m) => {
    const partner = partners.get((m['partner_id'] as [number, string])[0]);
    const email = partner?.['email'];
    return (
      m['state'] === 'posted' &&
      m['move_type'] === 'out_invoice' &&
      m['is_move_sent'] === false &&
      !waitsForKsef(m) &&
      typeof email === 'string' &&
      /^[^,; ]+@[^,; ]+\.example$/.test(email)
    );
  });
  const targets = candidates.slice(0, o.targets).map((m) => String(m['id']));
  expect(targets).toHaveLength(o.targets);
  for (const m of moves)
    if (!targets.includes(String(m['id'])) && m['is_move_sent'] === false) sandbox.write('account.move', m['id'] as number, { is_move_sent: true });
  if (o.twoAddresses) {
    const move = moves.find((m) => String(m['id']) === targets[0])!;
    sandbox.write('res.partner', (move['partner_id'] as [number, string])[0], { email: 'ksiegowosc@dwa-adresy.example, szef@dwa-adresy.example' });
  }

  let hostUrl = sandbox.url;
  let proxy: Awaited<ReturnType<typeof startHostProxy>> | null = null;
  if (o.proxy) {
    proxy = await startHostProxy(sandbox.url);
    const p = proxy;
    cleanups.push(() => p.stop());
    hostUrl = proxy.url;
  }
  const installed = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(installed.status, JSON.stringify(installed.body)).toBe(201);
  const id: string = installed.body.id;
  const token: string = installed.body.apiToken;
  const accounts = await connector.api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, { token });
  const account = accounts.body.options.find((a: any) => a.label === 'Sandbox SMTP');
  expect(account, JSON.stringify(accounts.body)).toBeDefined();
  expect(account.imap).toBe(Boolean(imap));
  const settings = (patch: Record<string, unknown>) => connector.api('PUT', `/api/installations/${id}/settings`, { token, body: patch });
  const saved = await settings({
    enabled: false,
    operator: 'ksiegowa',
    operatorPassword: 'ksiegowa',
    emailAccount: account.value,
    delivery: o.delivery ?? 'send_now',
    documents: 'confirmed_only',
    dateBasis: 'issue_date',
    fromDate: DateTime.fromISO(String(moves[0]!['invoice_date'])).minus({ days: 1 }).toISODate(),
    attachments: { pln: 'standard:invoice', foreign: 'none' },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);

  const s: Scenario & { proxy: typeof proxy } = {
    sandbox,
    id,
    token,
    accountId: account.value,
    targets,
    proxy,
    async run(deps = {}) {
      const run = await runInstallation({ ...connector.pipeline, ...deps }, id, 'manual');
      expect(run).not.toBeNull();
      return run!;
    },
    async ledger(invoiceId) {
      const [entry] = await connector.store.getLedger(id, [invoiceId]);
      expect(entry, `ledger entry for ${invoiceId}`).toBeDefined();
      return entry!;
    },
    hostSent(invoiceId) {
      return sandbox.records('account.move').find((m) => String(m['id']) === invoiceId)!['is_move_sent'] === true;
    },
    messagesFor(invoiceId) {
      const mid = midFor(id, invoiceId);
      return smtp.messages.filter((m) => m.parsed.messageId === mid);
    },
    async logs(invoiceId) {
      const res = await connector.api('GET', `/api/installations/${id}/logs?limit=1000`, { token });
      return (res.body.entries as any[]).filter((e) => invoiceId === undefined || e.invoiceId === invoiceId);
    },
    eventsFor(type) {
      return events.filter((e) => e.type === type && e.installationId === id);
    },
    settings,
  };
  return s;
}

/** The host's flag is set exactly for the invoices whose mail was accepted (or stored as a draft). */
function expectHostSentExactly(s: Scenario, accepted: string[]) {
  for (const t of s.targets) expect(s.hostSent(t), `is_move_sent of ${t}`).toBe(accepted.includes(t));
}

async function imapClient(d: TestDovecot): Promise<ImapFlow> {
  const client = new ImapFlow({ host: d.host, port: d.port, secure: false, doSTARTTLS: false, auth: { user: d.user, pass: d.password }, logger: false });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** What a mail provider does that files submitted mail in Sent itself: a copy with this Message-ID in Sent. */
async function putInMailbox(d: TestDovecot, mailbox: 'Sent' | 'Drafts', messageId: string): Promise<void> {
  const client = await imapClient(d);
  try {
    const raw = `Message-ID: ${messageId}\r\nFrom: faktury@example.test\r\nTo: klient@example.test\r\nSubject: copy\r\n\r\nbody\r\n`;
    await client.append(mailbox, raw, mailbox === 'Drafts' ? ['\\Draft', '\\Seen'] : ['\\Seen']);
  } finally {
    await client.logout();
  }
}

/**
 * The connector's real store behind the store port, with `store_unavailable` injected into the named
 * methods while `failing(method, call number)` says so (a database that stalls or drops connections).
 */
function storeFailing(failing: (method: string, n: number) => boolean): Store {
  const calls = new Map<string, number>();
  return new Proxy(connector.store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        const n = (calls.get(prop) ?? 0) + 1;
        calls.set(prop, n);
        if (failing(prop, n)) return Promise.reject(new ConnectorError('store_unavailable', `database stalled (${prop})`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * The connector's real host adapter behind the host port, with what other adapters report and the sandbox
 * adapter does not (yet): a per-invoice read error (`Invoice.readError`), a run log (`recordRun`), a print
 * the host cannot produce right now. Everything else goes to the sandbox over HTTP.
 */
function hostWith(over: {
  readErrors?: Map<string, NonNullable<Invoice['readError']>>;
  recordRun?: (summary: RunSummary) => Promise<void>;
  getUserPrint?: HostErp['getUserPrint'];
}): Pick<PipelineDeps, 'createHost'> {
  return {
    createHost: (connection, installationId) => {
      const host = connector.pipeline.createHost(connection, installationId);
      return new Proxy(host, {
        get(target, prop, receiver) {
          if (prop === 'recordRun' && over.recordRun) return over.recordRun;
          if (prop === 'getUserPrint' && over.getUserPrint) return over.getUserPrint;
          if (prop === 'listDueInvoices' && over.readErrors) {
            const errors = over.readErrors;
            return async function* (query: Parameters<HostErp['listDueInvoices']>[0]) {
              for await (const page of target.listDueInvoices(query)) yield page.map((i) => (errors.has(i.id) ? { ...i, readError: errors.get(i.id)! } : i));
            };
          }
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

describe('host faults through the pipeline', () => {
  it('an invoice whose host read failed is held back alone: retryable -> retry with a log entry, else failed; the rest of the run goes on', async () => {
    const s = await scenario({ targets: 3 });
    const [flaky, broken, fine] = s.targets as [string, string, string];
    const readErrors = new Map([
      [flaky, { what: 'res.currency.rate', detail: 'Odoo did not answer in time', retryable: true }],
      [broken, { what: 'ir.actions.report', detail: 'AccessError: not allowed', retryable: false }],
    ]);
    const run = await s.run(hostWith({ readErrors }));
    expect(run.status).toBe('completed');
    expect(run.counts).toMatchObject({ sent: 1, retry: 1, failed: 1 });
    expect(await s.ledger(flaky)).toMatchObject({ state: 'retry', reason: 'host_read_failed' });
    expect(await s.ledger(broken)).toMatchObject({ state: 'failed', reason: 'host_read_failed' });
    expect((await s.ledger(fine)).state).toBe('sent');
    const retryLog = (await s.logs(flaky)).find((e) => e.event === 'invoice.retry');
    expect(retryLog.message).toContain('res.currency.rate');
    expect((await s.logs(broken)).some((e) => e.event === 'invoice.failed' && e.message.includes('AccessError'))).toBe(true);
    expect(s.messagesFor(flaky)).toHaveLength(0);
    expect(s.messagesFor(broken)).toHaveLength(0);
    expect(s.messagesFor(fine)).toHaveLength(1);

    // Once the host reads it again (and the backoff has passed), the held-back invoice goes out, once.
    offsetMs += 60 * 60_000;
    const next = await s.run();
    expect(next.counts.sent).toBe(1);
    expect(s.messagesFor(flaky)).toHaveLength(1);
    expect(s.messagesFor(broken)).toHaveLength(0);
    expect((await s.ledger(flaky)).state).toBe('sent');
  });

  it('every run ends with host.recordRun(summary) of its status and counts; a host that refuses it leaves a warning, never a failed run', async () => {
    const s = await scenario({ targets: 2 });
    const summaries: RunSummary[] = [];
    const run = await s.run(hostWith({ recordRun: async (summary) => void summaries.push(summary) }));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ runId: run.id, status: 'completed', trigger: 'manual', startedAt: run.startedAt, error: null });
    expect(summaries[0]!.counts).toEqual(run.counts);
    expect(summaries[0]!.counts.sent).toBe(2);

    const refused = await s.run(hostWith({ recordRun: async () => Promise.reject(new Error('ir.logging: AccessError')) }));
    expect(refused.status).toBe('completed');
    const warning = (await s.logs()).find((e) => e.event === 'run.host_log_failed');
    expect(warning.level).toBe('warning');
    expect(warning.message).toContain('AccessError');
  });

  it('a print the host cannot produce right now (retryable) is a retry; nothing is sent without it', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    const prints = await connector.api('GET', `/api/installations/${s.id}/options/prints`, { token: s.token });
    const userPrint = (prints.body.options as any[]).find((o) => String(o.value).startsWith('user:'));
    expect(userPrint, JSON.stringify(prints.body)).toBeDefined();
    expect((await s.settings({ attachments: { pln: userPrint.value, foreign: 'none' } })).status).toBe(200);
    const run = await s.run(hostWith({ getUserPrint: () => Promise.reject(new ConnectorError('host_unavailable', 'the report server is busy')) }));
    expect(run.counts.retry).toBe(1);
    expect(await s.ledger(inv)).toMatchObject({ state: 'retry', reason: 'print_unavailable' });
    expect(s.messagesFor(inv)).toHaveLength(0);
    offsetMs += 60 * 60_000;
    const next = await s.run();
    expect(next.counts.sent).toBe(1);
    expect(s.messagesFor(inv)).toHaveLength(1);
  });
});

describe('delivery outcomes through the pipeline (real SMTP server, sandbox host, PostgreSQL)', () => {
  it('a database that fails right after the server accepted the message: the outcome is recorded once it answers, and the invoice is e-mailed once', async () => {
    const s = await scenario({ targets: 2 });
    const store = storeFailing((method, n) => method === 'recordOutcome' && n <= 4);
    const run = await s.run({ store, recordPauseMs: 20 });
    expect(run.counts.sent, JSON.stringify(await s.logs())).toBe(2);
    for (const inv of s.targets) {
      expect(s.messagesFor(inv), `messages of ${inv}`).toHaveLength(1);
      expect((await s.ledger(inv)).state).toBe('sent');
      expect((await s.logs(inv)).filter((e) => e.event === 'invoice.sent')).toHaveLength(1);
    }
    expect(s.eventsFor('invoice.sent')).toHaveLength(2);
    expectHostSentExactly(s, s.targets);
    await s.run();
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(1);
  });

  it('a database down for the whole lease after the server accepted the message: the entry stays `sending`, the next run resolves it by evidence, and nothing is e-mailed twice', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    const store = storeFailing((method) => method === 'recordOutcome');
    const run = await s.run({ store, recordPauseMs: 50, delivery: { ...connector.pipeline.delivery, leaseSeconds: 1 } });
    expect(run.counts.sent).toBe(0);
    expect(s.messagesFor(inv)).toHaveLength(1);
    expect((await s.ledger(inv)).state).toBe('sending');
    // The next run after the lease: evidence decides (no IMAP -> uncertain), never a second delivery.
    offsetMs += 5_000;
    const after = await s.run();
    expect(after.counts.uncertain).toBe(1);
    expect((await s.ledger(inv)).state).toBe('uncertain');
    expect(s.messagesFor(inv)).toHaveLength(1);
    await s.run();
    expect(s.messagesFor(inv)).toHaveLength(1);
  });

  it('a connection dropped before the message was handed over (at RCPT TO) is retried automatically, never left for a person; sent once when the server works', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    smtp.faults.dropAt = 'rcpt_to';
    const run = await s.run();
    expect(run.counts.retry).toBe(1);
    expect(run.counts.uncertain).toBe(0);
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('retry');
    expect(entry.reason).toBe('smtp_temporary');
    expect(s.messagesFor(inv)).toHaveLength(0);
    expect(s.eventsFor('invoice.uncertain')).toHaveLength(0);
    smtp.faults.dropAt = null;
    offsetMs += 60 * 60_000;
    const next = await s.run();
    expect(next.counts.sent).toBe(1);
    expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, [inv]);
  });

  it('a 4xx at RCPT for one of two recipients: sent, the refused recipient recorded per recipient', async () => {
    const s = await scenario({ targets: 1, twoAddresses: true });
    const [inv] = s.targets as [string];
    smtp.faults.rcpt['szef@dwa-adresy.example'] = { code: 450, message: 'Mailbox busy, try later' };
    const run = await s.run();
    expect(run.counts.sent).toBe(1);
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('sent');
    expect(entry.recipients).toEqual([
      { address: 'ksiegowosc@dwa-adresy.example', accepted: true, reply: null },
      { address: 'szef@dwa-adresy.example', accepted: false, reply: expect.stringContaining('450') },
    ]);
    const msgs = s.messagesFor(inv);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.envelope.to).toEqual(['ksiegowosc@dwa-adresy.example']);
    const sentLog = (await s.logs(inv)).find((e) => e.event === 'invoice.sent');
    expect(sentLog.level).toBe('warning');
    expect(sentLog.message).toContain('refused: szef@dwa-adresy.example');
    expectHostSentExactly(s, [inv]);
  });

  it('a 4xx for every recipient: retry (not sent), then sent once after the fault clears; attempts exhausted -> failed', async () => {
    const s = await scenario({ targets: 2 });
    const [healed, stuck] = s.targets as [string, string];
    const addressOf = async (inv: string) => {
      const move = s.sandbox.records('account.move').find((m) => String(m['id']) === inv)!;
      return String(s.sandbox.records('res.partner').find((p) => p['id'] === (move['partner_id'] as [number, string])[0])!['email']).toLowerCase();
    };
    const [a1, a2] = [await addressOf(healed), await addressOf(stuck)];
    expect(a1).not.toBe(a2);
    smtp.faults.rcpt[a1] = { code: 451, message: 'Greylisted, try again later' };
    smtp.faults.rcpt[a2] = { code: 452, message: 'Insufficient system storage' };

    const first = await s.run();
    expect(first.counts.retry).toBe(2);
    for (const inv of s.targets) {
      const e = await s.ledger(inv);
      expect(e.state).toBe('retry');
      expect(e.reason).toBe('smtp_temporary');
      expect(e.attempts).toBe(1);
      expect(e.nextAttemptAt && Date.parse(e.nextAttemptAt) > clock().getTime()).toBe(true);
      expect(s.messagesFor(inv)).toHaveLength(0);
    }
    expect((await s.logs(healed)).some((e) => e.event === 'invoice.retry' && /451/.test(e.message))).toBe(true);
    expectHostSentExactly(s, []);

    // Before the backoff has passed, a run leaves them alone.
    const early = await s.run();
    expect(early.counts.retry + early.counts.sent + early.counts.failed).toBe(0);

    delete smtp.faults.rcpt[a1];
    offsetMs += 60 * 60_000; // past the backoff
    const second = await s.run();
    expect(second.counts.sent).toBe(1);
    expect(second.counts.failed).toBe(1);
    expect(s.messagesFor(healed)).toHaveLength(1);
    expect((await s.ledger(healed)).state).toBe('sent');
    const failed = await s.ledger(stuck);
    expect(failed.state).toBe('failed');
    expect(failed.reason).toBe('attempts_exhausted');
    expect(failed.attempts).toBe(MAX_ATTEMPTS);
    expect(s.eventsFor('invoice.failed').map((e) => (e as { invoiceId: string }).invoiceId)).toEqual([stuck]);
    expectHostSentExactly(s, [healed]);

    offsetMs += 24 * 60 * 60_000;
    const third = await s.run();
    expect(third.counts.sent + third.counts.failed + third.counts.retry).toBe(0);
    expect(s.messagesFor(healed)).toHaveLength(1);
    expect(s.messagesFor(stuck)).toHaveLength(0);
  });

  it('a retry that already used every attempt (the limit was lowered) becomes failed once, with its reason and an event, and nothing is sent', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    const past = new Date(clock().getTime() - 60 * 60_000).toISOString();
    for (let i = 0; i < MAX_ATTEMPTS + 1; i++) {
      const owner = `earlier-worker:${i}`;
      expect(
        await connector.store.claim({
          installationId: s.id,
          invoiceId: inv,
          invoiceNumber: null,
          owner,
          leaseUntil: past,
          messageId: midFor(s.id, inv),
          now: past,
          maxAttempts: 100,
        }),
      ).not.toBeNull();
      expect(await connector.store.markSending(s.id, inv, owner, 'hash', past)).toBe(true);
      await connector.store.recordOutcome(
        s.id,
        inv,
        owner,
        { state: 'retry', reason: 'smtp_temporary', detail: '451 try later', recipients: [] },
        { writeBack: false, nextAttemptAt: past },
      );
    }
    expect((await s.ledger(inv)).attempts).toBe(MAX_ATTEMPTS + 1);
    const run = await s.run();
    expect(run.counts.failed, JSON.stringify({ run, ledger: await s.ledger(inv), logs: await s.logs() })).toBe(1);
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('failed');
    expect(entry.reason).toBe('attempts_exhausted');
    expect(s.messagesFor(inv)).toHaveLength(0);
    expect(s.hostSent(inv)).toBe(false);
    expect(s.eventsFor('invoice.failed').filter((e) => 'invoiceId' in e && e.invoiceId === inv)).toHaveLength(1);
    await s.run();
    expect((await s.logs(inv)).filter((e) => e.event === 'invoice.failed')).toHaveLength(1);
  });

  it('a 5xx at DATA: failed with the server reply in the log, never retried automatically', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    smtp.faults.data = { code: 554, message: 'Message rejected: looks like spam' };
    const run = await s.run();
    expect(run.counts.failed).toBe(1);
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('failed');
    expect(entry.reason).toBe('smtp_permanent');
    const log = (await s.logs(inv)).find((e) => e.event === 'invoice.failed');
    expect(log.message).toContain('554');
    expect(log.message).toContain('looks like spam');
    expect(s.eventsFor('invoice.failed')).toHaveLength(1);

    smtp.faults.data = null;
    offsetMs += 24 * 60 * 60_000;
    const again = await s.run();
    expect(again.counts.sent).toBe(0);
    expect(s.messagesFor(inv)).toHaveLength(0);
    expect((await s.ledger(inv)).state).toBe('failed');
    expectHostSentExactly(s, []);
  });

  it('a connection dropped after DATA without IMAP: uncertain + event, not re-sent, re-sent once a person asks', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    smtp.faults.dropAfterData = true;
    const run = await s.run();
    expect(run.counts.uncertain).toBe(1);
    expect(s.messagesFor(inv)).toHaveLength(1); // the server did keep it: the reply was lost
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('uncertain');
    expect(entry.writeBackPending).toBe(false);
    expect((await s.logs(inv)).some((e) => e.event === 'invoice.uncertain' && e.level === 'warning')).toBe(true);
    expect(s.eventsFor('invoice.uncertain')).toHaveLength(1);
    expectHostSentExactly(s, []);

    smtp.faults.dropAfterData = false;
    await s.run();
    expect(s.messagesFor(inv)).toHaveLength(1);

    const resend = await connector.api('POST', `/api/installations/${s.id}/invoices/${inv}/resend`, { token: s.token });
    expect(resend.status).toBe(202);
    const after = await s.run();
    expect(after.counts.sent).toBe(1);
    expect(s.messagesFor(inv)).toHaveLength(2);
    expect((await s.ledger(inv)).state).toBe('sent');
    expectHostSentExactly(s, [inv]);
  });

  it.skipIf(!dovecotAvailable())('a connection dropped after DATA with IMAP: the Sent folder decides', async () => {
    const s = await scenario({ targets: 2, imap: true });
    const [evidenced, unseen] = s.targets as [string, string];
    await putInMailbox(dovecot!, 'Sent', midFor(s.id, evidenced));
    smtp.faults.dropAfterData = true;
    const run = await s.run();
    expect(run.counts.sent).toBe(1);
    expect(run.counts.uncertain).toBe(1);
    expect((await s.ledger(evidenced)).state).toBe('sent');
    expect((await s.ledger(unseen)).state).toBe('uncertain');
    expect(s.eventsFor('invoice.uncertain').map((e) => (e as { invoiceId: string }).invoiceId)).toEqual([unseen]);
    // Confirmed by the mailbox is sent like any other: announced (webhook, metrics) once.
    expect(s.eventsFor('invoice.sent').map((e) => (e as { invoiceId: string }).invoiceId)).toEqual([evidenced]);
    expectHostSentExactly(s, [evidenced]);

    smtp.faults.dropAfterData = false;
    expect((await connector.api('POST', `/api/installations/${s.id}/invoices/${unseen}/resend`, { token: s.token })).status).toBe(202);
    const after = await s.run();
    expect(after.counts.sent).toBe(1);
    expect(s.messagesFor(unseen)).toHaveLength(2);
    expect(s.messagesFor(evidenced)).toHaveLength(1);
    expectHostSentExactly(s, [evidenced, unseen]);
  });

  it('bad SMTP credentials stop the run with one log entry and one event; nothing failed or marked; all go out once fixed', async () => {
    const s = await scenario({ targets: 3 });
    const server = s.sandbox.records('ir.mail_server').find((m) => m['name'] === 'Sandbox SMTP')!;
    s.sandbox.write('ir.mail_server', server['id'] as number, { smtp_pass: 'wrong-password' });
    // More runs with the wrong password than attempts allowed: credentials are not the invoices' fault.
    for (let i = 0; i <= MAX_ATTEMPTS; i++) {
      const run = await s.run();
      expect(run.status, JSON.stringify([run, await s.logs()])).toBe('failed');
      expect(run.counts.failed).toBe(0);
      expect(run.counts.sent).toBe(0);
    }
    const logs = await s.logs();
    expect(logs.filter((e) => e.event === 'delivery.auth_failed')).toHaveLength(MAX_ATTEMPTS + 1);
    expect(logs.filter((e) => e.event === 'invoice.failed' || e.event === 'invoice.retry')).toHaveLength(0);
    expect(s.eventsFor('delivery.auth_failed')).toHaveLength(MAX_ATTEMPTS + 1);
    expect(s.eventsFor('invoice.failed')).toHaveLength(0);
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(0);
    expectHostSentExactly(s, []);

    s.sandbox.write('ir.mail_server', server['id'] as number, { smtp_pass: MAILBOX.password });
    const fixed = await s.run();
    expect(fixed.status).toBe('completed');
    expect(fixed.counts.sent).toBe(3);
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, s.targets);
  });

  it('an error that stops the run mid-page gives back every claim of the page: nothing sent or marked, and all go out at the next run once fixed', async () => {
    const s = await scenario({ targets: 3 });
    // No sender address anywhere (account without from_filter and SMTP user, operator without e-mail):
    // composing the message fails for every invoice, after the claims were taken.
    const server = s.sandbox.records('ir.mail_server').find((m) => m['name'] === 'Sandbox SMTP')!;
    const operator = s.sandbox.records('res.users').find((u) => u['login'] === 'ksiegowa')!;
    s.sandbox.write('ir.mail_server', server['id'] as number, { smtp_user: false, from_filter: false });
    s.sandbox.write('res.users', operator['id'] as number, { email: false });
    const run = await s.run();
    expect(run.status).toBe('failed');
    for (const inv of s.targets) {
      expect((await s.ledger(inv)).state, `ledger of ${inv}`).not.toBe('claimed');
      expect(s.messagesFor(inv)).toHaveLength(0);
    }
    expectHostSentExactly(s, []);

    // Fixed well within the claims' lease: the next run sends them all, once.
    s.sandbox.write('ir.mail_server', server['id'] as number, { smtp_user: server['smtp_user'], from_filter: server['from_filter'] ?? false });
    s.sandbox.write('res.users', operator['id'] as number, { email: operator['email'] });
    const fixed = await s.run();
    expect(fixed.status, JSON.stringify(await s.logs())).toBe('completed');
    expect(fixed.counts.sent).toBe(3);
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, s.targets);
  });

  it('two runs of one installation at once in one process: each answers only for the claims it won, so both complete and every invoice is e-mailed once', async () => {
    const s = await scenario({ targets: 3 });
    const { store, mail } = connector.pipeline;
    // Run B reads the page's ledger first; run A then claims the page (same process, same owner) and
    // holds its deliveries until B has ended, so B's claims of the page all lose to A's.
    let bRead!: () => void;
    const bHasRead = new Promise<void>((r) => (bRead = r));
    let aClaimed!: () => void;
    const aHasClaimed = new Promise<void>((r) => (aClaimed = r));
    let bEnded!: () => void;
    const bHasEnded = new Promise<void>((r) => (bEnded = r));
    let read = false;
    const bStore = Object.assign(Object.create(store) as typeof store, {
      getLedger: async (...args: Parameters<typeof store.getLedger>) => {
        const entries = await store.getLedger(...args);
        if (!read) {
          read = true;
          bRead();
          await aHasClaimed;
        }
        return entries;
      },
    });
    const aMail = Object.assign(Object.create(mail) as typeof mail, {
      deliver: async (...args: Parameters<typeof mail.deliver>) => {
        aClaimed();
        await bHasEnded;
        return mail.deliver(...args);
      },
    });
    const b = s.run({ store: bStore }).finally(bEnded);
    await bHasRead;
    const a = s.run({ mail: aMail });
    const [runA, runB] = await Promise.all([a, b]);
    expect(runB.status, runB.error ?? '').toBe('completed');
    expect(runB.counts.sent).toBe(0);
    expect(runA.status, runA.error ?? '').toBe('completed');
    expect(runA.counts.sent).toBe(3);
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, s.targets);
  });

  it.skipIf(!dovecotAvailable())('save_draft with a real Dovecot: the message is in Drafts with \\Draft, ledger drafted, host marked', async () => {
    const s = await scenario({ targets: 2, imap: true, delivery: 'save_draft' });
    const before = smtp.messages.length;
    const run = await s.run();
    expect(run.counts.drafted).toBe(2);
    expect(smtp.messages.length).toBe(before); // nothing went out over SMTP
    const client = await imapClient(dovecot!);
    try {
      const lock = await client.getMailboxLock('Drafts');
      try {
        for (const inv of s.targets) {
          const uids = await client.search({ header: { 'message-id': midFor(s.id, inv) } }, { uid: true });
          expect(uids, inv).toHaveLength(1);
          const msg = await client.fetchOne(String((uids as number[])[0]), { flags: true }, { uid: true });
          expect(msg && [...(msg.flags ?? [])]).toContain('\\Draft');
        }
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
    for (const inv of s.targets) expect((await s.ledger(inv)).state).toBe('drafted');
    expectHostSentExactly(s, s.targets);
  });

  it('an account that cannot be used as configured (STARTTLS required, server offers none) stops the run once: nothing failed or marked; all go out once fixed', async () => {
    const s = await scenario({ targets: 2 });
    s.sandbox.write('ir.mail_server', Number(s.accountId), { smtp_encryption: 'starttls' });
    const run = await s.run();
    expect(run.status).toBe('failed');
    expect(run.counts.failed).toBe(0);
    for (const inv of s.targets) {
      const entry = await s.ledger(inv);
      expect(entry.state).toBe('skipped');
      expect(entry.reason).toBe('account_unusable');
      expect(s.messagesFor(inv)).toHaveLength(0);
      expect(s.hostSent(inv)).toBe(false);
    }
    expect((await s.logs()).filter((e) => e.event === 'delivery.account_unusable')).toHaveLength(1);
    s.sandbox.write('ir.mail_server', Number(s.accountId), { smtp_encryption: 'none' });
    const fixed = await s.run();
    expect(fixed.counts.sent).toBe(2);
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, s.targets);
  });

  it('settings refuse save_draft for an account without IMAP, naming the field', async () => {
    const s = await scenario({ targets: 1 });
    const res = await s.settings({ delivery: 'save_draft' });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('delivery');
  });

  it('a host that refuses write-backs delays the write-back, never the ledger; the next run writes it back', async () => {
    const s = (await scenario({ targets: 2, proxy: true })) as Scenario & { proxy: { failWrites: boolean } };
    s.proxy.failWrites = true;
    const run = await s.run();
    expect(run.counts.sent, JSON.stringify([run, await s.logs()])).toBe(2);
    for (const inv of s.targets) {
      const e = await s.ledger(inv);
      expect(e.state).toBe('sent');
      expect(e.writeBackPending).toBe(true);
      expect(s.messagesFor(inv)).toHaveLength(1);
    }
    expect((await s.logs()).some((e) => e.event === 'writeback.delayed')).toBe(true);
    expectHostSentExactly(s, []);

    s.proxy.failWrites = false;
    const next = await s.run();
    expect(next.counts.sent).toBe(0);
    for (const inv of s.targets) {
      expect((await s.ledger(inv)).writeBackPending).toBe(false);
      expect(s.messagesFor(inv)).toHaveLength(1);
    }
    expectHostSentExactly(s, s.targets);
  });
});

describe('interrupted deliveries (a `sending` claim whose lease expired) are resolved by evidence', () => {
  /**
   * What a process that died mid-delivery leaves behind: `sending`, lease in the past; by default it died
   * after the message was handed over (the final "."), else before.
   */
  async function interrupted(s: Scenario, invoiceId: string, opts: { handedOver?: boolean } = {}): Promise<void> {
    const past = new Date(clock().getTime() - 60 * 60_000).toISOString();
    const claimed = await connector.store.claim({
      installationId: s.id,
      invoiceId,
      invoiceNumber: null,
      owner: 'dead-host:1:abc',
      leaseUntil: past,
      messageId: midFor(s.id, invoiceId),
      now: past,
      maxAttempts: MAX_ATTEMPTS,
    });
    expect(claimed).not.toBeNull();
    expect(await connector.store.markSending(s.id, invoiceId, 'dead-host:1:abc', 'hash', past)).toBe(true);
    if (opts.handedOver !== false) expect(await connector.store.markHandedOver(s.id, invoiceId, 'dead-host:1:abc')).toBe(true);
  }

  it('interrupted before the message was handed over (connect, envelope, data): retried automatically and e-mailed once, never left for a person', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    await interrupted(s, inv, { handedOver: false });
    const run = await s.run();
    expect(run.counts.uncertain).toBe(0);
    expect(run.counts.sent).toBe(1);
    expect(s.messagesFor(inv)).toHaveLength(1);
    const entry = await s.ledger(inv);
    expect(entry.state).toBe('sent');
    expect(entry.attempts).toBe(2);
    expect((await s.logs(inv)).some((e) => e.event === 'invoice.retry' && /before the message was handed/.test(e.message))).toBe(true);
    expect(s.eventsFor('invoice.uncertain')).toHaveLength(0);
    await s.run();
    expect(s.messagesFor(inv)).toHaveLength(1);
    expectHostSentExactly(s, [inv]);
  });

  it('without IMAP: uncertain, logged and announced, never silently re-sent', async () => {
    const s = await scenario({ targets: 1 });
    const [inv] = s.targets as [string];
    await interrupted(s, inv);
    const run = await s.run();
    expect(run.counts.uncertain).toBe(1);
    expect(run.counts.sent).toBe(0);
    expect((await s.ledger(inv)).state).toBe('uncertain');
    expect((await s.logs(inv)).some((e) => e.event === 'invoice.uncertain')).toBe(true);
    expect(s.eventsFor('invoice.uncertain')).toHaveLength(1);
    await s.run();
    expect(s.messagesFor(inv)).toHaveLength(0);
    expectHostSentExactly(s, []);
  });

  it.skipIf(!dovecotAvailable())('with IMAP: found in Sent -> sent (and written back); not found -> uncertain', async () => {
    const s = await scenario({ targets: 2, imap: true });
    const [found, missing] = s.targets as [string, string];
    await interrupted(s, found);
    await interrupted(s, missing);
    await putInMailbox(dovecot!, 'Sent', midFor(s.id, found));
    const run = await s.run();
    expect(run.counts.sent).toBe(1);
    expect(run.counts.uncertain).toBe(1);
    expect((await s.ledger(found)).state).toBe('sent');
    expect((await s.ledger(missing)).state).toBe('uncertain');
    expect(s.eventsFor('invoice.sent').map((e) => (e as { invoiceId: string }).invoiceId)).toEqual([found]);
    await s.run();
    for (const inv of s.targets) expect(s.messagesFor(inv)).toHaveLength(0);
    expectHostSentExactly(s, [found]);
  });

  it.skipIf(!dovecotAvailable())('save_draft with IMAP: found in Drafts -> drafted', async () => {
    const s = await scenario({ targets: 1, imap: true, delivery: 'save_draft' });
    const [inv] = s.targets as [string];
    await interrupted(s, inv);
    await putInMailbox(dovecot!, 'Drafts', midFor(s.id, inv));
    const run = await s.run();
    expect(run.counts.drafted).toBe(1);
    expect((await s.ledger(inv)).state).toBe('drafted');
    expectHostSentExactly(s, [inv]);
  });
});

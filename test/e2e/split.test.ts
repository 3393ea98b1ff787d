/**
 * A run split into page jobs (issue 12 item 6): connector processes share one database; one run of one
 * installation with several pages is queued as Agenda page jobs, and every process takes a share. The SMTP
 * server (in this process) counts what arrived by Message-ID and by connection: every due invoice arrived
 * exactly once, each process sent a share over its own connections, and the run completed with the sum of
 * every process's counts. A process SIGKILLed mid-page leaves its page to the others, and still nothing
 * arrives twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { generateSecretKey } from '../../src/secrets/secret-box.ts';
import { openStore } from '../../src/store/index.ts';
import type { Run, Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startConnectorProcess, type ConnectorProcess } from '../support/process.ts';
import { installSandbox, sandboxMessageId, waitsForKsef, unmarkSent, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';

const PAGE_SIZE = 20;

let smtp: TestSmtpServer;
let store: Store;
let closeStore: () => Promise<void>;
const hosts: SandboxHost[] = [];
const children: ConnectorProcess[] = [];
const env: Record<string, string> = {};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  const databaseUrl = await freshDatabase();
  const key = generateSecretKey('split');
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    SECRET_KEYS: `${key.id}:${key.key.toString('base64')}`,
    PAGE_SIZE: String(PAGE_SIZE),
    MAX_IN_FLIGHT: '4',
    LEASE_SECONDS: '5',
  });
  const opened = await openStore({ kind: 'postgres', url: databaseUrl }, { log: () => undefined });
  store = opened.store;
  closeStore = () => opened.close();
  // The first process creates Agenda's schema; the others start once it exists.
  children.push(await startConnectorProcess(env));
  children.push(await startConnectorProcess(env));
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await closeStore?.();
  for (const h of hosts) await h.stop();
  await smtp?.stop();
});

/** A sandbox host of its own (every due invoice unmarked as sent) and the earliest issue date less a day. */
async function freshHost(): Promise<{ host: SandboxHost; fromDate: string }> {
  const host = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 300 });
  hosts.push(host);
  unmarkSent(host);
  return { host, fromDate: dayBeforeFirstInvoice(host) };
}

/** Due on the host: posted customer invoices and credit notes from `fromDate`, not held by KSeF, not sent by the host itself. */
function dueIds(host: SandboxHost, fromDate: string): string[] {
  return host
    .records('account.move')
    .filter(
      (m) =>
        m['state'] === 'posted' &&
        ['out_invoice', 'out_refund'].includes(String(m['move_type'])) &&
        String(m['invoice_date']) >= fromDate &&
        !m['sending_data'] &&
        !waitsForKsef(m),
    )
    .map((m) => String(m['id']));
}

async function waitForRunEnd(installationId: string, timeoutMs = 180_000): Promise<Run> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [run] = await store.listRuns(installationId, 1);
    if (run && run.status !== 'running') return run;
    if (Date.now() > until) throw new Error(`the run did not end in time: ${JSON.stringify(run)}`);
    await sleep(200);
  }
}

/** Message-ID -> arrivals, of the messages from `from` on (the operator's digest is no invoice's). */
function arrivals(from: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of smtp.messages.slice(from)) {
    const id = m.parsed.messageId ?? '';
    if (id.startsWith('<ic-digest-')) continue;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/**
 * Which process sent each arrived message: the process that announced the invoice sent, checked against
 * the SMTP server's connections (a connection carries the messages of one process only).
 */
function sentBy(installationId: string, from: number, procs: ConnectorProcess[], eventsFrom: number[]): { perProcess: number[]; mixedConnections: number } {
  const owner = new Map<string, number>();
  procs.forEach((p, i) => {
    for (const e of p.events.slice(eventsFrom[i]))
      if (e.type === 'invoice.sent' && e.installationId === installationId) owner.set(sandboxMessageId(installationId, e.invoiceId), i);
  });
  const perProcess = procs.map(() => 0);
  const byConnection = new Map<string, Set<number>>();
  for (const m of smtp.messages.slice(from)) {
    const p = owner.get(m.parsed.messageId ?? '');
    if (p === undefined) continue;
    perProcess[p]!++;
    byConnection.set(m.sessionId, (byConnection.get(m.sessionId) ?? new Set()).add(p));
  }
  return { perProcess, mixedConnections: [...byConnection.values()].filter((s) => s.size > 1).length };
}

/** The invoices a run's log shows judged (an outcome, or a skip a person should know of): its `due`. */
function judgedIn(logs: { event: string; invoiceId: string | null }[]): Set<string> {
  const outcomes = ['invoice.sent', 'invoice.drafted', 'invoice.failed', 'invoice.retry', 'invoice.uncertain'];
  return new Set(logs.filter((l) => l.invoiceId && (outcomes.includes(l.event) || l.event.startsWith('invoice.skipped.'))).map((l) => l.invoiceId!));
}

describe('a run split into page jobs over two connector processes', () => {
  it('one slot run: both processes send a share, every due invoice arrives exactly once, the run has the summed counts', async () => {
    const [a, b] = children as [ConnectorProcess, ConnectorProcess];
    const { host, fromDate } = await freshHost();
    const { id, token } = await installSandbox((method, path, options) => a.api(method, path, options), host, {
      enabled: false,
      fromDate,
      attachments: { pln: 'none', foreign: 'standard:invoice' },
    });
    const due = dueIds(host, fromDate);
    expect(due.length).toBeGreaterThan(PAGE_SIZE * 4);
    const before = smtp.messages.length;
    const eventsFrom = [a.events.length, b.events.length];
    // One run, queued through Agenda: whichever process takes it coordinates, both work its pages.
    expect((await a.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const run = await waitForRunEnd(id);
    expect(run.status, JSON.stringify(run)).toBe('completed');

    const arrived = arrivals(before);
    expect(JSON.stringify([...arrived].filter(([, n]) => n > 1)), 'nothing arrived twice').toBe('[]');
    const ledger = new Map((await store.listLedger(id, { limit: 100_000 })).map((e) => [e.invoiceId, e]));
    const logs = await store.listLogs({ installationId: id, limit: 100_000 });
    const skippedLog = new Set(logs.filter((l) => l.event.startsWith('invoice.skipped.') && l.invoiceId).map((l) => l.invoiceId!));
    const problems: string[] = [];
    let sent = 0;
    for (const inv of due) {
      const n = arrived.get(sandboxMessageId(id, inv)) ?? 0;
      const entry = ledger.get(inv);
      if (entry?.state === 'sent') {
        sent++;
        if (n !== 1) problems.push(`${inv}: sent, arrived ${n}×`);
      } else if (!(skippedLog.has(inv) && n === 0)) problems.push(`${inv}: ledger ${entry?.state ?? 'none'}, arrived ${n}×`);
    }
    expect(problems.join('\n')).toBe('');
    expect(sent).toBeGreaterThan(PAGE_SIZE * 4);
    expect(arrived.size).toBe(sent);

    // The run was split, and its counts are the sum of what every process's pages settled.
    const split = logs.find((l) => l.event === 'run.split' && l.runId === run.id);
    expect(split?.data?.['pages'], 'the run was split into page jobs').toBeGreaterThan(3);
    expect(run.counts.sent).toBe(sent);
    expect(run.counts.due, JSON.stringify(run.counts)).toBe(judgedIn(logs).size);
    expect(run.counts.skipped, JSON.stringify(run.counts)).toBe(skippedLog.size);
    expect(run.processed).toBeGreaterThanOrEqual(sent);

    const { perProcess, mixedConnections } = sentBy(id, before, [a, b], eventsFrom);
    expect(
      perProcess.reduce((x, y) => x + y, 0),
      'every arrived message was announced by the process that sent it',
    ).toBe(sent);
    expect(mixedConnections, 'one SMTP connection carries one process’s messages').toBe(0);
    for (const [i, n] of perProcess.entries()) expect(n, `process ${i} sent a share (${perProcess.join(' / ')})`).toBeGreaterThan(0);
    console.info(`split: ${due.length} due, ${sent} sent once in ${split?.data?.['pages']} pages; per process ${perProcess.join(' / ')}`);
  }, 240_000);

  it('a process SIGKILLed mid-page: its page is finished by another process, and nothing arrives twice', async () => {
    children.push(await startConnectorProcess(env));
    const [a, b, c] = children as [ConnectorProcess, ConnectorProcess, ConnectorProcess];
    const { host, fromDate } = await freshHost();
    const { id } = await installSandbox((method, path, options) => a.api(method, path, options), host, {
      enabled: false,
      fromDate,
      attachments: { pln: 'none', foreign: 'standard:invoice' },
    });
    const due = dueIds(host, fromDate);
    const before = smtp.messages.length;
    const eventsFrom = [a.events.length, b.events.length];
    const cFrom = c.events.length;
    // A coordinates (the run is started in it); C is killed once it has sent part of a page.
    const running = a.runDirect(id, 240_000);
    const until = Date.now() + 120_000;
    while (!c.events.slice(cFrom).some((e) => e.type === 'invoice.sent' && e.installationId === id)) {
      if (Date.now() > until) throw new Error(`process C sent nothing\n${c.stderr()}`);
      await sleep(20);
    }
    await sleep(100);
    c.kill('SIGKILL');
    await c.exited;
    children.pop();
    const leftByC = (await store.listLedger(id, { states: ['claimed', 'sending'], limit: 10_000 })).filter((e) => e.owner?.includes(`:${c.pid}:`));
    expect(leftByC.length, 'C died holding claims of its page').toBeGreaterThan(0);

    const run = await running;
    expect(run.status, JSON.stringify(run)).toBe('completed');

    const arrived = arrivals(before);
    expect(JSON.stringify([...arrived].filter(([, n]) => n > 1)), 'nothing arrived twice').toBe('[]');
    const ledger = new Map((await store.listLedger(id, { limit: 100_000 })).map((e) => [e.invoiceId, e]));
    const logs = await store.listLogs({ installationId: id, limit: 100_000 });
    const skippedLog = new Set(logs.filter((l) => l.event.startsWith('invoice.skipped.') && l.invoiceId).map((l) => l.invoiceId!));
    const problems: string[] = [];
    for (const inv of due) {
      const n = arrived.get(sandboxMessageId(id, inv)) ?? 0;
      const state = ledger.get(inv)?.state ?? 'none';
      if (state === 'sent' && n !== 1) problems.push(`${inv}: sent, arrived ${n}×`);
      else if (state === 'uncertain' && n > 1) problems.push(`${inv}: uncertain, arrived ${n}×`);
      else if (state === 'retry' && n > 1) problems.push(`${inv}: retry, arrived ${n}×`);
      else if (!['sent', 'uncertain', 'retry'].includes(state) && !(skippedLog.has(inv) && n === 0)) problems.push(`${inv}: ledger ${state}, arrived ${n}×`);
    }
    expect(problems.join('\n')).toBe('');
    // The run's counts are what was recorded, also what C recorded in its last moments (C adds its counts
    // to the run's about once a second, and was killed 100 ms after its first e-mail).
    const inState = (state: string) => [...ledger.values()].filter((e) => e.state === state).length;
    expect(run.counts.sent, JSON.stringify(run.counts)).toBe(inState('sent'));
    expect(run.counts.uncertain, JSON.stringify(run.counts)).toBe(inState('uncertain'));
    // C's page is counted once in due and skipped, although it was judged twice (by C, then again).
    expect(run.counts.due, JSON.stringify(run.counts)).toBe(judgedIn(logs).size);
    expect(run.counts.skipped, JSON.stringify(run.counts)).toBe(skippedLog.size);
    // What C held when it died went on in another process: its claims were given back and sent there.
    const { perProcess } = sentBy(id, before, [a, b], eventsFrom);
    const takenOver = leftByC.filter((e) => e.state === 'claimed' && ledger.get(e.invoiceId)?.state === 'sent');
    expect(takenOver.length, `C's claimed invoices sent by the others (${leftByC.length} left by C)`).toBeGreaterThan(0);
    const announcedByOthers = new Set(
      [a, b].flatMap((p, i) =>
        p.events
          .slice(eventsFrom[i])
          .filter((e) => e.type === 'invoice.sent' && e.installationId === id)
          .map((e) => (e as { invoiceId: string }).invoiceId),
      ),
    );
    for (const e of takenOver) expect(announcedByOthers.has(e.invoiceId), `${e.invoiceId} sent by A or B`).toBe(true);
    expect(ledger.size).toBeGreaterThan(0);
    console.info(
      `split after SIGKILL: ${due.length} due, ${[...ledger.values()].filter((e) => e.state === 'sent').length} sent once, ${takenOver.length} of C's ${leftByC.length} open claims finished by A/B; A/B sent ${perProcess.join(' / ')}`,
    );
  }, 300_000);
});

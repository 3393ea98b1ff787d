/**
 * Three connector processes share one database and run the same installation at the same moment.
 * The ledger's atomic claim must give every invoice one owner: 0 duplicates at the SMTP server, every
 * due invoice delivered exactly once, the host's "sent" flag set for exactly those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { generateSecretKey } from '../../src/secrets/secret-box.ts';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startConnectorProcess, type ConnectorProcess } from '../support/process.ts';
import { installSandbox, sandboxMessageId, unmarkSent, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';
import { rpcProxy } from '../support/rpc-proxy.ts';

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let store: Store;
let closeStore: () => Promise<void>;
const children: ConnectorProcess[] = [];
const env: Record<string, string> = {};

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 300 });
  unmarkSent(sandbox);
  const databaseUrl = await freshDatabase();
  const key = generateSecretKey('conc');
  Object.assign(env, { DATABASE_URL: databaseUrl, SECRET_KEYS: `${key.id}:${key.key.toString('base64')}`, PAGE_SIZE: '40', MAX_IN_FLIGHT: '8' });
  const opened = await openStore({ kind: 'postgres', url: databaseUrl }, { log: () => undefined });
  store = opened.store;
  closeStore = () => opened.close();
}, 120_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await closeStore?.();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('three connector processes, one database, one installation, the same moment', () => {
  it('deliver every due invoice exactly once (0 duplicates)', async () => {
    // The first process creates Agenda's schema; the other two start once it exists.
    children.push(await startConnectorProcess(env));
    children.push(...(await Promise.all([startConnectorProcess(env), startConnectorProcess(env)])));
    const [first] = children as [ConnectorProcess];

    const moves = sandbox.records('account.move');
    const fromDate = dayBeforeFirstInvoice(sandbox);
    const { id } = await installSandbox((method, path, options) => first.api(method, path, options), sandbox, {
      enabled: false,
      fromDate,
      attachments: { pln: 'none', foreign: 'standard:invoice' },
    });

    const runs = await Promise.all(children.map((c) => c.runDirect(id)));
    for (const run of runs) expect(run.status, JSON.stringify(run)).toBe('completed');
    // Each process did part of the work (the claim split it), and together they did all of it.
    const sentPerProcess = runs.map((r) => r.counts.sent);

    const byMessageId = new Map<string, number>();
    for (const m of smtp.messages) byMessageId.set(m.parsed.messageId ?? '', (byMessageId.get(m.parsed.messageId ?? '') ?? 0) + 1);
    const duplicates = [...byMessageId].filter(([, n]) => n > 1);
    expect(JSON.stringify(duplicates)).toBe('[]');

    const ledger = new Map((await store.listLedger(id, { limit: 100_000 })).map((e) => [e.invoiceId, e]));
    const logs = await store.listLogs({ installationId: id, limit: 100_000 });
    const skippedLog = new Set(logs.filter((l) => l.event.startsWith('invoice.skipped.') && l.invoiceId).map((l) => l.invoiceId!));
    const hostNow = new Map(sandbox.records('account.move').map((m) => [String(m['id']), m]));
    const due = moves.filter(
      (m) =>
        m['state'] === 'posted' &&
        ['out_invoice', 'out_refund'].includes(String(m['move_type'])) &&
        String(m['invoice_date']) >= fromDate &&
        !m['sending_data'],
    );
    const problems: string[] = [];
    let sent = 0;
    for (const m of due) {
      const inv = String(m['id']);
      const arrived = byMessageId.get(sandboxMessageId(id, inv)) ?? 0;
      const entry = ledger.get(inv);
      if (entry?.state === 'sent') {
        sent++;
        if (arrived !== 1) problems.push(`${inv}: sent, arrived ${arrived}×`);
        if (hostNow.get(inv)!['is_move_sent'] !== true) problems.push(`${inv}: sent but not marked in the host`);
      } else if (!(skippedLog.has(inv) && arrived === 0)) {
        problems.push(`${inv}: ledger ${entry?.state ?? 'none'}, arrived ${arrived}×`);
      }
    }
    expect(problems.join('\n')).toBe('');
    expect(smtp.messages.length).toBe(sent);
    expect(sentPerProcess.reduce((a, b) => a + b, 0)).toBe(sent);
    expect(sent).toBeGreaterThan(150);
    console.info(`concurrency: ${due.length} due, ${sent} sent once; per process ${sentPerProcess.join(' / ')}`);
  }, 240_000);
});

describe('two connector processes, one database, several runs at the same moments', () => {
  it('post no note twice and send no message twice (each owed write-back is taken by one process)', async () => {
    // A host of its own, so that every note on it is from these runs; reached through the proxy.
    const host = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 200 });
    const proxy = await rpcProxy(host.url);
    try {
      unmarkSent(host);
      if (children.length === 0) children.push(await startConnectorProcess(env)); // run alone (-t): the first creates Agenda's schema
      while (children.length < 2) children.push(await startConnectorProcess(env));
      const [a, b] = children as [ConnectorProcess, ConnectorProcess];
      const fromDate = dayBeforeFirstInvoice(host);
      const { id } = await installSandbox((method, path, options) => a.api(method, path, options), { url: proxy.url, database: host.database } as SandboxHost, {
        enabled: false,
        fromDate,
        attachments: { pln: 'none', foreign: 'none' },
      });
      const before = smtp.messages.length;
      const rounds: number[][] = [];
      // Round 1: the chatter refuses notes, so every write-back stays owed. Rounds 2 and 3: both
      // processes start at once and both find the whole backlog owed.
      for (let round = 0; round < 3; round++) {
        proxy.refuseNotes = round === 0;
        proxy.slowNoteLookup = round === 0 ? 0 : 300;
        const runs = await Promise.all([a.runDirect(id), b.runDirect(id)]);
        for (const run of runs) expect(run.status, JSON.stringify(run)).toBe('completed');
        rounds.push(runs.map((r) => r.counts.sent));
        if (round === 0) expect((await store.listPendingWriteBacks(id, 1000)).length).toBeGreaterThan(80);
      }
      const mine = smtp.messages.slice(before);
      const byMessageId = new Map<string, number>();
      for (const m of mine) byMessageId.set(m.parsed.messageId ?? '', (byMessageId.get(m.parsed.messageId ?? '') ?? 0) + 1);
      expect(JSON.stringify([...byMessageId].filter(([, n]) => n > 1))).toBe('[]');

      const notesPerInvoice = new Map<number, number>();
      for (const n of host.records('mail.message')) {
        if (n['model'] !== 'account.move' || !String(n['body']).includes('Invoice Courier')) continue;
        notesPerInvoice.set(n['res_id'] as number, (notesPerInvoice.get(n['res_id'] as number) ?? 0) + 1);
      }
      const twice = [...notesPerInvoice].filter(([, n]) => n > 1);
      expect(JSON.stringify(twice), 'no invoice got the same note twice').toBe('[]');
      const ledger = await store.listLedger(id, { limit: 100_000 });
      const sent = ledger.filter((e) => e.state === 'sent');
      expect(sent.length).toBeGreaterThan(80);
      expect(mine.length).toBe(sent.length);
      // Every sent invoice has its note, and nothing is owed any more.
      for (const e of sent) expect(notesPerInvoice.get(Number(e.invoiceId)), `note of ${e.invoiceNumber}`).toBe(1);
      expect(await store.listPendingWriteBacks(id, 10)).toEqual([]);
      console.info(
        `write-back once: ${sent.length} sent, ${[...notesPerInvoice.values()].reduce((x, y) => x + y, 0)} notes; sent per round and process ${JSON.stringify(rounds)}`,
      );
    } finally {
      await proxy.close();
      await host.stop();
    }
  }, 240_000);
});

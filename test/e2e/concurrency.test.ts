/**
 * Three connector processes share one database and run the same installation at the same moment.
 * The ledger's atomic claim must give every invoice one owner: 0 duplicates at the SMTP server, every
 * due invoice delivered exactly once, the host's "sent" flag set for exactly those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../src/connector/sandbox/index.ts';
import { generateSecretKey } from '../../src/secrets.ts';
import { openStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startConnectorProcess, type ConnectorProcess } from '../support/process.ts';
import { installSandbox, sandboxMessageId } from '../support/sandbox-installation.ts';

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let store: Store;
let closeStore: () => Promise<void>;
const children: ConnectorProcess[] = [];
const env: Record<string, string> = {};

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 300 });
  for (const m of sandbox.records('account.move')) if (m['state'] === 'posted' && m['is_move_sent'] === true) sandbox.write('account.move', m['id'] as number, { is_move_sent: false });
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
    const fromDate = DateTime.fromISO(String(moves.filter((m) => m['invoice_date']).map((m) => m['invoice_date']).sort()[0])).minus({ days: 1 }).toISODate()!;
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
    const due = moves.filter((m) => m['state'] === 'posted' && ['out_invoice', 'out_refund'].includes(String(m['move_type'])) && String(m['invoice_date']) >= fromDate && !m['sending_data']);
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

/**
 * The failure digest through a real run: the sandbox host, a real SMTP server refusing some customers'
 * addresses at RCPT TO. After a run with failed invoices exactly one digest reaches the operator (in
 * Polish: the operator's language), listing exactly the invoices the run logged as failed; a run that
 * fails nothing sends none; the alert address, when set, receives it instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer, type ReceivedMessage } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox } from '../support/sandbox-installation.ts';

let smtp: TestSmtpServer;
let connector: TestConnector;
const hosts: SandboxHost[] = [];
const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 20 }).toISODate()!;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  connector = await startTestConnector();
});

afterAll(async () => {
  await connector?.close();
  for (const h of hosts) await h.stop();
  await smtp?.stop();
});

async function host(): Promise<SandboxHost> {
  const h = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  hosts.push(h);
  return h;
}

/** The first address of every customer with a posted, unsent invoice since fromDate. */
function dueCustomerAddresses(sandbox: SandboxHost): string[] {
  const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'], p]));
  const out = new Set<string>();
  for (const m of sandbox.records('account.move')) {
    if (m['state'] !== 'posted' || m['move_type'] !== 'out_invoice' || m['is_move_sent'] || String(m['invoice_date']) < fromDate) continue;
    const p = partners.get(Array.isArray(m['partner_id']) ? m['partner_id'][0] : null);
    const email = typeof p?.['email'] === 'string' ? p['email'].split(/[,;]/)[0]!.trim().toLowerCase() : '';
    if (/^[^@\s]+@[^@\s]+\.[a-z]+$/.test(email)) out.add(email);
  }
  return [...out];
}

const digests = (since: number) => smtp.messages.slice(since).filter((m) => /^Invoice Courier:/.test(m.parsed.subject ?? ''));

async function run(id: string, token: string) {
  const since = Date.now();
  expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
  return connector.waitForRun(id, token, { trigger: 'manual', since });
}

async function settled(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('the failure digest', () => {
  it('after a run with failed invoices, one e-mail in Polish to the operator lists exactly those invoices; the next run sends none', async () => {
    const sandbox = await host();
    const refused = dueCustomerAddresses(sandbox).slice(0, 3);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) smtp.faults.rcpt[a] = { code: 550, message: '5.1.1 mailbox unavailable' };
    const { id, token } = await installSandbox(connector.api, sandbox, { fromDate, attachments: { pln: 'none', foreign: 'none' } });
    const before = smtp.messages.length;
    const r = await run(id, token);
    expect(r.counts.failed).toBeGreaterThan(0);
    await settled(() => digests(before).length > 0);
    await new Promise((res) => setTimeout(res, 300)); // nothing else may follow
    const sent: ReceivedMessage[] = digests(before);
    expect(sent).toHaveLength(1);
    const digest = sent[0]!;
    expect(digest.envelope.to).toEqual(['anna.nowak@spike.example']);
    expect(digest.parsed.subject).toMatch(/^Invoice Courier: \d+ faktur/);
    const text = digest.parsed.text ?? '';
    expect(text).toContain('serwer poczty odrzucił wiadomość');
    const failedLogs = await connector.api('GET', `/api/installations/${id}/logs?event=invoice.failed&limit=500`, { token });
    const numbers: string[] = failedLogs.body.entries.map((e: { invoiceNumber: string }) => e.invoiceNumber);
    expect(numbers.length).toBe(r.counts.failed);
    for (const n of numbers) expect(text).toContain(n);
    const listed = digest.parsed.html && typeof digest.parsed.html === 'string' ? (digest.parsed.html.match(/<li>/g) ?? []).length : 0;
    expect(listed).toBe(numbers.length);
    const logged = await connector.api('GET', `/api/installations/${id}/logs?event=run.digest_sent`, { token });
    expect(logged.body.entries).toHaveLength(1);

    // The failed invoices are final: the next run fails nothing and sends no digest.
    const again = smtp.messages.length;
    const r2 = await run(id, token);
    expect(r2.counts.failed).toBe(0);
    await new Promise((res) => setTimeout(res, 500));
    expect(digests(again)).toHaveLength(0);
    for (const a of refused) delete smtp.faults.rcpt[a];
  });

  it('a run where everything went out sends no digest', async () => {
    const sandbox = await host();
    const { id, token } = await installSandbox(connector.api, sandbox, { fromDate, attachments: { pln: 'none', foreign: 'none' } });
    const before = smtp.messages.length;
    const clean = await run(id, token);
    expect(clean.counts.sent).toBeGreaterThan(0);
    expect(clean.counts.failed + clean.counts.uncertain).toBe(0);
    await new Promise((res) => setTimeout(res, 500));
    expect(digests(before)).toHaveLength(0);
  });

  it('goes to the alert address instead of the operator when one is set', async () => {
    const sandbox = await host();
    const refused = dueCustomerAddresses(sandbox).slice(0, 2);
    for (const a of refused) smtp.faults.rcpt[a] = { code: 550, message: '5.1.1 mailbox unavailable' };
    try {
      const { id, token } = await installSandbox(connector.api, sandbox, {
        fromDate,
        attachments: { pln: 'none', foreign: 'none' },
        alertEmail: 'ksiegowosc@spike.example',
      });
      const before = smtp.messages.length;
      const r = await run(id, token);
      expect(r.counts.failed).toBeGreaterThan(0);
      await settled(() => digests(before).length > 0);
      expect(digests(before).map((m) => m.envelope.to)).toEqual([['ksiegowosc@spike.example']]);
    } finally {
      for (const a of refused) delete smtp.faults.rcpt[a];
    }
  });
});

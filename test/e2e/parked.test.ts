/**
 * Parked invoices end to end (issue 12 item 5): the sandbox host behind a proxy that records every
 * JSON-RPC call and answer, a real SMTP server, the connector as main.ts composes it. An invoice skipped
 * for a reason only a host change can lift (no recipient, no consent), or whose outcome is final but not
 * marked sent on the host (failed), is not read again until the host changes it or its customer; one
 * `account.move.search` per run asks which changed. Whatever is changed on the host is picked up by the
 * next run, a brand-new invoice is never left out, and a re-send a person allows still goes out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, warsawToday, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { recordingProxy, type RecordedCall as Call } from '../support/recording-proxy.ts';

type Rec = Record<string, unknown>;
// The sandbox's day, from which its seed is drawn (SANDBOX_TODAY may move it; sandbox/host/index.ts)
const today = DateTime.fromISO(warsawToday(), { zone: 'Europe/Warsaw' }).startOf('day');
const fromDate = today.minus({ days: 30 }).toISODate()!;
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));
const m2o = (v: unknown): number | null => (Array.isArray(v) ? (v[0] as number) : typeof v === 'number' ? v : null);

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let connector: TestConnector;
let id: string;
let token: string;

const moves = (): Rec[] => sandbox.records('account.move');
const contactsOf = (partnerId: number): Rec[] => sandbox.records('res.partner').filter((p) => m2o(p['parent_id']) === partnerId && p['type'] === 'invoice');

/** Runs once (manual); returns the run, the invoice ids e-mailed in it and the host calls it made. */
async function runOnce(): Promise<{ run: any; sent: number[]; calls: Call[] }> {
  const before = smtp.messages.length;
  const firstCall = proxy.calls.length;
  const since = Date.now();
  const res = await connector.api('POST', `/api/installations/${id}/runs`, { token });
  expect(res.status).toBe(202);
  const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
  expect(run.status, JSON.stringify(run)).toBe('completed');
  // The operator's failure digest (<ic-digest-…>) is no invoice's message.
  const sent = smtp.messages
    .slice(before)
    .filter((m) => !String(m.parsed.messageId).startsWith('<ic-digest-'))
    .map((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')));
  return { run, sent: sent.sort((a, b) => a - b), calls: proxy.calls.slice(firstCall) };
}

/** Invoice ids the run's listing read (`account.move.search_read` answers). */
const listedIn = (calls: Call[]): Set<number> =>
  new Set(calls.filter((c) => c.model === 'account.move' && c.method === 'search_read').flatMap((c) => (c.result as { id: number }[]).map((r) => r.id)));

async function logsFor(invoiceId: number, event: string): Promise<any[]> {
  const res = await connector.api('GET', `/api/installations/${id}/logs?limit=1000`, { token });
  expect(res.status).toBe(200);
  return (res.body.entries as any[]).filter((e) => e.invoiceId === String(invoiceId) && e.event === event);
}

/** Due posted invoices of customers with no invoice contacts, whose partner is its own commercial entity: one per customer. */
function oneInvoicePerCustomer(count: number): Rec[] {
  const seen = new Set<number>();
  const out: Rec[] = [];
  for (const m of moves()) {
    const partner = m2o(m['partner_id']);
    if (m['move_type'] !== 'out_invoice' || m['state'] !== 'posted' || m['is_move_sent'] === true || m['sending_data']) continue;
    if (typeof m['invoice_date'] !== 'string' || m['invoice_date'] < fromDate || m['l10n_pl_edi_status']) continue;
    if (partner === null || partner !== m2o(m['commercial_partner_id']) || seen.has(partner) || contactsOf(partner).length > 0) continue;
    const p = sandbox.records('res.partner').find((x) => x['id'] === partner)!;
    if (typeof p['email'] !== 'string' || (p['invoice_sending_method'] && p['invoice_sending_method'] !== 'email')) continue;
    seen.add(partner);
    out.push(m);
    if (out.length === count) break;
  }
  expect(out).toHaveLength(count);
  return out;
}

/** Every due invoice of the same customer (it is judged on the customer's data too). */
const sameCustomer = (m: Rec, ids: Set<number>): number[] =>
  moves()
    .filter((x) => m2o(x['commercial_partner_id']) === m2o(m['commercial_partner_id']) && ids.has(x['id'] as number))
    .map((x) => x['id'] as number);

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  proxy = await recordingProxy(sandbox.url);
  // No margin before a park's last check: this test's host and connector share one clock (the default
  // margin covers a host clock running behind the connector's). Host stamps have one-second resolution,
  // so the test waits a second between a change and the run that must not see it as new.
  connector = await startTestConnector({ pipeline: { retryDelayMs: 20, parkMarginMs: 0 } });
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: proxy.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  id = res.body.id;
  token = res.body.apiToken;
  const saved = await connector.api('PUT', `/api/installations/${id}/settings`, {
    token,
    body: { operator: 'ksiegowa', operatorPassword: 'ksiegowa', documents: 'confirmed_only', dateBasis: 'issue_date', fromDate },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
});

afterAll(async () => {
  await connector?.close();
  await proxy?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('parked invoices are not read again until the host changes them', () => {
  let silent: Rec; // its customer's address is removed: no_recipient, later a new invoice contact
  let refusing: Rec; // its customer chose another sending method: no_consent, later e-mail again
  let bouncing: Rec; // its customer's address is refused by the SMTP server: failed
  let untouched: Rec; // no_recipient, and stays so
  let parked: Set<number>;

  it('a first run skips and fails them; the next run leaves them out of the listing and asks the host once which changed', async () => {
    [silent, refusing, bouncing, untouched] = oneInvoicePerCustomer(4) as [Rec, Rec, Rec, Rec];
    sandbox.write('res.partner', m2o(silent['partner_id'])!, { email: false });
    sandbox.write('res.partner', m2o(untouched['partner_id'])!, { email: false });
    sandbox.write('res.partner', m2o(refusing['partner_id'])!, { invoice_sending_method: 'manual' });
    const refused = String(sandbox.records('res.partner').find((p) => p['id'] === m2o(bouncing['partner_id']))!['email']).toLowerCase();
    smtp.faults.rcpt[refused] = { code: 550, message: '5.1.1 No such user' };
    await nextSecond();

    const first = await runOnce();
    expect(first.sent).not.toContain(silent['id']);
    expect(first.sent).not.toContain(refusing['id']);
    expect(first.sent).not.toContain(bouncing['id']);
    expect(first.sent.length).toBeGreaterThan(10);
    const ledger = await connector.api('GET', `/api/installations/${id}/ledger?limit=1000&state=failed`, { token });
    expect((ledger.body.entries as any[]).map((e) => e.invoiceId)).toContain(String(bouncing['id']));

    // The second run reads the failed invoice once more (its outcome became final in the first) and parks it.
    const second = await runOnce();
    expect(second.sent).toEqual([]);
    expect(listedIn(second.calls).has(bouncing['id'] as number)).toBe(true);
    for (const m of [silent, refusing, untouched]) expect(listedIn(second.calls).has(m['id'] as number), `invoice ${String(m['id'])} listed again`).toBe(false);
    await nextSecond();

    const third = await runOnce();
    expect(third.sent).toEqual([]);
    const listed = listedIn(third.calls);
    for (const m of [silent, refusing, bouncing, untouched]) expect(listed.has(m['id'] as number), `invoice ${String(m['id'])} listed again`).toBe(false);
    const checks = third.calls.filter((c) => c.model === 'account.move' && c.method === 'search');
    expect(checks).toHaveLength(1);
    const asked = new Set(((checks[0]!.args[0] as unknown[])[0] as [string, string, number[]])[2]);
    for (const m of [silent, refusing, bouncing, untouched]) expect(asked.has(m['id'] as number)).toBe(true);
    parked = asked;
    // The listing leaves them out at the host: `id not in [...]` in its domain.
    const listing = third.calls.find((c) => c.model === 'account.move' && c.method === 'search_read')!;
    const notIn = (listing.kwargs['domain'] as unknown[]).find((l) => Array.isArray(l) && l[0] === 'id' && l[1] === 'not in') as [string, string, number[]];
    expect(new Set(notIn[2])).toEqual(parked);
    // Logged once, not once per run.
    expect(await logsFor(silent['id'] as number, 'invoice.skipped.no_recipient')).toHaveLength(1);
    expect(await logsFor(refusing['id'] as number, 'invoice.skipped.no_consent')).toHaveLength(1);
  });

  it('a new invoice contact with an address, consent given again, an edit of a failed invoice and a brand-new invoice are all picked up by the next run', async () => {
    // A new invoice-type contact under the silent customer (the customer record itself is not written).
    sandbox.create('res.partner', { name: 'Dział księgowości', parent_id: m2o(silent['partner_id']), type: 'invoice', email: 'ksiegowosc@odzyskana.example' });
    sandbox.write('res.partner', m2o(refusing['partner_id'])!, { invoice_sending_method: 'email' });
    sandbox.write('account.move', bouncing['id'] as number, { narration: '<p>Zmieniony termin płatności</p>' });
    // A brand-new invoice: a draft of another customer, posted now.
    const mine = new Set([silent, refusing, bouncing, untouched].map((m) => m2o(m['commercial_partner_id'])!));
    const draft = moves().find(
      (m) =>
        m['state'] === 'draft' &&
        m['move_type'] === 'out_invoice' &&
        typeof sandbox.records('res.partner').find((p) => p['id'] === m2o(m['partner_id']))?.['email'] === 'string' &&
        contactsOf(m2o(m['commercial_partner_id'])!).length === 0 &&
        !parked.has(m['id'] as number) &&
        !mine.has(m2o(m['commercial_partner_id'])!),
    )!;
    sandbox.write('account.move', draft['id'] as number, { state: 'posted', invoice_date: today.toISODate() });
    await nextSecond(); // a change is picked up however long ago it happened, not only within the second

    const { sent, calls } = await runOnce();
    const want = [...sameCustomer(silent, parked), ...sameCustomer(refusing, parked), draft['id'] as number].sort((a, b) => a - b);
    expect(sent).toEqual(want);
    const to = smtp.messages.filter((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === silent['id']).map((m) => m.envelope.to);
    expect(to).toEqual([['ksiegowosc@odzyskana.example']]);
    // The edited failed invoice was read again (and its change since the failed attempt logged), not sent.
    expect(listedIn(calls).has(bouncing['id'] as number)).toBe(true);
    expect(await logsFor(bouncing['id'] as number, 'invoice.changed_after_sending')).toHaveLength(1);
    // The invoice nobody touched stayed out of the listing.
    expect(listedIn(calls).has(untouched['id'] as number)).toBe(false);
  });

  it('a re-send a person allows for a parked failed invoice goes out on the next run', async () => {
    const again = await runOnce(); // the edited failed invoice is parked again
    expect(again.sent).toEqual([]);
    expect(listedIn(again.calls).has(bouncing['id'] as number)).toBe(false);
    const refused = String(sandbox.records('res.partner').find((p) => p['id'] === m2o(bouncing['partner_id']))!['email']).toLowerCase();
    delete smtp.faults.rcpt[refused];
    const allowed = await connector.api('POST', `/api/installations/${id}/invoices/${String(bouncing['id'])}/resend`, { token });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(202);
    const { sent } = await runOnce();
    expect(sent).toEqual([bouncing['id']]);
  });
});

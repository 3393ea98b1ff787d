/**
 * Selection end to end: settings changed through the API, then runs against the sandbox host and a
 * real SMTP server. Each run must send exactly the invoices the rules select from the sandbox's seed
 * data, to exactly the right addresses. The expected set is computed here from the sandbox records
 * with a plain statement of docs/design.md §2–3 and issue 3 (not with src/jobs/rules/selection.ts):
 *
 *   a customer invoice or credit note; posted, or also a draft when documents = all (cancelled never);
 *   its date (sale_date: the delivery date, else the invoice date; issue_date: the invoice date) is on
 *   or after fromDate; not marked sent in the host; not being sent by the host (sending_data); not
 *   sent by us before; the customer has not chosen another sending method than e-mail; a posted
 *   invoice that went to KSeF has its KSeF number; and there is a valid address: the customer's
 *   invoice-type contacts' addresses first, else the invoice partner's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, warsawToday, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

type Rec = Record<string, unknown>;
// The sandbox's day, from which its seed is drawn (SANDBOX_TODAY may move it; sandbox/host/index.ts)
const today = DateTime.fromISO(warsawToday(), { zone: 'Europe/Warsaw' }).startOf('day');
const fromDate = today.minus({ days: 30 }).toISODate()!;

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let id: string;
let token: string;
/** Invoice ids e-mailed so far (from the SMTP server's messages). */
const sentSoFar = new Set<number>();

const m2o = (v: unknown): number | null => (Array.isArray(v) ? (v[0] as number) : typeof v === 'number' ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

function addresses(field: unknown): string[] {
  return (text(field) ?? '')
    .split(/[,;]/)
    .map((a) => a.trim().toLowerCase())
    .filter((a) => /^[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}$/i.test(a));
}

interface Settings {
  documents: 'all' | 'confirmed_only';
  dateBasis: 'sale_date' | 'issue_date';
  fromDate: string;
}

/** Who an invoice goes to, by the plain rule; empty = no recipient. */
function recipientsOf(move: Rec, partners: Map<number, Rec>): string[] {
  const commercial = m2o(move['commercial_partner_id'])!;
  const contacts = [...partners.values()].filter((p) => m2o(p['parent_id']) === commercial && p['type'] === 'invoice' && p['active'] !== false);
  const fromContacts = [...new Set(contacts.flatMap((c) => addresses(c['email'])))];
  if (fromContacts.length) return fromContacts.sort();
  return [...new Set(addresses(partners.get(m2o(move['partner_id'])!)?.['email']))].sort();
}

type Verdict = 'send' | 'no_consent' | 'no_recipient' | 'out';

function verdict(move: Rec, settings: Settings, partners: Map<number, Rec>): Verdict {
  if (!['out_invoice', 'out_refund'].includes(String(move['move_type']))) return 'out';
  const states = settings.documents === 'all' ? ['draft', 'posted'] : ['posted'];
  if (!states.includes(String(move['state']))) return 'out';
  const date = settings.dateBasis === 'sale_date' ? (text(move['delivery_date']) ?? text(move['invoice_date'])) : text(move['invoice_date']);
  if (!date || date < settings.fromDate) return 'out';
  if (move['is_move_sent'] === true || (move['sending_data'] && move['sending_data'] !== false)) return 'out';
  if (sentSoFar.has(move['id'] as number)) return 'out';
  const customer = partners.get(m2o(move['commercial_partner_id'])!)!;
  const method = text(customer['invoice_sending_method']);
  if (method !== null && method !== 'email') return 'no_consent';
  if (recipientsOf(move, partners).length === 0) return 'no_recipient';
  if (move['state'] === 'posted' && text(move['l10n_pl_edi_status']) && !text(move['l10n_pl_edi_number'])) return 'out';
  return 'send';
}

function expected(settings: Settings): { send: Map<number, string[]>; noConsent: number[]; noRecipient: number[] } {
  const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'] as number, p]));
  const send = new Map<number, string[]>();
  const noConsent: number[] = [];
  const noRecipient: number[] = [];
  for (const move of sandbox.records('account.move')) {
    const v = verdict(move, settings, partners);
    if (v === 'send') send.set(move['id'] as number, recipientsOf(move, partners));
    else if (v === 'no_consent') noConsent.push(move['id'] as number);
    else if (v === 'no_recipient') noRecipient.push(move['id'] as number);
  }
  return { send, noConsent, noRecipient };
}

/** Runs once (manual) and returns what the SMTP server received in that run: invoice id -> recipients. */
async function runOnce(): Promise<{ run: any; got: Map<number, string[]> }> {
  const before = smtp.messages.length;
  const since = Date.now();
  const res = await connector.api('POST', `/api/installations/${id}/runs`, { token });
  expect(res.status).toBe(202);
  const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
  expect(run.status, JSON.stringify(run)).toBe('completed');
  const got = new Map<number, string[]>();
  for (const m of smtp.messages.slice(before)) {
    const invoiceId = Number(m.parsed.headers.get('x-invoice-courier-invoice'));
    expect(got.has(invoiceId), `invoice ${invoiceId} e-mailed twice in one run`).toBe(false);
    got.set(invoiceId, m.envelope.to.map((a: string) => a.toLowerCase()).sort());
  }
  return { run, got };
}

/** The installation's log entries for one invoice whose event starts with `event` (all pages). */
async function logsFor(invoiceId: number, event: string): Promise<any[]> {
  const out: any[] = [];
  let before: string | null = null;
  do {
    const res: { status: number; body: any } = await connector.api('GET', `/api/installations/${id}/logs?limit=1000${before ? `&before=${before}` : ''}`, {
      token,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    out.push(...(res.body.entries as any[]));
    before = res.body.next;
  } while (before);
  return out.filter((e) => e.invoiceId === String(invoiceId) && e.event.startsWith(event));
}

function markSent(ids: Iterable<number>) {
  for (const i of ids) sentSoFar.add(i);
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  connector = await startTestConnector();
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  id = res.body.id;
  token = res.body.apiToken;
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('the next run sends exactly what the rules select from the sandbox', () => {
  const settings: Settings = { documents: 'all', dateBasis: 'sale_date', fromDate };
  let consentCustomer: number;
  let silentCustomer: number;
  let sentDraft: number;

  it('documents = all, dateBasis = sale_date, fromDate 30 days ago: drafts and posted, never cancelled; sale date falling back to the invoice date; fromDate inclusive; sent by hand, being sent by the host, no consent, no address all left out', async () => {
    const moves = sandbox.records('account.move');
    const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'] as number, p]));
    const candidates = moves.filter((m) => verdict(m, settings, partners) === 'send');
    // Invoices sent by hand just now are not sent.
    const byHand = candidates.find((m) => m['state'] === 'posted')!;
    sandbox.write('account.move', byHand['id'] as number, { is_move_sent: true });
    // A customer that chose another sending method (it has an address) is skipped as no_consent.
    const withoutContacts = (m: Rec) =>
      !sandbox.records('res.partner').some((p) => m2o(p['parent_id']) === m2o(m['commercial_partner_id']) && p['type'] === 'invoice');
    const consentMove = candidates.find((m) => m['id'] !== byHand['id'] && withoutContacts(m))!;
    consentCustomer = m2o(consentMove['commercial_partner_id'])!;
    sandbox.write('res.partner', consentCustomer, { invoice_sending_method: 'manual' });
    // A customer whose address is removed is skipped as no_recipient.
    const silentMove = candidates.find(
      (m) =>
        m2o(m['commercial_partner_id']) !== consentCustomer &&
        m['id'] !== byHand['id'] &&
        withoutContacts(m) &&
        m2o(m['partner_id']) === m2o(m['commercial_partner_id']),
    )!;
    silentCustomer = m2o(silentMove['commercial_partner_id'])!;
    sandbox.write('res.partner', silentCustomer, { email: false });

    const saved = await connector.api('PUT', `/api/installations/${id}/settings`, {
      token,
      body: { operator: 'ksiegowa', operatorPassword: 'ksiegowa', documents: 'all', dateBasis: 'sale_date', fromDate },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);

    const want = expected(settings);
    // The seed exercises every rule here (else this test would prove less than it says).
    const all = sandbox.records('account.move');
    const basis = (m: Rec) => text(m['delivery_date']) ?? text(m['invoice_date']);
    expect([...want.send.keys()].some((i) => all.find((m) => m['id'] === i)!['state'] === 'draft')).toBe(true);
    expect([...want.send.keys()].some((i) => basis(all.find((m) => m['id'] === i)!) === fromDate)).toBe(true);
    expect(
      [...want.send.keys()].some((i) => {
        const m = all.find((x) => x['id'] === i)!;
        return text(m['delivery_date']) !== null && m['delivery_date'] !== m['invoice_date'];
      }),
    ).toBe(true);
    expect(all.some((m) => basis(m) === today.minus({ days: 31 }).toISODate() && m['state'] === 'posted')).toBe(true);
    expect(all.some((m) => m['state'] === 'cancel' && (basis(m) ?? '') >= fromDate)).toBe(true);
    expect(all.some((m) => m['sending_data'] && (basis(m) ?? '') >= fromDate)).toBe(true);
    expect([...want.send.values()].some((r) => r.length > 1)).toBe(true);
    expect(want.noConsent).toContain(consentMove['id']);
    expect(want.noRecipient).toContain(silentMove['id']);
    expect(want.send.has(byHand['id'] as number)).toBe(false);

    const { run, got } = await runOnce();
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...want.send.keys()].sort((a, b) => a - b));
    for (const [invoice, to] of got) expect(to, `recipients of invoice ${invoice}`).toEqual(want.send.get(invoice));
    expect(run.counts.sent).toBe(want.send.size);
    markSent(got.keys());

    // Invoice-type contacts come first: a customer with one gets it, not its own address.
    const smakosz = sandbox.records('res.partner').find((p) => String(p['name']).startsWith('Hurtownia Spożywcza Smakosz'))!;
    const toSmakosz = [...got].filter(([i]) => m2o(all.find((m) => m['id'] === i)!['commercial_partner_id']) === smakosz['id']);
    for (const [, to] of toSmakosz) expect(to).toEqual(['faktury@smakosz.example']);

    for (const invoice of want.noConsent) expect(await logsFor(invoice, 'invoice.skipped.no_consent'), `no_consent log of ${invoice}`).toHaveLength(1);
    for (const invoice of want.noRecipient) expect(await logsFor(invoice, 'invoice.skipped.no_recipient'), `no_recipient log of ${invoice}`).toHaveLength(1);
    sentDraft = [...got.keys()].find((i) => all.find((m) => m['id'] === i)!['state'] === 'draft')!;
  });

  it('a second run sends nothing again and logs no_recipient and no_consent once per invoice, not once per run', async () => {
    const want = expected(settings);
    expect(want.send.size).toBe(0);
    const { got } = await runOnce();
    expect([...got.keys()]).toEqual([]);
    for (const invoice of want.noRecipient) expect(await logsFor(invoice, 'invoice.skipped.no_recipient')).toHaveLength(1);
    for (const invoice of want.noConsent) expect(await logsFor(invoice, 'invoice.skipped.no_consent')).toHaveLength(1);
  });

  it('an invoice the host itself is sending (sending_data) is logged once as skipped, "the host is sending it", over several runs', async () => {
    const basis = (m: Rec) => text(m['delivery_date']) ?? text(m['invoice_date']);
    const beingSent = sandbox
      .records('account.move')
      .filter((m) => m['sending_data'] && m['state'] === 'posted' && m['is_move_sent'] !== true && (basis(m) ?? '') >= fromDate);
    expect(beingSent.length).toBeGreaterThan(0);
    await runOnce();
    for (const m of beingSent) {
      const logs = await logsFor(m['id'] as number, 'invoice.skipped.host_is_sending');
      expect(logs, `host_is_sending log of ${String(m['id'])}`).toHaveLength(1);
      expect(logs[0].message).toBe('Skipped: the host is sending it');
    }
  });

  it('an invoice without a recipient is sent on a later run once its customer has an address', async () => {
    const waiting = expected(settings).noRecipient.filter(
      (i) => m2o(sandbox.records('account.move').find((m) => m['id'] === i)!['commercial_partner_id']) === silentCustomer,
    );
    expect(waiting.length).toBeGreaterThan(0);
    sandbox.write('res.partner', silentCustomer, { email: 'nowy-adres@firma-odzyskana.example' });
    const want = expected(settings);
    for (const i of waiting) expect(want.send.get(i)).toEqual(['nowy-adres@firma-odzyskana.example']);
    const { got } = await runOnce();
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...want.send.keys()].sort((a, b) => a - b));
    for (const [invoice, to] of got) expect(to).toEqual(want.send.get(invoice));
    markSent(got.keys());
    for (const invoice of waiting) expect(await logsFor(invoice, 'invoice.skipped.no_recipient')).toHaveLength(1);
  });

  it('a draft e-mailed under documents = all is e-mailed again once, as the confirmed invoice, when it is posted: logged, and a new version in the ledger', async () => {
    expect(sentDraft).toBeDefined();
    const draftMessages = smtp.messages.filter((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === sentDraft);
    expect(draftMessages).toHaveLength(1);
    sandbox.write('account.move', sentDraft, { state: 'posted' });
    const posted = sandbox.records('account.move').find((m) => m['id'] === sentDraft)!;
    expect(posted['state']).toBe('posted');
    expect(String(posted['name'])).toMatch(/^R?FV\//);
    const { got } = await runOnce();
    expect([...got.keys()]).toEqual([sentDraft]);
    const all = smtp.messages.filter((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === sentDraft);
    expect(all).toHaveLength(2);
    expect(all[1]!.parsed.messageId).not.toBe(all[0]!.parsed.messageId);
    expect(all[1]!.parsed.headers.get('x-invoice-courier-number')).toBe(posted['name']);
    const logged = await logsFor(sentDraft, 'invoice.new_version');
    expect(logged).toHaveLength(1);
    expect(logged[0].message).toContain(String(posted['name']));
    const ledger = await connector.api('GET', `/api/installations/${id}/ledger?limit=1000`, { token });
    expect(ledger.status).toBe(200);
    const entry = (ledger.body.entries as any[]).find((e) => e.invoiceId === String(sentDraft));
    expect(entry).toMatchObject({ state: 'sent', version: 2, invoiceNumber: posted['name'], messageId: all[1]!.parsed.messageId });
  });

  it('… and never a third time; an edit after that is logged once as a change since it was sent', async () => {
    expect(sentDraft).toBeDefined();
    const { got } = await runOnce();
    expect(got.has(sentDraft)).toBe(false);
    sandbox.write('account.move', sentDraft, { narration: 'Poprawiony opis po wysłaniu' });
    for (let i = 0; i < 2; i++) {
      const again = await runOnce();
      expect(again.got.has(sentDraft)).toBe(false);
    }
    expect(await logsFor(sentDraft, 'invoice.changed_after_sending')).toHaveLength(1);
    expect(await logsFor(sentDraft, 'invoice.new_version')).toHaveLength(1);
  });

  it('switching to confirmed only and issue date changes the selection accordingly', async () => {
    const narrower: Settings = { documents: 'confirmed_only', dateBasis: 'issue_date', fromDate: today.minus({ days: 45 }).toISODate()! };
    const saved = await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: narrower });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const want = expected(narrower);
    expect(want.send.size).toBeGreaterThan(0);
    const { got } = await runOnce();
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...want.send.keys()].sort((a, b) => a - b));
    const all = sandbox.records('account.move');
    for (const i of got.keys()) expect(all.find((m) => m['id'] === i)!['state']).toBe('posted');
    markSent(got.keys());
  });
});

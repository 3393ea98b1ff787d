/**
 * The Tryton adapter against a real Tryton 6.0 (Debian's trytond, seeded by test/services/tryton-seed.py).
 * One server for this file. Ground truth is read with a raw JSON-RPC caller, never through the adapter.
 * Bad-password checks use a login name of their own (Tryton throttles failed logins per name).
 */
import { existsSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { DueInvoiceQuery, HostConnection, HostErp, WriteBack } from '../../src/connector/port.ts';
import type { EmailAccount, Invoice } from '../../src/domain.ts';
import { ConnectorError } from '../../src/errors.ts';
import { LoginGuard, RECEIPT_NAME, TrytonClient, TrytonHost, trytonHost } from '../../src/connector/tryton/index.ts';
import { connectorKept } from '../../src/connector/descriptor.ts';
import { startTryton, trytonInstalled, trytonRaw, trytonSql, TRYTON_INSTALL, type RunningTryton, type TrytonRawCall } from '../support/tryton.ts';

const hasSoffice = () => ['/usr/bin/soffice', '/usr/local/bin/soffice'].some((p) => existsSync(p));

if (!trytonInstalled()) console.warn(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`);

async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorError);
    return e as ConnectorError;
  }
  throw new Error('expected a rejection');
}

async function all(host: HostErp, q: DueInvoiceQuery): Promise<Invoice[][]> {
  const pages: Invoice[][] = [];
  for await (const p of host.listDueInvoices(q)) pages.push(p);
  return pages;
}

const account: EmailAccount = {
  id: 'c1',
  name: 'Biuro',
  active: true,
  fromAddress: 'faktury@spike.example',
  fromFilter: null,
  smtp: { host: 'smtp.spike.example', port: 587, tls: 'starttls', user: 'faktury', password: 'x' },
  imap: null,
};

describe.skipIf(!trytonInstalled())('tryton adapter on a real Tryton 6.0', () => {
  let t: RunningTryton;
  let raw: TrytonRawCall;
  let host: HostErp;
  let conn: HostConnection;
  const guard = new LoginGuard(60_000);
  const query = (over: Partial<DueInvoiceQuery> = {}): DueInvoiceQuery => ({
    documents: 'confirmed_only',
    dateBasis: 'issue_date',
    fromDate: '2000-01-01',
    pageSize: 50,
    excludeHostMarkedSent: false,
    ...over,
  });
  const byId = async (id: number): Promise<Invoice> => {
    const [inv] = await host.getInvoices([String(id)]);
    expect(inv).toBeDefined();
    return inv!;
  };

  beforeAll(async () => {
    const started = Date.now();
    t = (await startTryton())!;
    console.info(`tryton ready in ${Date.now() - started} ms (${t.timings})`);
    raw = await trytonRaw(t);
    conn = {
      kind: 'tryton',
      baseUrl: t.url,
      database: t.database,
      companyId: null,
      integration: { login: t.admin.login, secret: t.admin.password },
      operator: { login: t.ksiegowa.login, secret: t.ksiegowa.password },
      timeoutMs: 15_000,
    };
    // The connector-kept lists reach Tryton as they reach every host: through the registry's capability-driven wrapper.
    host = connectorKept(new TrytonHost(conn, { loginGuard: guard }), trytonHost, {
      accounts: async () => [account],
      templates: async () => [{ id: 'tpl-1', name: 'Faktura dla klienta', model: 'account.invoice', renderedByHost: true }],
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('describes the server version and the company with its currency', async () => {
    const info = await host.describe();
    expect(info).toEqual({
      kind: 'tryton',
      version: expect.stringMatching(/^6\.0\.\d+$/),
      company: { id: String(t.seed.company.id), name: 'Spike Sp. z o.o.', currency: 'PLN' },
    });
  });

  it('checks the operator and lists the company’s users as operators', async () => {
    const op = await host.checkOperator();
    expect(op).toMatchObject({ id: String(t.seed.users.ksiegowa), login: 'ksiegowa', name: 'Anna Nowak', email: 'anna.nowak@spike.example' });
    const ops = await host.listOperators();
    expect(ops.map((o) => o.login).sort()).toEqual(['admin', 'ksiegowa']);
  });

  it('offers the connector-managed accounts and templates (Tryton has none), never as host-rendered', async () => {
    const op = await host.checkOperator();
    expect(await host.listEmailAccounts(op)).toEqual([account]);
    expect(await host.listEmailTemplates()).toEqual([{ id: 'tpl-1', name: 'Faktura dla klienta', model: 'account.invoice', renderedByHost: false }]);
    const e = await rejection(host.renderTemplate('tpl-1', [String(t.seed.invoices.posted_pln.id)]));
    expect(e.code).toBe('host_not_found');
  });

  it('decodes Tryton decimals exactly: 1895.00 PLN is 189500 grosze, lines and VAT included', async () => {
    const wire = await raw('model.account.invoice.read', [[t.seed.invoices.posted_pln.id], ['total_amount'], {}]);
    expect(wire[0].total_amount).toEqual({ __class__: 'Decimal', decimal: '1895.00' });
    const inv = await byId(t.seed.invoices.posted_pln.id);
    expect([inv.amountUntaxed, inv.amountTax, inv.amountTotal]).toEqual([155000, 34500, 189500]);
    expect(inv.number).toBe(t.seed.invoices.posted_pln.number);
    expect(inv.issueDate).toBe(t.seed.invoices.posted_pln.date);
    expect(inv.saleDate).toBeNull();
    expect(inv.dueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(inv.dueDate! > inv.issueDate!).toBe(true);
    expect(inv.lines.map((l) => [l.name, l.quantity, l.unit, l.unitPrice, l.net, l.gross, l.taxes.map((x) => x.label)])).toEqual([
      ['Consulting hour', '10', 'Unit', '150', 150000, 184500, ['23%']],
      ['Travel costs (no tax)', '1', null, '50', 5000, 5000, []],
    ]);
    expect(inv.notes.narration).toBe('Thank you for your business.');
    expect(inv.paymentTerm).toBe('30 dni');
    expect(inv.updatedAt).toMatch(/Z$/);
  });

  it('maps 8 % and 23 % VAT on one invoice, totals equal to Tryton’s', async () => {
    const seed = t.seed.invoices.posted_mixed_vat;
    const inv = await byId(seed.id);
    expect(inv.amountTotal).toBe(Math.round(Number(seed.total) * 100));
    expect(inv.lines.flatMap((l) => l.taxes.map((x) => x.percent)).sort()).toEqual(['23', '8']);
    expect(inv.lines.find((l) => l.taxes[0]?.percent === '8')).toMatchObject({ quantity: '3', unitPrice: '49.90', net: 14970, gross: 16168 });
    expect(inv.lines.find((l) => l.taxes[0]?.percent === '23')?.name).toBe('Szkolenie z fakturowania');
    expect(inv.customer).toMatchObject({ name: 'Brak Maila Sp. j.', email: null, vat: '7251801126' });
    expect(inv.invoiceContacts).toEqual([]);
  });

  it('maps the seller, customers’ e-mails (invoice-flagged first), addresses, languages and VAT ids', async () => {
    const acme = await byId(t.seed.invoices.posted_pln.id);
    expect(acme.seller).toMatchObject({
      name: 'Spike Sp. z o.o.',
      vat: '5260250274',
      email: 'faktury@spike.example',
      address: { street: 'ul. Marszałkowska 1', zip: '00-001', city: 'Warszawa', countryCode: 'PL' },
    });
    expect(acme.customer).toMatchObject({ name: 'ACME Customer S.A.', email: 'billing@acme.example', lang: 'pl', vat: '8567346215' });
    expect(acme.customer.address).toMatchObject({ street: 'ul. Długa 5/7', zip: '80-827', city: 'Gdańsk', countryCode: 'PL', countryName: 'Polska' });
    expect(acme.invoiceContacts.map((c) => c.email)).toEqual(['billing@acme.example']);
    const kowalski = await byId(t.seed.invoices.paid_pln.id);
    expect(kowalski.customer.email).toBe('jan.kowalski@poczta.example');
    expect(kowalski.state).toBe('posted');
  });

  it('maps a EUR invoice to a foreign customer with Tryton’s rate as PLN per EUR', async () => {
    const inv = await byId(t.seed.invoices.posted_eur.id);
    expect(inv).toMatchObject({ currency: 'EUR', companyCurrency: 'PLN', amountUntaxed: 14000, amountTax: 3220, amountTotal: 17220 });
    expect(inv.exchangeRate).toEqual({ rate: '4.3000', date: t.seed.invoices.posted_eur.date, source: null });
    expect(inv.customer).toMatchObject({ name: 'Müller GmbH', lang: 'en', vat: 'DE136695976', email: 'buchhaltung@mueller.example' });
    expect(inv.customer.address.countryCode).toBe('DE');
    const pln = await byId(t.seed.invoices.posted_pln.id);
    expect(pln.exchangeRate).toBeNull();
  });

  it('shows the credit note as kind credit_note with positive amounts, pointing at the corrected invoice', async () => {
    const inv = await byId(t.seed.invoices.credit_note.id);
    expect(t.seed.invoices.credit_note.total).toBe('-1895.00');
    expect(inv).toMatchObject({ kind: 'credit_note', number: t.seed.invoices.credit_note.number, amountTotal: 189500, amountUntaxed: 155000 });
    expect(inv.lines.every((l) => l.net >= 0 && !l.quantity.startsWith('-'))).toBe(true);
    expect(inv.corrects).toEqual({ number: t.seed.invoices.posted_pln.number, date: t.seed.invoices.posted_pln.date });
  });

  it('confirmed_only lists posted and paid invoices; draft and validated only with all; cancelled never', async () => {
    const s = t.seed.invoices;
    const confirmed = (await all(host, query())).flat();
    expect(confirmed.map((i) => Number(i.id)).sort((a, b) => a - b)).toEqual(
      [s.posted_pln.id, s.posted_mixed_vat.id, s.paid_pln.id, s.posted_eur.id, s.credit_note.id].sort((a, b) => a - b),
    );
    const every = (await all(host, query({ documents: 'all' }))).flat();
    const ids = every.map((i) => Number(i.id));
    expect(ids).toEqual(expect.arrayContaining([s.draft_pln.id, s.validated_pln.id]));
    expect(ids).not.toContain(s.cancelled_pln.id);
    expect(every.find((i) => Number(i.id) === s.validated_pln.id)).toMatchObject({ state: 'draft', number: null });
  });

  it('filters on the invoice date for both date bases and pages by id without overlap', async () => {
    const from = t.seed.invoices.posted_eur.date;
    for (const dateBasis of ['issue_date', 'sale_date'] as const) {
      const pages = await all(host, query({ documents: 'all', dateBasis, fromDate: from, pageSize: 2 }));
      const list = pages.flat();
      expect(list.length).toBeGreaterThan(2);
      for (const inv of list) expect(inv.issueDate! >= from).toBe(true);
      expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
      const ids = list.map((i) => Number(i.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  it('writes back an ir.note and one JSON receipt attachment, visible in Tryton, once per outcome', async () => {
    const id = t.seed.invoices.posted_mixed_vat.id;
    const resource = `account.invoice,${id}`;
    const item: WriteBack = {
      invoiceId: String(id),
      outcome: { state: 'sent', reason: null, detail: null, recipients: [{ address: 'a@b.example', accepted: true, reply: null }] },
      messageId: '<inv-1@courier>',
      note: 'Faktura wysłana e-mailem do a@b.example',
      markSent: true,
    };
    await host.writeBack([item]);
    await host.writeBack([item]);
    const notes = await raw('model.ir.note.search_read', [[['resource', '=', resource]], 0, null, null, ['message'], {}]);
    expect(notes.map((n: { message: string }) => n.message)).toEqual(['Faktura wysłana e-mailem do a@b.example']);
    const att = await raw('model.ir.attachment.search_read', [[['resource', '=', resource]], 0, null, null, ['name', 'data'], {}]);
    expect(att).toHaveLength(1);
    expect(att[0].name).toBe(RECEIPT_NAME);
    const receipt = JSON.parse(Buffer.from(att[0].data.base64, 'base64').toString('utf8'));
    expect(receipt).toMatchObject({ kind: 'invoice-courier-receipt', invoiceId: String(id), state: 'sent', messageId: '<inv-1@courier>', markedSent: true });

    // Already-sent detection through the receipt.
    expect((await byId(id)).hostMarkedSent).toBe(true);
    const listed = (await all(host, query({ excludeHostMarkedSent: true }))).flat().map((i) => Number(i.id));
    expect(listed).not.toContain(id);
    expect(listed.length).toBeGreaterThan(0);

    // A later, different outcome adds a note and rewrites the same receipt; "sent" stays marked.
    await host.writeBack([
      { ...item, outcome: { state: 'failed', reason: 'smtp_permanent', detail: '550', recipients: [] }, messageId: null, note: 'Błąd', markSent: false },
    ]);
    const att2 = await raw('model.ir.attachment.search_read', [[['resource', '=', resource]], 0, null, null, ['data'], {}]);
    expect(att2).toHaveLength(1);
    const r2 = JSON.parse(Buffer.from(att2[0].data.base64, 'base64').toString('utf8'));
    expect(r2).toMatchObject({ state: 'failed', reason: 'smtp_permanent', markedSent: true });
    expect(r2.history.map((h: { state: string }) => h.state)).toEqual(['sent', 'failed']);
    const notes2 = await raw('model.ir.note.search_read', [[['resource', '=', resource]], 0, null, null, ['message'], {}]);
    expect(notes2).toHaveLength(2);
  });

  it('write-back on a missing invoice is host_not_found and writes nothing', async () => {
    const before = await raw('model.ir.note.search_count', [[], {}]);
    const e = await rejection(
      host.writeBack([
        { invoiceId: '999999', outcome: { state: 'sent', reason: null, detail: null, recipients: [] }, messageId: null, note: 'x', markSent: true },
      ]),
    );
    expect(e.code).toBe('host_not_found');
    expect(await raw('model.ir.note.search_count', [[], {}])).toBe(before);
  });

  it('offers no user print while the invoice report renders ODT, and getUserPrint says print_unavailable', async () => {
    expect(await host.listUserPrints()).toEqual([]);
    const e = await rejection(host.getUserPrint('user:account.invoice', String(t.seed.invoices.posted_pln.id)));
    expect(e.code).toBe('print_unavailable');
    expect(e.detail).toMatchObject({ extension: 'odt' });
    expect((await rejection(host.getUserPrint('user:no.such.report', String(t.seed.invoices.posted_pln.id)))).code).toBe('print_unavailable');
  });

  it('offers the invoice report as a user print once it is set to PDF; without LibreOffice it is print_unavailable', async () => {
    const [report] = await raw('model.ir.action.report.search', [[['report_name', '=', 'account.invoice']], 0, 1, null, {}]);
    await raw('model.ir.action.report.write', [[report], { extension: 'pdf' }, {}]);
    try {
      expect(await host.listUserPrints()).toEqual([{ choice: 'user:account.invoice', name: 'Invoice' }]);
      const draft = String(t.seed.invoices.draft_pln.id); // drafts are rendered afresh (posted ones cache their first print)
      if (hasSoffice()) {
        const pdf = await host.getUserPrint('user:account.invoice', draft);
        expect(Buffer.from(pdf.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
      } else {
        const e = await rejection(host.getUserPrint('user:account.invoice', draft));
        expect(e.code).toBe('print_unavailable');
        expect(e.message).toMatch(/soffice/);
      }
    } finally {
      await raw('model.ir.action.report.write', [[report], { extension: '' }, {}]);
    }
  });

  it('renews an ended session with one new login, and gives host_auth when the password changed meanwhile', async () => {
    // A guard of its own: the failed re-login below must not put the shared operator on hold.
    const client = new TrytonClient({ baseUrl: t.url, database: t.database, login: 'ksiegowa', secret: t.ksiegowa.password, loginGuard: new LoginGuard() });
    const uid = await client.uid();
    const endSessions = () => trytonSql(t, 'DELETE FROM ir_session WHERE create_uid = ?', [uid]);
    expect(await client.model<number>('account.invoice', 'search_count', [[]])).toBeGreaterThan(0);
    await endSessions();
    expect(await client.model<number>('account.invoice', 'search_count', [[]])).toBeGreaterThan(0);
    expect(await client.uid()).toBe(uid);
    await raw('model.res.user.write', [[uid], { password: 'Qx7-Wm2!Lp9#Rz' }, {}]);
    await endSessions();
    try {
      const e = await rejection(client.model('account.invoice', 'search_count', [[]]));
      expect([e.code, e.retryable]).toEqual(['host_auth', false]);
    } finally {
      await raw('model.res.user.write', [[uid], { password: t.ksiegowa.password }, {}]);
    }
  });

  it('classifies Tryton refusals: unknown field and model, posted-invoice write, missing database, no server', async () => {
    const client = new TrytonClient({ baseUrl: t.url, database: t.database, login: 'admin', secret: t.admin.password, loginGuard: guard });
    const field = await rejection(client.model('account.invoice', 'read', [[t.seed.invoices.posted_pln.id], ['no_such_field']]));
    expect([field.code, field.detail?.name]).toEqual(['host_validation', 'no_such_field']);
    expect((await rejection(client.model('no.such.model', 'search', [[]]))).code).toBe('host_validation');
    const write = await rejection(client.model('account.invoice', 'write', [[t.seed.invoices.posted_pln.id], { description: 'x' }]));
    expect(write.code).toBe('host_validation');
    expect(write.message).toMatch(/posted/);
    const nodb = new TrytonHost({ ...conn, database: 'no_such_db' }, { loginGuard: guard });
    expect((await rejection(nodb.describe())).code).toBe('host_not_found');
    const down = new TrytonHost({ ...conn, baseUrl: 'http://127.0.0.1:1' }, { loginGuard: guard });
    const e = await rejection(down.describe());
    expect([e.code, e.retryable]).toEqual(['host_unavailable', true]);
  });

  it('a wrong password is host_auth, and the failed login is not repeated while on hold', async () => {
    // A login name of its own: Tryton throttles failed logins per name.
    const bad = new TrytonHost({ ...conn, operator: { login: 'intruz', secret: 'wrong-password' } }, { loginGuard: guard });
    const first = await rejection(bad.checkOperator());
    expect([first.code, first.retryable]).toEqual(['host_auth', false]);
    const attemptsBefore = await raw('model.res.user.login.attempt.search_count', [[['login', '=', 'intruz']], {}]).catch(() => null);
    const t0 = Date.now();
    const second = await rejection(bad.checkOperator());
    expect(second.code).toBe('host_auth');
    expect(second.detail).toMatchObject({ onHold: true });
    expect(Date.now() - t0).toBeLessThan(100);
    if (attemptsBefore !== null) {
      expect(await raw('model.res.user.login.attempt.search_count', [[['login', '=', 'intruz']], {}])).toBe(attemptsBefore);
    }
  });
});

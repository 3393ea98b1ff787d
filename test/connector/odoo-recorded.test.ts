/**
 * The Odoo adapter against what real Odoo 17.0 and 18.0 answered (test/fixtures/odoo-real):
 * - the mapping on the recorded `search_read` rows of both versions (booked amounts, the invoice's own
 *   rate, the host's own sending, KSeF facts), and the recorded faults classified;
 * - the adapter's real HTTP client against a replay server of the recorded exchanges
 *   (test/support/odoo-recorded-server.ts): the send wizard of each version, templates for a non-admin
 *   operator, Odoo's own PDF behind the language redirect, API-key operators, write-back, the run log,
 *   the menu entry and the rights check. A request the recordings do not answer fails the test.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { OdooAdapter } from '../../src/connector/odoo/index.ts';
import { bookedAmounts, invoiceRate, ksefInfo, mapInvoice, type PageData } from '../../src/connector/odoo/mapping.ts';
import { translateFault, type OdooFault } from '../../src/connector/odoo/errors.ts';
import type { OdooRecord } from '../../src/connector/odoo/client.ts';
import type { HostConnection } from '../../src/connector/port.ts';
import { ConnectorError } from '../../src/errors.ts';
import { LOG_ONCE_REASONS, ruleKsef } from '../../src/jobs/rules/selection.ts';
import { loadExchanges, startRecordedOdoo, type OdooVersionDir, type RecordedOdoo, type RecordedUser } from '../support/odoo-recorded-server.ts';

const VERSIONS: OdooVersionDir[] = ['18.0', '17.0'];

/** Successful rows of a recorded file, merged by id (first exchange wins), for one uid. */
function rows(version: OdooVersionDir, file: string, uid = 6): OdooRecord[] {
  const byId = new Map<number, OdooRecord>();
  for (const x of loadExchanges(version, file)) {
    const args = (x.request.body as { params?: { args?: unknown[] } }).params?.args ?? [];
    const result = (x.response.body as { result?: unknown }).result;
    if (args[1] !== uid || !Array.isArray(result)) continue;
    for (const r of result as OdooRecord[]) byId.set(r.id, { ...r, ...(byId.get(r.id) ?? {}) });
  }
  return [...byId.values()];
}

const byId = (list: OdooRecord[]): Map<number, OdooRecord> => new Map(list.map((r) => [r.id, r]));

/** The page data the adapter would build, from the recorded rows of one version. */
function recordedPage(version: OdooVersionDir): { moves: OdooRecord[]; data: PageData } {
  const extras = version === '17.0' ? rows(version, 'search_read.account.move.17-extras.json') : [];
  const moves = rows(version, 'search_read.account.move.json').map((m) => ({ ...m, ...(extras.find((e) => e.id === m.id) ?? {}) }));
  const lines = rows(version, 'search_read.account.move.line.json');
  const taxes = rows(version, 'search_read.account.tax.json');
  const data: PageData = {
    partners: byId(rows(version, 'search_read.res.partner.json')),
    countries: byId(rows(version, 'search_read.res.country.json')),
    contacts: new Map(),
    lines: new Map(moves.map((m) => [m.id, lines.filter((l) => Array.isArray(l.move_id) && l.move_id[0] === m.id)])),
    taxes: byId(taxes),
    currencies: byId(rows(version, 'search_read.res.currency.json')),
    rates: new Map([
      [version === '18.0' ? 125 : 126, rows(version, 'search_read.res.currency.rate.json').sort((a, b) => (String(a.name) < String(b.name) ? 1 : -1))],
    ]),
    banks: byId(rows(version, 'search_read.res.partner.bank.json')),
    corrected: new Map(),
    ksefXmlSha: new Map(),
    company: { id: 1, partnerId: 1, name: 'Piekarnia Testowa Sp. z o.o.', currencyId: 17, currency: 'PLN' },
    has: { partnerSendingMethod: version === '18.0', taxInvoiceLabel: true, ksef: false },
    ksefRegistered: null,
  };
  return { moves, data };
}

describe('the Odoo mapping on recorded search_read rows (17.0 and 18.0)', () => {
  it('18.0: a EUR invoice carries what it booked in PLN (tax_totals base/tax/total) and the rate it used (1 / invoice_currency_rate)', () => {
    const { moves, data } = recordedPage('18.0');
    const eur = mapInvoice(
      moves.find((m) => m.id === 41)!,
      data,
    );
    expect(eur.currency).toBe('EUR');
    expect(eur.amountTotal).toBe(68880);
    expect(eur.booked).toEqual({
      currency: 'PLN',
      untaxed: 241360,
      tax: 55513,
      total: 296873,
      taxByRate: [{ label: expect.any(String), base: 241360, tax: 55513 }],
    });
    expect(eur.exchangeRate?.rate).toBe('4.31');
    // The table's rate in force on the invoice date equals the invoice's own: its date is known.
    expect(eur.exchangeRate?.date).toBe('2026-12-01');
    // A rate the table does not hold for that day: the print must not invent which day's rate it was.
    const other = mapInvoice({ ...moves.find((m) => m.id === 41)!, invoice_currency_rate: 0.25 }, data);
    expect(other.exchangeRate).toEqual({ rate: '4', date: null, source: 'Odoo invoice_currency_rate' });
    expect(eur.readError ?? null).toBeNull();
  });

  it('17.0: a EUR invoice books from the 17 tax_totals shape (groups_by_subtotal, *_company_currency) and its rate is derived exactly from booked/document amounts', () => {
    const { moves, data } = recordedPage('17.0');
    const move = moves.find((m) => m.id === 27)!;
    expect(move.invoice_currency_rate).toBeUndefined();
    const eur = mapInvoice(move, data);
    expect(eur.booked).toEqual({ currency: 'PLN', untaxed: 230040, tax: 52909, total: 282949, taxByRate: [{ label: 'VAT 23%', base: 230040, tax: 52909 }] });
    expect(eur.exchangeRate?.rate).toBe('4.26');
    // 17 had no rate for 2026-12-01: the one in force (2026-11-26, 4.26) is the one the invoice used.
    expect(eur.exchangeRate?.date).toBe('2026-11-26');
  });

  it('a host without the invoice rate: the connector chooses the table rate of the last day before the tax point (art. 31a)', () => {
    const { moves, data } = recordedPage('18.0');
    const { invoice_currency_rate: _r, tax_totals: _t, ...bare } = moves.find((m) => m.id === 41)!; // invoice_date 2026-12-01
    const inv = mapInvoice(bare as OdooRecord, data);
    // The recorded table has 2026-12-01 (4.31) and 2026-11-26 (4.26): the day before the tax point is 11-26.
    expect(inv.exchangeRate).toEqual({ rate: '4.26', date: '2026-11-26', source: null });
    const sale = mapInvoice({ ...bare, delivery_date: '2026-11-20' } as OdooRecord, data);
    expect(sale.exchangeRate).toMatchObject({ rate: '4.2718', date: '2026-11-16' });
  });

  it('signed amounts win over tax_totals when the host sends them, credit notes booked positive', () => {
    const booked = bookedAmounts(
      { id: 1, amount_untaxed_signed: -2413.6, amount_tax_signed: -555.13, amount_total_signed: -2968.73, tax_totals: false },
      'PLN',
      new Map(),
    );
    expect(booked).toEqual({ currency: 'PLN', untaxed: 241360, tax: 55513, total: 296873, taxByRate: [] });
    expect(invoiceRate({ id: 1, amount_untaxed: 560 }, booked)).toBe('4.31');
    expect(bookedAmounts({ id: 1, tax_totals: false }, 'PLN', new Map())).toBeNull();
  });

  for (const version of VERSIONS) {
    it(`${version}: PLN invoices and the credit note have no booked conversion and no rate; the host's own sending field maps to hostIsSending`, () => {
      const { moves, data } = recordedPage(version);
      for (const m of moves.filter((x) => Array.isArray(x.currency_id) && x.currency_id[1] === 'PLN')) {
        const inv = mapInvoice(m, data);
        expect(inv.booked ?? null).toBeNull();
        expect(inv.exchangeRate).toBeNull();
        expect(inv.hostIsSending).toBe(false);
      }
      const field = version === '18.0' ? 'sending_data' : 'send_and_print_values';
      const sample = moves[0]!;
      expect(field in sample || version === '17.0').toBe(true);
      expect(mapInvoice({ ...sample, [field]: { sp_partner_id: 7, mail_template_id: 7 } }, data).hostIsSending).toBe(true);
      const credit = mapInvoice(
        moves.find((m) => m.move_type === 'out_refund')!,
        data,
      );
      expect(credit.kind).toBe('credit_note');
    });

    it(`${version}: no l10n_pl_edi fields on the host = no KSeF facts invented`, () => {
      const { moves, data } = recordedPage(version);
      for (const m of moves) expect(mapInvoice(m, data).ksef).toBeNull();
      const fields = Object.keys((loadExchanges(version, 'fields_get.account.move.json')[0]!.response.body as { result: object }).result);
      expect(fields.some((f) => f.startsWith('l10n_pl_edi'))).toBe(false);
    });
  }

  it('a company registered for KSeF holds every invoice until its number exists; an unregistered one gets none', () => {
    const base = { ksefXmlSha: new Map<number, string>(), has: { partnerSendingMethod: false, taxInvoiceLabel: false, ksef: true } };
    expect(ksefInfo({ id: 1, l10n_pl_edi_status: false, l10n_pl_edi_number: false }, { ...base, ksefRegistered: true })).toEqual({
      number: null,
      status: null,
      xmlSha256: null,
    });
    expect(ksefInfo({ id: 1, l10n_pl_edi_status: 'rejected', l10n_pl_edi_number: false }, { ...base, ksefRegistered: false })).toBeNull();
  });

  it('on a host with l10n_pl_edi fields and a registered company: no number = held, rejected = a refusal (not an endless wait), unregistered = sent', () => {
    const { moves, data } = recordedPage('18.0');
    const posted = moves.find((m) => m.id === 40)!;
    const registered = { ...data, has: { ...data.has, ksef: true }, ksefRegistered: true };
    const held = mapInvoice({ ...posted, l10n_pl_edi_status: false, l10n_pl_edi_number: false }, registered);
    expect(ruleKsef(held)?.reason).toBe('waiting_for_ksef');
    const rejected = mapInvoice({ ...posted, l10n_pl_edi_status: 'rejected', l10n_pl_edi_number: false }, registered);
    expect(ruleKsef(rejected)?.reason).toBe('ksef_rejected');
    expect(LOG_ONCE_REASONS.has('ksef_rejected')).toBe(true);
    const accepted = mapInvoice({ ...posted, l10n_pl_edi_status: 'accepted', l10n_pl_edi_number: '5260250274-20261201-0123456789AB-CD' }, registered);
    expect(ruleKsef(accepted)).toBeNull();
    const unregistered = mapInvoice({ ...posted, l10n_pl_edi_status: false, l10n_pl_edi_number: false }, { ...registered, ksefRegistered: false });
    expect(unregistered.ksef).toBeNull();
    expect(ruleKsef(unregistered)).toBeNull();
  });

  it('a failed rate read marks only the foreign invoices, with the read error', () => {
    const { moves, data } = recordedPage('18.0');
    const failures = { rates: { what: 'res.currency.rate', detail: 'Odoo did not answer', retryable: true } };
    const out = moves.map((m) => mapInvoice(m, { ...data, failures }));
    expect(out.filter((i) => i.readError).map((i) => i.currency)).toEqual(['EUR']);
    expect(out.find((i) => i.currency === 'EUR')!.readError).toEqual(failures.rates);
  });
});

describe('recorded Odoo faults become ConnectorError codes', () => {
  const cases: [string, (why: string) => boolean, string][] = [
    ['errors.unknown-model.json', () => true, 'host_validation'],
    ['errors.unknown-field.json', () => true, 'host_validation'],
    ['errors.bad-domain.json', () => true, 'host_validation'],
    ['access.billing.ir.model.data.json', () => true, 'host_access'],
    ['access.billing.ir.mail_server.json', () => true, 'host_access'],
    ['authenticate.bad.json', (w) => w.startsWith('execute_kw with a wrong password'), 'host_auth'],
    ['authenticate.bad.json', (w) => w.startsWith('unknown database'), 'host_not_found'],
    ['web.session.authenticate.bad.json', () => true, 'host_auth'],
    ['ir.logging.create.billing.json', () => true, 'host_access'],
  ];
  for (const version of VERSIONS) {
    for (const [file, which, code] of cases) {
      it(`${version} ${file}: ${code}`, () => {
        const faults = loadExchanges(version, file)
          .filter((x) => which(x.why))
          .map((x) => (x.response.body as { error?: OdooFault }).error)
          .filter((e): e is OdooFault => e !== undefined);
        expect(faults.length).toBeGreaterThan(0);
        for (const f of faults) expect(translateFault(f, { service: 'object', method: 'x' }).code).toBe(code);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// The adapter's HTTP client against the replayed exchanges

const PASS = { admin: 'admin-pass', billing: 'billing-pass', viewer: 'viewer-pass' };
function users(version: OdooVersionDir): Record<string, RecordedUser> {
  return {
    admin: { uid: 2, password: PASS.admin, lang: 'en_US' },
    billing: { uid: 6, password: PASS.billing, lang: 'pl_PL', ...(version === '18.0' ? { apiKey: 'billing-api-key' } : {}) },
    viewer: { uid: 7, password: PASS.viewer, lang: 'en_US' },
  };
}

let servers: RecordedOdoo[] = [];
const adapters: OdooAdapter[] = [];
afterEach(async () => {
  for (const a of adapters.splice(0)) a.close();
  const unknown = servers.flatMap((s) => s.unknown);
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
  expect(unknown, 'requests the recordings do not answer').toEqual([]);
});

async function replay(version: OdooVersionDir, files: string[], modelled?: Parameters<typeof startRecordedOdoo>[0]['modelled']): Promise<RecordedOdoo> {
  const s = await startRecordedOdoo({ version, files, users: users(version), ...(modelled ? { modelled } : {}) });
  servers.push(s);
  return s;
}

function adapter(s: RecordedOdoo, over: Partial<HostConnection> = {}): OdooAdapter {
  const a = new OdooAdapter(
    {
      kind: 'odoo',
      baseUrl: s.url,
      database: s.database,
      companyId: null,
      integration: { login: 'admin', secret: PASS.admin },
      operator: { login: 'billing', secret: PASS.billing },
      timeoutMs: 5000,
      ...over,
    },
    { readAttempts: 1, backoffMs: 1 },
  );
  adapters.push(a);
  return a;
}

const WIZARD_FILES = [
  'fields_get.account.move.send.wizard.json',
  'fields_get.account.move.send.json',
  'search_read.ir.model.data.json',
  'search_read.mail.template.json',
  'search_read.account.move.json',
];
/** Not recorded by the probes (they read only the invoice template's xmlid): Odoo's credit-note template is id 9, as the wizard answered for a refund without a template. */
const CREDIT_NOTE_XMLID = {
  records: { 'ir.model.data': [{ id: 25592, module: 'account', name: 'email_template_edi_credit_note', model: 'mail.template', res_id: 9 }] },
};

async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorError);
    return e as ConnectorError;
  }
  throw new Error('expected a rejection');
}

describe('the send wizard as real Odoo answers it', () => {
  it('18.0: one account.move.send.wizard per invoice (move_id + mail_template_id), one read of mail_subject/mail_body/mail_lang and one unlink for all; the credit note gets the credit-note template', async () => {
    const s = await replay('18.0', [...WIZARD_FILES, 'wizard.create-read.json'], CREDIT_NOTE_XMLID);
    const out = await adapter(s).renderTemplate('7', ['40', '41', '16']);
    expect(out.get('40')).toMatchObject({ subject: 'Piekarnia Testowa Sp. z o.o. Faktura  INV/2026/00037)', lang: 'pl_PL' });
    expect(out.get('40')!.html).toContain('319,80');
    expect(out.get('41')).toMatchObject({ subject: 'Piekarnia Testowa Sp. z o.o. Invoice (Ref INV/2026/00038)', lang: 'en_US' });
    expect(out.get('16')).toMatchObject({ subject: 'Piekarnia Testowa Sp. z o.o. Nota kredytowa (Ref RINV/2026/00001)', lang: 'pl_PL' });
    const wiz = s.calls.filter((c) => c.model === 'account.move.send.wizard');
    expect(wiz.filter((c) => c.method === 'create').map((c) => c.args[0])).toEqual([
      [{ move_id: 40, mail_template_id: 7 }],
      [{ move_id: 41, mail_template_id: 7 }],
      [{ move_id: 16, mail_template_id: 9 }],
    ]);
    expect(wiz.filter((c) => c.method === 'read')).toHaveLength(1);
    expect(wiz.filter((c) => c.method === 'unlink')).toHaveLength(1);
    expect(wiz.every((c) => c.uid === 6)).toBe(true);
    // ir.model.data only ever as the integration user (admin, uid 2).
    expect(s.calls.filter((c) => c.model === 'ir.model.data').every((c) => c.uid === 2)).toBe(true);
  });

  it('18.0: a wizard Odoo refuses for one invoice fails the call, and the wizards already made are unlinked', async () => {
    const refusal = (loadExchanges('18.0', 'wizard.access.viewer.json')[0]!.response.body as { error: unknown }).error;
    const s = await replay('18.0', [...WIZARD_FILES, 'wizard.create-read.json'], {
      ...CREDIT_NOTE_XMLID,
      // The viewer's recorded AccessError, given for one invoice's wizard.
      call: (c) =>
        c.model === 'account.move.send.wizard' && c.method === 'create' && (c.args[0] as { move_id: number }[])[0]!.move_id === 41
          ? { error: refusal }
          : undefined,
    });
    const a = new OdooAdapter(
      {
        kind: 'odoo',
        baseUrl: s.url,
        database: s.database,
        companyId: null,
        integration: { login: 'admin', secret: PASS.admin },
        operator: { login: 'billing', secret: PASS.billing },
      },
      { readAttempts: 1, renderConcurrency: 1 },
    );
    adapters.push(a);
    const e = await rejection(a.renderTemplate('7', ['40', '41', '16']));
    expect(e.code).toBe('host_access');
    const wiz = s.calls.filter((c) => c.model === 'account.move.send.wizard');
    expect(wiz.filter((c) => c.method === 'create')).toHaveLength(2); // 40 made, 41 refused, 16 not started
    expect(wiz.filter((c) => c.method === 'unlink').map((c) => c.args[0])).toEqual([[16]]);
  });

  it('17.0: account.move.send with move_ids and mail_template_id, rendered text read back', async () => {
    const s = await replay('17.0', [...WIZARD_FILES, 'wizard17.create-read.json'], CREDIT_NOTE_XMLID);
    const out = await adapter(s).renderTemplate('7', ['26', '27', '16']);
    expect(out.get('26')!.subject).toBe('Piekarnia Testowa Sp. z o.o. Faktura  FV/2026/00022)');
    expect(out.get('27')!.subject).toBe('Piekarnia Testowa Sp. z o.o. Invoice (Ref FV/2026/00023)');
    expect(out.get('16')!.subject).toBe('Piekarnia Testowa Sp. z o.o. Nota kredytowa (Ref RFV/2026/00001)');
    const creates = s.calls.filter((c) => c.model === 'account.move.send' && c.method === 'create').map((c) => c.args[0]);
    expect(creates).toEqual([
      [{ move_ids: [[6, 0, [26]]], mail_template_id: 7 }],
      [{ move_ids: [[6, 0, [27]]], mail_template_id: 7 }],
      [{ move_ids: [[6, 0, [16]]], mail_template_id: 9 }],
    ]);
    expect(s.calls.some((c) => c.model === 'account.move.send.wizard')).toBe(false);
  });

  for (const version of VERSIONS) {
    it(`${version}: a non-admin operator lists templates, Odoo's invoice template first (xmlid read with the integration credential)`, async () => {
      const s = await replay(version, ['search_read.ir.model.data.json', 'search_read.mail.template.json', 'product.options.templates.operator-billing.json']);
      const templates = await adapter(s).listEmailTemplates();
      expect(templates[0]).toMatchObject({ id: '7', model: 'account.move', renderedByHost: true });
      expect(s.calls.filter((c) => c.model === 'ir.model.data').map((c) => c.uid)).toEqual([2]);
      expect(s.calls.filter((c) => c.model === 'mail.template').map((c) => c.uid)).toEqual([6]);
    });
  }
});

describe('mail servers on a host without fetchmail.server', () => {
  it("18.0: Odoo's UserError for an unknown model means no IMAP, not a failure", async () => {
    const unknownModel = (loadExchanges('18.0', 'errors.unknown-model.json')[0]!.response.body as { error: unknown }).error;
    const s = await replay('18.0', ['search_read.ir.mail_server.json'], {
      // Not recorded on a host without the model: Odoo answers it as for any unknown model (errors.unknown-model.json).
      call: (c) => (c.model === 'fetchmail.server' ? { error: unknownModel } : undefined),
    });
    const accounts = await adapter(s).listEmailAccounts({ id: '6', login: 'billing', name: 'Anna', email: 'billing@piekarnia.test', lang: 'pl_PL' });
    expect(accounts.length).toBeGreaterThan(0);
    expect(accounts.every((a) => a.imap === null)).toBe(true);
  });
});

describe("Odoo's own PDF as real Odoo serves it", () => {
  const PRINT_FILES = [
    'search_read.ir.actions.report.json',
    'fields_get.adapter-form.json',
    'fields_get.account.move.json',
    'fields_get.res.partner.json',
    'fields_get.account.tax.json',
    'read.invoice_pdf_report_id.json',
    'search_read.account.move.json',
  ];

  it('18.0: /report/pdf 303 -> /pl/report/pdf is followed (not an expired session); 5 concurrent downloads share one web login', async () => {
    const s = await replay('18.0', PRINT_FILES);
    const a = adapter(s);
    const pdfs = await Promise.all(['40', '41', '16', '40', '41'].map((id) => a.getUserPrint('user:222', id)));
    for (const p of pdfs) expect(Buffer.from(p.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    expect(s.webLogins.get('billing')).toEqual({ total: 1, maxConcurrent: 1 });
    expect(s.webCalls.filter((c) => c.status === 303).every((c) => c.path.startsWith('/report/pdf/'))).toBe(true);
    expect(s.webCalls.filter((c) => c.status === 200).every((c) => c.path.startsWith('/pl/report/pdf/'))).toBe(true);
  });

  it('18.0: an expired web session (303 -> /web/login) is renewed once, then the PDF comes', async () => {
    const s = await replay('18.0', PRINT_FILES);
    const a = adapter(s);
    await a.getUserPrint('user:222', '40');
    s.expireWebSessions();
    await a.getUserPrint('user:222', '41');
    expect(s.webLogins.get('billing')!.total).toBe(2);
  });

  it('18.0: an operator with an API key (web login AccessDenied) gets the PDF through the integration credential, not a template failure', async () => {
    const s = await replay('18.0', PRINT_FILES);
    const a = adapter(s, { operator: { login: 'billing', secret: 'billing-api-key' } });
    const pdf = await a.getUserPrint('user:222', '40');
    expect(Buffer.from(pdf.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    expect(s.webLogins.get('billing')!.total).toBe(1);
    expect(s.webLogins.get('admin')!.total).toBe(1);
    // admin's language (en_US) is 18's database default: no redirect.
    expect(s.webCalls.at(-1)).toEqual({ path: '/report/pdf/account.report_invoice_with_payments/40', status: 200 });
  });

  it('17.0: admin (en_US) is redirected to /en/report/... (17 defaults to pl_PL) and still gets the PDF', async () => {
    const s = await replay('17.0', PRINT_FILES);
    const a = adapter(s, { operator: { login: 'admin', secret: PASS.admin } });
    await a.getUserPrint('user:211', '26');
    expect(s.webCalls.map((c) => c.status)).toEqual([303, 200]);
    expect(s.webCalls[1]!.path).toBe('/en/report/pdf/account.report_invoice_with_payments/26');
  });

  it('a web session the host keeps refusing (303 -> /web/login after the renewal too) is a retryable print_unavailable', async () => {
    const s = await replay('18.0', PRINT_FILES);
    const a = adapter(s);
    s.refuseWebSessions(true);
    const e = await rejection(a.getUserPrint('user:222', '41'));
    expect(e.code).toBe('print_unavailable');
    expect(e.retryable).toBe(true);
    expect(s.webLogins.get('billing')!.total).toBe(2);
  });

  it('18.0: the viewer (no invoicing rights) gets a final print_unavailable, never a retry loop', async () => {
    const s = await replay('18.0', PRINT_FILES);
    const e = await rejection(adapter(s, { operator: { login: 'viewer', secret: PASS.viewer } }).getUserPrint('user:222', '40'));
    expect(e.code).toBe('print_unavailable');
    expect(e.retryable).toBe(false);
    expect(s.webCalls.at(-1)!.status).toBe(403);
  });
});

describe('write-back, run log, menu entry and rights as real Odoo answers them', () => {
  /** Not recorded: the note subtype's xmlid (mail.mt_note = 2, the subtype_id the recorded notes carry) and the operator's partner (18, the author_id of billing's recorded notes). */
  const NOTES = {
    records: {
      'ir.model.data': [{ id: 900001, module: 'mail', name: 'mt_note', model: 'mail.message.subtype', res_id: 2 }],
      'res.users': [{ id: 6, partner_id: [18, 'Anna Fakturzystka'] }],
    },
  };
  const note = (id: number) => ({
    invoiceId: String(id),
    outcome: { state: 'sent' as const, reason: null, detail: null, recipients: [] },
    messageId: `<ic-${id}@invoice-courier.local>`,
    note: `Invoice Courier: faktura wysłana <b>e-mailem</b> [Message-ID <ic-${id}@invoice-courier.local>]`,
    markSent: true,
  });

  for (const version of VERSIONS) {
    it(`${version}: is_move_sent in one write, the idempotence read, all notes in one mail.message create (comment, mt_note, the operator as author)`, async () => {
      let created: unknown = null;
      const s = await replay(version, ['product.writeback.json', 'search_read.ir.model.data.json'], {
        ...NOTES,
        // Not recorded: real Odoo 18 accepts a batched mail.message create as the billing user (issue 12).
        call: (c) => (c.model === 'mail.message' && c.method === 'create' && c.uid === 6 ? ((created = c.args[0]), { result: [501, 502, 503] }) : undefined),
      });
      const ids = (
        (loadExchanges(version, 'product.writeback.json')[0]!.request.body as { params: { args: unknown[][] } }).params.args[5]![0] as number[]
      ).slice();
      await adapter(s).writeBack(ids.map(note));
      const made = s.calls.filter((c) => c.model !== 'common');
      expect(made.filter((c) => c.model === 'account.move' && c.method === 'write')).toHaveLength(1);
      expect(made.filter((c) => c.model === 'mail.message' && c.method === 'search_read')).toHaveLength(1);
      expect(made.filter((c) => c.method === 'message_post')).toHaveLength(0);
      expect(created).toEqual(
        ids.map((id) => ({
          model: 'account.move',
          res_id: id,
          message_type: 'comment',
          subtype_id: 2,
          author_id: 18,
          body: expect.stringContaining('&lt;b&gt;e-mailem&lt;/b&gt;'),
        })),
      );
    });
  }

  it('18.0: when the batched create is refused the notes go one message_post each (body_is_html)', async () => {
    const refusal = (loadExchanges('18.0', 'writeback.message_post.json').find((x) => x.why.startsWith('viewer posting'))!.response.body as { error: unknown })
      .error;
    const s = await replay('18.0', ['product.writeback.json', 'search_read.ir.model.data.json'], {
      ...NOTES,
      call: (c) => (c.model === 'mail.message' && c.method === 'create' ? { error: refusal } : undefined),
    });
    await adapter(s).writeBack(
      [33, 34, 35].map((id) => ({
        ...note(id),
        note: (
          loadExchanges('18.0', 'product.writeback.json')[2 + [33, 34, 35].indexOf(id)]!.request.body as {
            params: { args: [unknown, unknown, unknown, unknown, unknown, unknown, { body: string }] };
          }
        ).params.args[6].body
          .replace(/^<p>|<\/p>$/g, '')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>'),
      })),
    );
    const posts = s.calls.filter((c) => c.method === 'message_post');
    expect(posts.map((c) => c.args[0])).toEqual([[33], [34], [35]]);
    expect(posts.every((c) => c.kwargs.body_is_html === true && c.kwargs.subtype_xmlid === 'mail.mt_note')).toBe(true);
  });

  it('18.0: a note already on the invoice (same Message-ID) is not written again', async () => {
    const s = await replay('18.0', ['search_read.mail.message.json', 'search_read.ir.model.data.json'], NOTES);
    const existing = rows('18.0', 'search_read.mail.message.json', 2)[0]!;
    const messageId = /Message-ID &lt;([^&]+)&gt;/.exec(String(existing.body))![1]!;
    // The idempotence read answers from the recorded notes (uid 2 = admin as operator here).
    await adapter(s, { operator: { login: 'admin', secret: PASS.admin } }).writeBack([
      { ...note(Number(existing.res_id)), markSent: false, messageId: `<${messageId}>`, note: `different text, same <${messageId}>` },
    ]);
    expect(s.calls.filter((c) => c.method === 'create' || c.method === 'message_post')).toEqual([]);
  });

  for (const version of VERSIONS) {
    it(`${version}: each run leaves one ir.logging record as the integration user; a billing integration user is refused (host_access)`, async () => {
      const s = await replay(version, ['ir.logging.create.admin.json', 'ir.logging.create.billing.json']);
      const summary = {
        runId: 'r-1',
        status: 'completed' as const,
        trigger: 'schedule',
        startedAt: '2026-12-01T20:00:00Z',
        finishedAt: '2026-12-01T20:00:09Z',
        counts: { due: 5, sent: 3, drafted: 0, skipped: 1, failed: 1, retry: 0, uncertain: 0 },
        error: null,
      };
      await adapter(s).recordRun(summary);
      const [log] = s.calls.filter((c) => c.model === 'ir.logging');
      expect(log!.uid).toBe(2);
      expect(log!.args[0]).toEqual([
        expect.objectContaining({ name: 'invoice-courier', type: 'server', level: 'WARNING', path: 'invoice-courier', func: 'run', line: '0' }),
      ]);
      expect(String((log!.args[0] as { message: string }[])[0]!.message)).toContain('sent 3');
      const e = await rejection(adapter(s, { integration: { login: 'billing', secret: PASS.billing } }).recordRun(summary));
      expect(e.code).toBe('host_access');
    });

    it(`${version}: the menu entry under Invoicing is created with the integration credential, kept when there, and removed at uninstall`, async () => {
      const created: Record<string, unknown>[] = [];
      const s = await replay(
        version,
        ['menu.create.admin.json', 'search_read.ir.ui.menu.json', 'search_read.ir.actions.act_url.json', 'search_read.ir.model.data.json'],
        {
          call: (c) => {
            // After creation the entries are there (the replay keeps no state of its own): answer them back.
            if (c.method === 'create' && (c.model === 'ir.ui.menu' || c.model === 'ir.actions.act_url')) {
              created.push({ model: c.model, ...(c.args[0] as Record<string, unknown>[])[0] });
              return { result: [700 + created.length] };
            }
            if (c.method === 'search_read' && c.model === 'ir.actions.act_url' && created.length) {
              return { result: created.filter((x) => x.model === 'ir.actions.act_url').map((x, i) => ({ id: 701 + i * 2, url: x.url })) };
            }
            if (c.method === 'search_read' && c.model === 'ir.ui.menu' && created.length) {
              return { result: created.filter((x) => x.model === 'ir.ui.menu').map((x, i) => ({ id: 702 + i * 2, action: x.action })) };
            }
            if (c.method === 'unlink' && (c.model === 'ir.ui.menu' || c.model === 'ir.actions.act_url') && c.uid === 2) return { result: true };
            return undefined;
          },
        },
      );
      const a = adapter(s);
      const links = {
        entries: [
          { name: 'Ustawienia', url: 'http://127.0.0.1:3600/ui/installations/x/settings', sequence: 90 },
          { name: 'Dziennik', url: 'http://127.0.0.1:3600/ui/installations/x/logs', sequence: 91 },
        ],
      };
      await a.ensureExtension(links);
      expect(created.filter((c) => c.model === 'ir.actions.act_url').map((c) => c.target)).toEqual(['new', 'new']);
      const menus = created.filter((c) => c.model === 'ir.ui.menu');
      const root = version === '18.0' ? 119 : 113; // the recorded Invoicing root of each version
      expect(menus.map((m) => m.parent_id)).toEqual([root, root]);
      expect(menus.map((m) => m.action)).toEqual(['ir.actions.act_url,701', 'ir.actions.act_url,703']);
      const before = s.calls.length;
      await a.ensureExtension(links); // already there: reads only
      expect(s.calls.slice(before).filter((c) => c.method !== 'search_read')).toEqual([]);
      await a.removeExtension('http://127.0.0.1:3600/ui/installations/x/');
      expect(s.calls.filter((c) => c.method === 'unlink').map((c) => c.model)).toEqual(['ir.ui.menu', 'ir.actions.act_url']);
      expect(s.calls.filter((c) => c.model.startsWith('ir.')).every((c) => c.uid === 2)).toBe(true);
    });

    it(`${version}: a billing user as the integration credential lacks the admin-only rights (mail servers, xmlids, the run log), named one by one`, async () => {
      const files = [
        'access.billing.ir.mail_server.json',
        'access.billing.fetchmail.server.json',
        'access.billing.ir.model.data.json',
        'ir.logging.create.billing.json',
        'writeback.is_move_sent.json',
        'writeback.message_post.json',
        'access.billing.account.move.json',
      ];
      const s = await replay(version, [
        ...files,
        'ir.logging.create.admin.json',
        'search_read.ir.mail_server.json',
        'search_read.fetchmail.server.json',
        'search_read.ir.model.data.json',
        'search_read.account.move.json',
      ]);
      const rights = [
        { model: 'ir.mail_server', access: ['read' as const] },
        { model: 'fetchmail.server', access: ['read' as const] },
        { model: 'ir.model.data', access: ['read' as const] },
        { model: 'ir.logging', access: ['create' as const] },
        { model: 'account.move', access: ['read' as const, 'write' as const] },
      ];
      const billing = await adapter(s, { integration: { login: 'billing', secret: PASS.billing } }).checkRights(rights);
      expect(billing.map((m) => `${m.model}:${m.access}`).sort()).toEqual([
        'fetchmail.server:read',
        'ir.logging:create',
        'ir.mail_server:read',
        'ir.model.data:read',
      ]);
      expect(await adapter(s).checkRights(rights.map((r) => ({ ...r, access: r.access.filter((a) => a !== 'write') })))).toEqual([]);
    });
  }
});

/**
 * The Odoo adapter against the real sandbox host (Odoo 18 JSON-RPC on 127.0.0.1, port 0): the shared
 * host conformance suite, then what is specific to Odoo — calls per page, fault classification,
 * rendering through the send wizard, from_filter, KSeF and exchange rates. Ground truth is read from
 * the sandbox's own records, never through the adapter.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startSandboxHost } from '../../sandbox/index.ts';
import { OdooAdapter, OdooClient } from '../../src/connector/odoo/index.ts';
import type { CallDescription } from '../../src/connector/odoo/errors.ts';
import type { DueInvoiceQuery, HostConnection } from '../../src/connector/port.ts';
import type { Invoice } from '../../src/domain.ts';
import { ConnectorError } from '../../src/errors.ts';
import { hostConformanceSuite } from './conformance.ts';

type Sandbox = Awaited<ReturnType<typeof startSandboxHost>>;

const TODAY = '2026-11-27';
const SMTP = { host: '127.0.0.1', port: 2525, user: 'courier', password: 'smtp-secret', encryption: 'none' as const };

async function sandbox(): Promise<Sandbox> {
  return startSandboxHost({ host: '127.0.0.1', port: 0, database: 'sandbox', today: TODAY, smtp: SMTP, stateFile: null });
}

function connection(sb: Sandbox, over: Partial<HostConnection> = {}): HostConnection {
  return {
    kind: 'odoo',
    baseUrl: sb.url,
    database: sb.database,
    companyId: null,
    integration: { login: 'admin', secret: 'admin' },
    operator: { login: 'ksiegowa', secret: 'ksiegowa' },
    timeoutMs: 10_000,
    ...over,
  };
}

/** many2one as stored (id) or as read ([id, name]). */
const idOf = (v: unknown): number | null => (typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : null);

/** The due-invoice rule, applied to the sandbox's own records. */
function truthDueIds(sb: Sandbox, q: DueInvoiceQuery): string[] {
  return sb
    .records('account.move')
    .filter((m) => m.move_type === 'out_invoice' || m.move_type === 'out_refund')
    .filter((m) => (q.documents === 'all' ? m.state === 'draft' || m.state === 'posted' : m.state === 'posted'))
    .filter((m) => !q.excludeHostMarkedSent || m.is_move_sent !== true)
    .filter((m) => {
      const inv = typeof m.invoice_date === 'string' ? m.invoice_date : null;
      const del = typeof m.delivery_date === 'string' ? m.delivery_date : null;
      const d = q.dateBasis === 'sale_date' ? (del ?? inv) : inv;
      return d !== null && d >= q.fromDate;
    })
    .map((m) => String(m.id));
}

const notesOn = (sb: Sandbox, id: string): number =>
  sb.records('mail.message').filter((m) => m.model === 'account.move' && String(m.res_id) === id && m.message_type === 'comment').length;

async function all(host: OdooAdapter, q: DueInvoiceQuery): Promise<Invoice[]> {
  const out: Invoice[] = [];
  for await (const page of host.listDueInvoices(q)) out.push(...page);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorError);
    return e as ConnectorError;
  }
  throw new Error('expected a rejection');
}

const baseQuery: DueInvoiceQuery = { documents: 'all', dateBasis: 'issue_date', fromDate: '2026-10-01', pageSize: 50, excludeHostMarkedSent: false };

// ---------------------------------------------------------------------------------------------------

hostConformanceSuite('Odoo adapter on the sandbox host', async () => {
  const sb = await sandbox();
  const host = new OdooAdapter(connection(sb));
  const bad = new OdooAdapter(connection(sb, { operator: { login: 'ksiegowa', secret: 'wrong-password' } }));
  const down = new OdooAdapter(connection(sb, { baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }), { backoffMs: 10 });
  const fromDate = DateTimeMinus(TODAY, 45);
  return {
    host,
    async teardown() {
      host.close();
      bad.close();
      down.close();
      await sb.stop();
    },
    expectations: {
      kind: 'odoo',
      operatorLogin: 'ksiegowa',
      badOperatorHost: bad,
      unreachableHost: down,
      queries: [
        { documents: 'confirmed_only', dateBasis: 'issue_date', fromDate, pageSize: 17, excludeHostMarkedSent: true },
        { documents: 'all', dateBasis: 'sale_date', fromDate, pageSize: 23, excludeHostMarkedSent: false },
      ],
      dueIds: async (q) => ({ ids: truthDueIds(sb, q), exact: true }),
      missingInvoiceId: '999999',
      hostMarksSent: async (id) => sb.records('account.move').find((m) => String(m.id) === id)?.is_move_sent === true,
      notesOn: async (id) => notesOn(sb, id),
      invoiceTemplateId: String(templateByXmlid(sb, 'email_template_edi_invoice')),
      missingTemplateId: '987654',
      async giveCustomerEmail(invoiceId, email) {
        const move = sb.records('account.move').find((m) => String(m.id) === invoiceId)!;
        sb.write('res.partner', idOf(move.partner_id)!, { email });
      },
      async editDraft(invoiceId) {
        sb.write('account.move', Number(invoiceId), { narration: '<p>Poprawione warunki płatności</p>' });
      },
    },
  };
});

function DateTimeMinus(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

function templateByXmlid(sb: Sandbox, name: string): number {
  const x = sb.records('ir.model.data').find((r) => r.model === 'mail.template' && r.name === name);
  if (!x) throw new Error(`no template ${name}`);
  return x.res_id as number;
}

// ---------------------------------------------------------------------------------------------------

describe('Odoo adapter specifics (sandbox host)', () => {
  let sb: Sandbox;
  let calls: CallDescription[];
  let host: OdooAdapter;

  beforeAll(async () => {
    sb = await sandbox();
    calls = [];
    host = new OdooAdapter(connection(sb), { onCall: (c) => calls.push(c) });
  });
  afterAll(async () => {
    host?.close();
    await sb?.stop();
  });

  it('reads each page with a fixed number of batched calls, never one per invoice', async () => {
    const perPage = async (pageSize: number): Promise<{ counts: number[]; sizes: number[]; pageCalls: CallDescription[][] }> => {
      const counts: number[] = [];
      const sizes: number[] = [];
      const pageCalls: CallDescription[][] = [];
      let mark = calls.length;
      for await (const page of host.listDueInvoices({ ...baseQuery, pageSize })) {
        counts.push(calls.length - mark);
        pageCalls.push(calls.slice(mark));
        sizes.push(page.length);
        mark = calls.length;
      }
      return { counts, sizes, pageCalls };
    };
    await all(host, { ...baseQuery, pageSize: 5 }); // warm-up: authentication, fields_get, company
    const big = await perPage(50);
    const small = await perPage(10);
    expect(big.sizes.length).toBeGreaterThanOrEqual(3);
    expect(big.sizes[0]).toBe(50);
    expect(big.sizes[1]).toBe(50);
    // Pages of 50 and of 10 invoices take the same bounded set of calls (empty batches are skipped):
    // at most one call per model/method, from a fixed list of 11, whatever the page size.
    const allowed = new Set([
      'account.move.search_read',
      'account.move.line.search_read',
      'res.partner.read',
      'res.partner.search_read',
      'res.currency.read',
      'res.currency.rate.search_read',
      'res.partner.bank.read',
      'account.move.read',
      'ir.attachment.read',
      'account.tax.read',
      'res.country.read',
    ]);
    for (const pc of [...big.pageCalls, ...small.pageCalls]) {
      const keys = pc.map((c) => `${c.model}.${c.method}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const k of keys) expect(allowed.has(k)).toBe(true);
    }
    expect(Math.max(...big.counts)).toBeLessThanOrEqual(allowed.size);
    expect(Math.max(...small.counts)).toBeLessThanOrEqual(allowed.size);
    // Five times more invoices per page: about five times fewer calls in all.
    const total = (r: typeof big) => r.counts.reduce((a, b) => a + b, 0);
    expect(total(small)).toBeGreaterThan(3 * total(big));
    expect(calls.filter((c) => c.method === 'authenticate').length).toBe(1);
    // account.move, res.partner, account.tax, and res.company on a host with KSeF fields (l10n_pl_edi_register).
    expect(calls.filter((c) => c.method === 'fields_get').length).toBeLessThanOrEqual(4);
  });

  it('lists due ids with one search and exactly the listing’s domain: the same ids in the same order, excludeIds and afterId honoured', async () => {
    const queries: DueInvoiceQuery[] = [
      baseQuery,
      { ...baseQuery, documents: 'confirmed_only', excludeHostMarkedSent: true },
      { ...baseQuery, dateBasis: 'sale_date', fromDate: DateTimeMinus(TODAY, 20) },
    ];
    for (const q of queries) {
      const listed = (await all(host, q)).map((i) => i.id);
      expect(listed.length, JSON.stringify(q)).toBeGreaterThan(5);
      const mark = calls.length;
      expect(await host.listDueInvoiceIds(q), JSON.stringify(q)).toEqual(listed);
      expect(calls.slice(mark).map((c) => `${c.model}.${c.method}`)).toEqual(['account.move.search']);
      // Parked invoices are left out by the host, as in the listing.
      const excludeIds = [listed[1]!, listed[3]!];
      expect(await host.listDueInvoiceIds({ ...q, excludeIds })).toEqual((await all(host, { ...q, excludeIds })).map((i) => i.id));
      expect(await host.listDueInvoiceIds({ ...q, excludeIds })).toEqual(listed.filter((id) => !excludeIds.includes(id)));
      // After a page the listing gave: the ids the listing gives after it.
      expect(await host.listDueInvoiceIds({ ...q, afterId: listed[4]! })).toEqual(listed.slice(5));
    }
    await expect(host.listDueInvoiceIds({ ...baseQuery, afterId: 'x' })).rejects.toMatchObject({ code: 'validation' });
  });

  it('maps an invoice exactly as the host stores it', async () => {
    const invoices = await all(host, baseQuery);
    const moves = new Map(sb.records('account.move').map((m) => [String(m.id), m]));
    const cents = (v: unknown) => Math.round(Number(v) * 100);
    for (const inv of invoices) {
      const m = moves.get(inv.id)!;
      expect(inv.amountTotal).toBe(cents(m.amount_total));
      expect(inv.amountTax).toBe(cents(m.amount_tax));
      expect(inv.number).toBe(m.name === '/' ? null : m.name);
      expect(inv.kind).toBe(m.move_type === 'out_refund' ? 'credit_note' : 'invoice');
      expect(inv.saleDate).toBe(typeof m.delivery_date === 'string' ? m.delivery_date : null);
      expect(inv.hostMarkedSent).toBe(m.is_move_sent === true);
      expect(inv.hostIsSending).toBe(Boolean(m.sending_data));
    }
    expect(invoices.some((i) => i.state === 'draft' && i.number === null)).toBe(true);
    expect(invoices.some((i) => i.kind === 'credit_note' && i.corrects !== null)).toBe(true);
  });

  it('gives foreign-currency invoices the rate the invoice used (invoice_currency_rate, inverted), dated only by an equal table rate, and PLN ones none', async () => {
    const invoices = await all(host, baseQuery);
    const foreign = invoices.filter((i) => i.currency !== 'PLN');
    expect(foreign.length).toBeGreaterThan(0);
    const rates = sb.records('res.currency.rate');
    const moves = new Map(sb.records('account.move').map((m) => [String(m.id), m]));
    for (const inv of foreign) {
      expect(inv.exchangeRate).not.toBeNull();
      const r = inv.exchangeRate!;
      const currencyId = idOf(moves.get(inv.id)!.currency_id);
      const mine = rates.filter((x) => idOf(x.currency_id) === currencyId);
      const used = Number(moves.get(inv.id)!.invoice_currency_rate);
      expect(used).toBeGreaterThan(0);
      // PLN per unit = 1 / invoice_currency_rate, to 6 places.
      expect(Math.abs(Number(r.rate) * used - 1)).toBeLessThan(1e-5);
      if (r.date !== null) {
        expect(r.date <= inv.issueDate!).toBe(true);
        const stored = mine.find((x) => x.name === r.date);
        expect(Number(stored!.inverse_company_rate).toFixed(4)).toBe(Number(r.rate).toFixed(4));
      }
    }
    for (const inv of invoices.filter((i) => i.currency === 'PLN')) expect(inv.exchangeRate).toBeNull();
  });

  it('reads KSeF numbers and hashes the stored FA(3) XML', async () => {
    const invoices = await all(host, baseQuery);
    const withKsef = invoices.filter((i) => i.ksef?.number);
    expect(withKsef.length).toBeGreaterThan(0);
    const moves = new Map(sb.records('account.move').map((m) => [String(m.id), m]));
    const atts = new Map(sb.records('ir.attachment').map((a) => [a.id as number, a]));
    for (const inv of withKsef) {
      const m = moves.get(inv.id)!;
      expect(inv.ksef!.number).toBe(m.l10n_pl_edi_number);
      expect(inv.ksef!.status).toBe(m.l10n_pl_edi_status);
      const att = atts.get(idOf(m.l10n_pl_edi_attachment_id)!)!;
      const sha = createHash('sha256')
        .update(Buffer.from(att.datas as string, 'base64'))
        .digest('base64url');
      expect(inv.ksef!.xmlSha256).toBe(sha);
    }
  });

  it('maps consent from invoice_sending_method and invoice-type contacts', async () => {
    const invoices = await all(host, baseQuery);
    const partners = new Map(sb.records('res.partner').map((p) => [String(p.id), p]));
    for (const inv of invoices) {
      const p = partners.get(inv.customer.id)!;
      const commercial = partners.get(String(idOf(p.commercial_partner_id) ?? p.id))!;
      const method = commercial.invoice_sending_method;
      expect(inv.customer.eInvoiceConsent).toBe(method === 'email' ? true : method === 'manual' ? false : null);
      const contacts = sb
        .records('res.partner')
        .filter(
          (c) =>
            c.type === 'invoice' && c.active !== false && [idOf(p.id), idOf(commercial.id)].includes(idOf(c.parent_id)) && String(c.id) !== inv.customer.id,
        )
        .map((c) => String(c.id))
        .sort();
      expect(inv.invoiceContacts.map((c) => c.id).sort()).toEqual([...new Set(contacts)]);
    }
  });

  it('renders the invoice template through the send wizard in the customer language (pl and en)', async () => {
    const invoices = (await all(host, { ...baseQuery, documents: 'confirmed_only' })).filter((i) => i.kind === 'invoice');
    const pl = invoices.find((i) => i.customer.lang === 'pl_PL')!;
    const en = invoices.find((i) => i.customer.lang === 'en_US')!;
    expect(pl && en).toBeTruthy();
    const tid = String(templateByXmlid(sb, 'email_template_edi_invoice'));
    const wizardsBefore = sb.records('account.move.send.wizard').length;
    const out = await host.renderTemplate(tid, [pl.id, en.id]);
    expect(out.get(pl.id)!.subject).toContain(`Faktura (nr ${pl.number})`);
    expect(out.get(pl.id)!.html).toContain('Dzień dobry');
    expect(out.get(pl.id)!.lang).toBe('pl_PL');
    expect(out.get(en.id)!.subject).toContain(`Invoice (Ref ${en.number})`);
    expect(out.get(en.id)!.html).toContain('Dear');
    expect(out.get(en.id)!.lang).toBe('en_US');
    expect(sb.records('account.move.send.wizard').length).toBe(wizardsBefore); // wizards cleaned up
  });

  it('refuses a template that is not for invoices with host_not_found', async () => {
    const saleTemplate = sb.records('mail.template').find((t) => t.model === 'sale.order')!;
    const [inv] = await all(host, { ...baseQuery, pageSize: 1000 });
    const e = await rejection(host.renderTemplate(String(saleTemplate.id), [inv!.id]));
    expect(e.code).toBe('host_not_found');
    expect(e.message).toContain('sale.order');
  });

  it('lists the invoice template first and only invoice templates', async () => {
    const templates = await host.listEmailTemplates();
    expect(templates[0]!.id).toBe(String(templateByXmlid(sb, 'email_template_edi_invoice')));
    expect(templates.every((t) => t.model === 'account.move' && t.renderedByHost)).toBe(true);
    const all = sb.records('mail.template').filter((t) => t.model === 'account.move');
    expect(templates.length).toBe(all.length);
  });

  it('offers mail servers by from_filter: the accountant and admin see the company servers, the other domain its own', async () => {
    const anna = await host.checkOperator();
    expect(anna.email).toContain('@spike.example');
    const forAnna = await host.listEmailAccounts(anna);
    const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
    expect(names(forAnna)).not.toContain('Serwer inny-dostawca.example');
    expect(names(forAnna)).not.toContain('Stary serwer (wyłączony)');
    expect(names(forAnna)).toContain('Sandbox SMTP');
    const admin = (await host.listOperators()).find((o) => o.login === 'admin')!;
    expect(names(await host.listEmailAccounts(admin))).toEqual(names(forAnna));
    const piotr = (await host.listOperators()).find((o) => o.login === 'handlowiec')!;
    const forPiotr = await host.listEmailAccounts(piotr);
    expect(names(forPiotr)).toEqual([...names(forAnna), 'Serwer inny-dostawca.example'].sort());
    const main = forAnna.find((a) => a.name === 'Sandbox SMTP')!;
    expect(main.smtp).toEqual({ host: SMTP.host, port: SMTP.port, tls: 'none', user: SMTP.user, password: SMTP.password });
    expect(main.fromFilter).toBeNull();
  });

  it('reading mail servers with a non-admin integration credential is host_access', async () => {
    const weak = new OdooAdapter(connection(sb, { integration: { login: 'ksiegowa', secret: 'ksiegowa' } }));
    try {
      const e = await rejection(weak.listEmailAccounts(await weak.checkOperator()));
      expect(e.code).toBe('host_access');
    } finally {
      weak.close();
    }
  });

  it('returns the stored PDF or renders the report through a web session', async () => {
    const prints = await host.listUserPrints();
    // Names as real Odoo gives them under the adapter's context lang pl_PL (recorded: "PDF faktury").
    expect(prints.map((p) => p.name)).toEqual(expect.arrayContaining(['PDF faktury', 'PDF bez płatności']));
    expect(prints.every((p) => /^user:\d+$/.test(p.choice))).toBe(true);
    const moves = sb.records('account.move');
    const stored = moves.find((m) => m.move_type === 'out_invoice' && m.state === 'posted' && idOf(m.invoice_pdf_report_id) !== null)!;
    const fresh = moves.find((m) => m.move_type === 'out_invoice' && m.state === 'posted' && idOf(m.invoice_pdf_report_id) === null)!;
    const report = prints.find((p) => p.name === 'PDF faktury')!;
    const a = await host.getUserPrint(report.choice, String(stored.id));
    const att = sb.records('ir.attachment').find((x) => x.id === idOf(stored.invoice_pdf_report_id))!;
    expect(Buffer.from(a).equals(Buffer.from(att.datas as string, 'base64'))).toBe(true);
    const before = calls.length;
    const b = await host.getUserPrint(report.choice, String(fresh.id));
    expect(Buffer.from(b.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    expect(calls.slice(before).some((c) => c.method.startsWith('GET /report/pdf/'))).toBe(true);
    const saleReport = sb.records('ir.actions.report').find((r) => r.model === 'sale.order')!;
    expect((await rejection(host.getUserPrint(`user:${saleReport.id}`, String(fresh.id)))).code).toBe('print_unavailable');
  });

  it('writes back as the operator: one write for all marked invoices and all notes in one mail.message create as mt_note', async () => {
    const invoices = (await all(host, { ...baseQuery, excludeHostMarkedSent: true })).slice(0, 4);
    const before = calls.length;
    await host.writeBack(
      invoices.map((inv) => ({
        invoiceId: inv.id,
        outcome: { state: 'sent', reason: null, detail: null, recipients: [] },
        messageId: `<x-${inv.id}@courier>`,
        note: `Wysłano <b>fakturę</b> ${inv.number ?? ''}`,
        markSent: true,
      })),
    );
    const made = calls.slice(before);
    expect(made.filter((c) => c.method === 'write').length).toBe(1);
    expect(made.filter((c) => c.method === 'message_post').length).toBe(0);
    expect(made.filter((c) => c.model === 'mail.message' && c.method === 'create').length).toBe(1);
    const msgs = sb
      .records('mail.message')
      .filter((m) => invoices.some((i) => String(m.res_id) === i.id) && m.model === 'account.move' && m.message_type === 'comment');
    expect(msgs.length).toBe(invoices.length);
    const anna = sb.records('res.users').find((u) => u.login === 'ksiegowa')!;
    const note = sb.records('ir.model.data').find((x) => x.module === 'mail' && x.name === 'mt_note')!;
    for (const m of msgs) {
      expect(String(m.body)).toContain('&lt;b&gt;fakturę&lt;/b&gt;');
      expect(idOf(m.subtype_id)).toBe(note.res_id);
      expect(idOf(m.author_id)).toBe(idOf(anna.partner_id));
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('host calls per run, counted (issue 12: <= 10 per 100 invoices with the connector template, <= 110 with the host template)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandboxHost({ host: '127.0.0.1', port: 0, database: 'sandbox', today: TODAY, smtp: SMTP, stateFile: null, invoiceCount: 1200 });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  /** One run as the pipeline makes it, on a fresh adapter: pages of 200, the host template per page (optional), write-back per page, the run log. */
  async function run(hostTemplate: boolean): Promise<{ invoices: number; calls: CallDescription[] }> {
    const calls: CallDescription[] = [];
    const host = new OdooAdapter(connection(sb), { onCall: (c) => calls.push(c) });
    let invoices = 0;
    try {
      for await (const page of host.listDueInvoices({ ...baseQuery, documents: 'confirmed_only', pageSize: 200, excludeHostMarkedSent: true })) {
        invoices += page.length;
        if (hostTemplate)
          await host.renderTemplate(
            'account.email_template_edi_invoice',
            page.map((i) => i.id),
          );
        await host.writeBack(
          page.map((inv) => ({
            invoiceId: inv.id,
            outcome: { state: 'sent', reason: null, detail: null, recipients: [] },
            messageId: `<run-${hostTemplate ? 'h' : 'c'}-${inv.id}@courier>`,
            note: `Invoice Courier: sent [Message-ID <run-${hostTemplate ? 'h' : 'c'}-${inv.id}@courier>]`,
            markSent: false,
          })),
        );
      }
      await host
        .recordRun({
          runId: 'r',
          status: 'completed',
          trigger: 'manual',
          startedAt: '2026-11-27T10:00:00Z',
          finishedAt: '2026-11-27T10:01:00Z',
          counts: { due: invoices, sent: invoices, drafted: 0, skipped: 0, failed: 0, retry: 0, uncertain: 0 },
          error: null,
        })
        .catch(() => undefined);
    } finally {
      host.close();
    }
    return { invoices, calls };
  }

  it('the connector template: at most 10 host calls per 100 invoices, whatever the page count', async () => {
    const { invoices, calls } = await run(false);
    expect(invoices).toBeGreaterThanOrEqual(200);
    const per100 = (calls.length * 100) / invoices;
    console.log(`connector template: ${calls.length} host calls for ${invoices} invoices = ${per100.toFixed(1)} per 100: ${JSON.stringify(tally(calls))}`);
    expect(per100).toBeLessThanOrEqual(10);
    expect(calls.filter((c) => c.method === 'message_post')).toEqual([]);
  });

  it("Odoo's template: at most 110 host calls per 100 invoices (one wizard create each; read and unlink per page)", async () => {
    const { invoices, calls } = await run(true);
    const per100 = (calls.length * 100) / invoices;
    console.log(`host template: ${calls.length} host calls for ${invoices} invoices = ${per100.toFixed(1)} per 100: ${JSON.stringify(tally(calls))}`);
    expect(calls.filter((c) => c.method === 'create' && c.model === 'account.move.send.wizard').length).toBe(invoices);
    expect(calls.filter((c) => c.method === 'create' && c.model === 'mail.message').length).toBe(Math.ceil(invoices / 200));
    expect(per100).toBeLessThanOrEqual(110);
  });
});

function tally(calls: CallDescription[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) {
    const k = `${c.model ?? c.service}.${c.method}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe('Odoo fault classification against the sandbox', () => {
  let sb: Sandbox;
  let client: OdooClient;
  const admin = { login: 'admin', secret: 'admin' };

  beforeAll(async () => {
    sb = await sandbox();
    client = new OdooClient({ baseUrl: sb.url, database: sb.database, backoffMs: 5 });
  });
  afterAll(async () => {
    client?.close();
    await sb?.stop();
  });

  it('bad credentials at login are host_auth naming the user, without the password', async () => {
    const e = await rejection(client.uid({ login: 'ksiegowa', secret: 'Tajne-Haslo-123' }));
    expect(e.code).toBe('host_auth');
    expect(e.message).toContain('ksiegowa');
    expect(JSON.stringify({ m: e.message, d: e.detail, s: e.stack })).not.toContain('Tajne-Haslo-123');
  });

  it('AccessDenied inside execute_kw is host_auth', async () => {
    const e = await rejection(client.call('object', 'execute_kw', [sb.database, 2, 'nie-to-haslo', 'res.partner', 'search', [[]], {}]));
    expect(e.code).toBe('host_auth');
    expect(e.message).not.toContain('nie-to-haslo');
  });

  it('AccessError is host_access', async () => {
    const e = await rejection(client.executeKw({ login: 'ksiegowa', secret: 'ksiegowa' }, 'ir.mail_server', 'search_read', [[]], { fields: ['smtp_pass'] }));
    expect(e.code).toBe('host_access');
    expect(e.detail?.odooError).toBe('odoo.exceptions.AccessError');
  });

  it('MissingError (a write on a missing record) is host_not_found; a read of one is no error, as in real Odoo', async () => {
    const e = await rejection(client.executeKw(admin, 'account.move', 'write', [[99999999], { ref: 'x' }]));
    expect(e.code).toBe('host_not_found');
    expect(await client.executeKw(admin, 'account.move', 'read', [[99999999]], { fields: ['id'] })).toEqual([{ id: 99999999 }]);
  });

  it('KeyError, ValueError and AttributeError are host_validation with the server message', async () => {
    const unknownModel = await rejection(client.executeKw(admin, 'no.such.model', 'search', [[]]));
    expect(unknownModel.code).toBe('host_validation');
    expect(unknownModel.message).toContain('no.such.model');
    const badField = await rejection(client.executeKw(admin, 'account.move', 'search_read', [[['no_such_field', '=', 1]]], { fields: ['name'] }));
    expect(badField.code).toBe('host_validation');
    expect(badField.message).toContain('no_such_field');
    const badMethod = await rejection(client.executeKw(admin, 'account.move', 'no_such_method', [[]]));
    expect(badMethod.code).toBe('host_validation');
    expect(badMethod.message).toContain('no_such_method');
  });

  it('UserError is host_validation', async () => {
    const e = await rejection(
      client.executeKw(admin, 'account.move.send.wizard', 'create', [[{ move_id: 99999999 }]], { context: { active_model: 'account.move' } }),
    );
    expect(['host_validation', 'host_not_found']).toContain(e.code);
  });

  it('a wrong database is host_not_found, not a retryable blip', async () => {
    const other = new OdooClient({ baseUrl: sb.url, database: 'no_such_db', backoffMs: 5 });
    try {
      const e = await rejection(other.uid(admin));
      expect(e.code).toBe('host_not_found');
    } finally {
      other.close();
    }
  });
});

describe('a failing read fails only the invoices that need it', () => {
  let sb: Sandbox;
  let relay: http.Server;
  let relayUrl: string;
  /** The relay answers HTTP 503 for calls on this model, and forwards everything else to the sandbox. */
  let failing: string | null = null;
  /** `model.method` of every execute_kw call the relay saw. */
  const calls: string[] = [];
  beforeAll(async () => {
    sb = await sandbox();
    relay = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const parsed = body.length ? (JSON.parse(body.toString('utf8')) as { params?: { args?: unknown[] } }) : {};
        if (typeof parsed.params?.args?.[3] === 'string') calls.push(`${parsed.params.args[3]}.${String(parsed.params.args[4])}`);
        if (failing && parsed.params?.args?.[3] === failing) {
          res.writeHead(503, { 'content-type': 'text/html' }).end('<html>Service Unavailable</html>');
          return;
        }
        const target = new URL(req.url ?? '/', sb.url);
        const fwd = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.on('error', () => res.destroy());
          up.pipe(res);
        });
        fwd.on('error', () => res.destroy());
        fwd.end(body);
      });
      req.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => relay?.close(r));
    relay?.closeAllConnections();
    await sb?.stop();
  });

  it('res.currency.rate failing: the page is still listed, only the foreign invoices carry a retryable readError', async () => {
    failing = 'res.currency.rate';
    const host = new OdooAdapter(connection(sb, { baseUrl: relayUrl }), { readAttempts: 1, backoffMs: 1 });
    try {
      const invoices = await all(host, baseQuery);
      const foreign = invoices.filter((i) => i.currency !== i.companyCurrency);
      expect(foreign.length).toBeGreaterThan(0);
      expect(invoices.length).toBeGreaterThan(foreign.length);
      for (const inv of foreign) expect(inv.readError).toMatchObject({ what: 'res.currency.rate', retryable: true });
      for (const inv of invoices.filter((i) => i.currency === i.companyCurrency)) expect(inv.readError ?? null).toBeNull();
    } finally {
      failing = null;
      host.close();
    }
  });

  it("the KSeF invoices carry their FA(3) XML (name and bytes as stored) from one ir.attachment read per page, its SHA-256 the host's KSeF hash", async () => {
    const host = new OdooAdapter(connection(sb, { baseUrl: relayUrl }), { readAttempts: 1, backoffMs: 1 });
    try {
      calls.length = 0;
      const invoices = await all(host, baseQuery);
      const pages = calls.filter((c) => c === 'account.move.search_read' || c === 'account.move.web_search_read').length;
      expect(pages).toBeGreaterThan(0);
      expect(calls.filter((c) => c.startsWith('ir.attachment.')).length).toBeLessThanOrEqual(pages);
      const stored = new Map(sb.records('ir.attachment').map((a) => [a['id'] as number, a]));
      const moves = new Map(sb.records('account.move').map((m) => [String(m['id']), m]));
      const withXml = invoices.filter((i) => i.ksef?.xml);
      expect(withXml.length).toBeGreaterThanOrEqual(3);
      for (const inv of withXml) {
        const move = moves.get(inv.id)!;
        const a = stored.get((move['l10n_pl_edi_attachment_id'] as [number, string])[0])!;
        expect(inv.ksef!.xml!.filename).toBe(a['name']);
        expect(Buffer.compare(Buffer.from(inv.ksef!.xml!.content), Buffer.from(String(a['datas']), 'base64'))).toBe(0);
        expect(inv.ksef!.xmlSha256).toBe(createHash('sha256').update(inv.ksef!.xml!.content).digest('base64url'));
        expect(inv.ksef!.xmlSha256).toBe(move['l10n_pl_edi_hash']);
      }
      for (const inv of invoices.filter((i) => !moves.get(i.id)?.['l10n_pl_edi_attachment_id'])) expect(inv.ksef?.xml ?? null).toBeNull();
    } finally {
      host.close();
    }
  });

  it('ir.attachment (KSeF XML) failing: only the invoices with a KSeF XML carry a retryable readError', async () => {
    failing = 'ir.attachment';
    const host = new OdooAdapter(connection(sb, { baseUrl: relayUrl }), { readAttempts: 1, backoffMs: 1 });
    try {
      const invoices = await all(host, baseQuery);
      const moves = new Map(sb.records('account.move').map((m) => [String(m['id']), m]));
      const withXml = invoices.filter((i) => moves.get(i.id)?.['l10n_pl_edi_attachment_id']);
      expect(withXml.length).toBeGreaterThan(0);
      for (const inv of withXml) expect(inv.readError).toMatchObject({ what: 'ir.attachment (KSeF XML)', retryable: true });
      // (a foreign invoice's rates are read fine here, so every other invoice reads cleanly)
      for (const inv of invoices.filter((i) => !withXml.includes(i))) expect(inv.readError ?? null).toBeNull();
    } finally {
      failing = null;
      host.close();
    }
  });

  it('account.move.line failing (every invoice needs its lines): the listing itself fails, retryable', async () => {
    failing = 'account.move.line';
    const host = new OdooAdapter(connection(sb, { baseUrl: relayUrl }), { readAttempts: 1, backoffMs: 1 });
    try {
      const e = await rejection(all(host, baseQuery));
      expect(e.code).toBe('host_unavailable');
      expect(e.retryable).toBe(true);
    } finally {
      failing = null;
      host.close();
    }
  });
});

describe('transport failures are host_unavailable and only reads are retried', () => {
  let server: http.Server;
  let url: string;
  let hits = 0;
  let mode: 'html' | '502' | 'hang' | 'garbage-json' = 'html';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++;
      req.resume();
      if (mode === 'hang') return; // never answers
      if (mode === '502') {
        res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html>Bad Gateway</html>');
        return;
      }
      if (mode === 'garbage-json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"hello":"world"}');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>maintenance</html>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (timeoutMs = 2000) => new OdooClient({ baseUrl: url, database: 'db', timeoutMs, backoffMs: 5, readAttempts: 3 });

  it.each(['html', '502', 'garbage-json'] as const)('a %s answer is host_unavailable, retryable, retried for reads', async (m) => {
    mode = m;
    hits = 0;
    const c = client();
    try {
      const e = await rejection(c.version());
      expect(e.code).toBe('host_unavailable');
      expect(e.retryable).toBe(true);
      expect(hits).toBe(3);
    } finally {
      c.close();
    }
  });

  it('a timeout is host_unavailable', async () => {
    mode = 'hang';
    const c = client(150);
    try {
      const e = await rejection(c.call('common', 'version', []));
      expect(e.code).toBe('host_unavailable');
      expect(e.message).toContain('timeout');
    } finally {
      c.close();
    }
  });

  it('a write is never retried', async () => {
    mode = 'html';
    hits = 0;
    const c = client();
    try {
      const e = await rejection(
        c.call('object', 'execute_kw', ['db', 2, 'pw-secret', 'account.move', 'write', [[1], { is_move_sent: true }], {}], {
          service: 'object',
          method: 'write',
          model: 'account.move',
        }),
      );
      expect(e.code).toBe('host_unavailable');
      expect(hits).toBe(1);
      expect(JSON.stringify({ m: e.message, c: String(e.cause) })).not.toContain('pw-secret');
    } finally {
      c.close();
    }
  });

  it('a refused connection is host_unavailable', async () => {
    const c = new OdooClient({ baseUrl: 'http://127.0.0.1:9', database: 'db', backoffMs: 5 });
    try {
      expect((await rejection(c.version())).code).toBe('host_unavailable');
    } finally {
      c.close();
    }
  });
});

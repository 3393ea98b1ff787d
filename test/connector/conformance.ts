/**
 * The shared conformance suite of the host port (`HostErp`): every host adapter runs it against a real
 * host (the sandbox, Tryton, ...). It checks behaviour through the port only; what the suite cannot
 * know about a host's data comes in `expectations`, ideally read from the host's own store (ground
 * truth), never from the adapter under test.
 *
 * Usage (in a `*.test.ts` file):
 *   hostConformanceSuite('odoo adapter on the sandbox', async () => ({ host, teardown, expectations }));
 *
 * The suite writes back to the host (marks invoices sent), so give it a host of its own.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { HostErp, DueInvoiceQuery, WriteBack } from '../../src/connector/port.ts';
import type { HostKind } from '../../src/connector/registry.ts';
import type { Invoice } from '../../src/domain.ts';
import { basisDate } from '../../src/domain.ts';
import { ConnectorError } from '../../src/errors.ts';

export interface ConformanceExpectations {
  kind: HostKind;
  /** Login of the operator the host was created with. */
  operatorLogin: string;
  /** A host built like `host` but with a wrong operator password. */
  badOperatorHost: HostErp;
  /** A host pointed at an address where nothing answers (for host_unavailable). */
  unreachableHost: HostErp;
  /** Queries to check; each should return more than one page at `pageSize` (use a small one). */
  queries: DueInvoiceQuery[];
  /**
   * Ground truth: ids of the invoices that match a query, read from the host's own store (not through
   * the adapter). Coarse filtering is allowed to return more only when `exact` is false.
   */
  dueIds(query: DueInvoiceQuery): Promise<{ ids: string[]; exact: boolean }>;
  /** An id that is no invoice on the host. */
  missingInvoiceId: string;
  /** Ground truth: whether the host marks an invoice as sent, read from the host's store. */
  hostMarksSent(invoiceId: string): Promise<boolean>;
  /** Ground truth: number of log notes on an invoice, read from the host's store. */
  notesOn(invoiceId: string): Promise<number>;
  /** Host template id that renders invoices, when the host renders templates (null: none). */
  invoiceTemplateId: string | null;
  /** A template id that does not exist. */
  missingTemplateId: string;
  /** Ground truth, written in the host's own store: the invoice's customer gets this e-mail address. */
  giveCustomerEmail(invoiceId: string, email: string): Promise<void>;
  /** Ground truth, written in the host's own store: a draft invoice is edited (its notes). */
  editDraft(invoiceId: string): Promise<void>;
}

export interface ConformanceSetup {
  host: HostErp;
  teardown(): Promise<void>;
  expectations: ConformanceExpectations;
}

async function collect(host: HostErp, query: DueInvoiceQuery): Promise<Invoice[][]> {
  const pages: Invoice[][] = [];
  for await (const page of host.listDueInvoices(query)) pages.push(page);
  return pages;
}

async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorError);
    return e as ConnectorError;
  }
  throw new Error('expected a rejection, got a result');
}

const isDecimal = (s: string): boolean => /^-?\d+(\.\d+)?$/.test(s);

export function hostConformanceSuite(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`host port conformance: ${name}`, () => {
    let ctx: ConformanceSetup;
    let host: HostErp;
    let ex: ConformanceExpectations;
    const listed = new Map<string, Invoice>();

    beforeAll(async () => {
      ctx = await setup();
      host = ctx.host;
      ex = ctx.expectations;
    });
    afterAll(async () => {
      await ctx?.teardown();
    });

    it('describe() names the host kind, a version and the company with its currency', async () => {
      const info = await host.describe();
      expect(info.kind).toBe(ex.kind);
      expect(info.version).toMatch(/\d/);
      expect(info.company.id).not.toBe('');
      expect(info.company.name).not.toBe('');
      expect(info.company.currency).toMatch(/^[A-Z]{3}$/);
    });

    it('checkOperator() logs the operator in and returns who it is', async () => {
      const op = await host.checkOperator();
      expect(op.login).toBe(ex.operatorLogin);
      expect(op.id).not.toBe('');
      expect(op.name).not.toBe('');
    });

    it('checkOperator() with a wrong password is host_auth', async () => {
      const e = await rejection(ex.badOperatorHost.checkOperator());
      expect(e.code).toBe('host_auth');
      expect(e.retryable).toBe(false);
    });

    it('listOperators() includes the operator', async () => {
      const ops = await host.listOperators();
      expect(ops.map((o) => o.login)).toContain(ex.operatorLogin);
      for (const o of ops) expect(o.id).not.toBe('');
    });

    it('option lists return well-formed choices', async () => {
      const op = await host.checkOperator();
      const [accounts, templates, prints] = await Promise.all([host.listEmailAccounts(op), host.listEmailTemplates(), host.listUserPrints()]);
      for (const a of accounts) {
        expect(a.active).toBe(true);
        expect(a.smtp.host).not.toBe('');
        expect(Number.isInteger(a.smtp.port)).toBe(true);
        expect(['none', 'starttls', 'tls']).toContain(a.smtp.tls);
      }
      for (const t of templates) expect(t.id).not.toBe('');
      for (const p of prints) expect(p.choice).toMatch(/^user:.+/);
    });

    it('listDueInvoices() pages are complete, disjoint, in id order and never larger than pageSize', async () => {
      for (const query of ex.queries) {
        const pages = await collect(host, query);
        expect(pages.length).toBeGreaterThan(1);
        const ids: string[] = [];
        pages.forEach((page, i) => {
          expect(page.length).toBeGreaterThan(0);
          expect(page.length).toBeLessThanOrEqual(query.pageSize);
          if (i < pages.length - 1) expect(page.length).toBe(query.pageSize);
          for (const inv of page) {
            ids.push(inv.id);
            listed.set(inv.id, inv);
          }
        });
        expect(new Set(ids).size).toBe(ids.length);
        const truth = await ex.dueIds(query);
        if (truth.exact) expect([...ids].sort()).toEqual([...truth.ids].sort());
        else expect(ids).toEqual(expect.arrayContaining(truth.ids));
        // The same set whatever the page size.
        const one = (await collect(host, { ...query, pageSize: 1000 })).flat().map((i) => i.id);
        expect([...one].sort()).toEqual([...ids].sort());
      }
    });

    it('listDueInvoices() with a smaller firstPageSize: the first page holds that many, the later ones pageSize, the same invoices in all; a size that is no positive integer is refused naming its field', async () => {
      for (const query of ex.queries) {
        const plain = (await collect(host, query)).flat().map((i) => i.id);
        const firstPageSize = Math.max(1, Math.floor(query.pageSize / 2));
        const pages = await collect(host, { ...query, firstPageSize });
        expect(pages[0]).toHaveLength(firstPageSize);
        pages.slice(1, -1).forEach((page) => expect(page).toHaveLength(query.pageSize));
        expect(pages.flat().map((i) => i.id)).toEqual(plain);
        // a first page larger than the others is no first page of its own
        expect((await collect(host, { ...query, firstPageSize: query.pageSize * 3 })).flat().map((i) => i.id)).toEqual(plain);
      }
      const query = ex.queries[0]!;
      for (const [field, bad] of [
        ['firstPageSize', 0],
        ['firstPageSize', 2.5],
        ['pageSize', -1],
      ] as const) {
        const e = await rejection(collect(host, { ...query, [field]: bad }));
        expect(e.code).toBe('validation');
        expect(e.field).toBe(field);
      }
    });

    it('listDueInvoices() applies the query rules: kinds, states, date basis, host-sent flag', async () => {
      for (const query of ex.queries) {
        for (const inv of (await collect(host, query)).flat()) {
          expect(['invoice', 'credit_note']).toContain(inv.kind);
          expect(inv.state).not.toBe('cancelled');
          if (query.documents === 'confirmed_only') expect(inv.state).toBe('posted');
          const d = basisDate(inv, query.dateBasis);
          expect(d).not.toBeNull();
          expect(d! >= query.fromDate).toBe(true);
          if (query.excludeHostMarkedSent) expect(inv.hostMarkedSent).toBe(false);
        }
      }
    });

    it('amounts are exact integers in minor units and add up', () => {
      expect(listed.size).toBeGreaterThan(0);
      for (const inv of listed.values()) {
        for (const a of [inv.amountUntaxed, inv.amountTax, inv.amountTotal]) expect(Number.isSafeInteger(a)).toBe(true);
        expect(inv.amountUntaxed + inv.amountTax).toBe(inv.amountTotal);
        expect(inv.amountTotal).toBeGreaterThanOrEqual(0);
        const products = inv.lines.filter((l) => l.kind === 'product');
        for (const l of inv.lines) {
          expect(Number.isSafeInteger(l.net)).toBe(true);
          expect(Number.isSafeInteger(l.gross)).toBe(true);
          expect(isDecimal(l.quantity) && isDecimal(l.unitPrice) && isDecimal(l.discountPercent)).toBe(true);
        }
        expect(products.reduce((s, l) => s + l.net, 0)).toBe(inv.amountUntaxed);
      }
    });

    it('lines, taxes and parties are mapped', () => {
      const all = [...listed.values()];
      expect(all.some((i) => i.lines.some((l) => l.kind === 'product' && l.taxes.length > 0))).toBe(true);
      for (const inv of all) {
        expect(inv.currency).toMatch(/^[A-Z]{3}$/);
        expect(inv.companyCurrency).toMatch(/^[A-Z]{3}$/);
        expect(inv.seller.name).not.toBe('');
        expect(inv.customer.name).not.toBe('');
        expect(inv.customer.id).not.toBe('');
        if (inv.state === 'posted') expect(inv.number).not.toBeNull();
        if (inv.customer.address.countryCode !== null) expect(inv.customer.address.countryCode).toMatch(/^[A-Z]{2}$/);
        for (const l of inv.lines) {
          expect(l.name).toBeTypeOf('string');
          for (const t of l.taxes) {
            expect(isDecimal(t.percent)).toBe(true);
            expect(t.label).not.toBe('');
          }
        }
        if (inv.exchangeRate) {
          expect(inv.currency).not.toBe(inv.companyCurrency);
          expect(isDecimal(inv.exchangeRate.rate)).toBe(true);
          expect(inv.exchangeRate.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        }
        if (inv.kind === 'credit_note' && inv.corrects) expect(inv.corrects.number).not.toBe('');
      }
    });

    it('getInvoices() returns the same invoices as the list and leaves out missing ids', async () => {
      const sample = [...listed.keys()].slice(0, 5);
      const got = await host.getInvoices([...sample, ex.missingInvoiceId]);
      expect(got.map((i) => i.id).sort()).toEqual([...sample].sort());
      for (const inv of got) expect(inv).toEqual(listed.get(inv.id));
    });

    it('renderTemplate() renders a host template per invoice, and a missing template is host_not_found', async () => {
      const ids = [...listed.values()]
        .filter((i) => i.state === 'posted')
        .slice(0, 2)
        .map((i) => i.id);
      if (ex.invoiceTemplateId !== null) {
        const out = await host.renderTemplate(ex.invoiceTemplateId, ids);
        for (const id of ids) {
          const r = out.get(id);
          expect(r).toBeDefined();
          expect(r!.subject).not.toBe('');
          expect(r!.html).not.toBe('');
        }
      }
      const e = await rejection(host.renderTemplate(ex.missingTemplateId, ids));
      expect(e.code).toBe('host_not_found');
    });

    it('getUserPrint() gives a PDF or print_unavailable', async () => {
      const prints = await host.listUserPrints();
      const inv = [...listed.values()].find((i) => i.state === 'posted')!;
      for (const p of prints.slice(0, 2)) {
        try {
          const pdf = await host.getUserPrint(p.choice, inv.id);
          expect(Buffer.from(pdf.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
        } catch (e) {
          expect(e).toBeInstanceOf(ConnectorError);
          expect((e as ConnectorError).code).toBe('print_unavailable');
        }
      }
      const e = await rejection(host.getUserPrint('user:987654321', inv.id));
      expect(e.code).toBe('print_unavailable');
    });

    it('writeBack() of a note without markSent posts the note and leaves the sent flag alone', async () => {
      const target = [...listed.values()].filter((i) => !i.hostMarkedSent).at(-1);
      expect(target).toBeDefined();
      const before = await ex.notesOn(target!.id);
      await host.writeBack([
        {
          invoiceId: target!.id,
          outcome: { state: 'skipped', reason: 'no_recipient', detail: null, recipients: [] },
          messageId: null,
          note: 'Pominięto: brak adresu e-mail',
          markSent: false,
        },
      ]);
      expect(await ex.hostMarksSent(target!.id)).toBe(false);
      expect(await ex.notesOn(target!.id)).toBe(before + 1);
    });

    it('writeBack() marks invoices sent and posts one note; repeating it is harmless', async () => {
      const targets = [...listed.values()].filter((i) => !i.hostMarkedSent).slice(0, 3);
      expect(targets.length).toBeGreaterThan(0);
      const before = await Promise.all(targets.map((t) => ex.notesOn(t.id)));
      const items: WriteBack[] = targets.map((t, i) => ({
        invoiceId: t.id,
        outcome: { state: 'sent', reason: null, detail: null, recipients: [{ address: `k${i}@example.com`, accepted: true, reply: null }] },
        messageId: `<conformance-${t.id}@invoice-courier>`,
        note: `Faktura wysłana automatycznie do k${i}@example.com <test> & "cudzysłów"`,
        markSent: true,
      }));
      await host.writeBack(items);
      await host.writeBack(items);
      for (const [i, t] of targets.entries()) {
        expect(await ex.hostMarksSent(t.id)).toBe(true);
        expect(await ex.notesOn(t.id)).toBe(before[i]! + 1);
      }
      const [again] = await host.getInvoices([targets[0]!.id]);
      expect(again!.hostMarkedSent).toBe(true);
      for (const query of ex.queries.filter((q) => q.excludeHostMarkedSent)) {
        const ids = (await collect(host, { ...query, pageSize: 1000 })).flat().map((i) => i.id);
        for (const t of targets) expect(ids).not.toContain(t.id);
      }
    });

    it("changedInvoices() names exactly the invoices changed since a time (the invoice, or its customer's e-mail), and excludeIds leaves invoices out of the listing", async () => {
      expect(host.changedInvoices).toBeDefined();
      const all = [...listed.values()];
      const draft = all.find((i) => i.state === 'draft');
      const posted = all.find((i) => i.state === 'posted' && i.customer.id !== draft?.customer.id);
      const untouched = all.find((i) => i.customer.id !== draft?.customer.id && i.customer.id !== posted?.customer.id);
      expect(draft && posted && untouched).toBeTruthy();
      const ids = [draft!.id, posted!.id, untouched!.id, ex.missingInvoiceId];
      // Host stamps may have one-second resolution: what the suite wrote before is in an earlier second.
      await new Promise((r) => setTimeout(r, 1100));
      const since = new Date().toISOString();
      expect(await host.changedInvoices!(ids, since)).toEqual([]);
      await ex.giveCustomerEmail(posted!.id, 'nowy-adres@example.com');
      await ex.editDraft(draft!.id);
      expect((await host.changedInvoices!(ids, since)).sort()).toEqual([draft!.id, posted!.id].sort());
      // Nothing changed at or after a time still to come; everything since long ago (the missing id is left out).
      expect(await host.changedInvoices!(ids, new Date(Date.now() + 86_400_000).toISOString())).toEqual([]);
      expect((await host.changedInvoices!(ids, '2000-01-01T00:00:00Z')).sort()).toEqual(ids.slice(0, 3).sort());

      const query = ex.queries[0]!;
      const every = (await collect(host, { ...query, pageSize: 1000 })).flat().map((i) => i.id);
      const leftOut = every.slice(0, 2);
      const pages = await collect(host, { ...query, excludeIds: [...leftOut, ex.missingInvoiceId] });
      expect(pages.flat().map((i) => i.id)).toEqual(every.filter((id) => !leftOut.includes(id)));
    });

    it('errors are ConnectorErrors with the right codes', async () => {
      const down = await rejection(ex.unreachableHost.describe());
      expect(down.code).toBe('host_unavailable');
      expect(down.retryable).toBe(true);
      const missing = await rejection(
        host.writeBack([
          {
            invoiceId: ex.missingInvoiceId,
            outcome: { state: 'sent', reason: null, detail: null, recipients: [] },
            messageId: null,
            note: 'x',
            markSent: true,
          },
        ]),
      );
      expect(['host_not_found', 'host_validation']).toContain(missing.code);
    });
  });
}

/**
 * The Tryton 6.0 host adapter (`HostErp` for kind 'tryton'), over Tryton's JSON-RPC API.
 *
 * Credentials: `describe` and `listOperators` run with the integration credential; everything else runs
 * as the operator (falls back to the integration credential while settings name no operator).
 *
 * What Tryton 6.0 lacks and how the adapter fills it (docs/design.md §6):
 *  - No SMTP/IMAP account model and no e-mail templates: the connector keeps its own per installation;
 *    the adapter lists none and the registry's `connectorKept` offers the connector's (descriptor
 *    capabilities; templates have `renderedByHost: false`; `renderTemplate` always answers host_not_found).
 *  - No "sent" flag and no custom fields without a Tryton module: write-back is an `ir.note` on the
 *    invoice (human-readable) plus one attachment `invoice-courier-receipt.json` (machine-readable:
 *    outcome, reason, Message-ID, `markedSent`). The receipt drives `hostMarkedSent`. Writing the same
 *    outcome (state, reason, Message-ID) again changes nothing; a new outcome adds a note and rewrites
 *    the receipt (keeping a short history). Note first, receipt second: a crash between the two can
 *    at worst repeat the note on retry, never lose the receipt's "sent".
 *  - The host's own print is the `account.invoice` report (ir.action.report). Without LibreOffice it
 *    renders ODT; it is offered as a user print only when its extension is PDF, and `getUserPrint`
 *    answers print_unavailable when Tryton hands back anything but a PDF.
 *  - Sale date: none (see mapping.ts); `dateBasis: 'sale_date'` filters on `invoice_date` as well.
 *
 * Reads per page (pageSize invoices, keyset on id): 1 search_read of headers (with dotted fields for
 * party, address, currency, company, maturities), then one batched call each for lines, taxes, e-mail
 * contact mechanisms, receipts, and — only when needed — corrected invoices and currency rates.
 */
import { DateTime } from 'luxon';
import type { EmailAccount, EmailTemplateRef, ExchangeRate, Invoice, Operator, PrintRef, RenderedTemplate, Seller } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import type { DueInvoiceQuery, HostConnection, HostErp, HostInfo, WriteBack } from '../port.ts';
import { firstPageLimit } from '../paging.ts';
import { type LoginGuard, TrytonClient, tagged } from './client.ts';
import { RECEIPT_NAME, type Receipt, type Rec, bool, invertRate, isCreditNote, mapInvoice, mapSeller, nested, parseReceipt } from './mapping.ts';

export interface TrytonHostOptions {
  /** Failed-login memory; default: the process-wide guard. */
  loginGuard?: LoginGuard;
  /** Timeout for a report rendering (LibreOffice can take seconds); default max(60 s, timeoutMs). */
  reportTimeoutMs?: number;
  /** Clock for receipts; default `() => new Date()`. */
  now?: () => Date;
}

export const TRYTON_INVOICE_MODEL = 'account.invoice';
const HISTORY_LIMIT = 20;

const INVOICE_FIELDS = [
  'number',
  'state',
  'type',
  'invoice_date',
  'currency_date',
  'write_date',
  'create_date',
  'comment',
  'untaxed_amount',
  'tax_amount',
  'total_amount',
  'currency.code',
  'currency.digits',
  'company.currency.code',
  'party.name',
  'party.lang.code',
  'party_tax_identifier.code',
  'invoice_address.street',
  'invoice_address.postal_code',
  'invoice_address.city',
  'invoice_address.country.code',
  'invoice_address.country.name',
  'payment_term.name',
  'lines_to_pay.maturity_date',
  'taxes.legal_notice',
  'lines',
];

const LINE_FIELDS = ['invoice', 'type', 'sequence', 'description', 'quantity', 'unit.rec_name', 'unit_price', 'amount', 'product.rec_name', 'taxes', 'origin'];

const PARTY_FIELDS = ['name', 'lang.code', 'tax_identifier.code', 'addresses'];
const ADDRESS_FIELDS = ['street', 'postal_code', 'city', 'country.code', 'country.name', 'invoice', 'sequence'];

function ids(values: string[]): number[] {
  return [...new Set(values.filter((v) => /^\d+$/.test(v)).map(Number))];
}

function reportName(printId: string): string | null {
  const id = printId.startsWith('user:') ? printId.slice(5) : printId;
  return /^[a-z0-9_.]{1,64}$/.test(id) ? id : null;
}

export class TrytonHost implements HostErp {
  readonly kind = 'tryton' as const;
  private readonly integration: TrytonClient;
  private readonly operatorClient: TrytonClient | null;
  private sellerCache: Promise<Seller> | null = null;

  constructor(
    private readonly connection: HostConnection,
    private readonly options: TrytonHostOptions = {},
  ) {
    if (connection.companyId !== null && !/^[1-9]\d{0,9}$/.test(connection.companyId)) {
      throw new ConnectorError('validation', 'The Tryton company id must be a positive integer', { field: 'companyId' });
    }
    const companyId = connection.companyId === null ? null : Number(connection.companyId);
    const common = {
      baseUrl: connection.baseUrl,
      database: connection.database,
      timeoutMs: connection.timeoutMs,
      companyId,
      loginGuard: options.loginGuard,
    };
    this.integration = new TrytonClient({ ...common, login: connection.integration.login, secret: connection.integration.secret });
    this.operatorClient = connection.operator ? new TrytonClient({ ...common, login: connection.operator.login, secret: connection.operator.secret }) : null;
  }

  /** The client for operator work: the operator, or the integration credential while none is set. */
  private get client(): TrytonClient {
    return this.operatorClient ?? this.integration;
  }

  private async companyId(client: TrytonClient): Promise<number> {
    const ctx = await client.context();
    const id = Number(ctx.company);
    if (!Number.isInteger(id) || id <= 0) {
      throw new ConnectorError('host_not_found', 'The Tryton user has no current company');
    }
    return id;
  }

  async describe(): Promise<HostInfo> {
    const version = await this.integration.serverVersion();
    const cid = await this.companyId(this.integration);
    const [company] = await this.integration.model<Rec[]>('company.company', 'read', [[cid], ['rec_name', 'currency.code']]);
    if (!company) throw new ConnectorError('host_not_found', `Tryton company ${cid} does not exist`);
    const currency = nested(company, 'currency');
    return {
      kind: 'tryton',
      version,
      company: { id: String(cid), name: String(company.rec_name ?? ''), currency: currency ? String(currency.code) : '' },
    };
  }

  async checkOperator(): Promise<Operator> {
    if (!this.operatorClient) throw new ConnectorError('host_auth', 'No operator is set for this installation');
    const uid = await this.operatorClient.authenticate();
    const [user] = await this.operatorClient.model<Rec[]>('res.user', 'read', [[uid], ['login', 'name', 'email', 'language.code']]);
    if (!user) throw new ConnectorError('host_auth', 'The operator user cannot be read');
    return toOperator(user);
  }

  async listOperators(): Promise<Operator[]> {
    const cid = await this.companyId(this.integration);
    const users = await this.integration.model<Rec[]>('res.user', 'search_read', [
      [['companies', '=', cid]],
      0,
      null,
      [
        ['name', 'ASC'],
        ['id', 'ASC'],
      ],
      ['login', 'name', 'email', 'language.code'],
    ]);
    return users.map(toOperator);
  }

  /** Tryton keeps no outgoing mail accounts: the connector-kept ones are added by `connectorKept` (capabilities). */
  async listEmailAccounts(_operator: Operator): Promise<EmailAccount[]> {
    return [];
  }

  /** Tryton keeps no message templates: the connector-kept ones are added by `connectorKept` (capabilities). */
  async listEmailTemplates(): Promise<EmailTemplateRef[]> {
    return [];
  }

  async listUserPrints(): Promise<PrintRef[]> {
    const reports = await this.client.model<Rec[]>('ir.action.report', 'search_read', [
      [['model', '=', TRYTON_INVOICE_MODEL]],
      0,
      null,
      [['id', 'ASC']],
      ['name', 'report_name', 'extension', 'template_extension'],
    ]);
    return reports
      .filter((r) => effectiveExtension(r) === 'pdf' && reportName(String(r.report_name)) !== null)
      .map((r) => ({ choice: `user:${String(r.report_name)}`, name: String(r.name) }));
  }

  async *listDueInvoices(query: DueInvoiceQuery): AsyncIterable<Invoice[]> {
    const firstLimit = firstPageLimit(query);
    const client = this.client;
    const cid = await this.companyId(client);
    const states = query.documents === 'confirmed_only' ? ['posted', 'paid'] : ['draft', 'validated', 'posted', 'paid'];
    // Tryton 6.0 has no sale date: both date bases compare invoice_date (the core's fallback for a
    // missing sale date is the issue date too). Drafts without a date yet are left out: they have no
    // basis date to compare (Tryton sets invoice_date on validation at the latest).
    const dateFilter = ['invoice_date', '>=', tagged.date(query.fromDate)];
    const excluded = ids(query.excludeIds ?? []);
    const exclude = excluded.length > 0 ? [['id', 'not in', excluded]] : [];
    let lastId = 0;
    for (let pageSize = firstLimit; ; pageSize = query.pageSize) {
      const headers = await client.model<Rec[]>(TRYTON_INVOICE_MODEL, 'search_read', [
        [['type', '=', 'out'], ['company', '=', cid], ['state', 'in', states], dateFilter, ...exclude, ['id', '>', lastId]],
        0,
        pageSize,
        [['id', 'ASC']],
        INVOICE_FIELDS,
      ]);
      if (headers.length === 0) return;
      lastId = Number(headers[headers.length - 1]!.id);
      let page = await this.hydrate(client, headers);
      if (query.excludeHostMarkedSent) page = page.filter((i) => !i.hostMarkedSent);
      if (page.length > 0) yield page;
      if (headers.length < pageSize) return;
    }
  }

  async getInvoices(invoiceIds: string[]): Promise<Invoice[]> {
    const wanted = ids(invoiceIds);
    if (wanted.length === 0) return [];
    const client = this.client;
    const cid = await this.companyId(client);
    const headers = await client.model<Rec[]>(TRYTON_INVOICE_MODEL, 'search_read', [
      [
        ['type', '=', 'out'],
        ['company', '=', cid],
        ['id', 'in', wanted],
      ],
      0,
      null,
      [['id', 'ASC']],
      INVOICE_FIELDS,
    ]);
    return this.hydrate(client, headers);
  }

  /**
   * One `account.invoice.search` over the given ids: those created or written at or after `since`, or whose
   * party or one of its contact mechanisms (the e-mail addresses) was. Tryton leaves `write_date` empty
   * until a record's first write, so `create_date` is asked too.
   */
  async changedInvoices(invoiceIds: string[], since: string): Promise<string[]> {
    const wanted = ids(invoiceIds);
    if (wanted.length === 0) return [];
    if (!DateTime.fromISO(since, { zone: 'utc' }).isValid)
      throw new ConnectorError('validation', `since must be an ISO instant, got ${JSON.stringify(since)}`, { field: 'since' });
    const t = tagged.datetime(since);
    const client = this.client;
    const cid = await this.companyId(client);
    const found = await client.model<number[]>(TRYTON_INVOICE_MODEL, 'search', [
      [
        ['type', '=', 'out'],
        ['company', '=', cid],
        ['id', 'in', wanted],
        [
          'OR',
          ['write_date', '>=', t],
          ['create_date', '>=', t],
          ['party.write_date', '>=', t],
          ['party.create_date', '>=', t],
          ['party.contact_mechanisms.write_date', '>=', t],
          ['party.contact_mechanisms.create_date', '>=', t],
        ],
      ],
      0,
      null,
      null,
    ]);
    return found.map(String);
  }

  async renderTemplate(templateId: string, _invoiceIds: string[]): Promise<Map<string, RenderedTemplate>> {
    throw new ConnectorError('host_not_found', 'Tryton renders no e-mail templates; connector-managed templates are rendered by the connector', {
      detail: { templateId },
    });
  }

  async getUserPrint(printId: string, invoiceId: string): Promise<Uint8Array> {
    const name = reportName(printId);
    const [id] = ids([invoiceId]);
    if (!name) throw new ConnectorError('print_unavailable', `Unknown Tryton print "${printId}"`);
    if (id === undefined) throw new ConnectorError('host_not_found', `Invalid Tryton invoice id "${invoiceId}"`);
    const client = this.client;
    const reports = await client.model<Rec[]>('ir.action.report', 'search_read', [
      [
        ['model', '=', TRYTON_INVOICE_MODEL],
        ['report_name', '=', name],
      ],
      0,
      1,
      null,
      ['report_name'],
    ]);
    if (reports.length === 0) throw new ConnectorError('print_unavailable', `Tryton has no invoice print "${name}"`);
    const cid = await this.companyId(client);
    const found = await client.model<number[]>(TRYTON_INVOICE_MODEL, 'search', [
      [
        ['id', '=', id],
        ['type', '=', 'out'],
        ['company', '=', cid],
      ],
      0,
      1,
      null,
    ]);
    if (found.length === 0) throw new ConnectorError('host_not_found', `Tryton invoice ${id} does not exist`);
    const timeout = this.options.reportTimeoutMs ?? Math.max(60_000, this.connection.timeoutMs ?? 0);
    let report;
    try {
      report = await client.report(name, [id], timeout);
    } catch (err) {
      // A rendering failure (e.g. "No such file or directory: 'soffice'" when the report is set to PDF
      // but LibreOffice is missing) is the print being unavailable, not bad input.
      if (err instanceof ConnectorError && err.code === 'host_validation') {
        throw new ConnectorError('print_unavailable', `Tryton could not render "${name}": ${err.message}`, { cause: err, detail: { report: name } });
      }
      throw err;
    }
    if (report.extension.toLowerCase() !== 'pdf' || !startsWithPdf(report.data)) {
      throw new ConnectorError('print_unavailable', `Tryton renders "${name}" as ${report.extension.toUpperCase()}, not PDF`, {
        detail: { extension: report.extension },
      });
    }
    return report.data;
  }

  async writeBack(items: WriteBack[]): Promise<void> {
    if (items.length === 0) return;
    const client = this.client;
    const cid = await this.companyId(client);
    const wanted = ids(items.map((i) => i.invoiceId));
    const found = await client.model<number[]>(TRYTON_INVOICE_MODEL, 'search', [
      [
        ['id', 'in', wanted],
        ['type', '=', 'out'],
        ['company', '=', cid],
      ],
      0,
      null,
      null,
    ]);
    const missing = items.map((i) => i.invoiceId).filter((i) => !/^\d+$/.test(i) || !found.includes(Number(i)));
    if (missing.length > 0) {
      throw new ConnectorError('host_not_found', `Tryton invoices not found: ${[...new Set(missing)].join(', ')}`, { detail: { missing } });
    }
    const existing = await this.readReceipts(client, found);
    const receipts = new Map<number, { attachmentId: number | null; receipt: Receipt | null; changed: boolean }>();
    for (const id of found) {
      const e = existing.get(id);
      receipts.set(id, { attachmentId: e?.attachmentId ?? null, receipt: e?.receipt ?? null, changed: false });
    }
    const notes: Rec[] = [];
    const at = (this.options.now ?? (() => new Date()))().toISOString();
    for (const item of items) {
      const id = Number(item.invoiceId);
      const slot = receipts.get(id)!;
      const prev = slot.receipt;
      const { state, reason } = item.outcome;
      if (prev && prev.state === state && prev.reason === reason && prev.messageId === item.messageId) continue;
      notes.push({ resource: `${TRYTON_INVOICE_MODEL},${id}`, message: item.note });
      slot.receipt = {
        kind: 'invoice-courier-receipt',
        version: 1,
        invoiceId: String(id),
        state,
        reason,
        messageId: item.messageId,
        markedSent: (prev?.markedSent ?? false) || item.markSent,
        recipients: item.outcome.recipients.map((r) => ({ address: r.address, accepted: r.accepted })),
        detail: item.outcome.detail,
        writtenAt: at,
        history: [...(prev?.history ?? []), { state, reason, messageId: item.messageId, at }].slice(-HISTORY_LIMIT),
      };
      slot.changed = true;
    }
    if (notes.length === 0) return;
    await client.model(`ir.note`, 'create', [notes]);
    const creates: Rec[] = [];
    const writes: unknown[] = [];
    for (const [id, slot] of receipts) {
      if (!slot.changed || !slot.receipt) continue;
      const data = tagged.bytes(new TextEncoder().encode(`${JSON.stringify(slot.receipt, null, 2)}\n`));
      const description = `Invoice Courier: ${slot.receipt.state}${slot.receipt.messageId ? ` ${slot.receipt.messageId}` : ''}`;
      if (slot.attachmentId === null) {
        creates.push({ name: RECEIPT_NAME, resource: `${TRYTON_INVOICE_MODEL},${id}`, type: 'data', data, description });
      } else {
        writes.push([slot.attachmentId], { data, description });
      }
    }
    if (creates.length > 0) await client.model('ir.attachment', 'create', [creates]);
    if (writes.length > 0) await client.model('ir.attachment', 'write', writes);
  }

  // ------------------------------------------------------------------ reading a page

  private async readReceipts(client: TrytonClient, invoiceIds: number[]): Promise<Map<number, { attachmentId: number; receipt: Receipt | null }>> {
    const out = new Map<number, { attachmentId: number; receipt: Receipt | null }>();
    if (invoiceIds.length === 0) return out;
    const rows = await client.model<Rec[]>('ir.attachment', 'search_read', [
      [
        ['resource', 'in', invoiceIds.map((i) => `${TRYTON_INVOICE_MODEL},${i}`)],
        ['name', '=', RECEIPT_NAME],
      ],
      0,
      null,
      [['id', 'ASC']],
      ['resource', 'data'],
    ]);
    for (const row of rows) {
      const id = Number(String(row.resource).split(',')[1]);
      // Should there ever be two, the newest (highest id) wins.
      out.set(id, { attachmentId: Number(row.id), receipt: parseReceipt(row.data) });
    }
    return out;
  }

  private seller(client: TrytonClient): Promise<Seller> {
    if (!this.sellerCache) {
      const p = this.readSeller(client);
      this.sellerCache = p;
      p.catch(() => {
        if (this.sellerCache === p) this.sellerCache = null;
      });
    }
    return this.sellerCache;
  }

  private async readSeller(client: TrytonClient): Promise<Seller> {
    const cid = await this.companyId(client);
    const [company] = await client.model<Rec[]>('company.company', 'read', [[cid], ['party']]);
    if (!company) throw new ConnectorError('host_not_found', `Tryton company ${cid} does not exist`);
    const partyId = Number(company.party);
    const [party] = await client.model<Rec[]>('party.party', 'read', [[partyId], PARTY_FIELDS]);
    if (!party) throw new ConnectorError('host_not_found', `Tryton company party ${partyId} does not exist`);
    const addressIds = Array.isArray(party.addresses) ? (party.addresses as number[]) : [];
    const addresses = addressIds.length > 0 ? await client.model<Rec[]>('party.address', 'read', [addressIds, ADDRESS_FIELDS]) : [];
    const address = addresses.find((a) => bool(a.invoice)) ?? addresses[0] ?? null;
    const mechanisms = await this.emailMechanisms(client, [partyId]);
    return mapSeller(party, address, mechanisms.get(partyId) ?? []);
  }

  private async emailMechanisms(client: TrytonClient, partyIds: number[]): Promise<Map<number, Rec[]>> {
    const out = new Map<number, Rec[]>();
    if (partyIds.length === 0) return out;
    const rows = await client.model<Rec[]>('party.contact_mechanism', 'search_read', [
      [
        ['party', 'in', partyIds],
        ['type', '=', 'email'],
      ],
      0,
      null,
      [
        ['party', 'ASC'],
        ['sequence', 'ASC'],
        ['id', 'ASC'],
      ],
      ['party', 'type', 'value', 'name', 'invoice', 'active'],
    ]);
    for (const row of rows) {
      const pid = Number(row.party);
      out.set(pid, [...(out.get(pid) ?? []), row]);
    }
    return out;
  }

  private async hydrate(client: TrytonClient, headers: Rec[]): Promise<Invoice[]> {
    if (headers.length === 0) return [];
    const lineIds = headers.flatMap((h) => (Array.isArray(h.lines) ? (h.lines as number[]) : []));
    const partyIds = [...new Set(headers.map((h) => Number(nested(h, 'party')?.id)).filter((n) => Number.isInteger(n)))];
    const [lines, mechanisms, receipts, seller] = await Promise.all([
      lineIds.length > 0 ? client.model<Rec[]>('account.invoice.line', 'read', [lineIds, LINE_FIELDS]) : Promise.resolve([] as Rec[]),
      this.emailMechanisms(client, partyIds),
      this.readReceipts(
        client,
        headers.map((h) => Number(h.id)),
      ),
      this.seller(client),
    ]);
    const linesByInvoice = new Map<number, Rec[]>();
    for (const l of lines) {
      const inv = Number(l.invoice);
      linesByInvoice.set(inv, [...(linesByInvoice.get(inv) ?? []), l]);
    }
    const taxIds = [...new Set(lines.flatMap((l) => (Array.isArray(l.taxes) ? (l.taxes as number[]) : [])))];
    const creditNotes = headers.filter((h) => isCreditNote(h, linesByInvoice.get(Number(h.id)) ?? []));
    const [taxes, corrects, rates] = await Promise.all([
      taxIds.length > 0 ? client.model<Rec[]>('account.tax', 'read', [taxIds, ['name', 'description', 'rate', 'type']]) : Promise.resolve([] as Rec[]),
      this.correctedInvoices(client, creditNotes, linesByInvoice),
      this.exchangeRates(client, headers),
    ]);
    const taxMap = new Map(taxes.map((t) => [Number(t.id), t]));
    return headers.map((h) => {
      const id = Number(h.id);
      const party = nested(h, 'party') ?? { id: 0, name: '' };
      return mapInvoice(h, {
        lines: linesByInvoice.get(id) ?? [],
        taxes: taxMap,
        party,
        mechanisms: mechanisms.get(Number(party.id)) ?? [],
        seller,
        receipt: receipts.get(id)?.receipt ?? null,
        corrects: corrects.get(id) ?? null,
        exchangeRate: rates.get(id) ?? null,
      });
    });
  }

  /** Credit notes made by Tryton's credit wizard point, per line, at the credited invoice's lines. */
  private async correctedInvoices(
    client: TrytonClient,
    creditNotes: Rec[],
    linesByInvoice: Map<number, Rec[]>,
  ): Promise<Map<number, { number: string; date: string | null }>> {
    const out = new Map<number, { number: string; date: string | null }>();
    const originOf = new Map<number, number>();
    for (const cn of creditNotes) {
      for (const l of linesByInvoice.get(Number(cn.id)) ?? []) {
        const m = /^account\.invoice\.line,(\d+)$/.exec(String(l.origin ?? ''));
        if (m) {
          originOf.set(Number(cn.id), Number(m[1]));
          break;
        }
      }
    }
    if (originOf.size === 0) return out;
    const origins = await client.model<Rec[]>('account.invoice.line', 'read', [[...new Set(originOf.values())], ['invoice.number', 'invoice.invoice_date']]);
    const byLine = new Map(origins.map((o) => [Number(o.id), nested(o, 'invoice')]));
    for (const [cn, lineId] of originOf) {
      const inv = byLine.get(lineId);
      if (inv && typeof inv.number === 'string' && inv.number) {
        out.set(cn, { number: inv.number, date: typeof inv.invoice_date === 'string' ? inv.invoice_date : null });
      }
    }
    return out;
  }

  /** One currency read per distinct currency date of the page's foreign-currency invoices. */
  private async exchangeRates(client: TrytonClient, headers: Rec[]): Promise<Map<number, ExchangeRate>> {
    const out = new Map<number, ExchangeRate>();
    const byDate = new Map<string, Rec[]>();
    for (const h of headers) {
      const cur = nested(h, 'currency');
      const company = nested(h, 'company');
      const companyCur = company ? nested(company, 'currency') : null;
      if (!cur || !companyCur || cur.id === companyCur.id) continue;
      const date = typeof h.currency_date === 'string' ? h.currency_date : typeof h.invoice_date === 'string' ? h.invoice_date : null;
      if (!date) continue;
      byDate.set(date, [...(byDate.get(date) ?? []), h]);
    }
    for (const [date, group] of byDate) {
      const currencyIds = new Set<number>();
      for (const h of group) {
        currencyIds.add(Number(nested(h, 'currency')!.id));
        currencyIds.add(Number(nested(nested(h, 'company')!, 'currency')!.id));
      }
      const rows = await client.model<Rec[]>('currency.currency', 'read', [[...currencyIds], ['rate']], { date: tagged.date(date) });
      const rate = new Map(rows.map((r) => [Number(r.id), typeof r.rate === 'string' ? r.rate : null]));
      for (const h of group) {
        const inv = rate.get(Number(nested(h, 'currency')!.id));
        const comp = rate.get(Number(nested(nested(h, 'company')!, 'currency')!.id));
        if (!inv || !comp || /^-?0+(\.0+)?$/.test(inv)) continue;
        out.set(Number(h.id), { rate: invertRate(comp, inv, 4), date, source: null });
      }
    }
    return out;
  }
}

function toOperator(user: Rec): Operator {
  const lang = nested(user, 'language');
  return {
    id: String(user.id),
    login: String(user.login),
    name: String(user.name ?? user.login),
    email: typeof user.email === 'string' && user.email ? user.email : null,
    lang: lang && typeof lang.code === 'string' ? lang.code : null,
  };
}

function effectiveExtension(report: Rec): string {
  const ext = typeof report.extension === 'string' && report.extension ? report.extension : report.template_extension;
  return String(ext ?? '').toLowerCase();
}

function startsWithPdf(data: Uint8Array): boolean {
  return data.length > 4 && data[0] === 0x25 && data[1] === 0x50 && data[2] === 0x44 && data[3] === 0x46;
}

/** The adapter for one Tryton connection (connector-kept accounts/templates are added by the registry's `connectorKept`). */
export function createTrytonHost(connection: HostConnection, options: TrytonHostOptions = {}): HostErp {
  return new TrytonHost(connection, options);
}

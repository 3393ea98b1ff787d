/**
 * The Odoo adapter behind the `HostErp` port (kind 'odoo'; the sandbox host of `npm start` speaks the same JSON-RPC).
 *
 * Credentials: the integration credential only for what an ordinary user may not read (mail servers,
 * the list of users, `describe`); invoices, templates, prints and write-back run as the operator, so
 * Odoo's own access rules and chatter authorship apply.
 *
 * Reading invoices: one keyset-paged `account.move.search_read` per page, then a fixed number of
 * batched reads per page (lines, taxes, partners, invoice contacts, countries, currencies, rates, bank
 * accounts, corrected invoices, KSeF XML) — never one call per invoice. Optional fields are chosen
 * from `fields_get`, asked once per adapter (one adapter per run) and model, when the run first reads
 * that model: a listing needs only account.move's, so a run that lists nothing asks for no other; the
 * same code runs against Odoo 17, 18 and the sandbox.
 *
 * E-mail accounts: `ir.mail_server` rows whose `from_filter` is empty or matches the operator's address
 * or domain (Odoo's own rule). IMAP comes from `fetchmail.server`; Odoo has no link between the two, so
 * an IMAP server is paired with a mail server when its `user` equals the mail server's `smtp_user`
 * (case-insensitive); unpaired mail servers have `imap: null`.
 */
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import type { EmailAccount, EmailTemplateRef, Invoice, Operator, PrintRef, RenderedTemplate, TlsMode } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import type { DueInvoiceQuery, ExtensionLinks, HostConnection, HostErp, HostInfo, InvoiceMatch, RightsCheck, RunSummary, WriteBack } from '../port.ts';
import { firstPageLimit } from '../paging.ts';
import { OdooClient, type OdooRecord, type OdooSession } from './client.ts';
import type { CallDescription } from './errors.ts';
import { escapeHtml, htmlToText, idList, isoDate, m2oId, m2oName, mapInvoice, str, type PageData, type PageFailures } from './mapping.ts';

export interface OdooAdapterOptions {
  /** Observer of every RPC/HTTP call (tests count calls per page). */
  onCall?: (call: CallDescription) => void;
  /** Attempts for idempotent reads on host_unavailable (default 3). */
  readAttempts?: number;
  backoffMs?: number;
  lang?: string;
  tz?: string;
  /** Invoices rendered concurrently by `renderTemplate` (default 4). */
  renderConcurrency?: number;
  /** 'auto' (default): JSON-2 on Odoo 19+, JSON-RPC on 17/18. */
  protocol?: 'auto' | 'jsonrpc' | 'json2';
}

interface Schema {
  move: Set<string>;
  partner: Set<string>;
  tax: Map<string, string>;
}

interface Company {
  id: number;
  name: string;
  partnerId: number;
  currencyId: number | null;
  currency: string;
  /** KSeF registration (`l10n_pl_edi_register`): null when the host has no such field. */
  ksefRegistered: boolean | null;
}

const INVOICE_TYPES = ['out_invoice', 'out_refund'];
/** The xmlids the adapter needs, looked up once with the integration credential (ir.model.data is admin-only). */
const XMLIDS = {
  invoiceTemplate: ['account', 'email_template_edi_invoice'],
  creditNoteTemplate: ['account', 'email_template_edi_credit_note'],
  noteSubtype: ['mail', 'mt_note'],
  invoicingMenu: ['account', 'menu_finance'],
} as const;
type XmlidKey = keyof typeof XMLIDS;
/** Menu entries of the connector carry this name; its ir.logging records LOG_NAME. */
const EXTENSION_NAME = 'Invoice Courier';
const LOG_NAME = 'invoice-courier';

const MOVE_FIELDS = [
  'id',
  'name',
  'move_type',
  'state',
  'partner_id',
  'commercial_partner_id',
  'invoice_date',
  'invoice_date_due',
  'date',
  'currency_id',
  'company_currency_id',
  'company_id',
  'amount_untaxed',
  'amount_tax',
  'amount_total',
  'invoice_payment_term_id',
  'payment_reference',
  'narration',
  'write_date',
  'reversed_entry_id',
  'partner_bank_id',
];
const MOVE_OPTIONAL = [
  'is_move_sent',
  'amount_untaxed_signed',
  'amount_tax_signed',
  'amount_total_signed',
  'tax_totals',
  'delivery_date',
  'sending_data',
  'send_and_print_values',
  'invoice_currency_rate',
  'invoice_pdf_report_id',
  'l10n_pl_edi_status',
  'l10n_pl_edi_number',
  'l10n_pl_edi_attachment_id',
  'l10n_pl_edi_hash',
  'x_split_payment',
  'x_reverse_charge',
  'x_exemption_basis',
];
const LINE_FIELDS = [
  'id',
  'move_id',
  'sequence',
  'display_type',
  'name',
  'product_id',
  'quantity',
  'product_uom_id',
  'price_unit',
  'discount',
  'tax_ids',
  'price_subtotal',
  'price_total',
];
const PARTNER_FIELDS = [
  'id',
  'name',
  'vat',
  'email',
  'street',
  'street2',
  'zip',
  'city',
  'country_id',
  'lang',
  'parent_id',
  'commercial_partner_id',
  'is_company',
  'type',
];

export class OdooAdapter implements HostErp {
  readonly kind: HostConnection['kind'];
  private readonly connection: HostConnection;
  private readonly client: OdooClient;
  private readonly options: OdooAdapterOptions;
  /** Fields each user sees of a model (field-level access differs between users), by login and model. */
  private readonly fieldSets = new Map<string, Promise<Map<string, string>>>();
  private readonly companyIds = new Map<string, Promise<number>>();
  private readonly companies = new Map<string, Promise<Company>>();
  private readonly users = new Map<string, Promise<OdooRecord>>();
  private readonly wizardFieldSets = new Map<string, Promise<Set<string>>>();
  private xmlidPromise: Promise<Partial<Record<XmlidKey, number>>> | null = null;
  private readonly templateChecks = new Map<string, Promise<number>>();
  /** The main company of users whose record was read anyway (checkOperator), by login. */
  private readonly userCompanies = new Map<string, number>();
  private readonly reports = new Map<number, Promise<OdooRecord | null>>();
  /** Records that do not change within a run, read once per adapter (one adapter per run). */
  private readonly cache = {
    currencies: new Map<number, OdooRecord>(),
    taxes: new Map<number, OdooRecord>(),
    countries: new Map<number, OdooRecord>(),
    banks: new Map<number, OdooRecord>(),
  };

  constructor(connection: HostConnection, options: OdooAdapterOptions = {}) {
    if (connection.kind !== 'odoo') {
      throw new ConnectorError('validation', `The Odoo adapter does not serve host kind "${connection.kind}"`, { field: 'kind' });
    }
    const companyId = connection.companyId === null ? null : Number(connection.companyId);
    if (companyId !== null && !Number.isSafeInteger(companyId)) {
      throw new ConnectorError('validation', `Odoo company id must be a number, got "${connection.companyId}"`, { field: 'companyId' });
    }
    this.kind = connection.kind;
    this.connection = connection;
    this.options = options;
    this.client = new OdooClient({
      baseUrl: connection.baseUrl,
      database: connection.database,
      timeoutMs: connection.timeoutMs ?? 30_000,
      companyId,
      ...(options.lang ? { lang: options.lang } : {}),
      ...(options.tz ? { tz: options.tz } : {}),
      ...(options.readAttempts !== undefined ? { readAttempts: options.readAttempts } : {}),
      ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
      ...(options.onCall ? { onCall: options.onCall } : {}),
      ...(options.protocol ? { protocol: options.protocol } : {}),
    });
  }

  /** Frees the keep-alive sockets (not part of the port; the registry's owner may call it). */
  close(): void {
    this.client.close();
  }

  // -------------------------------------------------------------------------------------------------
  // Sessions, schema, company

  private integration(): OdooSession {
    return this.client.session(this.connection.integration);
  }

  private operator(): OdooSession {
    if (!this.connection.operator) {
      throw new ConnectorError('validation', 'No operator is set for this installation', { field: 'operator' });
    }
    return this.client.session(this.connection.operator);
  }

  /** The operator when set, else the integration user (option lists before settings name an operator). */
  private reader(): OdooSession {
    return this.connection.operator ? this.operator() : this.integration();
  }

  /**
   * The fields one model has for this user (`fields_get`, name -> type), read on first use and kept for
   * this adapter (one adapter per run): a run reads only the models it uses, and every run reads them
   * afresh (a module installed between two runs, e.g. l10n_pl_edi's KSeF fields, is seen by the next).
   */
  private fields(s: OdooSession, model: string): Promise<Map<string, string>> {
    const key = `${s.login}\u0000${model}`;
    let p = this.fieldSets.get(key);
    if (!p) {
      p = s
        .executeKw<Record<string, { type?: string }>>(model, 'fields_get', [], { attributes: ['type'] })
        .then((f) => new Map(Object.entries(f).map(([k, v]) => [k, String(v?.type ?? '')])));
      this.fieldSets.set(key, p);
      p.catch(() => this.fieldSets.delete(key));
    }
    return p;
  }

  /** What the listing needs: the invoice's fields (its domain and columns). */
  private async moveSchema(s: OdooSession): Promise<Pick<Schema, 'move'>> {
    return { move: new Set((await this.fields(s, 'account.move')).keys()) };
  }

  /** What reading a page of invoices needs besides: the partner's and the tax's fields. */
  private async schema(s: OdooSession): Promise<Schema> {
    const [move, partner, tax] = await Promise.all([this.fields(s, 'account.move'), this.fields(s, 'res.partner'), this.fields(s, 'account.tax')]);
    return { move: new Set(move.keys()), partner: new Set(partner.keys()), tax };
  }

  /** The session user's partner (author of notes), read once. */
  private user(s: OdooSession): Promise<OdooRecord> {
    let p = this.users.get(s.login);
    if (!p) {
      p = (async () => {
        const [user] = await s.read('res.users', [await s.uid()], ['partner_id']);
        if (!user) throw new ConnectorError('host_not_found', `Odoo user "${s.login}" does not exist`);
        return user;
      })();
      this.users.set(s.login, p);
      p.catch(() => this.users.delete(s.login));
    }
    return p;
  }

  /**
   * The id of the company served: `connection.companyId`, else the session user's main company (known
   * without a call when `checkOperator` read the user). All the listing needs of the company.
   */
  private companyId(s: OdooSession): Promise<number> {
    const fixed = this.connection.companyId === null ? null : Number(this.connection.companyId);
    if (fixed !== null) return Promise.resolve(fixed);
    const known = this.userCompanies.get(s.login);
    if (known !== undefined) return Promise.resolve(known);
    let p = this.companyIds.get(s.login);
    if (!p) {
      p = (async () => {
        const [user] = await s.read('res.users', [await s.uid()], ['company_id']);
        const id = m2oId(user?.company_id);
        if (id === null) throw new ConnectorError('host_not_found', `Odoo user "${s.login}" has no company`);
        return id;
      })();
      this.companyIds.set(s.login, p);
      p.catch(() => this.companyIds.delete(s.login));
    }
    return p;
  }

  /** The company served, read once: name, partner, currency, KSeF registration (what reading invoices needs). */
  private company(s: OdooSession): Promise<Company> {
    let p = this.companies.get(s.login);
    if (!p) {
      p = (async () => {
        const id = await this.companyId(s);
        // KSeF: only a host with Odoo's l10n_pl_edi fields says whether the company issues through KSeF.
        const { move } = await this.moveSchema(s);
        const ksefField = move.has('l10n_pl_edi_number') && (await this.fields(s, 'res.company')).has('l10n_pl_edi_register');
        const [c] = await s.read('res.company', [id], ['id', 'name', 'partner_id', 'currency_id', ...(ksefField ? ['l10n_pl_edi_register'] : [])]);
        if (!c) throw new ConnectorError('host_not_found', `Odoo company ${id} does not exist`);
        return {
          id: c.id,
          name: str(c.name) ?? '',
          partnerId: m2oId(c.partner_id) ?? 0,
          currencyId: m2oId(c.currency_id),
          currency: m2oName(c.currency_id) ?? 'PLN',
          ksefRegistered: ksefField ? c.l10n_pl_edi_register === true : null,
        };
      })();
      this.companies.set(s.login, p);
      p.catch(() => this.companies.delete(s.login));
    }
    return p;
  }

  // -------------------------------------------------------------------------------------------------
  // Identity

  async describe(): Promise<HostInfo> {
    const s = this.integration();
    const [version, company] = await Promise.all([this.client.version(), this.company(s)]);
    return { kind: this.kind, version: version.serverVersion, company: { id: String(company.id), name: company.name, currency: company.currency } };
  }

  async checkOperator(): Promise<Operator> {
    const cred = this.connection.operator;
    if (!cred) throw new ConnectorError('validation', 'No operator is set for this installation', { field: 'operator' });
    const uid = await this.client.authenticate(cred);
    if (uid !== null) this.client.rememberUid(cred, uid);
    if (uid === null) {
      throw new ConnectorError('host_auth', `Operator "${cred.login}" cannot log in to Odoo (wrong login or password/API key)`, {
        field: 'operator',
        detail: { login: cred.login },
      });
    }
    const [u] = await this.operator().read('res.users', [uid], ['id', 'login', 'name', 'email', 'lang', 'company_id']);
    if (!u) throw new ConnectorError('host_not_found', `Odoo user ${uid} does not exist`);
    // The operator's main company, for `company()` (read here once rather than again by the listing).
    if (m2oId(u.company_id) !== null) this.userCompanies.set(cred.login, m2oId(u.company_id)!);
    return toOperator(u);
  }

  async listOperators(): Promise<Operator[]> {
    const s = this.integration();
    const domain: unknown[] = [
      ['share', '=', false],
      ['active', '=', true],
    ];
    if (this.connection.companyId !== null) domain.push(['company_ids', 'in', [Number(this.connection.companyId)]]);
    const users = await s.searchRead('res.users', domain, ['id', 'login', 'name', 'email', 'lang'], { order: 'name, id' });
    return users.map(toOperator);
  }

  // -------------------------------------------------------------------------------------------------
  // Option lists

  async listEmailAccounts(operator: Operator): Promise<EmailAccount[]> {
    const s = this.integration();
    const [servers, imaps] = await Promise.all([
      s.searchRead(
        'ir.mail_server',
        [['active', '=', true]],
        ['id', 'name', 'from_filter', 'smtp_host', 'smtp_port', 'smtp_authentication', 'smtp_user', 'smtp_pass', 'smtp_encryption', 'sequence', 'active'],
        { order: 'sequence, id' },
      ),
      s
        .searchRead(
          'fetchmail.server',
          [
            ['active', '=', true],
            ['server_type', '=', 'imap'],
          ],
          ['id', 'name', 'server', 'port', 'is_ssl', 'user', 'password'],
          { order: 'id' },
        )
        .catch((e: unknown) => {
          // No fetchmail model (real Odoo: UserError "Object fetchmail.server doesn't exist", translated by
          // lang; older hosts: KeyError): accounts simply have no IMAP.
          if (
            e instanceof ConnectorError &&
            e.code === 'host_validation' &&
            /(KeyError|UserError)$/.test(String(e.detail?.odooError)) &&
            e.message.includes('fetchmail.server')
          )
            return [];
          throw e;
        }),
    ]);
    return servers
      .filter((srv) => fromFilterAllows(str(srv.from_filter), operator.email))
      .map((srv) => {
        const user = str(srv.smtp_user);
        const imap = user ? imaps.find((i) => str(i.user)?.toLowerCase() === user.toLowerCase()) : undefined;
        const fromFilter = str(srv.from_filter);
        const single = fromFilter && !fromFilter.includes(',') && fromFilter.includes('@') ? fromFilter.trim() : null;
        return {
          id: String(srv.id),
          name: str(srv.name) ?? `ir.mail_server ${srv.id}`,
          active: srv.active !== false,
          fromAddress: single,
          fromFilter,
          smtp: {
            host: str(srv.smtp_host) ?? '',
            port: Number(srv.smtp_port) || 25,
            tls: smtpTls(srv.smtp_encryption),
            user,
            password: str(srv.smtp_pass),
          },
          imap:
            imap && str(imap.server)
              ? {
                  host: str(imap.server)!,
                  port: Number(imap.port) || (imap.is_ssl ? 993 : 143),
                  tls: imap.is_ssl === true ? 'tls' : 'none',
                  user: str(imap.user) ?? '',
                  password: str(imap.password) ?? '',
                }
              : null,
        } satisfies EmailAccount;
      });
  }

  async listEmailTemplates(): Promise<EmailTemplateRef[]> {
    const s = this.reader();
    const [templates, xmlids] = await Promise.all([
      s.searchRead('mail.template', [['model', '=', 'account.move']], ['id', 'name', 'model'], { order: 'name, id' }),
      this.xmlids().catch(() => ({}) as Partial<Record<XmlidKey, number>>),
    ]);
    const first = xmlids.invoiceTemplate ?? null;
    const refs = templates.map((t) => ({ id: String(t.id), name: str(t.name) ?? `mail.template ${t.id}`, model: 'account.move', renderedByHost: true }));
    return [...refs.filter((r) => Number(r.id) === first), ...refs.filter((r) => Number(r.id) !== first)];
  }

  /**
   * The record ids of the xmlids the adapter needs, in one `ir.model.data` read with the integration
   * credential (an ordinary user may not read ir.model.data: Administration/Access Rights). Cached.
   */
  private xmlids(): Promise<Partial<Record<XmlidKey, number>>> {
    this.xmlidPromise ??= (async () => {
      const entries = Object.entries(XMLIDS) as [XmlidKey, readonly [string, string]][];
      const rows = await this.integration().searchRead(
        'ir.model.data',
        [
          ['module', 'in', uniqStrings(entries.map(([, x]) => x[0]))],
          ['name', 'in', entries.map(([, x]) => x[1])],
        ],
        ['module', 'name', 'model', 'res_id'],
      );
      const out: Partial<Record<XmlidKey, number>> = {};
      for (const [key, [module, name]] of entries) {
        const row = rows.find((r) => r.module === module && r.name === name);
        if (row && typeof row.res_id === 'number') out[key] = row.res_id;
      }
      return out;
    })();
    this.xmlidPromise.catch(() => (this.xmlidPromise = null));
    return this.xmlidPromise;
  }

  async listUserPrints(): Promise<PrintRef[]> {
    const s = this.reader();
    const reports = await s.searchRead(
      'ir.actions.report',
      [
        ['model', '=', 'account.move'],
        ['report_type', '=', 'qweb-pdf'],
      ],
      ['id', 'name', 'report_name'],
      { order: 'name, id' },
    );
    return reports.map((r) => ({ choice: `user:${r.id}`, name: str(r.name) ?? str(r.report_name) ?? `report ${r.id}` }));
  }

  // -------------------------------------------------------------------------------------------------
  // Invoices

  async *listDueInvoices(query: DueInvoiceQuery): AsyncIterable<Invoice[]> {
    const firstLimit = firstPageLimit(query);
    const s = this.operator();
    // The listing needs only the invoice's fields and the company's id; a page's reads need the rest
    // (partner and tax fields, the company's record), read with the first page that lists something.
    const [moveSchema, companyId] = await Promise.all([this.moveSchema(s), this.companyId(s)]);
    const domain = dueDomain(query, moveSchema, { id: companyId });
    const fields = moveFields(moveSchema);
    let last = 0;
    for (let limit = firstLimit; ; limit = query.pageSize) {
      const moves = await s.searchRead('account.move', [...domain, ['id', '>', last]], fields, { limit, order: 'id' });
      if (moves.length === 0) return;
      const [schema, company] = await Promise.all([this.schema(s), this.company(s)]);
      yield await this.enrich(s, moves, schema, company);
      if (moves.length < limit) return;
      last = moves[moves.length - 1]!.id;
    }
  }

  /** `account.move.search` with exactly the listing's domain (`dueDomain`), ids only, in id order. */
  async listDueInvoiceIds(query: DueInvoiceQuery & { afterId?: string }): Promise<string[]> {
    const s = this.operator();
    const [moveSchema, companyId] = await Promise.all([this.moveSchema(s), this.companyId(s)]);
    const after = query.afterId === undefined ? 0 : Number(query.afterId);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new ConnectorError('validation', `afterId must be an invoice id, got ${JSON.stringify(query.afterId)}`, { field: 'afterId' });
    }
    const domain = [...dueDomain(query, moveSchema, { id: companyId }), ...(after > 0 ? [['id', '>', after]] : [])];
    const found = await s.executeKw<number[]>('account.move', 'search', [domain], { order: 'id' });
    return found.map(String);
  }

  async getInvoices(ids: string[]): Promise<Invoice[]> {
    const wanted = [...new Set(ids.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    if (wanted.length === 0) return [];
    const s = this.operator();
    const [moveSchema, companyId] = await Promise.all([this.moveSchema(s), this.companyId(s)]);
    const fields = moveFields(moveSchema);
    const byId = new Map<string, Invoice>();
    for (let i = 0; i < wanted.length; i += 200) {
      const chunk = wanted.slice(i, i + 200);
      const moves = await s.searchRead(
        'account.move',
        [
          ['id', 'in', chunk],
          ['move_type', 'in', INVOICE_TYPES],
          ['company_id', '=', companyId],
        ],
        fields,
        { order: 'id' },
      );
      if (moves.length === 0) continue;
      const [schema, company] = await Promise.all([this.schema(s), this.company(s)]);
      for (const inv of await this.enrich(s, moves, schema, company)) byId.set(inv.id, inv);
    }
    return wanted.map((id) => byId.get(String(id))).filter((x): x is Invoice => x !== undefined);
  }

  /**
   * One `account.move.search` over the given ids: those whose own `write_date`, or that of the partner,
   * the commercial partner, one of their contacts (children: invoice contacts, e-mail) or the company
   * (its KSeF registration), is at or after `since`. A new contact is caught by its own `write_date`
   * (set at creation).
   */
  async changedInvoices(ids: string[], since: string): Promise<string[]> {
    const wanted = [...new Set(ids.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    if (wanted.length === 0) return [];
    const at = DateTime.fromISO(since, { zone: 'utc' });
    if (!at.isValid) throw new ConnectorError('validation', `since must be an ISO instant, got ${JSON.stringify(since)}`, { field: 'since' });
    const t = at.toUTC().toFormat('yyyy-MM-dd HH:mm:ss');
    const s = this.operator();
    const found = await s.executeKw<number[]>('account.move', 'search', [
      [
        ['id', 'in', wanted],
        '|',
        '|',
        '|',
        '|',
        '|',
        ['write_date', '>=', t],
        ['company_id.write_date', '>=', t],
        ['partner_id.write_date', '>=', t],
        ['commercial_partner_id.write_date', '>=', t],
        ['partner_id.child_ids.write_date', '>=', t],
        ['commercial_partner_id.child_ids.write_date', '>=', t],
      ],
    ]);
    return found.map(String);
  }

  async searchInvoices(text: string, limit: number): Promise<InvoiceMatch[]> {
    const s = this.operator();
    const companyId = await this.companyId(s);
    const moves = await s.searchRead(
      'account.move',
      [
        ['move_type', 'in', INVOICE_TYPES],
        ['company_id', '=', companyId],
        ['name', 'ilike', text],
      ],
      ['id', 'name', 'partner_id', 'invoice_date'],
      { order: 'invoice_date desc, id desc', limit: Math.max(1, Math.min(50, Math.floor(limit))) },
    );
    return moves.map((m) => ({ id: String(m.id), number: str(m.name), customer: m2oName(m.partner_id), date: isoDate(m.invoice_date) }));
  }

  /**
   * A page of moves -> invoices, with a fixed number of batched reads (at most 10) whatever the page
   * size; currencies, taxes and countries are read once per adapter. A read that only some invoices
   * need (rates, bank accounts, corrected invoices, KSeF XML) fails only those: they carry `readError`.
   */
  private async enrich(s: OdooSession, moves: OdooRecord[], schema: Schema, company: Company): Promise<Invoice[]> {
    const ids = moves.map((m) => m.id);
    const partnerIds = uniq(moves.flatMap((m) => [m2oId(m.partner_id), m2oId(m.commercial_partner_id)]));
    const currencyIds = uniq(moves.map((m) => m2oId(m.currency_id)));
    const foreignIds = currencyIds.filter((id) => id !== company.currencyId);
    const bankIds = uniq(moves.map((m) => m2oId(m.partner_bank_id)));
    const correctedIds = uniq(moves.map((m) => m2oId(m.reversed_entry_id)));
    const ksefIds = uniq(moves.map((m) => m2oId(m.l10n_pl_edi_attachment_id)));
    const partnerFields = [...PARTNER_FIELDS, ...(schema.partner.has('invoice_sending_method') ? ['invoice_sending_method'] : [])];
    const failures: PageFailures = {};
    const partial = <T>(what: keyof PageFailures, p: Promise<T[]>): Promise<T[]> =>
      p.catch((e: unknown) => {
        if (!(e instanceof ConnectorError)) throw e;
        failures[what] = { what: WHAT[what], detail: e.message, retryable: e.retryable };
        return [];
      });
    const cachedRead = async (key: keyof OdooAdapter['cache'], model: string, wanted: number[], fields: string[]): Promise<OdooRecord[]> => {
      const store = this.cache[key];
      const fresh = wanted.filter((id) => !store.has(id));
      for (const r of await s.read(model, fresh, fields)) store.set(r.id, r);
      return wanted.map((id) => store.get(id)).filter((r): r is OdooRecord => r !== undefined);
    };

    // Round 1: everything keyed by the moves themselves.
    const [lines, people, currencies, rates, banks, corrected, ksef] = await Promise.all([
      s.searchRead(
        'account.move.line',
        [
          ['move_id', 'in', ids],
          ['display_type', 'in', ['product', 'line_section', 'line_note']],
        ],
        LINE_FIELDS,
        { order: 'move_id, sequence, id' },
      ),
      // The page's partners and their invoice-type contacts in one call (archived partners too, as read() would).
      s.searchRead(
        'res.partner',
        ['|', ['id', 'in', uniq([...partnerIds, company.partnerId])], '&', ['parent_id', 'in', partnerIds], ['type', '=', 'invoice']],
        [...partnerFields, 'active'],
        { order: 'id', context: { active_test: false } },
      ),
      cachedRead('currencies', 'res.currency', uniq([...currencyIds, company.currencyId]), ['id', 'name', 'decimal_places']),
      foreignIds.length ? partial('rates', this.readRates(s, moves, foreignIds, company)) : Promise.resolve([]),
      partial('banks', cachedRead('banks', 'res.partner.bank', bankIds, ['id', 'acc_number', 'bank_id'])),
      partial(
        'corrected',
        s.read('account.move', correctedIds, ['id', 'name', 'invoice_date', ...(schema.move.has('l10n_pl_edi_number') ? ['l10n_pl_edi_number'] : [])]),
      ),
      partial('ksef', s.read('ir.attachment', ksefIds, ['id', 'name', 'datas'])),
    ]);

    const wantedPartners = new Set([...partnerIds, company.partnerId]);
    const partners = people.filter((p) => wantedPartners.has(p.id));
    const partnerSet = new Set(partnerIds);
    const contacts = people.filter((p) => p.type === 'invoice' && p.active !== false && partnerSet.has(m2oId(p.parent_id) ?? 0));

    // Round 2: what the first round pointed at.
    const taxIds = uniq(lines.flatMap((l) => idList(l.tax_ids)));
    const countryIds = uniq(partners.map((p) => m2oId(p.country_id)));
    const taxFields = ['id', 'name', 'amount', 'amount_type'];
    if (schema.tax.has('invoice_label')) taxFields.push('invoice_label');
    else if (schema.tax.get('description') === 'char') taxFields.push('description');
    const [taxes, countries] = await Promise.all([
      cachedRead('taxes', 'account.tax', taxIds, taxFields),
      cachedRead('countries', 'res.country', countryIds, ['id', 'name', 'code']),
    ]);

    // The KSeF XML as the host stores it: its bytes unchanged (the KOD I hash is of exactly these), its name.
    const ksefXml = new Map(
      ksef
        .filter((a) => typeof a.datas === 'string' && a.datas !== '')
        .map((a) => [
          a.id,
          {
            filename: typeof a.name === 'string' && a.name !== '' ? a.name : `FA3-${a.id}.xml`,
            content: new Uint8Array(Buffer.from(a.datas as string, 'base64')),
          },
        ]),
    );
    const data: PageData = {
      partners: byId(partners),
      countries: byId(countries),
      contacts: groupBy(contacts, (c) => m2oId(c.parent_id)),
      lines: groupBy(lines, (l) => m2oId(l.move_id)),
      taxes: new Map(taxes.map((t) => [t.id, t.invoice_label === undefined && t.description !== undefined ? { ...t, invoice_label: t.description } : t])),
      currencies: byId(currencies),
      rates: groupBy(sortRates(rates, company.id), (r) => m2oId(r.currency_id)),
      banks: byId(banks),
      corrected: byId(corrected),
      ksefXmlSha: new Map([...ksefXml].map(([id, x]) => [id, createHash('sha256').update(x.content).digest('base64url')])),
      ksefXml,
      company: { id: company.id, partnerId: company.partnerId, name: company.name, currencyId: company.currencyId, currency: company.currency },
      has: {
        partnerSendingMethod: schema.partner.has('invoice_sending_method'),
        taxInvoiceLabel: taxFields.length > 4,
        ksef: schema.move.has('l10n_pl_edi_number') || schema.move.has('l10n_pl_edi_status'),
      },
      ksefRegistered: company.ksefRegistered,
      failures,
    };
    return moves.map((m) => mapInvoice(m, data));
  }

  /** Rates of the page's foreign currencies, from a year before the earliest invoice date up to the latest. */
  private readRates(s: OdooSession, moves: OdooRecord[], currencyIds: number[], company: Company): Promise<OdooRecord[]> {
    const dates = moves.map((m) => isoDate(m.invoice_date) ?? isoDate(m.date));
    const known = dates.filter((d): d is string => d !== null).sort();
    const domain: unknown[] = [['currency_id', 'in', currencyIds]];
    if (known.length > 0) domain.push(['name', '>=', DateTime.fromISO(known[0]!).minus({ days: 400 }).toISODate()!]);
    if (known.length === dates.length && known.length > 0) domain.push(['name', '<=', known[known.length - 1]!]);
    domain.push(['company_id', 'in', [company.id, false]]);
    return s.searchRead('res.currency.rate', domain, ['id', 'name', 'currency_id', 'company_id', 'rate', 'inverse_company_rate'], {
      order: 'name desc, id desc',
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Templates and prints

  async renderTemplate(templateId: string, invoiceIds: string[]): Promise<Map<string, RenderedTemplate>> {
    const s = this.operator();
    const tid = await this.resolveTemplate(s, templateId);
    const ids = [...new Set(invoiceIds.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    const out = new Map<string, RenderedTemplate>();
    if (ids.length === 0) return out;
    const wizard = await this.sendWizard(s);
    const [moves, xmlids] = await Promise.all([
      s.read('account.move', ids, ['id', 'partner_id', 'move_type']),
      this.xmlids().catch(() => ({}) as Partial<Record<XmlidKey, number>>),
    ]);
    // A credit note gets the host's credit-note template when the chosen one is the host's invoice default.
    const templateFor = (m: OdooRecord): number =>
      m.move_type === 'out_refund' && tid === xmlids.invoiceTemplate && xmlids.creditNoteTemplate !== undefined ? xmlids.creditNoteTemplate : tid;
    // The language the host renders in is the customer's; read it only when the wizard does not say.
    const partners = wizard.lang
      ? new Map<number, OdooRecord>()
      : byId(await s.read('res.partner', uniq(moves.map((m) => m2oId(m.partner_id))), ['id', 'lang']));
    const langOf = new Map(moves.map((m) => [m.id, str(partners.get(m2oId(m.partner_id) ?? 0)?.lang)]));

    // One wizard per invoice (Odoo 18 raises "Expected singleton" for a list), then one read and one unlink for all.
    const wizardOf = new Map<number, number>();
    try {
      await inBatches(moves, this.options.renderConcurrency ?? 4, async (m) => {
        const ctx = { active_model: 'account.move', active_ids: [m.id], active_id: m.id };
        const vals = wizard.multi ? { move_ids: [[6, 0, [m.id]]], [wizard.template]: templateFor(m) } : { move_id: m.id, [wizard.template]: templateFor(m) };
        const created = await s.executeKw<number | number[]>(wizard.model, 'create', [[vals]], { context: ctx });
        const wid = Array.isArray(created) ? created[0] : created;
        if (typeof wid !== 'number') throw new ConnectorError('host_validation', `Odoo's ${wizard.model}.create answered no id`);
        wizardOf.set(m.id, wid);
      });
      const wids = [...wizardOf.values()];
      const fields = [wizard.subject, wizard.body, ...(wizard.lang ? [wizard.lang] : [])];
      const rows = byId(await s.read(wizard.model, wids, fields));
      for (const [moveId, wid] of wizardOf) {
        const w = rows.get(wid);
        out.set(String(moveId), {
          subject: str(w?.[wizard.subject]) ?? '',
          html: str(w?.[wizard.body]) ?? '',
          lang: (wizard.lang ? str(w?.[wizard.lang]) : null) ?? langOf.get(moveId) ?? null,
        });
      }
    } finally {
      if (wizardOf.size > 0) await s.executeKw(wizard.model, 'unlink', [[...wizardOf.values()]]).catch(() => undefined);
    }
    return out;
  }

  /**
   * The send wizard and its field names, by version and field presence: Odoo 17 `account.move.send`
   * (`move_ids`, `mail_template_id`, `mail_subject`, `mail_body`, `mail_lang`); Odoo 18+
   * `account.move.send.wizard` (`move_id`, `mail_template_id`, `mail_subject`, ...); hosts that name them
   * `template_id` / `subject` / `body` / `lang` are served by those names.
   */
  private async sendWizard(s: OdooSession): Promise<{ model: string; multi: boolean; template: string; subject: string; body: string; lang: string | null }> {
    const version = await this.client.version();
    const model = version.major > 0 && version.major < 18 ? 'account.move.send' : 'account.move.send.wizard';
    const f = await this.wizardFields(s, model);
    const pick = (...names: string[]): string | null => names.find((n) => f.has(n)) ?? null;
    const template = pick('mail_template_id', 'template_id');
    const subject = pick('mail_subject', 'subject');
    const body = pick('mail_body', 'body');
    const multi = !f.has('move_id') && f.has('move_ids');
    if (!template || !subject || !body || (!multi && !f.has('move_id'))) {
      throw new ConnectorError('host_validation', `Odoo's ${model} has no template/subject/body fields this connector knows (Odoo ${version.serverVersion})`, {
        detail: { model },
      });
    }
    return { model, multi, template, subject, body, lang: pick('mail_lang', 'lang') };
  }

  private wizardFields(s: OdooSession, model: string): Promise<Set<string>> {
    let p = this.wizardFieldSets.get(model);
    if (!p) {
      p = s.executeKw<Record<string, unknown>>(model, 'fields_get', [], { attributes: ['type'] }).then((f) => new Set(Object.keys(f)));
      this.wizardFieldSets.set(model, p);
      p.catch(() => this.wizardFieldSets.delete(model));
    }
    return p;
  }

  /** Template id (or xmlid "module.name") -> id of a `mail.template` on `account.move`; host_not_found otherwise. Cached. */
  private resolveTemplate(s: OdooSession, templateId: string): Promise<number> {
    let p = this.templateChecks.get(templateId);
    if (!p) {
      p = this.checkTemplate(s, templateId);
      this.templateChecks.set(templateId, p);
      p.catch(() => this.templateChecks.delete(templateId));
    }
    return p;
  }

  private async checkTemplate(s: OdooSession, templateId: string): Promise<number> {
    let id = Number(templateId);
    if (!Number.isSafeInteger(id) || id <= 0) {
      const m = /^([\w.-]+?)\.([\w-]+)$/.exec(templateId);
      if (!m) throw new ConnectorError('host_not_found', `E-mail template "${templateId}" does not exist`, { field: 'emailTemplate' });
      const known = (Object.entries(XMLIDS) as [XmlidKey, readonly [string, string]][]).find(([, x]) => x[0] === m[1] && x[1] === m[2]);
      const cached = known ? (await this.xmlids().catch(() => ({}) as Partial<Record<XmlidKey, number>>))[known[0]] : undefined;
      // xmlids are admin-only data: looked up with the integration credential.
      const [x] =
        cached !== undefined
          ? [{ id: 0, res_id: cached }]
          : await this.integration().searchRead(
              'ir.model.data',
              [
                ['module', '=', m[1]],
                ['name', '=', m[2]],
                ['model', '=', 'mail.template'],
              ],
              ['res_id'],
              { limit: 1 },
            );
      if (!x || typeof x.res_id !== 'number')
        throw new ConnectorError('host_not_found', `E-mail template "${templateId}" does not exist`, { field: 'emailTemplate' });
      id = x.res_id;
    }
    // Odoo's read of a missing id answers [{id}] without error: a template without a model is missing.
    const found = await s.read('mail.template', [id], ['id', 'name', 'model']).catch((e: unknown) => {
      if (e instanceof ConnectorError && e.code === 'host_not_found') return [];
      throw e;
    });
    const t = found[0];
    if (!t || t.model === undefined)
      throw new ConnectorError('host_not_found', `E-mail template ${templateId} does not exist in Odoo`, { field: 'emailTemplate' });
    if (t.model !== 'account.move') {
      throw new ConnectorError('host_not_found', `E-mail template "${str(t.name) ?? id}" is for ${String(t.model)}, not for invoices (account.move)`, {
        field: 'emailTemplate',
      });
    }
    return id;
  }

  private report(s: OdooSession, reportId: number): Promise<OdooRecord | null> {
    let p = this.reports.get(reportId);
    if (!p) {
      p = s
        .read('ir.actions.report', [reportId], ['id', 'report_name', 'model', 'report_type'])
        .then((rows) => rows[0] ?? null)
        .catch((e: unknown) => {
          if (e instanceof ConnectorError && e.code === 'host_not_found') return null;
          throw e;
        });
      this.reports.set(reportId, p);
      p.catch(() => this.reports.delete(reportId));
    }
    return p;
  }

  async getUserPrint(printId: string, invoiceId: string): Promise<Uint8Array> {
    const s = this.operator();
    const reportId = Number(printId.replace(/^user:/, ''));
    const moveId = Number(invoiceId);
    if (!Number.isSafeInteger(reportId) || !Number.isSafeInteger(moveId)) {
      throw new ConnectorError('print_unavailable', `No print "${printId}" for invoice "${invoiceId}"`);
    }
    const report = await this.report(s, reportId);
    if (!report || report.model !== 'account.move' || !str(report.report_name)) {
      throw new ConnectorError('print_unavailable', `Odoo has no invoice print ${printId}`);
    }
    const reportName = str(report.report_name)!;

    // Odoo stores the invoice PDF it generated with its invoice report: reuse it for that report only.
    const schema = await this.moveSchema(s);
    if (schema.move.has('invoice_pdf_report_id') && reportName.startsWith('account.report_invoice')) {
      const [move] = await s.read('account.move', [moveId], ['id', 'invoice_pdf_report_id']);
      const attId = m2oId(move?.invoice_pdf_report_id);
      if (attId !== null) {
        const [att] = await s.read('ir.attachment', [attId], ['id', 'datas', 'mimetype']);
        const bytes = typeof att?.datas === 'string' ? Buffer.from(att.datas, 'base64') : null;
        if (bytes && isPdf(bytes)) return new Uint8Array(bytes);
      }
    }

    const path = `/report/pdf/${encodeURIComponent(reportName)}/${moveId}`;
    const operator = this.connection.operator!;
    let res;
    try {
      res = await this.client.webGet(operator, path);
    } catch (e) {
      // An API key opens no web session (AccessDenied): the print comes with the integration credential.
      const integration = this.connection.integration;
      if (!(e instanceof ConnectorError && e.code === 'host_auth') || (integration.login === operator.login && integration.secret === operator.secret)) {
        throw printError(e, printId, invoiceId);
      }
      try {
        res = await this.client.webGet(integration, path);
      } catch (e2) {
        throw printError(e2, printId, invoiceId);
      }
    }
    if (res.status === 200 && isPdf(res.body)) return new Uint8Array(res.body);
    const login = res.status >= 300 && res.status < 400;
    const reason = login
      ? `Odoo sent the request to ${res.location ?? 'another page'} (the web session was refused)`
      : res.status === 200
        ? `Odoo answered ${res.contentType || 'something'} instead of a PDF`
        : `Odoo answered HTTP ${res.status}`;
    // A host that cannot produce the print right now (5xx, no PDF, a session it keeps refusing) may later.
    const retryable = res.status >= 500 || res.status === 200 || res.status === 429 || login;
    throw new ConnectorError('print_unavailable', `Print ${printId} of invoice ${invoiceId} is unavailable: ${reason}`, {
      retryable,
      detail: { reason, status: res.status },
    });
  }

  // -------------------------------------------------------------------------------------------------
  // Write-back

  /**
   * The sent flag in one `write`, the idempotence read in one `search_read`, and the notes of a page in
   * one `mail.message.create` (model, res_id, comment, subtype mail.mt_note, HTML body as given) —
   * falling back to one `message_post` per invoice when the host refuses the batch.
   */
  async writeBack(items: WriteBack[]): Promise<void> {
    if (items.length === 0) return;
    const s = this.operator();
    const idOf = (it: WriteBack): number => {
      const n = Number(it.invoiceId);
      if (!Number.isSafeInteger(n) || n <= 0) throw new ConnectorError('validation', `Not an Odoo invoice id: "${it.invoiceId}"`);
      return n;
    };
    const toMark = uniq(items.filter((i) => i.markSent).map(idOf));
    if (toMark.length > 0) await s.executeKw('account.move', 'write', [toMark, { is_move_sent: true }]);

    const withNotes = items.filter((i) => i.note.trim() !== '');
    if (withNotes.length === 0) return;
    // Idempotence: a note already on the invoice (same Message-ID, or the same text) is not posted again.
    const existing = await s.searchRead(
      'mail.message',
      [
        ['model', '=', 'account.move'],
        ['res_id', 'in', uniq(withNotes.map(idOf))],
        ['message_type', '=', 'comment'],
      ],
      ['id', 'res_id', 'body'],
      { order: 'id desc' },
    );
    const texts = existing.map((m) => ({ resId: Number(m.res_id), text: normalize(htmlToText(m.body) ?? '') }));
    const already = (item: WriteBack): boolean => {
      const id = idOf(item);
      const note = normalize(item.note);
      return texts.some((t) => t.resId === id && (t.text === note || (item.messageId !== null && t.text.includes(item.messageId))));
    };
    const seen = new Set<string>();
    const todo = withNotes.filter((item) => {
      const key = `${idOf(item)}\u0000${normalize(item.note)}`;
      if (seen.has(key) || already(item)) return false;
      seen.add(key);
      return true;
    });
    if (todo.length === 0) return;
    const body = (item: WriteBack): string => `<p>${escapeHtml(item.note.trim())}</p>`;

    const subtype = (await this.xmlids().catch(() => ({}) as Partial<Record<XmlidKey, number>>)).noteSubtype;
    if (subtype !== undefined && todo.length > 1) {
      try {
        // The author is the operator, as message_post would make it.
        const author = m2oId((await this.user(s)).partner_id);
        await s.executeKw('mail.message', 'create', [
          todo.map((item) => ({
            model: 'account.move',
            res_id: idOf(item),
            message_type: 'comment',
            subtype_id: subtype,
            body: body(item),
            ...(author !== null ? { author_id: author } : {}),
          })),
        ]);
        return;
      } catch (e) {
        // Refused (rights, a host that validates differently): nothing was created (one transaction).
        if (!(e instanceof ConnectorError) || e.code === 'host_unavailable') throw e;
      }
    }
    for (const item of todo) {
      await s.executeKw('account.move', 'message_post', [[idOf(item)]], {
        body: body(item),
        message_type: 'comment',
        subtype_xmlid: 'mail.mt_note',
        body_is_html: true,
        context: { no_new_invoice: true },
      });
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Registration in Odoo: run log, menu entry, rights

  /** One `ir.logging` record per run, as the integration user (name, level, counts in the message). */
  async recordRun(summary: RunSummary): Promise<void> {
    const c = summary.counts;
    const level = summary.status === 'failed' ? 'ERROR' : c.failed > 0 || c.uncertain > 0 || summary.status === 'interrupted' ? 'WARNING' : 'INFO';
    const message =
      `Invoice Courier run ${summary.runId} (${summary.trigger}) ${summary.status}: ` +
      `due ${c.due}, sent ${c.sent}, drafted ${c.drafted}, skipped ${c.skipped}, failed ${c.failed}, retry ${c.retry}, uncertain ${c.uncertain}; ` +
      `${summary.startedAt} - ${summary.finishedAt}` +
      (summary.error ? `; error: ${summary.error.slice(0, 500)}` : '');
    await this.integration().executeKw('ir.logging', 'create', [[{ name: LOG_NAME, type: 'server', level, message, path: LOG_NAME, func: 'run', line: '0' }]]);
  }

  /**
   * The menu entries under Invoicing that open the connector's pages (`ir.actions.act_url` +
   * `ir.ui.menu`, with the integration credential). Idempotent: entries already there (same URL) are
   * kept, missing ones created — so it also repairs a deleted entry. One read when nothing is missing.
   */
  async ensureExtension(links: ExtensionLinks): Promise<void> {
    const s = this.integration();
    const wanted = links.entries;
    const actions = await s.searchRead('ir.actions.act_url', [['url', 'in', wanted.map((w) => w.url)]], ['id', 'url']);
    const menus = actions.length
      ? await s.searchRead('ir.ui.menu', [['action', 'in', actions.map((a) => `ir.actions.act_url,${a.id}`)]], ['id', 'action'])
      : [];
    const missing = wanted.filter((w) => {
      const action = actions.find((a) => a.url === w.url);
      return !action || !menus.some((m) => m.action === `ir.actions.act_url,${action.id}`);
    });
    if (missing.length === 0) return;
    const root = await this.invoicingRoot(s);
    for (const w of missing) {
      let action = actions.find((a) => a.url === w.url)?.id;
      if (action === undefined) {
        const created = await s.executeKw<number | number[]>('ir.actions.act_url', 'create', [
          [{ name: `${EXTENSION_NAME}: ${w.name}`, url: w.url, target: 'new' }],
        ]);
        action = Array.isArray(created) ? created[0]! : created;
      }
      await s.executeKw('ir.ui.menu', 'create', [
        [{ name: `${EXTENSION_NAME}: ${w.name}`, parent_id: root, action: `ir.actions.act_url,${action}`, sequence: w.sequence }],
      ]);
    }
  }

  /** Removes the connector's menu entries and their URL actions (those whose URL starts with `urlPrefix`). */
  async removeExtension(urlPrefix: string): Promise<void> {
    const s = this.integration();
    const actions = await s.searchRead('ir.actions.act_url', [['url', '=like', `${urlPrefix}%`]], ['id', 'url']);
    if (actions.length === 0) return;
    const menus = await s.searchRead('ir.ui.menu', [['action', 'in', actions.map((a) => `ir.actions.act_url,${a.id}`)]], ['id']);
    if (menus.length) await s.executeKw('ir.ui.menu', 'unlink', [menus.map((m) => m.id)]);
    await s.executeKw('ir.actions.act_url', 'unlink', [actions.map((a) => a.id)]);
  }

  private async invoicingRoot(s: OdooSession): Promise<number> {
    const x = await this.xmlids().catch(() => ({}) as Partial<Record<XmlidKey, number>>);
    if (x.invoicingMenu !== undefined) return x.invoicingMenu;
    const [root] = await s.searchRead(
      'ir.ui.menu',
      [
        ['parent_id', '=', false],
        ['name', 'in', ['Invoicing', 'Fakturowanie', 'Księgowość', 'Accounting']],
      ],
      ['id', 'name'],
      { limit: 1, context: { lang: 'en_US' } },
    );
    if (!root) throw new ConnectorError('host_not_found', 'Odoo has no Invoicing menu to put the connector under');
    return root.id;
  }

  /**
   * Which of the given rights the integration user lacks: reading by a one-row `search_read` of the fields
   * the adapter needs; create/write/unlink by `check_access_rights(op, raise_exception=False)` (19+:
   * `has_access`). Models the host does not have are left out (no fetchmail, the other version's wizard).
   */
  async checkRights(rights: RightsCheck[]): Promise<{ model: string; access: string }[]> {
    const s = this.integration();
    const version = await this.client.version();
    const v17 = version.major > 0 && version.major < 18;
    const missing: { model: string; access: string }[] = [];
    await inBatches(
      rights.flatMap((r) =>
        r.access.map((access) => ({ model: v17 && r.model === 'account.move.send.wizard' ? 'account.move.send' : r.model, access, asked: r.model })),
      ),
      4,
      async ({ model, access, asked }) => {
        try {
          // Reading is probed by the read itself (what the adapter does; field-level rules included).
          const ok =
            access === 'read'
              ? Array.isArray(await s.searchRead(model, [], READ_PROBE[model] ?? ['id'], { limit: 1 }))
              : version.major >= 19
                ? await s.executeKw<boolean>(model, 'has_access', [access])
                : await s.executeKw<boolean>(model, 'check_access_rights', [access], { raise_exception: false });
          if (ok !== true) missing.push({ model: asked, access });
        } catch (e) {
          if (e instanceof ConnectorError && e.code === 'host_access') missing.push({ model: asked, access });
          else if (!(e instanceof ConnectorError && e.code === 'host_validation')) throw e; // unknown model: not on this host
        }
      },
    );
    return missing;
  }
}

function printError(e: unknown, printId: string, invoiceId: string): unknown {
  if (!(e instanceof ConnectorError)) return e;
  if (e.code === 'host_unavailable') return e; // retryable as is
  if (e.code === 'host_auth') {
    return new ConnectorError(
      'print_unavailable',
      `Print ${printId} of invoice ${invoiceId} is unavailable: Odoo opens no web session for this user (${e.message})`,
      {
        retryable: false,
        detail: { reason: 'web_login_refused', ...(e.detail ?? {}) },
      },
    );
  }
  return e;
}

/** Fields the read-rights probe reads where a model guards some of them (mail-server credentials are admin-only fields). */
const READ_PROBE: Record<string, string[]> = {
  'ir.mail_server': ['id', 'smtp_user', 'smtp_pass'],
  'fetchmail.server': ['id', 'user', 'password'],
};

const WHAT: Record<keyof PageFailures, string> = {
  rates: 'res.currency.rate',
  banks: 'res.partner.bank',
  corrected: 'account.move (corrected invoice)',
  ksef: 'ir.attachment (KSeF XML)',
};

// ---------------------------------------------------------------------------------------------------
// Helpers (exported for tests)

/** The `account.move.search_read` domain for a due-invoice query (without the keyset term). */
export function dueDomain(query: DueInvoiceQuery, schema: Pick<Schema, 'move'>, company: Pick<Company, 'id'>): unknown[] {
  const domain: unknown[] = [
    ['move_type', 'in', INVOICE_TYPES],
    ['state', 'in', query.documents === 'all' ? ['draft', 'posted'] : ['posted']],
    ['company_id', '=', company.id],
  ];
  if (query.excludeHostMarkedSent && schema.move.has('is_move_sent')) domain.push(['is_move_sent', '=', false]);
  const excluded = [...new Set((query.excludeIds ?? []).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
  if (excluded.length > 0) domain.push(['id', 'not in', excluded]);
  if (query.dateBasis === 'sale_date' && schema.move.has('delivery_date')) {
    domain.push('|', ['delivery_date', '>=', query.fromDate], '&', ['delivery_date', '=', false], ['invoice_date', '>=', query.fromDate]);
  } else {
    domain.push(['invoice_date', '>=', query.fromDate]);
  }
  return domain;
}

function moveFields(schema: Pick<Schema, 'move'>): string[] {
  return [...MOVE_FIELDS, ...MOVE_OPTIONAL.filter((f) => schema.move.has(f))];
}

/** Odoo's rule for `from_filter`: empty = any sender; else a comma list of addresses or domains. */
export function fromFilterAllows(fromFilter: string | null, email: string | null): boolean {
  if (!fromFilter) return true;
  const address = email ? extractAddress(email) : null;
  if (!address) return false;
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return fromFilter
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter(Boolean)
    .some((f) => (f.includes('@') ? f === address : f === domain));
}

function extractAddress(email: string): string | null {
  const m = /<([^>]+)>/.exec(email);
  const a = (m ? m[1]! : email).trim().toLowerCase();
  return a.includes('@') ? a : null;
}

/** Odoo `smtp_encryption` -> TLS mode ('ssl' is TLS from the first byte). */
export function smtpTls(v: unknown): TlsMode {
  if (v === 'ssl' || v === 'ssl_strict') return 'tls';
  if (v === 'starttls' || v === 'starttls_strict') return 'starttls';
  return 'none';
}

function toOperator(u: OdooRecord): Operator {
  return { id: String(u.id), login: str(u.login) ?? '', name: str(u.name) ?? '', email: str(u.email), lang: str(u.lang) };
}

function isPdf(bytes: Uint8Array): boolean {
  return bytes.length > 5 && Buffer.from(bytes.subarray(0, 5)).toString('latin1') === '%PDF-';
}

function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function uniqStrings(values: string[]): string[] {
  return [...new Set(values)];
}

function uniq(values: (number | null | undefined)[]): number[] {
  return [...new Set(values.filter((v): v is number => typeof v === 'number' && v > 0))];
}

function byId(records: OdooRecord[]): Map<number, OdooRecord> {
  return new Map(records.map((r) => [r.id, r]));
}

function groupBy(records: OdooRecord[], key: (r: OdooRecord) => number | null): Map<number, OdooRecord[]> {
  const out = new Map<number, OdooRecord[]>();
  for (const r of records) {
    const k = key(r);
    if (k === null) continue;
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** Newest first; on the same date the company's own rate before a shared one. */
function sortRates(rates: OdooRecord[], companyId: number): OdooRecord[] {
  return [...rates].sort((a, b) => {
    const da = isoDate(a.name) ?? '';
    const db = isoDate(b.name) ?? '';
    if (da !== db) return da < db ? 1 : -1;
    return (m2oId(b.company_id) === companyId ? 1 : 0) - (m2oId(a.company_id) === companyId ? 1 : 0);
  });
}

/** Runs `fn` over the items, `size` at a time; on a failure no new item starts, the running ones finish, then it throws. */
async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

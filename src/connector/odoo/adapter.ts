/**
 * The Odoo adapter behind the `HostErp` port (kind 'odoo', and 'sandbox', which speaks Odoo's JSON-RPC).
 *
 * Credentials: the integration credential only for what an ordinary user may not read (mail servers,
 * the list of users, `describe`); invoices, templates, prints and write-back run as the operator, so
 * Odoo's own access rules and chatter authorship apply.
 *
 * Reading invoices: one keyset-paged `account.move.search_read` per page, then a fixed number of
 * batched reads per page (lines, taxes, partners, invoice contacts, countries, currencies, rates, bank
 * accounts, corrected invoices, KSeF XML) — never one call per invoice. Optional fields are chosen
 * once per adapter from `fields_get`, so the same code runs against Odoo 17, 18 and the sandbox.
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
import type { DueInvoiceQuery, HostConnection, HostErp, HostInfo, InvoiceMatch, WriteBack } from '../port.ts';
import { OdooClient, type OdooRecord, type OdooSession } from './client.ts';
import type { CallDescription } from './errors.ts';
import { escapeHtml, htmlToText, idList, isoDate, m2oId, m2oName, mapInvoice, str, type PageData } from './mapping.ts';

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
}

const INVOICE_TYPES = ['out_invoice', 'out_refund'];
const INVOICE_TEMPLATE_XMLID = { module: 'account', name: 'email_template_edi_invoice' };

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
  'delivery_date',
  'sending_data',
  'send_and_print_values',
  'invoice_currency_rate',
  'invoice_pdf_report_id',
  'l10n_pl_edi_status',
  'l10n_pl_edi_number',
  'l10n_pl_edi_attachment_id',
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
const PARTNER_FIELDS = ['id', 'name', 'vat', 'email', 'street', 'street2', 'zip', 'city', 'country_id', 'lang', 'parent_id', 'commercial_partner_id', 'is_company', 'type'];

export class OdooAdapter implements HostErp {
  readonly kind: HostConnection['kind'];
  private readonly connection: HostConnection;
  private readonly client: OdooClient;
  private readonly options: OdooAdapterOptions;
  private schemaPromise: Promise<Schema> | null = null;
  private readonly companies = new Map<string, Promise<Company>>();
  private readonly webSessions = new Map<string, string>();
  private readonly wizardFieldSets = new Map<string, Promise<Set<string>>>();

  constructor(connection: HostConnection, options: OdooAdapterOptions = {}) {
    if (connection.kind !== 'odoo' && connection.kind !== 'sandbox') {
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

  private schema(s: OdooSession): Promise<Schema> {
    this.schemaPromise ??= (async () => {
      const kw = { attributes: ['type'] };
      const [move, partner, tax] = await Promise.all([
        s.executeKw<Record<string, { type?: string }>>('account.move', 'fields_get', [], kw),
        s.executeKw<Record<string, { type?: string }>>('res.partner', 'fields_get', [], kw),
        s.executeKw<Record<string, { type?: string }>>('account.tax', 'fields_get', [], kw),
      ]);
      return {
        move: new Set(Object.keys(move)),
        partner: new Set(Object.keys(partner)),
        tax: new Map(Object.entries(tax).map(([k, v]) => [k, String(v?.type ?? '')])),
      };
    })();
    this.schemaPromise.catch(() => (this.schemaPromise = null));
    return this.schemaPromise;
  }

  /** The company served: `connection.companyId`, else the session user's main company. */
  private company(s: OdooSession): Promise<Company> {
    let p = this.companies.get(s.login);
    if (!p) {
      p = (async () => {
        let id = this.connection.companyId === null ? null : Number(this.connection.companyId);
        if (id === null) {
          const [user] = await s.read('res.users', [await s.uid()], ['company_id']);
          id = m2oId(user?.company_id);
          if (id === null) throw new ConnectorError('host_not_found', `Odoo user "${s.login}" has no company`);
        }
        const [c] = await s.read('res.company', [id], ['id', 'name', 'partner_id', 'currency_id']);
        if (!c) throw new ConnectorError('host_not_found', `Odoo company ${id} does not exist`);
        return {
          id: c.id,
          name: str(c.name) ?? '',
          partnerId: m2oId(c.partner_id) ?? 0,
          currencyId: m2oId(c.currency_id),
          currency: m2oName(c.currency_id) ?? 'PLN',
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
    if (uid === null) {
      throw new ConnectorError('host_auth', `Operator "${cred.login}" cannot log in to Odoo (wrong login or password/API key)`, {
        field: 'operator',
        detail: { login: cred.login },
      });
    }
    const [u] = await this.operator().read('res.users', [uid], ['id', 'login', 'name', 'email', 'lang']);
    if (!u) throw new ConnectorError('host_not_found', `Odoo user ${uid} does not exist`);
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
          // No fetchmail module (KeyError: unknown model): accounts simply have no IMAP.
          if (e instanceof ConnectorError && e.code === 'host_validation' && /KeyError/.test(String(e.detail?.odooError))) return [];
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
      s.searchRead(
        'ir.model.data',
        [
          ['module', '=', INVOICE_TEMPLATE_XMLID.module],
          ['name', '=', INVOICE_TEMPLATE_XMLID.name],
          ['model', '=', 'mail.template'],
        ],
        ['res_id'],
        { limit: 1 },
      ),
    ]);
    const first = typeof xmlids[0]?.res_id === 'number' ? xmlids[0].res_id : null;
    const refs = templates.map((t) => ({ id: String(t.id), name: str(t.name) ?? `mail.template ${t.id}`, model: 'account.move', renderedByHost: true }));
    return [...refs.filter((r) => Number(r.id) === first), ...refs.filter((r) => Number(r.id) !== first)];
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
    if (!Number.isSafeInteger(query.pageSize) || query.pageSize < 1) {
      throw new ConnectorError('validation', `pageSize must be a positive integer, got ${query.pageSize}`, { field: 'pageSize' });
    }
    const s = this.operator();
    const [schema, company] = await Promise.all([this.schema(s), this.company(s)]);
    const domain = dueDomain(query, schema, company);
    const fields = moveFields(schema);
    let last = 0;
    for (;;) {
      const moves = await s.searchRead('account.move', [...domain, ['id', '>', last]], fields, { limit: query.pageSize, order: 'id' });
      if (moves.length === 0) return;
      yield await this.enrich(s, moves, schema, company);
      if (moves.length < query.pageSize) return;
      last = moves[moves.length - 1]!.id;
    }
  }

  async getInvoices(ids: string[]): Promise<Invoice[]> {
    const wanted = [...new Set(ids.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    if (wanted.length === 0) return [];
    const s = this.operator();
    const [schema, company] = await Promise.all([this.schema(s), this.company(s)]);
    const fields = moveFields(schema);
    const byId = new Map<string, Invoice>();
    for (let i = 0; i < wanted.length; i += 200) {
      const chunk = wanted.slice(i, i + 200);
      const moves = await s.searchRead(
        'account.move',
        [
          ['id', 'in', chunk],
          ['move_type', 'in', INVOICE_TYPES],
          ['company_id', '=', company.id],
        ],
        fields,
        { order: 'id' },
      );
      if (moves.length > 0) for (const inv of await this.enrich(s, moves, schema, company)) byId.set(inv.id, inv);
    }
    return wanted.map((id) => byId.get(String(id))).filter((x): x is Invoice => x !== undefined);
  }

  async searchInvoices(text: string, limit: number): Promise<InvoiceMatch[]> {
    const s = this.operator();
    const company = await this.company(s);
    const moves = await s.searchRead(
      'account.move',
      [
        ['move_type', 'in', INVOICE_TYPES],
        ['company_id', '=', company.id],
        ['name', 'ilike', text],
      ],
      ['id', 'name', 'partner_id', 'invoice_date'],
      { order: 'invoice_date desc, id desc', limit: Math.max(1, Math.min(50, Math.floor(limit))) },
    );
    return moves.map((m) => ({ id: String(m.id), number: str(m.name), customer: m2oName(m.partner_id), date: isoDate(m.invoice_date) }));
  }

  /** A page of moves -> invoices, with a fixed number of batched reads (at most 10) whatever the page size. */
  private async enrich(s: OdooSession, moves: OdooRecord[], schema: Schema, company: Company): Promise<Invoice[]> {
    const ids = moves.map((m) => m.id);
    const partnerIds = uniq(moves.flatMap((m) => [m2oId(m.partner_id), m2oId(m.commercial_partner_id)]));
    const currencyIds = uniq(moves.map((m) => m2oId(m.currency_id)));
    const foreignIds = currencyIds.filter((id) => id !== company.currencyId);
    const bankIds = uniq(moves.map((m) => m2oId(m.partner_bank_id)));
    const correctedIds = uniq(moves.map((m) => m2oId(m.reversed_entry_id)));
    const ksefIds = uniq(moves.map((m) => m2oId(m.l10n_pl_edi_attachment_id)));
    const partnerFields = [...PARTNER_FIELDS, ...(schema.partner.has('invoice_sending_method') ? ['invoice_sending_method'] : [])];

    // Round 1: everything keyed by the moves themselves.
    const [lines, partners, contacts, currencies, rates, banks, corrected, ksef] = await Promise.all([
      s.searchRead(
        'account.move.line',
        [
          ['move_id', 'in', ids],
          ['display_type', 'in', ['product', 'line_section', 'line_note']],
        ],
        LINE_FIELDS,
        { order: 'move_id, sequence, id' },
      ),
      s.read('res.partner', uniq([...partnerIds, company.partnerId]), partnerFields),
      partnerIds.length
        ? s.searchRead(
            'res.partner',
            [
              ['parent_id', 'in', partnerIds],
              ['type', '=', 'invoice'],
            ],
            ['id', 'name', 'email', 'parent_id'],
            { order: 'id' },
          )
        : Promise.resolve([]),
      s.read('res.currency', uniq([...currencyIds, company.currencyId]), ['id', 'name', 'decimal_places']),
      foreignIds.length ? this.readRates(s, moves, foreignIds, company) : Promise.resolve([]),
      s.read('res.partner.bank', bankIds, ['id', 'acc_number', 'bank_id']),
      s.read('account.move', correctedIds, ['id', 'name', 'invoice_date']),
      s.read('ir.attachment', ksefIds, ['id', 'datas']),
    ]);

    // Round 2: what the first round pointed at.
    const taxIds = uniq(lines.flatMap((l) => idList(l.tax_ids)));
    const countryIds = uniq(partners.map((p) => m2oId(p.country_id)));
    const taxFields = ['id', 'name', 'amount', 'amount_type'];
    if (schema.tax.has('invoice_label')) taxFields.push('invoice_label');
    else if (schema.tax.get('description') === 'char') taxFields.push('description');
    const [taxes, countries] = await Promise.all([s.read('account.tax', taxIds, taxFields), s.read('res.country', countryIds, ['id', 'name', 'code'])]);

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
      ksefXmlSha: new Map(
        ksef
          .filter((a) => typeof a.datas === 'string' && a.datas !== '')
          .map((a) => [a.id, createHash('sha256').update(Buffer.from(a.datas as string, 'base64')).digest('base64url')]),
      ),
      company: { id: company.id, partnerId: company.partnerId, name: company.name, currencyId: company.currencyId, currency: company.currency },
      has: { partnerSendingMethod: schema.partner.has('invoice_sending_method'), taxInvoiceLabel: taxFields.length > 4 },
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
    const version = await this.client.version();
    const v17 = version.major > 0 && version.major < 18;
    const model = v17 ? 'account.move.send' : 'account.move.send.wizard';
    const wizardFields = await this.wizardFields(s, model);
    const langField = v17 ? 'mail_lang' : 'lang';
    const hasLang = wizardFields.has(langField);
    const moves = await s.read('account.move', ids, ['id', 'partner_id']);
    // The language the host renders in is the customer's; read it only when the wizard does not say.
    const partners = hasLang ? new Map<number, OdooRecord>() : byId(await s.read('res.partner', uniq(moves.map((m) => m2oId(m.partner_id))), ['id', 'lang']));
    const langOf = new Map(moves.map((m) => [m.id, str(partners.get(m2oId(m.partner_id) ?? 0)?.lang)]));
    const readFields = v17 ? ['mail_subject', 'mail_body'] : ['subject', 'body'];
    if (hasLang) readFields.push(langField);

    const renderOne = async (id: number): Promise<void> => {
      const ctx = { active_model: 'account.move', active_ids: [id], active_id: id };
      const vals = v17 ? { move_ids: [[6, 0, [id]]], mail_template_id: tid } : { move_id: id, template_id: tid };
      const created = await s.executeKw<number | number[]>(model, 'create', [[vals]], { context: ctx });
      const wid = Array.isArray(created) ? created[0]! : created;
      try {
        const [w] = await s.read(model, [wid], readFields);
        out.set(String(id), {
          subject: str(w?.[readFields[0]!]) ?? '',
          html: str(w?.[readFields[1]!]) ?? '',
          lang: (hasLang ? str(w?.[langField]) : null) ?? langOf.get(id) ?? null,
        });
      } finally {
        await s.executeKw(model, 'unlink', [[wid]]).catch(() => undefined);
      }
    };
    await inBatches(
      moves.map((m) => m.id),
      this.options.renderConcurrency ?? 4,
      renderOne,
    );
    return out;
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

  /** Template id (or xmlid "module.name") -> id of a `mail.template` on `account.move`; host_not_found otherwise. */
  private async resolveTemplate(s: OdooSession, templateId: string): Promise<number> {
    let id = Number(templateId);
    if (!Number.isSafeInteger(id) || id <= 0) {
      const m = /^([\w.-]+?)\.([\w-]+)$/.exec(templateId);
      if (!m) throw new ConnectorError('host_not_found', `E-mail template "${templateId}" does not exist`);
      const [x] = await s.searchRead(
        'ir.model.data',
        [
          ['module', '=', m[1]],
          ['name', '=', m[2]],
          ['model', '=', 'mail.template'],
        ],
        ['res_id'],
        { limit: 1 },
      );
      if (!x || typeof x.res_id !== 'number') throw new ConnectorError('host_not_found', `E-mail template "${templateId}" does not exist`);
      id = x.res_id;
    }
    const found = await s.read('mail.template', [id], ['id', 'name', 'model']).catch((e: unknown) => {
      if (e instanceof ConnectorError && e.code === 'host_not_found') return [];
      throw e;
    });
    const t = found[0];
    if (!t) throw new ConnectorError('host_not_found', `E-mail template ${templateId} does not exist in Odoo`, { field: 'emailTemplate' });
    if (t.model !== 'account.move') {
      throw new ConnectorError(
        'host_not_found',
        `E-mail template "${str(t.name) ?? id}" is for ${String(t.model)}, not for invoices (account.move)`,
        { field: 'emailTemplate' },
      );
    }
    return id;
  }

  async getUserPrint(printId: string, invoiceId: string): Promise<Uint8Array> {
    const s = this.operator();
    const reportId = Number(printId.replace(/^user:/, ''));
    const moveId = Number(invoiceId);
    if (!Number.isSafeInteger(reportId) || !Number.isSafeInteger(moveId)) {
      throw new ConnectorError('print_unavailable', `No print "${printId}" for invoice "${invoiceId}"`);
    }
    const [report] = await s.read('ir.actions.report', [reportId], ['id', 'report_name', 'model', 'report_type']).catch((e: unknown) => {
      if (e instanceof ConnectorError && e.code === 'host_not_found') return [];
      throw e;
    });
    if (!report || report.model !== 'account.move' || !str(report.report_name)) {
      throw new ConnectorError('print_unavailable', `Odoo has no invoice print ${printId}`);
    }
    const reportName = str(report.report_name)!;

    // Odoo stores the invoice PDF it generated with its invoice report: reuse it for that report only.
    const schema = await this.schema(s);
    if (schema.move.has('invoice_pdf_report_id') && reportName.startsWith('account.report_invoice')) {
      const [move] = await s.read('account.move', [moveId], ['id', 'invoice_pdf_report_id']);
      const attId = m2oId(move?.invoice_pdf_report_id);
      if (attId !== null) {
        const [att] = await s.read('ir.attachment', [attId], ['id', 'datas', 'mimetype']);
        const bytes = typeof att?.datas === 'string' ? Buffer.from(att.datas, 'base64') : null;
        if (bytes && isPdf(bytes)) return new Uint8Array(bytes);
      }
    }

    const cred = this.connection.operator!;
    const path = `/report/pdf/${encodeURIComponent(reportName)}/${moveId}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let sid = this.webSessions.get(cred.login);
      if (!sid) {
        sid = await this.client.webLogin(cred);
        this.webSessions.set(cred.login, sid);
      }
      const res = await this.client.getWithSession(path, sid);
      if (res.status === 200 && isPdf(res.body)) return new Uint8Array(res.body);
      if (res.status >= 300 && res.status < 400 && attempt === 0) {
        this.webSessions.delete(cred.login); // session expired: log in again once
        continue;
      }
      const reason =
        res.status >= 300 && res.status < 400
          ? 'Odoo refused the web session'
          : res.status === 200
            ? `Odoo answered ${res.contentType || 'something'} instead of a PDF`
            : `Odoo answered HTTP ${res.status}`;
      throw new ConnectorError('print_unavailable', `Print ${printId} of invoice ${invoiceId} is unavailable: ${reason}`, {
        retryable: res.status >= 500,
        detail: { reason, status: res.status },
      });
    }
    throw new ConnectorError('print_unavailable', `Print ${printId} of invoice ${invoiceId} is unavailable`);
  }

  // -------------------------------------------------------------------------------------------------
  // Write-back

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
    // Idempotence: a note already on the invoice (same text) is not posted again.
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
    const posted = new Set(existing.map((m) => `${m.res_id}\u0000${normalize(htmlToText(m.body) ?? '')}`));
    for (const item of withNotes) {
      const id = idOf(item);
      const key = `${id}\u0000${normalize(item.note)}`;
      if (posted.has(key)) continue;
      await s.executeKw('account.move', 'message_post', [[id]], {
        body: `<p>${escapeHtml(item.note.trim())}</p>`,
        message_type: 'comment',
        subtype_xmlid: 'mail.mt_note',
        body_is_html: true,
        context: { no_new_invoice: true },
      });
      posted.add(key);
    }
  }
}

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
  if (query.dateBasis === 'sale_date' && schema.move.has('delivery_date')) {
    domain.push('|', ['delivery_date', '>=', query.fromDate], '&', ['delivery_date', '=', false], ['invoice_date', '>=', query.fromDate]);
  } else {
    domain.push(['invoice_date', '>=', query.fromDate]);
  }
  return domain;
}

function moveFields(schema: Schema): string[] {
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

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
}

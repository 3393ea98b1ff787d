/**
 * The sandbox host's models: the subset of Odoo 18's data model the connector reads and writes
 * (docs/odoo-contract.md), with Odoo's field names, types and selection values.
 */
import { afterMoveCreate, afterMoveWrite, linesChanged, PRODUCT_LINE_TYPES, taxTotals } from './accounting.ts';
import { OdooError, userError } from './errors.ts';
import { MAGIC_FIELDS } from './orm.ts';
import type { Env, FieldDef, FieldType, ModelDef, Orm, Raw } from './orm.ts';
import { G, MODULE_FIELDS, makeProfile } from './profile.ts';
import type { Profile } from './profile.ts';
import { renderTemplate } from './templates.ts';

const f = (type: FieldType, string: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type, string, ...extra });
const char = (s: string, e: Partial<FieldDef> = {}): FieldDef => f('char', s, e);
const bool = (s: string, e: Partial<FieldDef> = {}): FieldDef => f('boolean', s, e);
const m2o = (relation: string, s: string, e: Partial<FieldDef> = {}): FieldDef => f('many2one', s, { relation, ...e });
const o2m = (relation: string, inverse: string, s: string, e: Partial<FieldDef> = {}): FieldDef => f('one2many', s, { relation, inverse, ...e });
const m2m = (relation: string, s: string, e: Partial<FieldDef> = {}): FieldDef => f('many2many', s, { relation, ...e });
const sel = (selection: [string, string][], s: string, e: Partial<FieldDef> = {}): FieldDef => f('selection', s, { selection, ...e });
const money = (s: string, currencyField = 'currency_id'): FieldDef => f('monetary', s, { currencyField, readonly: true });
const active = (): FieldDef => bool('Active', { default: true });

export const GROUP_SYSTEM = 'base.group_system';
export const LANGS: [string, string][] = [
  ['en_US', 'English (US)'],
  ['pl_PL', 'Polish / Język polski'],
];

/** res_id of an xmlid ("module.name"), or null. */
export function xmlidToResId(orm: Orm, xmlid: string): number | null {
  const [module, name] = xmlid.split('.');
  for (const r of orm.table('ir.model.data').values()) {
    if (r.module === module && r.name === name) return r.res_id as number;
  }
  return null;
}

/** Group xmlids of a user. */
export function userGroups(orm: Orm, uid: number): Set<string> {
  const user = orm.get('res.users', uid);
  const out = new Set<string>();
  if (!user) return out;
  const ids = new Set((user.groups_id as number[] | undefined) ?? []);
  for (const r of orm.table('ir.model.data').values()) {
    if (r.model === 'res.groups' && ids.has(r.res_id as number)) out.add(`${r.module}.${r.name}`);
  }
  return out;
}

function partnerDisplayName(orm: Orm, rec: Raw): string {
  const name = typeof rec.name === 'string' ? rec.name : '';
  const parent = typeof rec.parent_id === 'number' ? orm.get('res.partner', rec.parent_id) : undefined;
  if (parent && !rec.is_company) {
    const label =
      name || ({ invoice: 'Invoice Address', delivery: 'Delivery Address', other: 'Other Address' } as Record<string, string>)[rec.type as string] || '';
    return label ? `${partnerDisplayName(orm, parent)}, ${label}` : partnerDisplayName(orm, parent);
  }
  return name;
}

function commercialPartner(orm: Orm, rec: Raw): number {
  let cur: Raw = rec;
  const seen = new Set<number>();
  while (!cur.is_company && typeof cur.parent_id === 'number' && !seen.has(cur.id)) {
    seen.add(cur.id);
    const parent = orm.get('res.partner', cur.parent_id);
    if (!parent) break;
    cur = parent;
  }
  return cur.id;
}

function checkPartnerRecursion(orm: Orm, ids: number[], parentId: unknown): void {
  if (typeof parentId !== 'number') return;
  for (const id of ids) {
    const seen = new Set<number>();
    let cur = orm.get('res.partner', parentId);
    while (cur && !seen.has(cur.id)) {
      if (cur.id === id) throw new OdooError('odoo.exceptions.ValidationError', 'You cannot create recursive Partner hierarchies.');
      seen.add(cur.id);
      cur = typeof cur.parent_id === 'number' ? orm.get('res.partner', cur.parent_id) : undefined;
    }
  }
}

function syncCommercial(orm: Orm, _env: Env, ids: number[]): void {
  orm.withoutHooks(() => {
    for (const p of orm.table('res.partner').values()) p.commercial_partner_id = commercialPartner(orm, p);
  });
  void ids;
}

function moveDisplayName(orm: Orm, rec: Raw): string {
  if (rec.name && rec.name !== '/') return rec.name as string;
  const kind = rec.move_type === 'out_refund' ? 'Draft Credit Note' : rec.move_type === 'out_invoice' ? 'Draft Invoice' : 'Draft Entry';
  return `${kind} (* ${rec.id})`;
}

function wizardTemplate(orm: Orm, move: Raw, templateId: unknown): Raw | undefined {
  const id = typeof templateId === 'number' ? templateId : null;
  const template = id !== null ? orm.get('mail.template', id) : undefined;
  if (id !== null && !template) return undefined;
  if (template && template.model !== 'account.move') throw userError(`The template "${String(template.name)}" is not a template for invoices.`);
  return template;
}

function defaultTemplateId(orm: Orm, move: Raw): number | false {
  return xmlidToResId(orm, move.move_type === 'out_refund' ? 'account.email_template_edi_credit_note' : 'account.email_template_edi_invoice') ?? false;
}

/** Odoo 18's account.move.send.wizard: one move, the template picked automatically (credit-note template for refunds). */
function renderWizard18(orm: Orm, env: Env, ids: number[]): void {
  for (const id of ids) {
    const wiz = orm.get('account.move.send.wizard', id);
    if (!wiz) continue;
    const move = typeof wiz.move_id === 'number' ? orm.get('account.move', wiz.move_id) : undefined;
    if (!move) continue;
    if (!wiz.mail_template_id) wiz.mail_template_id = defaultTemplateId(orm, move);
    const template = wizardTemplate(orm, move, wiz.mail_template_id);
    const r = template ? renderTemplate(orm, env, template, 'account.move', move) : null;
    const partner = typeof move.partner_id === 'number' ? orm.get('res.partner', move.partner_id) : undefined;
    orm.withoutHooks(() => {
      wiz.mail_subject = r?.subject ?? false;
      wiz.mail_body = r?.body ?? false;
      wiz.mail_lang = r?.lang ?? (partner?.lang || 'en_US');
      wiz.company_id = move.company_id;
      wiz.mail_partner_ids = typeof move.partner_id === 'number' ? [move.partner_id] : [];
      wiz.sending_methods = ['email'];
      if (!wiz.pdf_report_id) wiz.pdf_report_id = xmlidToResId(orm, 'account.account_invoices') ?? false;
    });
  }
}

/** Odoo 17's account.move.send: move_ids; subject/body rendered only when a template is given. */
function renderWizard17(orm: Orm, env: Env, ids: number[]): void {
  for (const id of ids) {
    const wiz = orm.get('account.move.send', id);
    if (!wiz) continue;
    const moveIds = (wiz.move_ids as number[] | undefined) ?? [];
    const move = typeof moveIds[0] === 'number' ? orm.get('account.move', moveIds[0]) : undefined;
    if (!move) throw userError('You can only send invoices.');
    const template = wizardTemplate(orm, move, wiz.mail_template_id);
    const r = template && moveIds.length === 1 ? renderTemplate(orm, env, template, 'account.move', move) : null;
    const partner = typeof move.partner_id === 'number' ? orm.get('res.partner', move.partner_id) : undefined;
    const file = `${String(move.name && move.name !== '/' ? move.name : `draft_${move.id}`).replaceAll('/', '_')}.pdf`;
    orm.withoutHooks(() => {
      wiz.mode = moveIds.length === 1 ? 'invoice_single' : 'invoice_multi';
      wiz.mail_subject = r?.subject ?? false;
      wiz.mail_body = r?.body ?? false;
      wiz.mail_lang = r?.lang ?? (partner?.lang || 'en_US');
      wiz.company_id = move.company_id;
      wiz.mail_partner_ids = r && typeof move.partner_id === 'number' ? [move.partner_id] : [];
      wiz.enable_send_mail = true;
      wiz.display_mail_composer = moveIds.length === 1;
      wiz.mail_attachments_widget = [{ id: `placeholder_${file}`, name: file, mimetype: 'application/pdf', placeholder: true }];
    });
  }
}

function requireMove(field: string) {
  return (_orm: Orm, _env: Env, vals: Record<string, unknown>): void => {
    const v = vals[field];
    if (v === undefined || v === false || v === null || (Array.isArray(v) && v.length === 0)) {
      throw new OdooError(
        'odoo.exceptions.ValidationError',
        `The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Account Move Send Wizard (account.move.send.wizard)\nField: Move (${field})`,
      );
    }
  };
}

function wizardModels(profile: Profile): ModelDef[] {
  const invoicing = { read: [G.invoice], write: [G.invoice], create: [G.invoice], unlink: [G.invoice] };
  if (profile.major === 17) {
    return [
      {
        name: 'account.move.send',
        description: 'Account Move Send',
        access: invoicing,
        beforeCreate: requireMove('move_ids'),
        afterCreate: renderWizard17,
        afterWrite: (orm, env, ids, vals) => {
          if ('mail_template_id' in vals || 'move_ids' in vals) renderWizard17(orm, env, ids);
        },
        fields: {
          move_ids: m2m('account.move', 'Move'),
          company_id: m2o('res.company', 'Company', { readonly: true }),
          mode: sel(
            [
              ['invoice_single', 'Invoice Single'],
              ['invoice_multi', 'Invoice Multi'],
              ['done', 'Done'],
            ],
            'Mode',
          ),
          mail_template_id: m2o('mail.template', 'Email template'),
          mail_lang: char('Lang', { readonly: true }),
          mail_subject: char('Subject'),
          mail_body: f('html', 'Contents'),
          mail_partner_ids: m2m('res.partner', 'Recipients'),
          checkbox_send_mail: bool('Email', { default: true }),
          checkbox_download: bool('Download', { default: true }),
          enable_send_mail: bool('Enable Send Mail', { readonly: true }),
          send_mail_readonly: bool('Send Mail Readonly', { readonly: true }),
          display_mail_composer: bool('Display Mail Composer', { readonly: true }),
          mail_attachments_widget: f('json', 'Mail Attachments Widget'),
        },
      },
    ];
  }
  return [
    {
      name: 'account.move.send.wizard',
      description: 'Account Move Send Wizard',
      access: invoicing,
      singletonCreate: true,
      beforeCreate: requireMove('move_id'),
      afterCreate: renderWizard18,
      afterWrite: (orm, env, ids, vals) => {
        if ('mail_template_id' in vals || 'move_id' in vals) renderWizard18(orm, env, ids);
      },
      fields: {
        move_id: m2o('account.move', 'Move', { required: true }),
        company_id: m2o('res.company', 'Company', { readonly: true }),
        mail_template_id: m2o('mail.template', 'Email template'),
        mail_lang: char('Lang', { readonly: true }),
        mail_subject: char('Subject'),
        mail_body: f('html', 'Contents'),
        mail_partner_ids: m2m('res.partner', 'Recipients'),
        sending_methods: f('json', 'Sending Methods'),
        pdf_report_id: m2o('ir.actions.report', 'Invoice report'),
      },
    },
    // 18 keeps 17's model name as an abstract mixin: fields_get {} and no group may create it.
    { name: 'account.move.send', description: 'Account Move Send', abstract: true, access: { read: [], write: [], create: [], unlink: [] }, fields: {} },
  ];
}

/** ir.model.fields with state 'manual' adds a real field to its model (custom x_ fields). */
export function applyManualField(orm: Orm, rec: Raw): void {
  if (rec.state !== 'manual' || typeof rec.model !== 'string' || typeof rec.name !== 'string') return;
  const model = orm.models.get(rec.model);
  if (!model || model.fields[rec.name]) return;
  const type = rec.ttype as FieldType;
  model.fields[rec.name] = {
    type,
    string: (rec.field_description as string) || rec.name,
    manual: true,
    ...(typeof rec.relation === 'string' && rec.relation ? { relation: rec.relation } : {}),
    ...(type === 'selection' ? { selection: [] } : {}),
  };
  for (const r of orm.table(rec.model).values()) {
    if (!(rec.name in r)) r[rec.name] = type === 'boolean' ? false : type === 'integer' || type === 'float' ? 0 : type === 'many2many' ? [] : false;
  }
}

export function buildModels(profile: Profile = makeProfile()): ModelDef[] {
  return applyProfile([...baseModels(profile), ...wizardModels(profile)], profile);
}

const ACCOUNTING = {
  read: [G.accountManager, G.invoice, G.accountReadonly, G.portal],
  write: [G.accountManager, G.invoice],
  create: [G.accountManager, G.invoice],
  unlink: [G.accountManager, G.invoice],
};
const ONLY = (groups: string[]) => ({ read: groups, write: groups, create: groups, unlink: groups });
const WRITE_ONLY = (groups: string[]) => ({ write: groups, create: groups, unlink: groups });

function baseModels(profile: Profile): ModelDef[] {
  return [
    { name: 'res.country', description: 'Country', order: 'name', fields: { name: char('Country Name'), code: char('Country Code') } },
    {
      name: 'res.currency',
      description: 'Currency',
      order: 'active desc, name',
      fields: {
        name: char('Currency'),
        full_name: char('Name'),
        symbol: char('Symbol'),
        decimal_places: f('integer', 'Decimal Places'),
        rounding: f('float', 'Rounding Factor'),
        position: sel(
          [
            ['after', 'After Amount'],
            ['before', 'Before Amount'],
          ],
          'Symbol Position',
        ),
        active: active(),
        rate_ids: o2m('res.currency.rate', 'currency_id', 'Rates'),
      },
    },
    {
      name: 'res.currency.rate',
      description: 'Currency Rate',
      order: 'name desc',
      displayName: (_o, r) => String(r.name),
      fields: {
        name: f('date', 'Date'),
        currency_id: m2o('res.currency', 'Currency'),
        company_id: m2o('res.company', 'Company'),
        rate: f('float', 'Technical Rate'),
        company_rate: f('float', 'Unit per PLN'),
        inverse_company_rate: f('float', 'PLN per Unit'),
      },
    },
    {
      name: 'res.groups',
      description: 'Access Groups',
      fields: { name: char('Name'), full_name: char('Group Name') },
      displayName: (_o, r) => String(r.full_name || r.name),
    },
    {
      name: 'res.company',
      description: 'Companies',
      order: 'sequence, name',
      fields: {
        name: char('Company Name'),
        vat: char('Tax ID'),
        company_registry: char('Company ID'),
        partner_id: m2o('res.partner', 'Partner'),
        currency_id: m2o('res.currency', 'Currency'),
        street: char('Street'),
        street2: char('Street2'),
        zip: char('Zip'),
        city: char('City'),
        country_id: m2o('res.country', 'Country'),
        email: char('Email'),
        phone: char('Phone'),
        website: char('Website'),
        sequence: f('integer', 'Sequence', { default: 10 }),
        active: active(),
      },
    },
    {
      name: 'res.partner',
      description: 'Contact',
      order: 'name, id',
      mailThread: true,
      displayName: (orm, r) => partnerDisplayName(orm, r),
      afterCreate: syncCommercial,
      beforeWrite: (orm, _env, ids, vals) => checkPartnerRecursion(orm, ids, vals.parent_id),
      afterWrite: (orm, env, ids, vals) => {
        if ('parent_id' in vals || 'is_company' in vals) syncCommercial(orm, env, ids);
      },
      fields: {
        name: char('Name'),
        is_company: bool('Is a Company'),
        vat: char('Tax ID'),
        company_registry: char('Company ID'),
        email: char('Email'),
        phone: char('Phone'),
        mobile: char('Mobile'),
        website: char('Website Link'),
        street: char('Street'),
        street2: char('Street2'),
        zip: char('Zip'),
        city: char('City'),
        country_id: m2o('res.country', 'Country'),
        lang: sel(LANGS, 'Language'),
        tz: char('Timezone'),
        function: char('Job Position'),
        ref: char('Reference'),
        parent_id: m2o('res.partner', 'Related Company'),
        type: sel(
          [
            ['contact', 'Contact'],
            ['invoice', 'Invoice Address'],
            ['delivery', 'Delivery Address'],
            ['other', 'Other Address'],
          ],
          'Address Type',
          { default: 'contact' },
        ),
        child_ids: o2m('res.partner', 'parent_id', 'Contact'),
        commercial_partner_id: m2o('res.partner', 'Commercial Entity', { readonly: true }),
        company_id: m2o('res.company', 'Company'),
        active: active(),
        customer_rank: f('integer', 'Customer Rank'),
        supplier_rank: f('integer', 'Supplier Rank'),
        bank_ids: o2m('res.partner.bank', 'partner_id', 'Banks'),
        invoice_sending_method: sel(
          [
            ['manual', 'Download'],
            ['email', 'by Email'],
          ],
          'Invoice sending',
        ),
        comment: f('html', 'Notes'),
      },
    },
    {
      name: 'res.users',
      description: 'User',
      order: 'name, login',
      access: WRITE_ONLY([G.system]),
      fields: {
        login: char('Login', { required: true }),
        name: char('Name'),
        email: char('Email'),
        partner_id: m2o('res.partner', 'Related Partner'),
        company_id: m2o('res.company', 'Company'),
        company_ids: m2m('res.company', 'Companies'),
        lang: sel(LANGS, 'Language'),
        tz: char('Timezone'),
        share: bool('Share User'),
        active: active(),
        groups_id: m2m('res.groups', 'Groups'),
      },
    },
    { name: 'res.bank', description: 'Bank', fields: { name: char('Name'), bic: char('Bank Identifier Code'), active: active() } },
    {
      name: 'res.partner.bank',
      description: 'Bank Accounts',
      order: 'sequence, id',
      displayName: (_o, r) => String(r.acc_number),
      fields: {
        acc_number: char('Account Number'),
        sanitized_acc_number: char('Sanitized Account Number'),
        bank_id: m2o('res.bank', 'Bank'),
        partner_id: m2o('res.partner', 'Account Holder'),
        acc_holder_name: char('Account Holder Name'),
        currency_id: m2o('res.currency', 'Currency'),
        sequence: f('integer', 'Sequence', { default: 10 }),
        active: active(),
      },
    },
    { name: 'uom.uom', description: 'Product Unit of Measure', fields: { name: char('Unit of Measure', { translate: false }), active: active() } },
    {
      name: 'product.product',
      description: 'Product Variant',
      order: 'default_code, name, id',
      displayName: (_o, r) => (r.default_code ? `[${String(r.default_code)}] ${String(r.name)}` : String(r.name)),
      fields: {
        name: char('Name'),
        default_code: char('Internal Reference'),
        list_price: f('float', 'Sales Price'),
        uom_id: m2o('uom.uom', 'Unit'),
        taxes_id: m2m('account.tax', 'Sales Taxes'),
        type: sel(
          [
            ['consu', 'Goods'],
            ['service', 'Service'],
            ['combo', 'Combo'],
          ],
          'Product Type',
          { default: 'consu' },
        ),
        active: active(),
      },
    },
    { name: 'account.tax.group', description: 'Tax Group', fields: { name: char('Name') } },
    {
      name: 'account.tax',
      description: 'Tax',
      order: 'sequence, id',
      fields: {
        name: char('Tax Name'),
        amount: f('float', 'Amount'),
        amount_type: sel(
          [
            ['group', 'Group of Taxes'],
            ['fixed', 'Fixed'],
            ['percent', 'Percentage'],
            ['division', 'Percentage Tax Included'],
          ],
          'Tax Computation',
          { default: 'percent' },
        ),
        type_tax_use: sel(
          [
            ['sale', 'Sales'],
            ['purchase', 'Purchases'],
            ['none', 'None'],
          ],
          'Tax Type',
          { default: 'sale' },
        ),
        tax_group_id: m2o('account.tax.group', 'Tax Group'),
        invoice_label: char('Label on Invoices'),
        description: f('html', 'Description'),
        price_include: bool('Included in Price'),
        sequence: f('integer', 'Sequence', { default: 1 }),
        company_id: m2o('res.company', 'Company'),
        active: active(),
      },
    },
    {
      name: 'account.payment.term',
      description: 'Payment Terms',
      fields: { name: char('Payment Terms'), note: f('html', 'Description on the Invoice'), active: active() },
    },
    { name: 'account.fiscal.position', description: 'Fiscal Position', fields: { name: char('Fiscal Position'), note: f('html', 'Notes'), active: active() } },
    {
      name: 'account.journal',
      description: 'Journal',
      fields: {
        name: char('Journal Name'),
        code: char('Short Code'),
        type: sel(
          [
            ['sale', 'Sales'],
            ['purchase', 'Purchase'],
            ['cash', 'Cash'],
            ['bank', 'Bank'],
            ['general', 'Miscellaneous'],
          ],
          'Type',
        ),
        company_id: m2o('res.company', 'Company'),
        active: active(),
      },
    },
    {
      name: 'account.move',
      description: 'Journal Entry',
      order: 'date desc, name desc, id desc',
      mailThread: true,
      access: ACCOUNTING,
      displayName: (orm, r) => moveDisplayName(orm, r),
      afterCreate: afterMoveCreate,
      afterWrite: afterMoveWrite,
      fields: {
        name: char('Number', { default: '/' }),
        move_type: sel(
          [
            ['entry', 'Journal Entry'],
            ['out_invoice', 'Customer Invoice'],
            ['out_refund', 'Customer Credit Note'],
            ['in_invoice', 'Vendor Bill'],
            ['in_refund', 'Vendor Credit Note'],
            ['out_receipt', 'Sales Receipt'],
            ['in_receipt', 'Purchase Receipt'],
          ],
          'Type',
          { default: 'entry', required: true },
        ),
        state: sel(
          [
            ['draft', 'Draft'],
            ['posted', 'Posted'],
            ['cancel', 'Cancelled'],
          ],
          'Status',
          { default: 'draft', required: true, readonly: true },
        ),
        journal_id: m2o('account.journal', 'Journal'),
        company_id: m2o('res.company', 'Company', { default: 1 }),
        partner_id: m2o('res.partner', 'Partner'),
        commercial_partner_id: m2o('res.partner', 'Commercial Entity', { readonly: true }),
        partner_shipping_id: m2o('res.partner', 'Delivery Address'),
        invoice_user_id: m2o('res.users', 'Salesperson'),
        invoice_date: f('date', 'Invoice/Bill Date'),
        delivery_date: f('date', 'Delivery Date'),
        invoice_date_due: f('date', 'Due Date'),
        date: f('date', 'Date'),
        currency_id: m2o('res.currency', 'Currency'),
        company_currency_id: m2o('res.currency', 'Company Currency', { readonly: true }),
        amount_untaxed: money('Untaxed Amount'),
        amount_tax: money('Tax'),
        amount_total: money('Total'),
        amount_residual: money('Amount Due'),
        amount_untaxed_signed: money('Untaxed Amount Signed', 'company_currency_id'),
        amount_tax_signed: money('Tax Signed', 'company_currency_id'),
        amount_total_signed: money('Total Signed', 'company_currency_id'),
        amount_residual_signed: money('Amount Due Signed', 'company_currency_id'),
        invoice_currency_rate: f('float', 'Currency Rate', { readonly: true }),
        invoice_payment_term_id: m2o('account.payment.term', 'Payment Terms'),
        payment_reference: char('Payment Reference'),
        invoice_origin: char('Origin'),
        ref: char('Reference'),
        narration: f('html', 'Terms and Conditions'),
        payment_state: sel(
          [
            ['not_paid', 'Not Paid'],
            ['in_payment', 'In Payment'],
            ['paid', 'Paid'],
            ['partial', 'Partially Paid'],
            ['reversed', 'Reversed'],
            ['invoicing_legacy', 'Invoicing App Legacy'],
          ],
          'Payment Status',
          { default: 'not_paid', readonly: true },
        ),
        is_move_sent: bool('Is Move Sent', { help: 'It indicates that the invoice/payment has been sent or the PDF has been generated.' }),
        sending_data: f('json', 'Sending Data'),
        reversed_entry_id: m2o('account.move', 'Reversal of'),
        reversal_move_ids: o2m('account.move', 'reversed_entry_id', 'Reversal Moves'),
        invoice_pdf_report_id: m2o('ir.attachment', 'PDF Attachment'),
        partner_bank_id: m2o('res.partner.bank', 'Recipient Bank'),
        fiscal_position_id: m2o('account.fiscal.position', 'Fiscal Position'),
        invoice_line_ids: o2m('account.move.line', 'move_id', 'Invoice lines', { filter: (r) => PRODUCT_LINE_TYPES.includes(r.display_type as string) }),
        line_ids: o2m('account.move.line', 'move_id', 'Journal Items'),
        l10n_pl_edi_status: sel(
          [
            ['sent', 'Sent'],
            ['offline', 'Offline'],
            ['accepted', 'Accepted'],
            ['rejected', 'Rejected'],
          ],
          'KSeF Status',
          { readonly: true },
        ),
        l10n_pl_edi_number: char('KSeF Number', { readonly: true }),
        l10n_pl_edi_attachment_id: m2o('ir.attachment', 'KSeF XML', { readonly: true }),
        l10n_pl_edi_hash: char('KSeF XML hash', { readonly: true }),
        x_split_payment: bool('Mechanizm podzielonej płatności', { manual: true }),
        x_reverse_charge: bool('Odwrotne obciążenie', { manual: true }),
        x_exemption_basis: char('Podstawa zwolnienia z VAT', { manual: true }),
      },
    },
    {
      name: 'account.move.line',
      description: 'Journal Item',
      order: 'date desc, move_name desc, id',
      access: ACCOUNTING,
      displayName: (orm, r) => {
        const move = typeof r.move_id === 'number' ? orm.get('account.move', r.move_id) : undefined;
        return [move ? moveDisplayName(orm, move) : '', typeof r.name === 'string' ? r.name : ''].filter(Boolean).join(' ');
      },
      afterCreate: (orm, env, ids) =>
        linesChanged(
          orm,
          env,
          ids.map((id) => orm.get('account.move.line', id)?.move_id),
        ),
      afterWrite: (orm, env, ids) =>
        linesChanged(
          orm,
          env,
          ids.map((id) => orm.get('account.move.line', id)?.move_id),
        ),
      afterUnlink: (orm, env, removed) =>
        linesChanged(
          orm,
          env,
          removed.map((r) => r.move_id),
        ),
      fields: {
        move_id: m2o('account.move', 'Journal Entry', { required: true }),
        move_name: char('Number', { readonly: true }),
        date: f('date', 'Date', { readonly: true }),
        sequence: f('integer', 'Sequence', { default: 10 }),
        display_type: sel(
          [
            ['product', 'Product'],
            ['cogs', 'Cost of Goods Sold'],
            ['tax', 'Tax'],
            ['rounding', 'Rounding'],
            ['payment_term', 'Payment Term'],
            ['line_section', 'Section'],
            ['line_note', 'Note'],
            ['epd', 'Early Payment Discount'],
          ],
          'Display Type',
          { default: 'product', required: true },
        ),
        name: f('text', 'Label'),
        product_id: m2o('product.product', 'Product'),
        quantity: f('float', 'Quantity', { default: 1 }),
        product_uom_id: m2o('uom.uom', 'Unit'),
        price_unit: f('float', 'Unit Price'),
        discount: f('float', 'Discount (%)'),
        tax_ids: m2m('account.tax', 'Taxes'),
        tax_line_id: m2o('account.tax', 'Originator Tax', { readonly: true }),
        price_subtotal: money('Subtotal'),
        price_total: money('Total'),
        amount_currency: money('Amount in Currency'),
        balance: money('Balance', 'company_currency_id'),
        currency_id: m2o('res.currency', 'Currency'),
        company_currency_id: m2o('res.currency', 'Company Currency', { readonly: true }),
        partner_id: m2o('res.partner', 'Partner'),
        date_maturity: f('date', 'Due Date'),
      },
    },
    { name: 'ir.model', description: 'Models', order: 'model', fields: { model: char('Model'), name: char('Model Description') } },
    {
      name: 'ir.model.fields',
      description: 'Fields',
      order: 'name',
      writeGroups: [GROUP_SYSTEM],
      afterCreate: (orm, _env, ids) =>
        ids.forEach((id) => {
          const r = orm.get('ir.model.fields', id);
          if (r) applyManualField(orm, r);
        }),
      fields: {
        name: char('Field Name'),
        model: char('Model Name'),
        model_id: m2o('ir.model', 'Model'),
        field_description: char('Field Label'),
        ttype: sel(
          [
            'char',
            'text',
            'html',
            'integer',
            'float',
            'monetary',
            'boolean',
            'date',
            'datetime',
            'selection',
            'many2one',
            'one2many',
            'many2many',
            'binary',
            'json',
          ].map((t) => [t, t] as [string, string]),
          'Field Type',
        ),
        relation: char('Related Model'),
        required: bool('Required'),
        readonly: bool('Readonly'),
        state: sel(
          [
            ['manual', 'Custom Field'],
            ['base', 'Base Field'],
          ],
          'Type',
          { default: 'manual' },
        ),
      },
    },
    {
      name: 'ir.model.data',
      description: 'Model Data',
      order: 'module, model, name',
      access: ONLY([G.accessRights]),
      displayName: (_o, r) => `${String(r.module)}.${String(r.name)}`,
      fields: {
        name: char('External Identifier'),
        complete_name: char('Complete ID'),
        module: char('Module'),
        model: char('Model Name'),
        res_id: f('many2one_reference', 'Record ID', { modelField: 'model' }),
        noupdate: bool('Non Updatable'),
      },
    },
    {
      name: 'ir.actions.report',
      description: 'Report Action',
      order: 'name',
      access: WRITE_ONLY([G.system]),
      fields: {
        name: char('Action Name', { translate: true }),
        type: char('Action Type', { default: 'ir.actions.report' }),
        report_name: char('Template Name'),
        model: char('Model Name'),
        report_type: sel(
          [
            ['qweb-html', 'HTML'],
            ['qweb-pdf', 'PDF'],
            ['qweb-text', 'Text'],
          ],
          'Report Type',
          { default: 'qweb-pdf' },
        ),
        print_report_name: char('Printed Report Name'),
      },
    },
    {
      name: 'ir.actions.act_url',
      description: 'Action URL',
      access: ONLY([G.system]),
      fields: {
        name: char('Action Name', { translate: true }),
        type: char('Action Type', { default: 'ir.actions.act_url' }),
        url: f('text', 'Action URL'),
        target: sel(
          [
            ['new', 'New Window'],
            ['self', 'This Window'],
            ['download', 'Download'],
          ],
          'Action Target',
          { default: 'new' },
        ),
      },
    },
    {
      name: 'ir.ui.menu',
      description: 'Menu',
      order: 'sequence, id',
      access: WRITE_ONLY([G.system]),
      displayName: (orm, r, env) => menuPath(orm, r, env),
      fields: {
        name: char('Menu', { translate: true }),
        parent_id: m2o('ir.ui.menu', 'Parent Menu'),
        child_id: o2m('ir.ui.menu', 'parent_id', 'Child IDs'),
        action: f('reference', 'Action'),
        sequence: f('integer', 'Sequence', { default: 10 }),
        groups_id: m2m('res.groups', 'Groups'),
        active: active(),
        complete_name: char('Full Path', { readonly: true, compute: (orm, r, env) => menuPath(orm, r, env) }),
        web_icon: char('Web Icon File'),
      },
    },
    {
      name: 'ir.config_parameter',
      description: 'System Parameter',
      order: 'key',
      access: ONLY([G.system]),
      displayName: (_o, r) => String(r.key),
      methods: {
        get_param: ({ orm, env, model, args, kwargs }) => {
          orm.accessCheck?.(env, model, 'read');
          const key = kwargs.key ?? args[0];
          const rec = [...orm.table('ir.config_parameter').values()].find((r) => r.key === key);
          return rec ? rec.value : (kwargs.default ?? args[1] ?? false);
        },
      },
      fields: { key: char('Key', { required: true }), value: f('text', 'Value', { required: true }) },
    },
    {
      name: 'ir.attachment',
      description: 'Attachment',
      order: 'id desc',
      fields: {
        name: char('Name'),
        res_model: char('Resource Model'),
        res_id: f('many2one_reference', 'Resource ID', { modelField: 'res_model' }),
        mimetype: char('Mime Type'),
        datas: f('binary', 'File Content (base64)'),
        checksum: char('Checksum/SHA1'),
        file_size: f('integer', 'File Size'),
        type: sel(
          [
            ['url', 'URL'],
            ['binary', 'File'],
          ],
          'Type',
          { default: 'binary' },
        ),
        public: bool('Is public document'),
        description: f('text', 'Description'),
      },
    },
    {
      name: 'ir.mail_server',
      description: 'Mail Server',
      order: 'sequence, id',
      access: ONLY([G.system]),
      fields: {
        name: char('Name', { required: true }),
        from_filter: char('FROM Filtering'),
        smtp_host: char('SMTP Server'),
        smtp_port: f('integer', 'SMTP Port', { default: 25 }),
        smtp_authentication: sel(
          [
            ['login', 'Username'],
            ['certificate', 'SSL Certificate'],
            ['cli', 'Command Line Interface'],
          ],
          'Authenticate with',
          { default: 'login' },
        ),
        smtp_user: char('Username'),
        smtp_pass: char('Password'),
        smtp_encryption: sel(
          [
            ['none', 'None'],
            ['starttls', 'TLS (STARTTLS)'],
            ['ssl', 'SSL/TLS'],
          ],
          'Connection Encryption',
          { default: 'none' },
        ),
        smtp_debug: bool('Debugging'),
        sequence: f('integer', 'Priority', { default: 10 }),
        active: active(),
      },
    },
    {
      name: 'fetchmail.server',
      description: 'Incoming Mail Server',
      order: 'priority',
      access: ONLY([G.system]),
      fields: {
        name: char('Name'),
        active: active(),
        state: sel(
          [
            ['draft', 'Not Confirmed'],
            ['done', 'Confirmed'],
          ],
          'Status',
          { default: 'draft' },
        ),
        server: char('Server Name'),
        port: f('integer', 'Port'),
        server_type: sel(
          [
            ['imap', 'IMAP Server'],
            ['pop', 'POP Server'],
            ['local', 'Local Server'],
          ],
          'Server Type',
          { default: 'imap' },
        ),
        is_ssl: bool('SSL/TLS'),
        user: char('Username'),
        password: char('Password'),
        priority: f('integer', 'Server Priority', { default: 5 }),
      },
    },
    {
      // 17's account module lets Invoicing users edit templates; 18 does not (Mail Template Editor only)
      name: 'mail.template',
      description: 'Email Templates',
      order: 'name',
      access: WRITE_ONLY(profile.major === 17 ? [G.templateEditor, G.system, G.invoice] : [G.templateEditor, G.system]),
      secretOps: ['write', 'create', 'unlink'],
      fields: {
        name: char('Name'),
        description: f('text', 'Template description'),
        model_id: m2o('ir.model', 'Applies to'),
        model: char('Related Document Model'),
        subject: char('Subject', { translate: true }),
        body_html: f('html', 'Body', { translate: true }),
        email_from: char('From'),
        use_default_to: bool('Default recipients'),
        email_to: char('To (Emails)'),
        partner_to: char('To (Partners)'),
        email_cc: char('Cc'),
        reply_to: char('Reply To'),
        lang: char('Language'),
        report_template_ids: m2m('ir.actions.report', 'Dynamic Reports'),
        attachment_ids: m2m('ir.attachment', 'Attachments'),
        mail_server_id: m2o('ir.mail_server', 'Outgoing Mail Server'),
        auto_delete: bool('Auto Delete', { default: true }),
        active: active(),
      },
    },
    {
      name: 'mail.message.subtype',
      description: 'Message subtypes',
      order: 'sequence, id',
      fields: {
        name: char('Message Type', { translate: true }),
        description: f('text', 'Description'),
        internal: bool('Internal Only'),
        sequence: f('integer', 'Sequence', { default: 1 }),
      },
    },
    {
      name: 'mail.message',
      description: 'Message',
      order: 'id desc',
      displayName: (_o, r) => String(r.subject || r.record_name || `mail.message,${r.id}`),
      fields: {
        subject: char('Subject'),
        body: f('html', 'Contents'),
        model: char('Related Document Model'),
        res_id: f('many2one_reference', 'Related Document ID', { modelField: 'model' }),
        record_name: char('Message Record Name'),
        message_type: sel(
          [
            ['email', 'Incoming Email'],
            ['comment', 'Comment'],
            ['email_outgoing', 'Outgoing Email'],
            ['notification', 'System notification'],
            ['auto_comment', 'Automated Targeted Notification'],
            ['user_notification', 'User Specific Notification'],
          ],
          'Type',
          { default: 'comment' },
        ),
        subtype_id: m2o('mail.message.subtype', 'Subtype'),
        author_id: m2o('res.partner', 'Author'),
        date: f('datetime', 'Date'),
        attachment_ids: m2m('ir.attachment', 'Attachments'),
        partner_ids: m2m('res.partner', 'Recipients'),
      },
    },
    {
      name: 'ir.logging',
      description: 'Logging',
      order: 'id desc',
      access: ONLY([G.accessRights]),
      fields: {
        name: char('Name'),
        type: sel(
          [
            ['client', 'Client'],
            ['server', 'Server'],
          ],
          'Type',
        ),
        dbname: char('Database Name'),
        level: char('Level'),
        message: f('text', 'Message'),
        path: char('Path'),
        func: char('Function'),
        line: char('Line'),
      },
    },
  ];
}

function menuPath(orm: Orm, rec: Raw, env: Env): string {
  const names: string[] = [];
  const seen = new Set<number>();
  let cur: Raw | undefined = rec;
  while (cur && !seen.has(cur.id)) {
    seen.add(cur.id);
    const n = orm.translated(orm.model('ir.ui.menu').fields.name, cur.name, env);
    names.unshift(typeof n === 'string' ? n : '');
    cur = typeof cur.parent_id === 'number' ? orm.get('ir.ui.menu', cur.parent_id) : undefined;
  }
  return names.join('/');
}

function humanize(name: string): string {
  const s = name.replace(/_id$/, '').replace(/_ids$/, 's').replaceAll('_', ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Gives the models real Odoo's fields for the profile's version: every recorded field exists with its
 * recorded type, relation, selection and flags (Polish labels kept for context lang pl_PL); fields
 * real Odoo does not have are dropped, except module fields the profile installs.
 */
export function applyProfile(models: ModelDef[], profile: Profile): ModelDef[] {
  for (const model of models) {
    const recorded = profile.schema[model.name];
    if (!recorded) {
      for (const fname of Object.keys(model.fields)) {
        const mod = MODULE_FIELDS[`${model.name}.${fname}`];
        if (mod && !profile.modules[mod]) delete model.fields[fname];
      }
      continue;
    }
    if (Object.keys(recorded).length === 0) {
      model.abstract = true;
      model.fields = {};
      continue;
    }
    const next: Record<string, FieldDef> = {};
    for (const [fname, sf] of Object.entries(recorded)) {
      const magic = MAGIC_FIELDS[fname];
      if (magic) {
        if (magic.type !== sf.t) (model.magic ??= {})[fname] = { type: sf.t as FieldType, string: magic.string, stringPl: sf.s, readonly: true };
        continue;
      }
      const own = model.fields[fname];
      const def: FieldDef = own ? { ...own } : { type: sf.t as FieldType, string: humanize(fname) };
      def.type = sf.t as FieldType;
      if (sf.r) def.relation = sf.r;
      def.stringPl = sf.s;
      def.required = sf.req === 1;
      def.readonly = sf.ro === 1;
      if (sf.sel) {
        const en = new Map(own?.selection ?? []);
        def.selection = sf.sel.map(([k, l]) => [k, en.get(k) ?? l]);
        def.selectionPl = Object.fromEntries(sf.sel);
      }
      if (sf.adminOnly) def.adminOnly = true;
      if (sf.invoicingOnly) def.invoicingOnly = true;
      if (def.type === 'many2many' && def.default === undefined) def.default = () => [];
      next[fname] = def;
    }
    for (const [fname, own] of Object.entries(model.fields)) {
      if (fname in next) continue;
      const mod = MODULE_FIELDS[`${model.name}.${fname}`];
      if (mod && profile.modules[mod]) next[fname] = own;
    }
    model.fields = next;
  }
  const users = models.find((m) => m.name === 'res.users');
  if (profile.major >= 19 && users?.fields.groups_id) {
    // 19 renamed res.users.groups_id to group_ids (the sandbox keeps storing it under groups_id)
    users.fields.group_ids = { ...users.fields.groups_id, readonly: true, compute: (_orm, rec) => (rec.groups_id as number[] | undefined) ?? [] };
    delete users.fields.groups_id;
  }
  const move = models.find((m) => m.name === 'account.move');
  if (move?.fields.tax_totals) move.fields.tax_totals.compute = (orm, rec, env) => taxTotals(orm, rec, env, profile.major);
  return models;
}

/**
 * Deterministic seed of the sandbox host: a Polish seller company, users, mail plumbing, templates,
 * taxes, ≥ 30 customers and ≥ 200 invoices over the last 60 days. A seeded PRNG drives every choice
 * and every date is relative to `today`, so the same `today` always yields the same data.
 */
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { rateOn, recomputeMove } from './accounting.ts';
import { nowUtc, type Env, type Orm, type Raw } from './orm.ts';
import { G, makeProfile } from './profile.ts';
import type { Profile } from './profile.ts';
import { minimalPdf } from './report.ts';
import { CUSTOMERS, EXEMPTION_BASIS, PRODUCTS, UOMS } from './seed-data.ts';
import type { CustomerSpec, ProductSpec, TaxKey } from './seed-data.ts';
import { ksefNumber, polishIban, Prng, randomCzechVat, randomFrenchVat, randomGermanVat, randomNip, toScaled } from './util.ts';

export interface SeedOptions {
  today: string;
  smtp: { host: string; port: number; user?: string | null; password?: string | null; encryption?: 'none' | 'starttls' | 'ssl' };
  imap?: { host: string; port: number; user: string; password: string; ssl: boolean } | null;
  invoiceCount: number;
  profile?: Profile;
}

export const SELLER_DOMAIN = 'spike.example';
const ZONE = 'Europe/Warsaw';
const SEED = 0x5eed2026;

/**
 * The seeded users, as a real company runs Odoo: `admin` (the integration user: Settings, Access Rights,
 * Invoicing administrator, en_US), `ksiegowa` (the operator: Internal User + Invoicing/Billing only, pl_PL)
 * and `handlowiec` (Internal User only, no invoicing rights, en_US). `apiKey` works in place of the
 * password over RPC and JSON-2 from 18 on (never for the web login).
 */
export const USERS = {
  admin: {
    id: 2,
    login: 'admin',
    password: 'admin',
    apiKey: 'sandbox-api-key-admin-7f3c9a2e41d8',
    name: 'Administrator',
    email: `admin@${SELLER_DOMAIN}`,
    lang: 'en_US',
  },
  ksiegowa: {
    id: 6,
    login: 'ksiegowa',
    password: 'ksiegowa',
    apiKey: 'sandbox-api-key-ksiegowa-5b1e8d0c93a4',
    name: 'Anna Nowak',
    email: `anna.nowak@${SELLER_DOMAIN}`,
    lang: 'pl_PL',
  },
  handlowiec: {
    id: 7,
    login: 'handlowiec',
    password: 'handlowiec',
    apiKey: 'sandbox-api-key-handlowiec-2d6f4b8a0e17',
    name: 'Piotr Wiśniewski',
    email: 'piotr.wisniewski@inny-dostawca.example',
    lang: 'en_US',
  },
} as const;

const TEMPLATE_INVOICE = {
  subject: {
    en_US: "{{ object.company_id.name }} Invoice (Ref {{ object.name or 'n/a' }})",
    pl_PL: "{{ object.company_id.name }} Faktura (nr {{ object.name or 'n/a' }})",
  },
  body: {
    en_US:
      '<div style="margin: 0px; padding: 0px;"><p>Dear {{ object.partner_id.name }},</p><p>Here is your invoice <strong>{{ object.name }}</strong> amounting in <strong>{{ object.amount_total }} {{ object.currency_id.name }}</strong>.</p><p>Please remit payment by {{ object.invoice_date_due }} to account {{ object.partner_bank_id.acc_number }}, reference {{ object.payment_reference }}.</p><p>Do not hesitate to contact us if you have any questions.</p><p>Best regards,<br/>{{ object.company_id.name }}</p></div>',
    pl_PL:
      '<div style="margin: 0px; padding: 0px;"><p>Dzień dobry {{ object.partner_id.name }},</p><p>w załączeniu przesyłamy fakturę <strong>{{ object.name }}</strong> na kwotę <strong>{{ object.amount_total }} {{ object.currency_id.name }}</strong>.</p><p>Prosimy o zapłatę do dnia {{ object.invoice_date_due }} na rachunek {{ object.partner_bank_id.acc_number }}, tytułem {{ object.payment_reference }}.</p><p>W razie pytań pozostajemy do dyspozycji.</p><p>Z poważaniem<br/>{{ object.company_id.name }}</p></div>',
  },
};
const TEMPLATE_CREDIT = {
  subject: {
    en_US: "{{ object.company_id.name }} Credit Note (Ref {{ object.name or 'n/a' }})",
    pl_PL: "{{ object.company_id.name }} Faktura korygująca (nr {{ object.name or 'n/a' }})",
  },
  body: {
    en_US:
      '<div style="margin: 0px; padding: 0px;"><p>Dear {{ object.partner_id.name }},</p><p>Here is your credit note <strong>{{ object.name }}</strong> amounting in <strong>{{ object.amount_total }} {{ object.currency_id.name }}</strong>.</p><p>It corrects invoice {{ object.reversed_entry_id.name }}.</p><p>Best regards,<br/>{{ object.company_id.name }}</p></div>',
    pl_PL:
      '<div style="margin: 0px; padding: 0px;"><p>Dzień dobry {{ object.partner_id.name }},</p><p>w załączeniu przesyłamy fakturę korygującą <strong>{{ object.name }}</strong> na kwotę <strong>{{ object.amount_total }} {{ object.currency_id.name }}</strong>.</p><p>Koryguje ona fakturę {{ object.reversed_entry_id.name }}.</p><p>Z poważaniem<br/>{{ object.company_id.name }}</p></div>',
  },
};

interface Ctx {
  orm: Orm;
  env: Env;
  rng: Prng;
  today: DateTime;
  xmlid: (module: string, name: string, model: string, resId: number) => void;
  profile: Profile;
}

function isoDaysAgo(today: DateTime, days: number): string {
  return today.minus({ days }).toISODate() as string;
}

/** A UTC datetime string for a Warsaw-local date and time. */
function utcAt(date: string, hour: number, minute: number): string {
  return DateTime.fromISO(date, { zone: ZONE }).set({ hour, minute, second: 0 }).toUTC().toFormat('yyyy-MM-dd HH:mm:ss');
}

export function seedSandbox(orm: Orm, options: SeedOptions): void {
  const today = DateTime.fromISO(options.today, { zone: ZONE }).startOf('day');
  if (!today.isValid) throw new Error(`invalid today: ${options.today}`);
  orm.today = today.toISODate() as string;
  const fixedClock = new Date(utcAt(orm.today, 6, 0).replace(' ', 'T') + 'Z');
  const savedClock = orm.clock;
  orm.clock = () => fixedClock;
  const env: Env = { uid: 1, context: {}, su: true };
  const ctx: Ctx = {
    orm,
    env,
    rng: new Prng(SEED),
    today,
    profile: options.profile ?? makeProfile(),
    xmlid: (module, name, model, resId) => {
      orm.insert('ir.model.data', { module, name, complete_name: `${module}.${name}`, model, res_id: resId, noupdate: true }, env);
    },
  };
  try {
    orm.withoutHooks(() => {
      const base = seedBase(ctx, options);
      const customers = seedCustomers(ctx);
      seedInvoices(ctx, base, customers, Math.max(1, options.invoiceCount));
    });
  } finally {
    orm.clock = savedClock;
  }
  // As in a real database, nothing seeded carries a stamp after the moment it was seeded (invoices of
  // today are stamped during the day): the seed data is stamped at least an hour before the sandbox
  // started, so a record written later always looks newer than the seed, also to a connector that asks
  // for changes since some minutes before its last look.
  const cutoff = nowUtc(new Date(orm.clock().getTime() - 3_600_000));
  for (const name of orm.models.keys()) {
    for (const rec of orm.table(name).values()) {
      for (const k of ['create_date', 'write_date'] as const) if (typeof rec[k] === 'string' && (rec[k] as string) > cutoff) rec[k] = cutoff;
    }
  }
}

interface Base {
  pln: number;
  eur: number;
  sellerNip: string;
  companyId: number;
  companyPartnerId: number;
  taxes: Record<TaxKey | 'np' | 'wdt', number>;
  uoms: Record<string, number>;
  products: { spec: ProductSpec; id: number }[];
  terms: { id: number; days: number }[];
  fiscal: { domestic: number; eu: number };
  bankPln: number;
  bankEur: number;
  journal: number;
  countries: Record<string, number>;
}

function seedBase(ctx: Ctx, options: SeedOptions): Base {
  const { orm, env, rng, xmlid } = ctx;
  const ins = (model: string, vals: Record<string, unknown>): number => orm.insert(model, vals, env);

  // models registry (ir.model), for mail.template.model_id
  const modelIds: Record<string, number> = {};
  for (const m of [...orm.models.keys(), 'sale.order'].sort()) {
    modelIds[m] = ins('ir.model', { model: m, name: orm.models.get(m)?.description ?? 'Sales Order' });
  }

  // groups
  const groups: Record<string, number> = {};
  for (const [x, name, full] of [
    [G.user, 'Internal User', 'User types / Internal User'],
    [G.system, 'Settings', 'Administration / Settings'],
    [G.accessRights, 'Access Rights', 'Administration / Access Rights'],
    [G.portal, 'Portal', 'User types / Portal'],
    [G.invoice, 'Billing', 'Accounting / Billing'],
    [G.accountManager, 'Administrator', 'Accounting / Administrator'],
    [G.accountReadonly, 'Read-only', 'Technical / Read-only'],
    [G.templateEditor, 'Mail Template Editor', 'Technical / Mail Template Editor'],
  ] as const) {
    groups[x] = ins('res.groups', { name, full_name: full });
    const [mod, n] = x.split('.') as [string, string];
    xmlid(mod, n, 'res.groups', groups[x]);
  }

  // countries and currencies
  const countries: Record<string, number> = {};
  for (const [code, name] of [
    ['PL', 'Poland'],
    ['DE', 'Germany'],
    ['CZ', 'Czech Republic'],
    ['FR', 'France'],
  ] as const) {
    countries[code] = ins('res.country', { name, code });
    xmlid('base', code.toLowerCase(), 'res.country', countries[code]);
  }
  const eur = ins('res.currency', { id: 1, name: 'EUR', full_name: 'Euro', symbol: '€', decimal_places: 2, rounding: 0.01, position: 'after', active: true });
  const usd = ins('res.currency', {
    id: 2,
    name: 'USD',
    full_name: 'United States dollar',
    symbol: '$',
    decimal_places: 2,
    rounding: 0.01,
    position: 'before',
    active: false,
  });
  const pln = ins('res.currency', {
    id: 17,
    name: 'PLN',
    full_name: 'Polish zloty',
    symbol: 'zł',
    decimal_places: 2,
    rounding: 0.01,
    position: 'after',
    active: true,
  });
  xmlid('base', 'EUR', 'res.currency', eur);
  xmlid('base', 'USD', 'res.currency', usd);
  xmlid('base', 'PLN', 'res.currency', pln);

  // company and its partner
  const sellerNip = randomNip(rng);
  const companyPartnerId = ins('res.partner', {
    id: 1,
    name: 'Spike Sp. z o.o.',
    is_company: true,
    vat: `PL${sellerNip}`,
    email: `biuro@${SELLER_DOMAIN}`,
    phone: '+48 22 555 01 00',
    street: 'ul. Marszałkowska 84/92',
    street2: 'lok. 115',
    zip: '00-514',
    city: 'Warszawa',
    country_id: countries.PL,
    lang: 'pl_PL',
    tz: ZONE,
    website: 'https://spike.example',
  });
  const companyId = ins('res.company', {
    id: 1,
    name: 'Spike Sp. z o.o.',
    vat: `PL${sellerNip}`,
    company_registry: '0000512345',
    partner_id: companyPartnerId,
    currency_id: pln,
    street: 'ul. Marszałkowska 84/92',
    street2: 'lok. 115',
    zip: '00-514',
    city: 'Warszawa',
    country_id: countries.PL,
    email: `biuro@${SELLER_DOMAIN}`,
    phone: '+48 22 555 01 00',
    website: 'https://spike.example',
    sequence: 0,
  });
  xmlid('base', 'main_company', 'res.company', companyId);
  xmlid('base', 'main_partner', 'res.partner', companyPartnerId);
  orm.table('res.partner').get(companyPartnerId)!.company_id = companyId;

  // EUR (and USD) rates: one per working day, a deterministic walk around 4.26 PLN per EUR
  let eurRate = 42634;
  for (let d = 75; d >= 0; d--) {
    const day = ctx.today.minus({ days: d });
    if (day.weekday > 5) continue;
    eurRate = Math.min(43200, Math.max(42100, eurRate + rng.int(-60, 60)));
    const inverse = eurRate / 10000;
    ins('res.currency.rate', {
      name: day.toISODate(),
      currency_id: eur,
      company_id: companyId,
      rate: 1 / inverse,
      company_rate: 1 / inverse,
      inverse_company_rate: inverse,
      create_date: utcAt(day.toISODate() as string, 12, 15),
    });
  }
  ins('res.currency.rate', {
    name: isoDaysAgo(ctx.today, 30),
    currency_id: usd,
    company_id: companyId,
    rate: 1 / 3.9871,
    company_rate: 1 / 3.9871,
    inverse_company_rate: 3.9871,
  });

  // users (1 = superuser, inactive as in Odoo)
  const botPartner = ins('res.partner', { id: 2, name: 'OdooBot', email: `odoobot@${SELLER_DOMAIN}`, active: false });
  // group membership is stored raw under groups_id (19 exposes it as group_ids)
  const setGroups = (uid: number, ids: (number | undefined)[]): void => {
    orm.table('res.users').get(uid)!.groups_id = ids.filter((x): x is number => x !== undefined);
  };
  ins('res.users', { id: 1, login: '__system__', name: 'OdooBot', partner_id: botPartner, company_id: companyId, company_ids: [companyId], active: false });
  setGroups(1, [groups['base.group_user'], groups['base.group_system']]);
  const userSpecs = [
    { ...USERS.admin, groups: [G.user, G.system, G.accessRights, G.invoice, G.accountManager, G.templateEditor], partnerId: 3 },
    { ...USERS.ksiegowa, groups: [G.user, G.invoice], partnerId: 8 },
    { ...USERS.handlowiec, groups: [G.user], partnerId: 9 },
  ];
  for (const u of userSpecs) {
    const pid = ins('res.partner', { id: u.partnerId, name: u.name, email: u.email, lang: u.lang, tz: ZONE, company_id: companyId, country_id: countries.PL });
    ins('res.users', {
      id: u.id,
      login: u.login,
      name: u.name,
      email: u.email,
      partner_id: pid,
      company_id: companyId,
      company_ids: [companyId],
      lang: u.lang,
      tz: ZONE,
      share: false,
    });
    setGroups(
      u.id,
      u.groups.map((g) => groups[g]),
    );
    orm.passwords.set(u.id, u.password);
    orm.apiKeys.set(u.id, [u.apiKey]);
  }
  xmlid('base', 'user_root', 'res.users', 1);
  xmlid('base', 'user_admin', 'res.users', USERS.admin.id);
  xmlid('base', 'partner_admin', 'res.partner', 3);

  // banks
  const mbank = ins('res.bank', { name: 'mBank S.A.', bic: 'BREXPLPWMBK' });
  const pko = ins('res.bank', { name: 'PKO Bank Polski S.A.', bic: 'BPKOPLPW' });
  const ibanPln = polishIban('11402004', rng.digits(16));
  const ibanEur = polishIban('10201026', rng.digits(16));
  const bankPln = ins('res.partner.bank', {
    acc_number: ibanPln,
    sanitized_acc_number: ibanPln.replaceAll(' ', ''),
    bank_id: mbank,
    partner_id: companyPartnerId,
    acc_holder_name: 'Spike Sp. z o.o.',
    currency_id: pln,
    sequence: 1,
  });
  const bankEur = ins('res.partner.bank', {
    acc_number: ibanEur,
    sanitized_acc_number: ibanEur.replaceAll(' ', ''),
    bank_id: pko,
    partner_id: companyPartnerId,
    acc_holder_name: 'Spike Sp. z o.o.',
    currency_id: eur,
    sequence: 2,
  });

  // taxes
  const tg = (name: string): number => ins('account.tax.group', { name });
  const taxes = {
    '23': ins('account.tax', {
      name: '23%',
      amount: 23,
      type_tax_use: 'sale',
      tax_group_id: tg('VAT 23%'),
      invoice_label: '23%',
      sequence: 1,
      company_id: companyId,
    }),
    '8': ins('account.tax', {
      name: '8%',
      amount: 8,
      type_tax_use: 'sale',
      tax_group_id: tg('VAT 8%'),
      invoice_label: '8%',
      sequence: 2,
      company_id: companyId,
    }),
    '5': ins('account.tax', {
      name: '5%',
      amount: 5,
      type_tax_use: 'sale',
      tax_group_id: tg('VAT 5%'),
      invoice_label: '5%',
      sequence: 3,
      company_id: companyId,
    }),
    '0': ins('account.tax', {
      name: '0%',
      amount: 0,
      type_tax_use: 'sale',
      tax_group_id: tg('VAT 0%'),
      invoice_label: '0%',
      sequence: 4,
      company_id: companyId,
    }),
    zw: ins('account.tax', {
      name: 'zw',
      amount: 0,
      type_tax_use: 'sale',
      tax_group_id: tg('Zwolnione'),
      invoice_label: 'zw',
      sequence: 5,
      company_id: companyId,
      description: '<p>Sprzedaż zwolniona z VAT</p>',
    }),
    np: ins('account.tax', {
      name: 'np EU',
      amount: 0,
      type_tax_use: 'sale',
      tax_group_id: tg('Nie podlega'),
      invoice_label: 'np',
      sequence: 6,
      company_id: companyId,
      description: '<p>Usługi poza terytorium kraju – odwrotne obciążenie</p>',
    }),
    wdt: ins('account.tax', {
      name: '0% WDT',
      amount: 0,
      type_tax_use: 'sale',
      tax_group_id: orm.search('account.tax.group', [['name', '=', 'VAT 0%']], env)[0],
      invoice_label: '0%',
      sequence: 7,
      company_id: companyId,
    }),
  };
  ins('account.tax', {
    name: '23% zakup',
    amount: 23,
    type_tax_use: 'purchase',
    tax_group_id: orm.table('account.tax').get(taxes['23'])!.tax_group_id,
    invoice_label: '23%',
    sequence: 10,
    company_id: companyId,
  });

  const uoms: Record<string, number> = {};
  for (const u of UOMS) uoms[u] = ins('uom.uom', { name: u });
  xmlid('uom', 'product_uom_unit', 'uom.uom', uoms['szt.'] as number);
  const products = PRODUCTS.map((spec) => ({
    spec,
    id: ins('product.product', {
      name: spec.name,
      default_code: spec.code,
      list_price: spec.price / 100,
      uom_id: uoms[spec.uom],
      taxes_id: [taxes[spec.tax]],
      type: spec.service ? 'service' : 'consu',
    }),
  }));

  const terms = [0, 7, 14, 30].map((days) => ({
    days,
    id: ins('account.payment.term', {
      name: days === 0 ? 'Płatność natychmiastowa' : `${days} dni`,
      note: days === 0 ? false : `<p>Termin płatności: ${days} dni</p>`,
    }),
  }));
  const fiscal = {
    domestic: ins('account.fiscal.position', { name: 'Krajowa' }),
    eu: ins('account.fiscal.position', { name: 'Wewnątrzwspólnotowa (UE)', note: '<p>Odwrotne obciążenie / WDT</p>' }),
  };
  ins('account.fiscal.position', { name: 'Eksport poza UE' });
  const journal = ins('account.journal', { name: 'Faktury sprzedaży', code: 'FV', type: 'sale', company_id: companyId });

  // mail plumbing
  const smtp = options.smtp;
  const mainServer = ins('ir.mail_server', {
    name: 'Sandbox SMTP',
    from_filter: false,
    smtp_host: smtp.host,
    smtp_port: smtp.port,
    smtp_authentication: 'login',
    smtp_user: smtp.user ?? false,
    smtp_pass: smtp.password ?? false,
    smtp_encryption: smtp.encryption ?? 'none',
    sequence: 10,
    active: true,
  });
  ins('ir.mail_server', {
    name: 'Serwer inny-dostawca.example',
    from_filter: 'inny-dostawca.example',
    smtp_host: smtp.host,
    smtp_port: smtp.port,
    smtp_authentication: 'login',
    smtp_user: smtp.user ?? false,
    smtp_pass: smtp.password ?? false,
    smtp_encryption: smtp.encryption ?? 'none',
    sequence: 20,
    active: true,
  });
  ins('ir.mail_server', {
    name: 'Stary serwer (wyłączony)',
    from_filter: false,
    smtp_host: 'smtp.stary-serwer.example',
    smtp_port: 587,
    smtp_authentication: 'login',
    smtp_user: `faktury@${SELLER_DOMAIN}`,
    smtp_pass: 'nieaktualne-haslo',
    smtp_encryption: 'starttls',
    sequence: 30,
    active: false,
  });
  if (options.imap) {
    const imap = options.imap;
    if (smtp.user !== imap.user) {
      ins('ir.mail_server', {
        name: 'Sandbox SMTP + IMAP',
        from_filter: false,
        smtp_host: smtp.host,
        smtp_port: smtp.port,
        smtp_authentication: 'login',
        smtp_user: imap.user,
        smtp_pass: imap.password,
        smtp_encryption: smtp.encryption ?? 'none',
        sequence: 15,
        active: true,
      });
    }
    ins('fetchmail.server', {
      name: 'Skrzynka IMAP',
      active: true,
      state: 'done',
      server: imap.host,
      port: imap.port,
      server_type: 'imap',
      is_ssl: imap.ssl,
      user: imap.user,
      password: imap.password,
      priority: 5,
    });
  }
  void mainServer;

  // reports and templates
  // the three invoice reports of real Odoo (ids as recorded on 18.0)
  const reportWithPayments = ins('ir.actions.report', {
    id: 222,
    name: { en_US: 'Invoices', pl_PL: 'PDF faktury' },
    report_name: 'account.report_invoice_with_payments',
    model: 'account.move',
    report_type: 'qweb-pdf',
    print_report_name: '(object._get_report_base_filename())',
  });
  const originalBills = ins('ir.actions.report', {
    id: 223,
    name: { en_US: 'Original Bills', pl_PL: 'Oryginalne rachunki' },
    report_name: 'account.report_original_vendor_bill',
    model: 'account.move',
    report_type: 'qweb-pdf',
  });
  const report = ins('ir.actions.report', {
    id: 224,
    name: { en_US: 'Invoices without Payment', pl_PL: 'PDF bez płatności' },
    report_name: 'account.report_invoice',
    model: 'account.move',
    report_type: 'qweb-pdf',
    print_report_name: '(object._get_report_base_filename())',
  });
  const saleReport = ins('ir.actions.report', {
    name: { en_US: 'Quotation / Order', pl_PL: 'Oferta / Zamówienie' },
    report_name: 'sale.report_saleorder',
    model: 'sale.order',
    report_type: 'qweb-pdf',
  });
  xmlid('account', 'account_invoices_without_payment', 'ir.actions.report', report);
  xmlid('account', 'account_invoices', 'ir.actions.report', reportWithPayments);
  xmlid('account', 'action_account_original_vendor_bill', 'ir.actions.report', originalBills);
  xmlid('sale', 'action_report_saleorder', 'ir.actions.report', saleReport);

  const common = {
    model_id: modelIds['account.move'],
    model: 'account.move',
    email_from: '{{ object.company_id.email }}',
    partner_to: '{{ object.partner_id.id }}',
    lang: '{{ object.partner_id.lang }}',
    use_default_to: false,
    auto_delete: true,
  };
  const tInvoice = ins('mail.template', {
    ...common,
    name: 'Faktura dla klienta',
    description: 'Wysyłane do klientów z fakturą w załączniku',
    subject: TEMPLATE_INVOICE.subject,
    body_html: TEMPLATE_INVOICE.body,
    report_template_ids: [reportWithPayments],
  });
  const tCredit = ins('mail.template', {
    ...common,
    name: 'Faktura korygująca dla klienta',
    description: 'Wysyłane do klientów z fakturą korygującą w załączniku',
    subject: TEMPLATE_CREDIT.subject,
    body_html: TEMPLATE_CREDIT.body,
    report_template_ids: [reportWithPayments],
  });
  const tReminder = ins('mail.template', {
    ...common,
    name: 'Przypomnienie o płatności',
    report_template_ids: [],
    subject: { en_US: 'Payment reminder: {{ object.name }}', pl_PL: 'Przypomnienie o płatności: {{ object.name }}' },
    body_html: {
      en_US:
        '<p>Dear {{ object.partner_id.name }},</p><p>invoice {{ object.name }} ({{ object.amount_residual }} {{ object.currency_id.name }}) was due on {{ object.invoice_date_due }}.</p>',
      pl_PL:
        '<p>Dzień dobry {{ object.partner_id.name }},</p><p>termin płatności faktury {{ object.name }} ({{ object.amount_residual }} {{ object.currency_id.name }}) minął {{ object.invoice_date_due }}.</p>',
    },
  });
  const tSale = ins('mail.template', {
    model_id: modelIds['sale.order'],
    model: 'sale.order',
    name: 'Potwierdzenie zamówienia',
    email_from: '{{ object.company_id.email }}',
    partner_to: '{{ object.partner_id.id }}',
    lang: '{{ object.partner_id.lang }}',
    subject: { en_US: '{{ object.company_id.name }} Order (Ref {{ object.name }})', pl_PL: '{{ object.company_id.name }} Zamówienie (nr {{ object.name }})' },
    body_html: {
      en_US: '<p>Hello, your order {{ object.name }} is confirmed.</p>',
      pl_PL: '<p>Dzień dobry, zamówienie {{ object.name }} zostało potwierdzone.</p>',
    },
    report_template_ids: [saleReport],
  });
  xmlid('account', 'email_template_edi_invoice', 'mail.template', tInvoice);
  xmlid('account', 'email_template_edi_credit_note', 'mail.template', tCredit);
  xmlid('sale', 'email_template_edi_sale', 'mail.template', tSale);
  void tReminder;

  const comment = ins('mail.message.subtype', { name: { en_US: 'Discussions', pl_PL: 'Dyskusje' }, internal: false, sequence: 0 });
  const note = ins('mail.message.subtype', { name: { en_US: 'Note', pl_PL: 'Notatka' }, internal: true, sequence: 100 });
  xmlid('mail', 'mt_comment', 'mail.message.subtype', comment);
  xmlid('mail', 'mt_note', 'mail.message.subtype', note);

  // menus and URL actions (real Odoo's roots; the Invoicing root is where an extension adds its entry)
  const tr = (en: string, pl: string): Record<string, string> => ({ en_US: en, pl_PL: pl });
  const menuSettings = ins('ir.ui.menu', { id: 1, name: tr('Settings', 'Ustawienia'), sequence: 550, groups_id: [groups[G.system]] });
  const menuApps = ins('ir.ui.menu', { id: 15, name: tr('Apps', 'Aplikacje'), sequence: 500, groups_id: [groups[G.system]] });
  ins('ir.ui.menu', { id: 77, name: tr('Discuss', 'Dyskusje'), sequence: 5, action: 'ir.actions.client,122' });
  const invoicing = ins('ir.ui.menu', {
    id: 119,
    name: tr('Invoicing', 'Fakturowanie'),
    sequence: 55,
    groups_id: [groups[G.invoice], groups[G.accountManager], groups[G.accountReadonly]],
  });
  ins('ir.ui.menu', { id: 120, name: tr('Customers', 'Klienci'), parent_id: invoicing, sequence: 2 });
  ins('ir.ui.menu', { id: 121, name: tr('Configuration', 'Konfiguracja'), parent_id: invoicing, sequence: 35, groups_id: [groups[G.accountManager]] });
  xmlid('base', 'menu_administration', 'ir.ui.menu', menuSettings);
  xmlid('base', 'menu_management', 'ir.ui.menu', menuApps);
  xmlid('account', 'menu_finance', 'ir.ui.menu', invoicing);
  ins('ir.actions.act_url', { id: 3, name: tr('Main menu', 'Menu główne'), url: '/web', target: 'self' });
  ins('ir.actions.act_url', { id: 40, name: tr('Third-Party Apps', 'Aplikacje firm trzecich'), url: 'https://apps.odoo.com/apps/modules', target: 'new' });
  ins('ir.config_parameter', { key: 'web.base.url', value: 'http://127.0.0.1:8069' });
  ins('ir.config_parameter', { key: 'database.uuid', value: '5eed2026-0000-4000-8000-000000000001' });

  // the custom x_ fields exist as manual fields, as if created once through ir.model.fields
  if (ctx.profile.modules.customFields)
    for (const [name, ttype, label] of [
      ['x_split_payment', 'boolean', 'Mechanizm podzielonej płatności'],
      ['x_reverse_charge', 'boolean', 'Odwrotne obciążenie'],
      ['x_exemption_basis', 'char', 'Podstawa zwolnienia z VAT'],
    ] as const) {
      ins('ir.model.fields', { name, model: 'account.move', model_id: modelIds['account.move'], field_description: label, ttype, state: 'manual' });
    }

  return { pln, eur, sellerNip, companyId, companyPartnerId, taxes, uoms, products, terms, fiscal, bankPln, bankEur, journal, countries };
}

interface SeededCustomer {
  spec: CustomerSpec;
  id: number;
  invoiceContactId: number | null;
  foreign: boolean;
}

function seedCustomers(ctx: Ctx): SeededCustomer[] {
  const { orm, env, rng } = ctx;
  const countries = Object.fromEntries([...orm.table('res.country').values()].map((c) => [c.code as string, c.id]));
  const out: SeededCustomer[] = [];
  let ref = 1;
  for (const spec of CUSTOMERS) {
    const foreign = spec.country !== undefined;
    const vat =
      spec.country === 'DE'
        ? randomGermanVat(rng)
        : spec.country === 'CZ'
          ? randomCzechVat(rng)
          : spec.country === 'FR'
            ? randomFrenchVat(rng)
            : randomNip(rng);
    const created = utcAt(isoDaysAgo(ctx.today, 400 - ref * 7), 9, rng.int(0, 59));
    const id = orm.insert(
      'res.partner',
      {
        name: spec.name,
        is_company: true,
        vat,
        email: spec.email ?? false,
        phone: spec.phone ?? (rng.chance(0.7) ? `+48 ${rng.int(12, 95)} ${rng.digits(3)} ${rng.digits(2)} ${rng.digits(2)}` : false),
        street: spec.street,
        zip: spec.zip,
        city: spec.city,
        country_id: countries[spec.country ?? 'PL'],
        lang: spec.lang ?? 'pl_PL',
        tz: foreign ? false : ZONE,
        customer_rank: 1,
        ref: `K${String(ref).padStart(4, '0')}`,
        invoice_sending_method: spec.sending ?? false,
        type: 'contact',
        create_date: created,
        write_date: created,
      },
      env,
    );
    ref++;
    let invoiceContactId: number | null = null;
    if (spec.invoiceContact) {
      invoiceContactId = orm.insert(
        'res.partner',
        {
          name: spec.invoiceContact.name,
          parent_id: id,
          type: 'invoice',
          email: spec.invoiceContact.email,
          lang: spec.lang ?? 'pl_PL',
          street: spec.street,
          zip: spec.zip,
          city: spec.city,
          country_id: countries[spec.country ?? 'PL'],
          create_date: created,
          write_date: created,
        },
        env,
      );
    }
    if (rng.chance(0.35)) {
      // an ordinary person at the customer (not an invoice address)
      const first = rng.pick(['Tomasz', 'Agnieszka', 'Michał', 'Joanna', 'Paweł', 'Ewa', 'Krzysztof', 'Magdalena']);
      const last = rng.pick(['Nowak', 'Kowalczyk', 'Wójcik', 'Kamińska', 'Zając', 'Szymańska', 'Woźniak', 'Dąbrowski']);
      orm.insert(
        'res.partner',
        {
          name: `${first} ${last}`,
          parent_id: id,
          type: 'contact',
          function: rng.pick(['Kierownik zakupów', 'Prezes zarządu', 'Specjalista ds. logistyki']),
          email: rng.chance(0.5) ? `${first.toLowerCase()}@kontakt.example` : false,
          lang: spec.lang ?? 'pl_PL',
          create_date: created,
          write_date: created,
        },
        env,
      );
    }
    if (rng.chance(0.2)) {
      orm.insert(
        'res.partner',
        {
          name: false,
          parent_id: id,
          type: 'delivery',
          street: 'ul. Magazynowa 1',
          zip: spec.zip,
          city: spec.city,
          country_id: countries[spec.country ?? 'PL'],
          create_date: created,
          write_date: created,
        },
        env,
      );
    }
    out.push({ spec, id, invoiceContactId, foreign });
  }
  // one archived invoice contact (inactive): must not be offered as a recipient
  const first = out[0] as SeededCustomer;
  orm.insert(
    'res.partner',
    { name: 'Stary adres do faktur', parent_id: first.id, type: 'invoice', email: 'stary-adres@kowalski-transport.example', active: false },
    env,
  );
  for (const p of orm.table('res.partner').values()) {
    let cur: Raw = p;
    while (!cur.is_company && typeof cur.parent_id === 'number') cur = orm.table('res.partner').get(cur.parent_id) ?? cur;
    p.commercial_partner_id = cur.id;
  }
  return out;
}

interface InvoicePlan {
  customer: SeededCustomer;
  date: string;
  state: 'draft' | 'posted' | 'cancel';
  lineCount: number;
  forceRates?: TaxKey[];
  noDate?: boolean;
}

function lineCountPick(rng: Prng): number {
  const bucket = rng.weighted([
    [[1, 1], 15],
    [[2, 5], 45],
    [[6, 12], 25],
    [[13, 25], 10],
    [[26, 40], 5],
  ] as const);
  return rng.int(bucket[0], bucket[1]);
}

function seedInvoices(ctx: Ctx, base: Base, customers: SeededCustomer[], count: number): void {
  const { orm, env, rng, today } = ctx;
  const domestic = customers.filter((c) => !c.foreign);
  const foreign = customers.filter((c) => c.foreign);
  const withEmail = domestic.filter((c) => c.spec.email && c.spec.email.includes('@') && !c.spec.email.includes(',') && !c.spec.email.includes(';'));
  const byProfile = (p: string): SeededCustomer => rng.pick(domestic.filter((c) => c.spec.profile.includes(p as never)));

  const plans: InvoicePlan[] = [
    // boundary cases: posted exactly 30 and 31 days ago
    { customer: rng.pick(withEmail), date: isoDaysAgo(today, 30), state: 'posted', lineCount: 3 },
    { customer: rng.pick(withEmail), date: isoDaysAgo(today, 30), state: 'posted', lineCount: 2 },
    { customer: rng.pick(withEmail), date: isoDaysAgo(today, 31), state: 'posted', lineCount: 4 },
    { customer: rng.pick(withEmail), date: isoDaysAgo(today, 31), state: 'posted', lineCount: 1 },
    // long invoice for the print tests
    { customer: withEmail[0] as SeededCustomer, date: isoDaysAgo(today, 5), state: 'posted', lineCount: 200 },
    // line count extremes and every VAT rate
    { customer: rng.pick(withEmail), date: isoDaysAgo(today, 12), state: 'posted', lineCount: 40 },
    { customer: byProfile('training'), date: isoDaysAgo(today, 9), state: 'posted', lineCount: 3, forceRates: ['zw', '23'] },
    { customer: byProfile('medical'), date: isoDaysAgo(today, 16), state: 'posted', lineCount: 2, forceRates: ['zw'] },
    { customer: byProfile('books'), date: isoDaysAgo(today, 20), state: 'posted', lineCount: 4, forceRates: ['5', '0', '23'] },
    { customer: byProfile('hotel'), date: isoDaysAgo(today, 7), state: 'posted', lineCount: 3, forceRates: ['8', '5'] },
    // drafts without an invoice date (as Odoo keeps fresh drafts)
    { customer: rng.pick(domestic), date: isoDaysAgo(today, 1), state: 'draft', lineCount: 2, noDate: true },
    { customer: rng.pick(domestic), date: isoDaysAgo(today, 0), state: 'draft', lineCount: 5, noDate: true },
  ];
  while (plans.length < count) {
    const customer = rng.chance(0.14) ? rng.pick(foreign) : rng.pick(domestic);
    const ago = rng.int(0, 60);
    const draftP = ago < 10 ? 0.3 : 0.06;
    const state = rng.weighted([
      ['posted', 1 - draftP - 0.06],
      ['draft', draftP],
      ['cancel', 0.06],
    ] as const);
    plans.push({ customer, date: isoDaysAgo(today, ago), state, lineCount: lineCountPick(rng) });
  }
  plans.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));

  const created: Raw[] = [];
  for (const plan of plans) created.push(createInvoice(ctx, base, plan));

  // credit notes for some posted invoices
  const posted = created.filter((m) => m.state === 'posted' && m.move_type === 'out_invoice' && (m.invoice_date as string) < isoDaysAgo(today, 3));
  const refundCount = Math.max(3, Math.round(count * 0.06));
  const chosen = new Set<Raw>();
  while (chosen.size < Math.min(refundCount, posted.length)) chosen.add(rng.pick(posted));
  const refunds: Raw[] = [];
  for (const original of [...chosen].sort((a, b) => a.id - b.id)) refunds.push(createRefund(ctx, base, original));

  // numbering in date order (posted, and cancelled ones that had been posted)
  const numbered = [...created, ...refunds]
    .filter((m) => m.state === 'posted' || (m.state === 'cancel' && m._hadNumber))
    .sort((a, b) => ((a.invoice_date as string) < (b.invoice_date as string) ? -1 : (a.invoice_date as string) > (b.invoice_date as string) ? 1 : a.id - b.id));
  for (const m of numbered) {
    const year = String(m.invoice_date).slice(0, 4);
    const prefix = m.move_type === 'out_refund' ? 'RFV' : 'FV';
    m.name = `${prefix}/${year}/${String(orm.nextSequence(`${prefix}/${year}`)).padStart(5, '0')}`;
    if (m.move_type === 'out_invoice') m.payment_reference = m.name;
  }
  for (const m of [...created, ...refunds]) delete m._hadNumber;
  for (const r of refunds) {
    const original = orm.get('account.move', r.reversed_entry_id as number) as Raw;
    r.ref = `Korekta faktury ${String(original.name)}: ${String(r._reason)}`;
    delete r._reason;
  }
  const all = [...created, ...refunds];
  const linesByMove = new Map<number, Raw[]>();
  for (const l of orm.table('account.move.line').values()) {
    const list = linesByMove.get(l.move_id as number) ?? [];
    list.push(l);
    linesByMove.set(l.move_id as number, list);
  }
  for (const m of all) recomputeMove(orm, env, m.id, linesByMove.get(m.id) ?? []);

  // split payment: domestic PLN invoices of 15 000 PLN gross or more
  const big = all.filter(
    (m) => m.currency_id === base.pln && m.move_type === 'out_invoice' && (m.amount_total as number) >= 15000 && m.fiscal_position_id === base.fiscal.domestic,
  );
  for (const m of big) if (rng.chance(0.7)) m.x_split_payment = true;
  if (!all.some((m) => m.x_split_payment) && big[0]) big[0].x_split_payment = true;

  // sent already (with the PDF stored), being sent by Odoo, KSeF-accepted
  const postedAll = all.filter((m) => m.state === 'posted');
  const older = postedAll.filter((m) => (m.invoice_date as string) <= isoDaysAgo(today, 4));
  for (const m of older) {
    if (rng.chance(0.3)) markSent(ctx, m);
  }
  const unsentRecent = postedAll.filter((m) => !m.is_move_sent && (m.invoice_date as string) >= isoDaysAgo(today, 6) && m.move_type === 'out_invoice');
  for (const m of unsentRecent.slice(0, 2)) {
    // Odoo itself is sending these: 18+ `sending_data`, 17 `send_and_print_values`
    if (ctx.profile.major === 17) m.send_and_print_values = { sp_partner_id: 8, mail: true, download: false };
    else m.sending_data = { author_user_id: USERS.ksiegowa.id, author_partner_id: 8, sending_methods: ['email'] };
  }
  if (!ctx.profile.modules.l10nPlEdi) return;
  // KSeF (Odoo's l10n_pl_edi): domestic invoices, PLN and one EUR invoice with VAT (its P_14_xW and KursWaluty).
  const ksefCandidates = postedAll.filter((m) => m.currency_id === base.pln && m.move_type === 'out_invoice' && !m.sending_data && !m.send_and_print_values);
  const ksefPicked = new Set<Raw>();
  while (ksefPicked.size < Math.min(8, ksefCandidates.length)) ksefPicked.add(rng.pick(ksefCandidates));
  const eurWithVat = postedAll.find(
    (m) =>
      m.currency_id === base.eur &&
      m.move_type === 'out_invoice' &&
      m.fiscal_position_id === base.fiscal.domestic &&
      (m.amount_tax as number) > 0 &&
      !m.sending_data &&
      !m.send_and_print_values,
  );
  let k = 0;
  for (const m of [...ksefPicked].sort((a, b) => a.id - b.id)) {
    const n = k++;
    if (n === 0) {
      m.l10n_pl_edi_status = 'sent'; // sent to KSeF, not yet accepted: no number, no XML stored yet
      continue;
    }
    const xml = Buffer.from(ksefXml(orm, m, base), 'utf8');
    m.l10n_pl_edi_attachment_id = attach(ctx, m, ksefXmlName(m), 'application/xml', xml);
    m.l10n_pl_edi_hash = ksefHash(xml);
    if (n === 1) {
      // issued in KSeF's offline mode: the XML exists (and its KOD I), the KSeF number not yet
      m.l10n_pl_edi_status = 'offline';
      continue;
    }
    const accepted = DateTime.fromISO(m.invoice_date as string)
      .plus({ days: rng.int(0, 1) })
      .toISODate() as string;
    m.l10n_pl_edi_status = 'accepted';
    m.l10n_pl_edi_number = ksefNumber(base.sellerNip, accepted, rng.hex(12));
  }
  if (eurWithVat) {
    const xml = Buffer.from(ksefXml(orm, eurWithVat, base), 'utf8');
    eurWithVat.l10n_pl_edi_attachment_id = attach(ctx, eurWithVat, ksefXmlName(eurWithVat), 'application/xml', xml);
    eurWithVat.l10n_pl_edi_hash = ksefHash(xml);
    eurWithVat.l10n_pl_edi_status = 'accepted';
    eurWithVat.l10n_pl_edi_number = ksefNumber(base.sellerNip, eurWithVat.invoice_date as string, rng.hex(12));
  }
}

/** The KSeF hash of an FA(3) document: SHA-256 of exactly its bytes, Base64URL (what KOD I carries). */
export function ksefHash(xml: Uint8Array): string {
  return createHash('sha256').update(xml).digest('base64url');
}

/** `FA3-<name>.xml`, as Odoo's l10n_pl_edi names the FA(3) attachment (the number's slashes made file-safe). */
export function ksefXmlName(m: Raw): string {
  return `FA3-${String(m.name).replaceAll('/', '_')}.xml`;
}

function markSent(ctx: Ctx, m: Raw): void {
  const customer = ctx.orm.get('res.partner', m.partner_id as number) as Raw;
  const pdf = minimalPdf([
    `${m.move_type === 'out_refund' ? 'Faktura korygujaca' : 'Faktura VAT'} ${String(m.name)}`,
    'Sprzedawca: Spike Sp. z o.o.',
    `Nabywca: ${String(customer.name || '')}`,
    `Data wystawienia: ${String(m.invoice_date)}`,
    `Razem do zaplaty: ${(m.amount_total as number).toFixed(2)}`,
  ]);
  m.is_move_sent = true;
  m.invoice_pdf_report_id = attach(ctx, m, `${String(m.name).replaceAll('/', '_')}.pdf`, 'application/pdf', pdf);
  const sentAt = utcAt(
    DateTime.fromISO(m.invoice_date as string)
      .plus({ days: 1 })
      .toISODate() as string,
    10,
    ctx.rng.int(0, 59),
  );
  m.write_date = sentAt;
}

function attach(ctx: Ctx, m: Raw, name: string, mimetype: string, data: Buffer): number {
  return ctx.orm.insert(
    'ir.attachment',
    {
      name,
      res_model: 'account.move',
      res_id: m.id,
      mimetype,
      datas: data.toString('base64'),
      checksum: createHash('sha1').update(data).digest('hex'),
      file_size: data.length,
      type: 'binary',
      create_date: m.write_date,
      write_date: m.write_date,
    },
    ctx.env,
  );
}

function xmlEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** FA(3) field suffix of each sale tax: P_13_<x> (net) and, for the taxed rates, P_14_<x> (VAT) / P_14_<x>W (VAT in PLN). */
const FA3_RATE: readonly { key: string; suffix: string; taxed: boolean }[] = [
  { key: '23', suffix: '1', taxed: true },
  { key: '8', suffix: '2', taxed: true },
  { key: '5', suffix: '3', taxed: true },
  { key: '0', suffix: '6_1', taxed: false },
  { key: 'wdt', suffix: '6_2', taxed: false },
  { key: 'zw', suffix: '7', taxed: false },
  { key: 'np', suffix: '9', taxed: false },
];

const money = (minor: bigint): string => {
  const neg = minor < 0n;
  const a = neg ? -minor : minor;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
};

/**
 * The invoice as a KSeF FA(3) document (schema http://crd.gov.pl/wzor/2025/06/25/13775/), with the
 * elements a print needs, in the schema's order: Naglowek, Podmiot1/Podmiot2 with NIP, Fa with KodWaluty,
 * P_1 (issue date), P_2 (number), P_13_x/P_14_x per rate (P_14_xW, the VAT in PLN, for a foreign
 * currency), P_15 (total), Adnotacje, RodzajFaktury, FaWiersz rows (KursWaluty on each for a foreign currency).
 */
export function ksefXml(orm: Orm, m: Raw, base: Pick<Base, 'sellerNip' | 'taxes' | 'pln'>): string {
  const customer = orm.get('res.partner', m.commercial_partner_id as number) as Raw;
  const currency = orm.get('res.currency', m.currency_id as number) as Raw;
  const foreign = m.currency_id !== base.pln;
  const minor = (v: unknown): bigint => {
    const x = toScaled(typeof v === 'number' ? v : 0, 2);
    return x < 0n ? -x : x;
  };
  const keyOf = new Map<number, string>(Object.entries(base.taxes).map(([key, id]) => [id, key]));
  const lines = orm.childrenOf('account.move.line', 'move_id', m.id);
  const rates = new Map<string, { net: bigint; vat: bigint; vatPln: bigint }>();
  const rateOf = (taxId: unknown): { net: bigint; vat: bigint; vatPln: bigint } | null => {
    const key = keyOf.get(taxId as number);
    if (!key || !FA3_RATE.some((x) => x.key === key)) return null;
    const r = rates.get(key) ?? { net: 0n, vat: 0n, vatPln: 0n };
    rates.set(key, r);
    return r;
  };
  const rows: string[] = [];
  for (const l of lines) {
    if (l.display_type === 'product') {
      const taxId = ((l.tax_ids as number[] | undefined) ?? [])[0];
      const r = rateOf(taxId);
      if (r) r.net += minor(l.price_subtotal);
      const key = keyOf.get(taxId as number) ?? '';
      const rate = ['23', '8', '5', '0'].includes(key) ? key : key === 'wdt' ? '0 WDT' : key;
      rows.push(
        `    <FaWiersz><NrWierszaFa>${rows.length + 1}</NrWierszaFa><P_7>${xmlEscape(String(l.name ?? ''))}</P_7><P_8B>${String(l.quantity)}</P_8B><P_9A>${money(toScaled(typeof l.price_unit === 'number' ? l.price_unit : 0, 2))}</P_9A><P_11>${money(minor(l.price_subtotal))}</P_11><P_12>${rate}</P_12>${foreign ? `<KursWaluty>${kurs(orm, m)}</KursWaluty>` : ''}</FaWiersz>`,
      );
    } else if (l.display_type === 'tax') {
      const r = rateOf(l.tax_line_id);
      if (r) {
        r.vat += minor(l.amount_currency);
        r.vatPln += minor(l.balance);
      }
    }
  }
  const sums: string[] = [];
  for (const spec of FA3_RATE) {
    const r = rates.get(spec.key);
    if (!r) continue;
    sums.push(`<P_13_${spec.suffix}>${money(r.net)}</P_13_${spec.suffix}>`);
    if (spec.taxed) {
      sums.push(`<P_14_${spec.suffix}>${money(r.vat)}</P_14_${spec.suffix}>`);
      if (foreign) sums.push(`<P_14_${spec.suffix}W>${money(r.vatPln)}</P_14_${spec.suffix}W>`);
    }
  }
  const refund = m.move_type === 'out_refund';
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">',
    '  <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza><WariantFormularza>3</WariantFormularza>' +
      `<DataWytworzeniaFa>${String(m.invoice_date)}T10:00:00Z</DataWytworzeniaFa><SystemInfo>Odoo</SystemInfo></Naglowek>`,
    `  <Podmiot1><DaneIdentyfikacyjne><NIP>${base.sellerNip}</NIP><Nazwa>Spike Sp. z o.o.</Nazwa></DaneIdentyfikacyjne></Podmiot1>`,
    `  <Podmiot2><DaneIdentyfikacyjne><NIP>${xmlEscape(String(customer.vat || '').replace(/^PL/i, ''))}</NIP><Nazwa>${xmlEscape(String(customer.name))}</Nazwa></DaneIdentyfikacyjne></Podmiot2>`,
    '  <Fa>',
    `    <KodWaluty>${xmlEscape(String(currency.name))}</KodWaluty><P_1>${String(m.invoice_date)}</P_1><P_2>${xmlEscape(String(m.name))}</P_2>`,
    `    ${sums.join('')}<P_15>${money(minor(m.amount_total))}</P_15>`,
    '    <Adnotacje><P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>' + (m.x_split_payment ? '1' : '2') + '</P_18A></Adnotacje>',
    `    <RodzajFaktury>${refund ? 'KOR' : 'VAT'}</RodzajFaktury>`,
    ...rows,
    '  </Fa>',
    '</Faktura>',
    '',
  ].join('\n');
}

/** KursWaluty: PLN per unit of the invoice's currency on its date (the rate Odoo used), 6 decimals at most. */
function kurs(orm: Orm, m: Raw): string {
  const r = rateOn(orm, m.currency_id as number, (m.invoice_date || m.date) as string);
  const v = toScaled(typeof r?.inverse_company_rate === 'number' ? r.inverse_company_rate : 0, 6);
  return `${v / 1_000_000n}.${String(v % 1_000_000n).padStart(6, '0')}`.replace(/0+$/, '').replace(/\.$/, '');
}

function quantity(rng: Prng, spec: ProductSpec): number {
  const [lo, hi, step] = spec.qty;
  if (!step) return rng.int(lo, hi);
  const steps = Math.round((hi - lo) / step);
  return Number((lo + rng.int(0, steps) * step).toFixed(3));
}

function createInvoice(ctx: Ctx, base: Base, plan: InvoicePlan): Raw {
  const { orm, env, rng } = ctx;
  const c = plan.customer;
  const foreignCustomer = c.foreign;
  const currency = foreignCustomer ? (rng.chance(0.85) ? base.eur : base.pln) : rng.chance(0.04) ? base.eur : base.pln;
  const term = rng.pick(base.terms);
  const invoiceDate = plan.noDate ? false : plan.date;
  const due = invoiceDate ? (DateTime.fromISO(invoiceDate).plus({ days: term.days }).toISODate() as string) : false;
  const delivery =
    invoiceDate && rng.chance(0.35)
      ? (DateTime.fromISO(invoiceDate)
          .minus({ days: rng.int(1, 10) })
          .toISODate() as string)
      : false;
  const created = utcAt(plan.date, rng.int(7, 16), rng.int(0, 59));
  const partnerId = c.invoiceContactId && rng.chance(0.5) ? c.invoiceContactId : c.id;
  const ago = ctx.today.diff(DateTime.fromISO(plan.date, { zone: ZONE }), 'days').days;
  let paymentState = 'not_paid';
  if (plan.state === 'posted' && ago > term.days)
    paymentState = rng.weighted([
      ['paid', 45],
      ['not_paid', 45],
      ['partial', 5],
      ['in_payment', 5],
    ] as const);
  const lang = c.spec.lang ?? 'pl_PL';
  const moveId = orm.insert(
    'account.move',
    {
      name: '/',
      move_type: 'out_invoice',
      state: plan.state,
      journal_id: base.journal,
      company_id: base.companyId,
      partner_id: partnerId,
      commercial_partner_id: c.id,
      partner_shipping_id: c.id,
      invoice_user_id: rng.pick([USERS.handlowiec.id, USERS.ksiegowa.id, USERS.admin.id]),
      invoice_date: invoiceDate,
      delivery_date: delivery,
      invoice_date_due: due,
      date: invoiceDate || ctx.orm.today,
      currency_id: currency,
      company_currency_id: base.pln,
      invoice_payment_term_id: term.id,
      payment_reference: false,
      invoice_origin: rng.chance(0.25) ? `S${String(rng.int(100, 9999)).padStart(5, '0')}` : false,
      ref: rng.chance(0.15) ? `ZAM/${plan.date.slice(0, 4)}/${rng.int(1, 400)}` : false,
      narration: rng.chance(0.3) ? (lang === 'pl_PL' ? '<p>Dziękujemy za współpracę.</p>' : '<p>Thank you for your business.</p>') : false,
      payment_state: paymentState,
      is_move_sent: false,
      sending_data: false,
      partner_bank_id: currency === base.pln ? base.bankPln : base.bankEur,
      fiscal_position_id: foreignCustomer ? base.fiscal.eu : base.fiscal.domestic,
      l10n_pl_edi_status: false,
      l10n_pl_edi_number: false,
      l10n_pl_edi_attachment_id: false,
      l10n_pl_edi_hash: false,
      x_split_payment: false,
      x_reverse_charge: false,
      x_exemption_basis: false,
      create_date: created,
      write_date: created,
      create_uid: USERS.ksiegowa.id,
      write_uid: USERS.ksiegowa.id,
    },
    env,
  );
  const move = orm.get('account.move', moveId) as Raw;
  if (plan.state === 'cancel') move._hadNumber = rng.chance(0.5);

  // products for this customer
  let pool = base.products.filter((p) => c.spec.profile.includes(p.spec.profile));
  if (plan.forceRates) pool = base.products.filter((p) => plan.forceRates?.includes(p.spec.tax));
  if (pool.length === 0) pool = base.products;
  const eurPerPln = 42634n;
  const lines: { product: { spec: ProductSpec; id: number }; qty: number; price: number; discount: number }[] = [];
  for (let i = 0; i < plan.lineCount; i++) {
    const product = plan.forceRates && i < plan.forceRates.length ? rng.pick(pool.filter((p) => p.spec.tax === plan.forceRates?.[i])) : rng.pick(pool);
    let priceMinor = BigInt(Math.round(product.spec.price * (0.9 + rng.int(0, 20) / 100)));
    if (currency === base.eur) priceMinor = (priceMinor * 10000n + eurPerPln / 2n) / eurPerPln; // list price converted to EUR cents
    const discount = rng.chance(0.18) ? rng.pick([2.5, 5, 10, 15, 20]) : 0;
    lines.push({ product, qty: quantity(rng, product.spec), price: Number(priceMinor) / 100, discount });
  }
  const sections = plan.lineCount >= 4 && plan.lineCount < 200 && rng.chance(0.2);
  let seq = 10;
  const addLine = (vals: Record<string, unknown>): void => {
    orm.insert(
      'account.move.line',
      {
        move_id: moveId,
        sequence: seq,
        currency_id: currency,
        company_currency_id: base.pln,
        partner_id: c.id,
        create_date: created,
        write_date: created,
        ...vals,
      },
      env,
    );
    seq += 1;
  };
  if (sections) {
    const goods = lines.filter((l) => !l.product.spec.service);
    const services = lines.filter((l) => l.product.spec.service);
    lines.length = 0;
    lines.push(...goods, ...services);
    if (goods.length)
      addLine({ display_type: 'line_section', name: lang === 'pl_PL' ? 'Towary' : 'Goods', quantity: 0, price_unit: 0, discount: 0, tax_ids: [] });
  }
  let servicesHeaderDone = false;
  let reverseCharge = false;
  let exempt: string | false = false;
  for (const l of lines) {
    if (sections && l.product.spec.service && !servicesHeaderDone) {
      addLine({ display_type: 'line_section', name: lang === 'pl_PL' ? 'Usługi' : 'Services', quantity: 0, price_unit: 0, discount: 0, tax_ids: [] });
      servicesHeaderDone = true;
    }
    let tax: number = base.taxes[l.product.spec.tax];
    if (foreignCustomer) {
      if (l.product.spec.service) {
        tax = base.taxes.np;
        reverseCharge = true;
      } else tax = base.taxes.wdt;
    } else if (l.product.spec.tax === 'zw') {
      exempt = EXEMPTION_BASIS[l.product.spec.profile] ?? (EXEMPTION_BASIS.training as string);
    }
    const extra = l.product.spec.code === 'ABO-SRV' ? `\nOkres rozliczeniowy: ${plan.date.slice(5, 7)}.${plan.date.slice(0, 4)}` : '';
    addLine({
      display_type: 'product',
      name: `[${l.product.spec.code}] ${l.product.spec.name}${extra}`,
      product_id: l.product.id,
      quantity: l.qty,
      product_uom_id: base.uoms[l.product.spec.uom],
      price_unit: l.price,
      discount: l.discount,
      tax_ids: [tax],
    });
  }
  if (sections || rng.chance(0.08))
    addLine({
      display_type: 'line_note',
      name: lang === 'pl_PL' ? 'Gwarancja 24 miesiące od daty dostawy.' : 'Warranty: 24 months from delivery.',
      quantity: 0,
      price_unit: 0,
      discount: 0,
      tax_ids: [],
    });
  move.x_reverse_charge = reverseCharge;
  move.x_exemption_basis = exempt;
  return move;
}

function createRefund(ctx: Ctx, base: Base, original: Raw): Raw {
  const { orm, env, rng, today } = ctx;
  const maxAgo = Math.max(0, today.diff(DateTime.fromISO(original.invoice_date as string, { zone: ZONE }), 'days').days - 1);
  const date = isoDaysAgo(today, rng.int(0, Math.floor(maxAgo)));
  const full = rng.chance(0.6);
  const created = utcAt(date, rng.int(8, 15), rng.int(0, 59));
  const state = rng.chance(0.85) ? 'posted' : 'draft';
  const id = orm.insert(
    'account.move',
    {
      ...Object.fromEntries(
        Object.entries(original).filter(
          ([k]) =>
            ![
              'id',
              'name',
              'payment_reference',
              'is_move_sent',
              'sending_data',
              'invoice_pdf_report_id',
              'l10n_pl_edi_status',
              'l10n_pl_edi_number',
              'l10n_pl_edi_attachment_id',
              'x_split_payment',
              'invoice_origin',
              'narration',
            ].includes(k),
        ),
      ),
      name: '/',
      move_type: 'out_refund',
      state,
      invoice_date: date,
      date,
      delivery_date: false,
      invoice_date_due: date,
      reversed_entry_id: original.id,
      payment_state: 'not_paid',
      payment_reference: false,
      create_date: created,
      write_date: created,
    },
    env,
  );
  const refund = orm.get('account.move', id) as Raw;
  refund._reason = full ? 'zwrot towaru' : 'rabat posprzedażowy';
  const lines = [...orm.table('account.move.line').values()].filter((l) => l.move_id === original.id && l.display_type === 'product');
  const picked = full ? lines : [lines[0] as Raw];
  let seq = 10;
  for (const l of picked) {
    const qty = full ? l.quantity : (l.quantity as number) > 1 ? 1 : l.quantity;
    orm.insert(
      'account.move.line',
      {
        ...Object.fromEntries(Object.entries(l).filter(([k]) => k !== 'id')),
        move_id: id,
        sequence: seq++,
        quantity: qty,
        create_date: created,
        write_date: created,
      },
      env,
    );
  }
  if (full && state === 'posted') original.payment_state = 'reversed';
  void base;
  return refund;
}

/**
 * A state file saved by an older sandbox (before it answered like real Odoo) gets what the rights and the
 * registration need: the Access Rights / Mail Template Editor groups for admin, API keys, the Invoicing menu.
 * Idempotent; the data itself is kept.
 */
export function upgradeState(orm: Orm): void {
  const env: Env = { uid: 1, context: {}, su: true };
  const xmlids = orm.table('ir.model.data');
  const find = (module: string, name: string): number | null => {
    for (const r of xmlids.values()) if (r.module === module && r.name === name) return r.res_id as number;
    return null;
  };
  orm.withoutHooks(() => {
    for (const [x, name, full] of [
      [G.accessRights, 'Access Rights', 'Administration / Access Rights'],
      [G.templateEditor, 'Mail Template Editor', 'Technical / Mail Template Editor'],
      [G.portal, 'Portal', 'User types / Portal'],
      [G.accountReadonly, 'Read-only', 'Technical / Read-only'],
    ] as const) {
      const [module, n] = x.split('.') as [string, string];
      if (find(module, n) !== null) continue;
      const id = orm.insert('res.groups', { name, full_name: full }, env);
      orm.insert('ir.model.data', { module, name: n, complete_name: x, model: 'res.groups', res_id: id, noupdate: true }, env);
      if (x === G.accessRights || x === G.templateEditor) {
        const admin = orm.get('res.users', USERS.admin.id);
        if (admin) admin.groups_id = [...((admin.groups_id as number[] | undefined) ?? []), id];
      }
    }
    for (const u of Object.values(USERS)) if (!orm.apiKeys.has(u.id)) orm.apiKeys.set(u.id, [u.apiKey]);
    if (find('account', 'menu_finance') === null && !orm.table('ir.ui.menu').has(119)) {
      const invoicing = orm.insert('ir.ui.menu', { id: 119, name: { en_US: 'Invoicing', pl_PL: 'Fakturowanie' }, sequence: 55 }, env);
      orm.insert(
        'ir.model.data',
        { module: 'account', name: 'menu_finance', complete_name: 'account.menu_finance', model: 'ir.ui.menu', res_id: invoicing, noupdate: true },
        env,
      );
    }
  });
}

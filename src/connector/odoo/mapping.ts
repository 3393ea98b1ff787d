/**
 * Odoo records -> domain types. Pure functions, no I/O.
 *
 * Numbers: Odoo sends amounts as JSON floats. We never do float arithmetic on them: a float is turned
 * into its shortest round-trip decimal text (`String(x)`, e.g. 0.1 + 0.2 -> "0.30000000000000004"),
 * that text is parsed into an exact BigInt mantissa and a power of ten, and rounding (half away from
 * zero, like Odoo's `float_round`) happens on the integers. `toMinor(1234.56) === 123456`.
 */
import { compile } from 'html-to-text';
import { DateTime } from 'luxon';
import { ConnectorError } from '../../errors.ts';
import { divRound, formatScaled, parseExact as parseDecimalExact, pow10, scaleRound, type Exact } from '../../decimal.ts';
import type {
  Address,
  BookedAmounts,
  Decimal,
  ExchangeRate,
  Invoice,
  InvoiceContact,
  InvoiceLine,
  InvoiceReadError,
  IsoDate,
  KsefInfo,
  Minor,
  Party,
  Seller,
  TaxRate,
} from '../../domain.ts';
import type { OdooRecord } from './client.ts';

// ---------------------------------------------------------------------------------------------------
// Exact decimals

/** Parses Odoo's numbers/decimal text exactly; anything else is a host_validation fault. */
export function parseExact(value: number | string): Exact {
  try {
    return parseDecimalExact(value);
  } catch (cause) {
    throw new ConnectorError('host_validation', `Odoo sent a value that is not a finite number: ${JSON.stringify(String(value)).slice(0, 40)}`, { cause });
  }
}

/**
 * Amount -> integer minor units (`decimals` = the currency's decimal places, 2 for PLN/EUR).
 * `false`/`null` (Odoo's empty) -> 0. Throws `host_validation` beyond `Number.MAX_SAFE_INTEGER`.
 */
export function toMinor(value: number | string | false | null | undefined, decimals = 2): Minor {
  if (value === false || value === null || value === undefined || value === '') return 0;
  const n = scaleRound(parseExact(value), decimals);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConnectorError('host_validation', `Amount ${String(value)} is too large to handle exactly`);
  }
  const out = Number(n);
  return out === 0 ? 0 : out; // no -0
}

/**
 * Number -> canonical decimal text: no exponent, no trailing zeros, no "-0" ("2.5", "23", "0.0001").
 * Rounded half away from zero to at most `maxPlaces` decimals (default 8), which also drops float
 * noise such as 12.300000000000001.
 */
export function toDecimal(value: number | string | false | null | undefined, maxPlaces = 8): Decimal {
  if (value === false || value === null || value === undefined || value === '') return '0';
  return formatScaled(scaleRound(parseExact(value), maxPlaces), maxPlaces);
}

// ---------------------------------------------------------------------------------------------------
// Odoo value helpers

/** Odoo text value -> string or null (`false`, '' and whitespace-only are null). */
export function str(v: unknown): string | null {
  if (v === false || v === null || v === undefined) return null;
  const s = String(v);
  return s.trim() === '' ? null : s;
}

/** many2one `[id, name]` -> id or null. */
export function m2oId(v: unknown): number | null {
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  if (typeof v === 'number' && v > 0) return v;
  return null;
}

/** many2one `[id, name]` -> display name or null. */
export function m2oName(v: unknown): string | null {
  return Array.isArray(v) && v.length > 1 ? str(v[1]) : null;
}

/** x2many -> ids. */
export function idList(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [];
}

/** Odoo date "YYYY-MM-DD" (or datetime) -> IsoDate or null. */
export function isoDate(v: unknown): IsoDate | null {
  const s = str(v);
  if (!s) return null;
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(s);
  return m ? m[1]! : null;
}

/** Odoo UTC datetime "YYYY-MM-DD HH:MM:SS" -> ISO instant with offset, or null. */
export function isoInstant(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  const dt = DateTime.fromSQL(s, { zone: 'utc' });
  return dt.isValid ? dt.toISO({ suppressMilliseconds: true }) : null;
}

let htmlConverter: ((html: string) => string) | null = null;

/** HTML (Odoo narration) -> plain text, or null when it holds no text. */
export function htmlToText(v: unknown): string | null {
  const s = str(v);
  if (!s) return null;
  // Only HTML needs the converter; compiling it once saves most of its cost.
  if (!/[<&]/.test(s)) return s.trim() === '' ? null : s.trim();
  htmlConverter ??= compile({ wordwrap: false, selectors: [{ selector: 'a', options: { ignoreHref: true } }] });
  const text = htmlConverter(s)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return text === '' ? null : text;
}

/** HTML-escapes plain text for Odoo chatter; newlines become `<br>`. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\r?\n/g, '<br>');
}

/** `invoice_sending_method` -> consent: 'email' yes, another method (manual, post, peppol) no, empty unknown. */
export function consentFromSendingMethod(v: unknown): boolean | null {
  const s = str(v);
  if (s === null) return null;
  return s === 'email';
}

// ---------------------------------------------------------------------------------------------------
// Records -> domain

export interface PageData {
  /** res.partner by id (customers, commercial partners, company partner). */
  partners: Map<number, OdooRecord>;
  countries: Map<number, OdooRecord>;
  /** Invoice-type child contacts by parent id. */
  contacts: Map<number, OdooRecord[]>;
  lines: Map<number, OdooRecord[]>;
  taxes: Map<number, OdooRecord>;
  currencies: Map<number, OdooRecord>;
  /** Rates by currency id, newest first. */
  rates: Map<number, OdooRecord[]>;
  banks: Map<number, OdooRecord>;
  corrected: Map<number, OdooRecord>;
  /** SHA-256 (Base64URL) of KSeF XML attachments by attachment id. */
  ksefXmlSha: Map<number, string>;
  /** The KSeF XML attachments themselves (name and bytes) by attachment id. */
  ksefXml?: Map<number, { filename: string; content: Uint8Array }>;
  company: { id: number; partnerId: number; name: string; currencyId: number | null; currency: string };
  /** Which optional fields the host has (from fields_get). */
  has: { partnerSendingMethod: boolean; taxInvoiceLabel: boolean; ksef?: boolean };
  /** The company's `l10n_pl_edi_register`; null when the host has no such field. */
  ksefRegistered?: boolean | null;
  /** Reads of this page that failed; only the invoices that need them carry `readError`. */
  failures?: PageFailures;
}

/** Failed page reads that only some invoices need. */
export interface PageFailures {
  rates?: InvoiceReadError;
  banks?: InvoiceReadError;
  corrected?: InvoiceReadError;
  ksef?: InvoiceReadError;
}

export function mapAddress(p: OdooRecord | undefined, countries: Map<number, OdooRecord>): Address {
  const countryId = p ? m2oId(p.country_id) : null;
  const country = countryId !== null ? countries.get(countryId) : undefined;
  return {
    street: str(p?.street),
    street2: str(p?.street2),
    zip: str(p?.zip),
    city: str(p?.city),
    countryCode: country ? (str(country.code)?.toUpperCase() ?? null) : null,
    countryName: country ? str(country.name) : p ? m2oName(p.country_id) : null,
  };
}

export function mapParty(p: OdooRecord | undefined, id: number, data: Pick<PageData, 'countries'>, consent: boolean | null): Party {
  return {
    id: String(id),
    name: str(p?.name) ?? '',
    vat: str(p?.vat),
    address: mapAddress(p, data.countries),
    email: str(p?.email),
    lang: str(p?.lang),
    eInvoiceConsent: consent,
  };
}

/** The tax's print label: `invoice_label` when the host has one, else "<percent>%". */
export function mapTax(t: OdooRecord): TaxRate {
  const percent = toDecimal(t.amount as number, 4);
  const label = str(t.invoice_label) ?? `${percent}%`;
  return { id: String(t.id), name: str(t.name) ?? label, percent, label };
}

const LINE_KINDS: Record<string, InvoiceLine['kind']> = { product: 'product', line_section: 'section', line_note: 'note' };

/** Keeps product, section and note lines (drops tax/payment-term/rounding lines), in Odoo's order. */
export function mapLines(records: OdooRecord[], taxes: Map<number, OdooRecord>, decimals: number): InvoiceLine[] {
  const kept = records
    .map((r) => ({ r, kind: r.display_type === false || r.display_type === undefined ? 'product' : LINE_KINDS[String(r.display_type)] }))
    .filter((x): x is { r: OdooRecord; kind: InvoiceLine['kind'] } => x.kind !== undefined)
    .sort((a, b) => Number(a.r.sequence ?? 0) - Number(b.r.sequence ?? 0) || a.r.id - b.r.id);
  return kept.map(({ r, kind }) => {
    if (kind !== 'product') {
      return { id: String(r.id), kind, name: str(r.name) ?? '', quantity: '0', unit: null, unitPrice: '0', discountPercent: '0', net: 0, gross: 0, taxes: [] };
    }
    return {
      id: String(r.id),
      kind,
      name: str(r.name) ?? m2oName(r.product_id) ?? '',
      quantity: toDecimal(r.quantity as number),
      unit: m2oName(r.product_uom_id),
      unitPrice: toDecimal(r.price_unit as number),
      discountPercent: toDecimal(r.discount as number),
      net: toMinor(r.price_subtotal as number, decimals),
      gross: toMinor(r.price_total as number, decimals),
      taxes: idList(r.tax_ids)
        .map((id) => taxes.get(id))
        .filter((t): t is OdooRecord => t !== undefined)
        .map(mapTax),
    };
  });
}

/**
 * The PLN (company currency) conversion: the newest `res.currency.rate` of the invoice currency dated on
 * or before the invoice's rate date; PLN per unit = `inverse_company_rate` (else 1 / `rate`, exactly as
 * text is impossible, so only when the host gives the inverse). Null when the host has none.
 */
export function pickExchangeRate(rates: OdooRecord[] | undefined, onDate: IsoDate | null, strictlyBefore = false): ExchangeRate | null {
  if (!rates || rates.length === 0) return null;
  const candidate = rates.find((r) => {
    const d = isoDate(r.name);
    return d !== null && (onDate === null || (strictlyBefore ? d < onDate : d <= onDate));
  });
  if (!candidate) return null;
  const inverse = candidate.inverse_company_rate;
  if (typeof inverse !== 'number' && typeof inverse !== 'string') return null;
  if (Number(inverse) <= 0) return null;
  return { rate: toDecimal(inverse, 6), date: isoDate(candidate.name)!, source: null };
}

/**
 * KSeF facts, only where the host has Odoo's `l10n_pl_edi_*` fields (nothing is invented elsewhere): a
 * company registered for KSeF (`l10n_pl_edi_register`) gets KSeF info on every invoice, so an invoice
 * without its number is held; an unregistered company's invoices get none.
 */
export function ksefInfo(move: OdooRecord, data: Pick<PageData, 'ksefXmlSha' | 'ksefXml' | 'has' | 'ksefRegistered'>): KsefInfo | null {
  if (data.ksefRegistered === false) return null;
  const number = str(move.l10n_pl_edi_number);
  const status = str(move.l10n_pl_edi_status);
  const attId = m2oId(move.l10n_pl_edi_attachment_id);
  // The hash KSeF registered (the host's l10n_pl_edi_hash) when the host keeps one, else that of the stored XML;
  // the print checks the XML's bytes against it.
  const xmlSha256 = str(move.l10n_pl_edi_hash) ?? (attId !== null ? (data.ksefXmlSha.get(attId) ?? null) : null);
  const xml = attId !== null ? data.ksefXml?.get(attId) : undefined;
  const info: KsefInfo = { number, status, xmlSha256, ...(xml ? { xml } : {}) };
  if (data.ksefRegistered === true && data.has.ksef) return info;
  if (number === null && status === null && xmlSha256 === null) return null;
  return info;
}

/** |value| in minor units, or null when Odoo did not send it. */
function absMinor(v: unknown, decimals: number): Minor | null {
  if (typeof v !== 'number' && typeof v !== 'string') return null;
  return Math.abs(toMinor(v, decimals));
}

/**
 * What a foreign-currency invoice booked in the company currency: `amount_*_signed` (negative for
 * credit notes, so taken absolute) and the per-rate split of `tax_totals` — Odoo 18 `subtotals[].tax_groups[]`
 * (`base_amount`, `tax_amount`), Odoo 17 `groups_by_subtotal` (`tax_group_*_company_currency`). Null
 * when the host sent neither.
 */
export function bookedAmounts(move: OdooRecord, companyCurrency: string, taxes: Map<number, OdooRecord>, decimals = 2): BookedAmounts | null {
  const totals = move.tax_totals && typeof move.tax_totals === 'object' ? (move.tax_totals as Record<string, unknown>) : null;
  const taxByRate: BookedAmounts['taxByRate'] = [];
  let tUntaxed: Minor | null = null;
  let tTax: Minor | null = null;
  let tTotal: Minor | null = null;
  if (totals && Array.isArray(totals.subtotals) && 'total_amount' in totals) {
    // Odoo 18+
    for (const sub of totals.subtotals as Record<string, unknown>[]) {
      for (const g of (Array.isArray(sub.tax_groups) ? sub.tax_groups : []) as Record<string, unknown>[]) {
        const labels = idList(g.involved_tax_ids)
          .map((id) => taxes.get(id))
          .filter((t): t is OdooRecord => t !== undefined)
          .map((t) => mapTax(t).label);
        taxByRate.push({
          label: labels.length ? [...new Set(labels)].join(', ') : (str(g.group_name) ?? ''),
          base: absMinor(g.base_amount, decimals) ?? 0,
          tax: absMinor(g.tax_amount, decimals) ?? 0,
        });
      }
    }
    tUntaxed = absMinor(totals.base_amount, decimals);
    tTax = absMinor(totals.tax_amount, decimals);
    tTotal = absMinor(totals.total_amount, decimals);
  } else if (totals && totals.groups_by_subtotal && typeof totals.groups_by_subtotal === 'object') {
    // Odoo 17
    const order = Array.isArray(totals.subtotals_order) ? (totals.subtotals_order as string[]) : Object.keys(totals.groups_by_subtotal);
    const groups = totals.groups_by_subtotal as Record<string, Record<string, unknown>[]>;
    let sumTax = 0;
    for (const key of order) {
      for (const g of groups[key] ?? []) {
        const tax = absMinor(g.tax_group_amount_company_currency, decimals);
        const base = absMinor(g.tax_group_base_amount_company_currency, decimals);
        if (tax === null || base === null) continue;
        taxByRate.push({ label: str(g.tax_group_name) ?? '', base, tax });
        sumTax += tax;
      }
    }
    const subs = Array.isArray(totals.subtotals) ? (totals.subtotals as Record<string, unknown>[]) : [];
    tUntaxed = subs.length && subs.every((x) => x.amount_company_currency !== undefined) ? absMinor(subs[0]!.amount_company_currency, decimals) : null;
    tTotal = absMinor(totals.amount_total_company_currency, decimals);
    tTax = taxByRate.length ? sumTax : null;
  }
  const untaxed = absMinor(move.amount_untaxed_signed, decimals) ?? tUntaxed;
  const tax = absMinor(move.amount_tax_signed, decimals) ?? tTax;
  const total = absMinor(move.amount_total_signed, decimals) ?? tTotal;
  if (untaxed === null || tax === null || total === null) return null;
  return { currency: companyCurrency, untaxed, tax, total, taxByRate };
}

/**
 * The rate the invoice itself used, as PLN per unit: Odoo 18+ `invoice_currency_rate` (invoice currency
 * per company unit, inverted exactly to 6 places); Odoo 17 derived from the booked and the document
 * untaxed amount (the fewest decimals, up to 6, that reproduce the booked amount). Null when neither.
 */
export function invoiceRate(move: OdooRecord, booked: BookedAmounts | null, decimals = 2): Decimal | null {
  const r = move.invoice_currency_rate;
  if ((typeof r === 'number' || typeof r === 'string') && Number(r) > 0) {
    const x = parseExact(r);
    // 1 / (m × 10^e) × 10^6 = 10^(6-e) / m
    const places = 6;
    const scaled = x.e <= places ? divRound(pow10(places - x.e), x.m) : divRound(1n, x.m * pow10(x.e - places));
    if (scaled > 0n) return formatScaled(scaled, places);
  }
  const docUntaxed = toMinor(move.amount_untaxed as number, decimals);
  if (booked && docUntaxed !== 0 && booked.untaxed !== 0) {
    const doc = BigInt(Math.abs(docUntaxed));
    const book = BigInt(booked.untaxed);
    for (let p = 0; p <= 6; p++) {
      const rate = divRound(book * pow10(p), doc); // rate × 10^p
      if (divRound(doc * rate, pow10(p)) === book) return formatScaled(rate, p);
    }
    return formatScaled(divRound(book * pow10(6), doc), 6);
  }
  return null;
}

/** One `account.move` plus the page's related records -> `Invoice`. */
export function mapInvoice(move: OdooRecord, data: PageData): Invoice {
  const currencyId = m2oId(move.currency_id);
  const currencyRec = currencyId !== null ? data.currencies.get(currencyId) : undefined;
  const currency = str(currencyRec?.name) ?? m2oName(move.currency_id) ?? data.company.currency;
  const decimals = typeof currencyRec?.decimal_places === 'number' ? currencyRec.decimal_places : 2;
  const companyCurrency = m2oName(move.company_currency_id) ?? data.company.currency;

  const partnerId = m2oId(move.partner_id);
  const partner = partnerId !== null ? data.partners.get(partnerId) : undefined;
  const commercialId = m2oId(move.commercial_partner_id) ?? (partner ? m2oId(partner.commercial_partner_id) : null) ?? partnerId;
  const commercial = commercialId !== null ? data.partners.get(commercialId) : undefined;
  const consent = data.has.partnerSendingMethod ? consentFromSendingMethod(commercial?.invoice_sending_method ?? partner?.invoice_sending_method) : null;
  const customer = mapParty(partner, partnerId ?? 0, data, consent);
  if (commercial && commercial !== partner) {
    // The buyer is the commercial entity (name and NIP); address, e-mail and language stay the invoice partner's.
    customer.name = str(commercial.name) ?? customer.name;
    customer.vat = str(commercial.vat) ?? customer.vat;
  }

  const contactParents = [partnerId, commercialId].filter((x): x is number => x !== null);
  const seen = new Set<number>();
  const invoiceContacts: InvoiceContact[] = [];
  for (const parent of contactParents) {
    for (const c of data.contacts.get(parent) ?? []) {
      if (seen.has(c.id) || c.id === partnerId) continue;
      seen.add(c.id);
      invoiceContacts.push({ id: String(c.id), name: str(c.name) ?? '', email: str(c.email) });
    }
  }

  const companyPartner = data.partners.get(data.company.partnerId);
  const bankId = m2oId(move.partner_bank_id);
  const bank = bankId !== null ? data.banks.get(bankId) : undefined;
  const seller: Seller = {
    ...mapParty(companyPartner, data.company.partnerId, data, null),
    name: str(companyPartner?.name) ?? data.company.name,
    bankAccount: str(bank?.acc_number),
    bankName: bank ? m2oName(bank.bank_id) : null,
  };

  const state = move.state === 'cancel' ? 'cancelled' : move.state === 'posted' ? 'posted' : 'draft';
  const booked = currency !== companyCurrency ? bookedAmounts(move, companyCurrency, data.taxes) : null;
  const issueDate = isoDate(move.invoice_date);
  const foreign = currency !== companyCurrency;
  const rateDate = issueDate ?? isoDate(move.date);
  const correctedId = m2oId(move.reversed_entry_id);
  const corrected = correctedId !== null ? data.corrected.get(correctedId) : undefined;
  const name = str(move.name);

  return {
    id: String(move.id),
    number: name === null || name === '/' ? null : name,
    kind: move.move_type === 'out_refund' ? 'credit_note' : 'invoice',
    state,
    issueDate,
    saleDate: isoDate(move.delivery_date),
    dueDate: isoDate(move.invoice_date_due),
    currency,
    companyCurrency,
    amountUntaxed: toMinor(move.amount_untaxed as number, decimals),
    amountTax: toMinor(move.amount_tax as number, decimals),
    amountTotal: toMinor(move.amount_total as number, decimals),
    exchangeRate:
      foreign && currencyId !== null
        ? exchangeRateOf(move, booked, data.rates.get(currencyId), rateDate, isoDate(move.delivery_date) ?? issueDate, decimals)
        : null,
    booked,
    readError: readErrorOf(move, foreign, data.failures),
    seller,
    customer,
    invoiceContacts,
    lines: mapLines(data.lines.get(move.id) ?? [], data.taxes, decimals),
    paymentReference: str(move.payment_reference),
    paymentTerm: m2oName(move.invoice_payment_term_id),
    paymentMethod: null,
    notes: {
      splitPayment: move.x_split_payment === true,
      reverseCharge: move.x_reverse_charge === true,
      exemptionBasis: str(move.x_exemption_basis),
      narration: htmlToText(move.narration),
    },
    corrects:
      correctedId !== null
        ? {
            number: str(corrected?.name) ?? m2oName(move.reversed_entry_id) ?? '',
            date: isoDate(corrected?.invoice_date),
            ...(corrected && 'l10n_pl_edi_number' in corrected ? { ksefNumber: str(corrected.l10n_pl_edi_number) } : {}),
          }
        : null,
    ksef: ksefInfo(move, data),
    hostMarkedSent: move.is_move_sent === true,
    hostIsSending: isSet(move.sending_data) || isSet(move.send_and_print_values),
    updatedAt: isoInstant(move.write_date),
  };
}

/**
 * The rate the invoice used (`invoiceRate`) with the date of the rate-table entry in force on the
 * invoice date when it equals it (null when none does: the host does not say which day's rate it was).
 * A host that keeps no rate on the invoice: the connector chooses the rate itself, by art. 31a — the
 * newest table rate dated before the tax point (sale date, else issue date), i.e. the last business day's.
 */
function exchangeRateOf(
  move: OdooRecord,
  booked: BookedAmounts | null,
  rates: OdooRecord[] | undefined,
  onDate: IsoDate | null,
  taxPoint: IsoDate | null,
  decimals: number,
): ExchangeRate | null {
  const own = invoiceRate(move, booked, decimals);
  if (own === null) return pickExchangeRate(rates, taxPoint, true);
  const table = pickExchangeRate(rates, onDate);
  // The invoice used the table's rate of that day: say so, with its date.
  if (table !== null && toDecimal(table.rate, 4) === toDecimal(own, 4)) return { rate: own, date: table.date, source: table.source };
  const field =
    typeof move.invoice_currency_rate === 'number' || typeof move.invoice_currency_rate === 'string' ? 'invoice_currency_rate' : 'amount_untaxed_signed';
  return { rate: own, date: null, source: `Odoo ${field}` };
}

function readErrorOf(move: OdooRecord, foreign: boolean, failures: PageFailures | undefined): InvoiceReadError | null {
  if (!failures) return null;
  if (foreign && failures.rates) return failures.rates;
  if (m2oId(move.partner_bank_id) !== null && failures.banks) return failures.banks;
  if (m2oId(move.reversed_entry_id) !== null && failures.corrected) return failures.corrected;
  if (m2oId(move.l10n_pl_edi_attachment_id) !== null && failures.ksef) return failures.ksef;
  return null;
}

/** Odoo JSON field set: not false/null/empty text/empty object. */
function isSet(v: unknown): boolean {
  if (v === false || v === null || v === undefined) return false;
  if (typeof v === 'string') return v.trim() !== '' && v.trim() !== '{}' && v.trim() !== 'null';
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return Boolean(v);
}

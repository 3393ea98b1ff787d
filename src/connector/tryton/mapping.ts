/**
 * Tryton records (already decoded by the client: decimals as strings, dates as ISO) -> domain types.
 * Pure functions, no I/O; unit-tested without a server.
 *
 * Decisions (Tryton 6.0 has no field for these; documented so the core knows what to expect):
 *  - Credit notes: Tryton has one invoice `type` 'out' for both; a credit note is an 'out' invoice with
 *    a negative total whose product lines are all <= 0 (the very rule Tryton uses to pick the credit
 *    note sequence). The domain shows it as Odoo does: `kind: 'credit_note'` with POSITIVE amounts and
 *    quantities (signs of totals, line quantities and line amounts are flipped; unit prices stay).
 *  - States: `draft`/`validated` -> 'draft' (the buffer), `posted`/`paid` -> 'posted', `cancelled` ->
 *    'cancelled'.
 *  - Sale date: none in Tryton 6.0 -> `saleDate: null` (the core then uses the issue date).
 *  - Due date: the earliest maturity date of the invoice's lines to pay (posted invoices); null for drafts.
 *  - Line gross: Tryton computes taxes per invoice, not per line; the line's gross is its net plus, per
 *    percentage tax, net x rate rounded half away from zero to the currency's minor unit. Header totals
 *    are always Tryton's own.
 *  - Tax label: "<percent>%" (Tryton has no "zw"/"np" notion); exemption basis = the first non-empty
 *    legal notice of the invoice's tax lines.
 *  - E-mail: the party's active e-mail contact mechanisms; when some are flagged for invoices
 *    (`invoice` usage of account_invoice), only those, and they are also the invoice contacts.
 *  - Language: Tryton's code as is ("pl", "en"). Consent (`eInvoiceConsent`): null (no such field).
 *  - Exchange rate: Tryton keeps "units of currency per 1 company currency"; the domain wants PLN per
 *    unit, so the rate is companyRate / invoiceRate at the invoice's currency date, to 4 decimals
 *    (half up), as NBP publishes them.
 *  - Payment reference / method, KSeF: none in Tryton 6.0 -> null. `hostIsSending`: always false.
 *  - `hostMarkedSent`: Tryton has no "sent" flag; the connector's receipt attachment says it.
 */
import type { Address, ExchangeRate, Invoice, InvoiceContact, InvoiceLine, InvoiceState, Minor, Party, Seller, TaxRate } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import { canonicalDecimal } from './client.ts';
import { divRound, formatScaled } from '../../decimal.ts';

/** A Tryton record read with dotted field names: nested records appear under "<field>.". */
export type Rec = Record<string, unknown>;

export const RECEIPT_NAME = 'invoice-courier-receipt.json';

// ---------------------------------------------------------------- decimals

function parseDecimal(s: string): { neg: boolean; digits: bigint; scale: number } {
  const t = canonicalDecimal(s);
  const neg = t.startsWith('-');
  const body = neg ? t.slice(1) : t;
  const [int, frac = ''] = body.split('.');
  return { neg, digits: BigInt(int! + frac), scale: frac.length };
}

/** Decimal text -> minor units for a currency with `digits` decimals (half away from zero). */
export function decimalToMinor(s: string, digits: number): Minor {
  const { neg, digits: d, scale } = parseDecimal(s);
  let v: bigint;
  if (scale <= digits) v = d * 10n ** BigInt(digits - scale);
  else v = divRound(d, 10n ** BigInt(scale - digits));
  const n = Number(neg ? -v : v);
  if (!Number.isSafeInteger(n)) throw new ConnectorError('host_validation', `Amount out of range: ${s}`);
  return n === 0 ? 0 : n;
}

/** A Float field (quantity) -> decimal text, through its shortest decimal representation. */
export function floatToDecimal(n: unknown): string {
  if (typeof n === 'string') return canonicalDecimal(n);
  if (typeof n !== 'number' || !Number.isFinite(n)) return '0';
  return canonicalDecimal(String(n));
}

export function negateDecimal(s: string): string {
  const t = canonicalDecimal(s);
  if (/^-?0+(\.0+)?$/.test(t)) return t.replace(/^-/, '');
  return t.startsWith('-') ? t.slice(1) : `-${t}`;
}

/** Tryton tax rate "0.23" -> percent "23"; "0.085" -> "8.5". */
export function rateToPercent(rate: string): string {
  const { neg, digits, scale } = parseDecimal(rate);
  const v = neg ? -digits : digits;
  if (scale >= 2) return formatScaled(v, scale - 2);
  return formatScaled(v * 10n ** BigInt(2 - scale), 0);
}

/** Tax in minor units of `net` at `rate` (e.g. "0.23"), rounded half away from zero. */
export function taxMinor(net: Minor, rate: string): Minor {
  const { neg, digits, scale } = parseDecimal(rate);
  const r = neg ? -digits : digits;
  return Number(divRound(BigInt(net) * r, 10n ** BigInt(scale)));
}

/** PLN (company currency) per one unit of the invoice currency, to `places` decimals. */
export function invertRate(companyRate: string, invoiceRate: string, places = 4): string {
  const a = parseDecimal(companyRate);
  const b = parseDecimal(invoiceRate);
  if (b.digits === 0n) throw new ConnectorError('host_validation', 'Tryton currency rate is zero');
  // (a / 10^as) / (b / 10^bs) * 10^places
  const num = (a.neg ? -a.digits : a.digits) * 10n ** BigInt(b.scale + places);
  const den = (b.neg ? -b.digits : b.digits) * 10n ** BigInt(a.scale);
  const q = divRound(num, den);
  const s = formatScaled(q, places);
  return s.includes('.') ? s.padEnd(s.indexOf('.') + 1 + places, '0') : `${s}.${'0'.repeat(places)}`;
}

function isPositive(s: string): boolean {
  const t = canonicalDecimal(s);
  return !t.startsWith('-') && !/^0+(\.0+)?$/.test(t);
}

function isNegative(s: string): boolean {
  const t = canonicalDecimal(s);
  return t.startsWith('-') && !/^-0+(\.0+)?$/.test(t);
}

// ---------------------------------------------------------------- records

export function nested(rec: Rec, field: string): Rec | null {
  const v = rec[`${field}.`];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : null;
}

export function nestedList(rec: Rec, field: string): Rec[] {
  const v = rec[`${field}.`];
  return Array.isArray(v) ? (v as Rec[]) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/** SQLite answers booleans as 0/1. */
export function bool(v: unknown): boolean {
  return v === true || v === 1 || v === '1';
}

export function mapState(state: string): InvoiceState {
  if (state === 'posted' || state === 'paid') return 'posted';
  if (state === 'cancelled') return 'cancelled';
  return 'draft';
}

/** A `party.address` record (street is multi-line text in Tryton: first line / rest). */
export function mapAddress(addr: Rec | null): Address {
  if (!addr) return { street: null, street2: null, zip: null, city: null, countryCode: null, countryName: null };
  const lines = (str(addr.street) ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const country = nested(addr, 'country');
  return {
    street: lines[0] ?? null,
    street2: lines.length > 1 ? lines.slice(1).join(', ') : null,
    zip: str(addr.postal_code),
    city: str(addr.city),
    countryCode: country ? str(country.code) : null,
    countryName: country ? str(country.name) : null,
  };
}

/** E-mail contact mechanisms of one party -> the addresses to use and the invoice contacts. */
export function pickEmails(partyName: string, mechanisms: Rec[]): { email: string | null; contacts: InvoiceContact[] } {
  const emails = mechanisms.filter((m) => m.type === 'email' && str(m.value) && (m.active === undefined || bool(m.active)));
  const flagged = emails.filter((m) => bool(m.invoice));
  const chosen = flagged.length > 0 ? flagged : emails;
  const contacts = flagged.map((m) => ({ id: String(m.id), name: str(m.name) ?? partyName, email: String(m.value).trim() }));
  const list = chosen.map((m) => String(m.value).trim());
  return { email: list.length > 0 ? list.join(', ') : null, contacts };
}

/** A `party.party` read with name, lang.code, tax_identifier.code, addresses and contact mechanisms. */
export function mapParty(party: Rec, address: Rec | null, mechanisms: Rec[], taxIdentifier: Rec | null): Party {
  const name = str(party.name) ?? '';
  const lang = nested(party, 'lang');
  return {
    id: String(party.id),
    name,
    vat: taxIdentifier ? str(taxIdentifier.code) : null,
    address: mapAddress(address),
    email: pickEmails(name, mechanisms).email,
    lang: lang ? str(lang.code) : null,
    eInvoiceConsent: null,
  };
}

export function mapSeller(party: Rec, address: Rec | null, mechanisms: Rec[]): Seller {
  return { ...mapParty(party, address, mechanisms, nested(party, 'tax_identifier')), bankAccount: null, bankName: null };
}

export function mapTax(tax: Rec): TaxRate {
  const rate = typeof tax.rate === 'string' ? tax.rate : null;
  const percent = rate !== null && tax.type === 'percentage' ? rateToPercent(rate) : '0';
  return {
    id: String(tax.id),
    name: str(tax.description) ?? str(tax.name) ?? `${percent}%`,
    percent,
    label: `${percent}%`,
  };
}

export function mapLine(line: Rec, taxes: Map<number, Rec>, digits: number, flip: boolean): InvoiceLine {
  const type = String(line.type ?? 'line');
  const product = nested(line, 'product');
  const name = str(line.description) ?? (product ? str(product.rec_name) : null) ?? '';
  if (type !== 'line') {
    return {
      id: String(line.id),
      kind: type === 'title' ? 'section' : 'note',
      name: name || (type === 'subtotal' ? 'Subtotal' : ''),
      quantity: '0',
      unit: null,
      unitPrice: '0',
      discountPercent: '0',
      net: 0,
      gross: 0,
      taxes: [],
    };
  }
  const lineTaxes = (Array.isArray(line.taxes) ? (line.taxes as unknown[]) : []).map((id) => taxes.get(num(id))).filter((t): t is Rec => t !== undefined);
  let net = decimalToMinor(typeof line.amount === 'string' ? line.amount : '0', digits);
  let tax = 0;
  for (const t of lineTaxes) {
    if (t.type === 'percentage' && typeof t.rate === 'string') tax += taxMinor(net, t.rate);
  }
  let quantity = floatToDecimal(line.quantity);
  if (flip) {
    net = -net || 0;
    tax = -tax || 0;
    quantity = negateDecimal(quantity);
  }
  const unit = nested(line, 'unit');
  return {
    id: String(line.id),
    kind: 'product',
    name,
    quantity,
    unit: unit ? str(unit.rec_name) : null,
    unitPrice: typeof line.unit_price === 'string' ? canonicalDecimal(line.unit_price) : '0',
    discountPercent: '0',
    net,
    gross: net + tax,
    taxes: lineTaxes.map(mapTax),
  };
}

/** Tryton's own credit-note rule (Invoice._sequence_field): total < 0 and no product line > 0. */
export function isCreditNote(invoice: Rec, lines: Rec[]): boolean {
  if (typeof invoice.total_amount !== 'string' || !isNegative(invoice.total_amount)) return false;
  return lines
    .filter((l) => nested(l, 'product') !== null || (typeof l.product === 'number' && l.product > 0))
    .every((l) => typeof l.amount !== 'string' || !isPositive(l.amount));
}

export interface Receipt {
  kind: 'invoice-courier-receipt';
  version: 1;
  invoiceId: string;
  state: string;
  reason: string | null;
  messageId: string | null;
  /** Sticky: once an outcome set the host's "sent" mark, it stays set. */
  markedSent: boolean;
  recipients: { address: string; accepted: boolean }[];
  detail: string | null;
  writtenAt: string;
  history: { state: string; reason: string | null; messageId: string | null; at: string }[];
}

export function parseReceipt(data: unknown): Receipt | null {
  try {
    const text = data instanceof Uint8Array ? new TextDecoder().decode(data) : typeof data === 'string' ? data : null;
    if (text === null) return null;
    const r = JSON.parse(text) as Partial<Receipt>;
    if (r.kind !== 'invoice-courier-receipt' || typeof r.state !== 'string') return null;
    return {
      kind: 'invoice-courier-receipt',
      version: 1,
      invoiceId: String(r.invoiceId ?? ''),
      state: r.state,
      reason: r.reason ?? null,
      messageId: r.messageId ?? null,
      markedSent: r.markedSent === true,
      recipients: Array.isArray(r.recipients) ? r.recipients : [],
      detail: r.detail ?? null,
      writtenAt: String(r.writtenAt ?? ''),
      history: Array.isArray(r.history) ? r.history : [],
    };
  } catch {
    return null;
  }
}

export interface InvoiceExtras {
  lines: Rec[];
  taxes: Map<number, Rec>;
  /** The customer's party record (name, lang, contact mechanisms). */
  party: Rec;
  mechanisms: Rec[];
  seller: Seller;
  receipt: Receipt | null;
  corrects: { number: string; date: string | null } | null;
  exchangeRate: ExchangeRate | null;
}

/**
 * An `account.invoice` read with: number, state, type, invoice_date, write_date, create_date, comment,
 * untaxed_amount, tax_amount, total_amount, currency.{code,digits}, company.currency.code,
 * party_tax_identifier.code, invoice_address.{street,postal_code,city,country.code,country.name},
 * payment_term.name, lines_to_pay.maturity_date, taxes.legal_notice.
 */
export function mapInvoice(inv: Rec, x: InvoiceExtras): Invoice {
  const currency = nested(inv, 'currency');
  const digits = currency && typeof currency.digits === 'number' ? currency.digits : 2;
  const company = nested(inv, 'company');
  const companyCurrency = company ? nested(company, 'currency') : null;
  const flip = isCreditNote(inv, x.lines);
  const amount = (field: string): Minor => {
    const v = inv[field];
    const m = decimalToMinor(typeof v === 'string' ? v : '0', digits);
    return flip ? -m || 0 : m;
  };
  const lines = [...x.lines].sort((a, b) => num(a.sequence ?? 0) - num(b.sequence ?? 0) || num(a.id) - num(b.id)).map((l) => mapLine(l, x.taxes, digits, flip));
  const maturities = nestedList(inv, 'lines_to_pay')
    .map((l) => str(l.maturity_date))
    .filter((d): d is string => d !== null)
    .sort();
  const legal = nestedList(inv, 'taxes')
    .map((t) => str(t.legal_notice))
    .find((n) => n !== null);
  const customer = mapParty(x.party, nested(inv, 'invoice_address'), x.mechanisms, nested(inv, 'party_tax_identifier'));
  const paymentTerm = nested(inv, 'payment_term');
  return {
    id: String(inv.id),
    number: str(inv.number),
    kind: flip ? 'credit_note' : 'invoice',
    state: mapState(String(inv.state)),
    issueDate: str(inv.invoice_date),
    saleDate: null,
    dueDate: maturities[0] ?? null,
    currency: currency ? String(currency.code) : '',
    companyCurrency: companyCurrency ? String(companyCurrency.code) : '',
    amountUntaxed: amount('untaxed_amount'),
    amountTax: amount('tax_amount'),
    amountTotal: amount('total_amount'),
    exchangeRate: x.exchangeRate,
    seller: x.seller,
    customer,
    invoiceContacts: pickEmails(customer.name, x.mechanisms).contacts,
    lines,
    paymentReference: null,
    paymentTerm: paymentTerm ? str(paymentTerm.name) : null,
    paymentMethod: null,
    notes: {
      splitPayment: false,
      reverseCharge: false,
      exemptionBasis: legal ?? null,
      narration: str(inv.comment),
    },
    corrects: flip ? x.corrects : null,
    ksef: null,
    hostMarkedSent: x.receipt?.markedSent === true,
    hostIsSending: false,
    updatedAt: str(inv.write_date) ?? str(inv.create_date),
  };
}

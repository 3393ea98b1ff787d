/**
 * Polish number formatting and the VAT arithmetic of the prints, all on integers (`Minor`, BigInt for
 * products) or decimal strings: never binary-float arithmetic on amounts.
 *
 * Conventions:
 *  - grouping by U+00A0 NO-BREAK SPACE (so "1 234,56" never wraps), decimal comma, "-" for negatives;
 *  - a currency's number of minor digits follows ISO 4217 (2 unless listed in `currencyDigits`);
 *  - VAT per rate is computed from the net sum of that rate, rounded half-up to the grosz (art. 106e
 *    ust. 10: "końcówki kwot wynoszące mniej niż 0,5 grosza pomija się, a końcówki kwot wynoszące 0,5 grosza
 *    i więcej zaokrągla się do 1 grosza"). Hosts that round per line (Odoo `round_per_line`) are recognised
 *    in `reconcileTotals`, which then uses the lines' own VAT.
 */
import type { Decimal, Invoice, InvoiceLine, Minor } from '../domain.ts';
import { divRound } from '../decimal.ts';
import { printWarning, type PrintWarning, type PrintWarningCode } from '../messages/catalogue.ts';

export const NBSP = '\u00a0';

const ZERO_DIGIT = new Set(['JPY', 'KRW', 'ISK', 'CLP', 'VND', 'XAF', 'XOF', 'PYG', 'UGX', 'RWF', 'KMF', 'GNF', 'DJF', 'VUV', 'XPF']);
const THREE_DIGIT = new Set(['BHD', 'KWD', 'OMR', 'JOD', 'TND', 'IQD', 'LYD']);

/** Number of minor-unit digits of a currency (ISO 4217); 2 for unknown codes. */
export function currencyDigits(currency: string | undefined): number {
  if (!currency) return 2;
  const c = currency.toUpperCase();
  if (ZERO_DIGIT.has(c)) return 0;
  if (THREE_DIGIT.has(c)) return 3;
  return 2;
}

function groupThousands(intDigits: string): string {
  let out = '';
  for (let i = 0; i < intDigits.length; i++) {
    if (i > 0 && (intDigits.length - i) % 3 === 0) out += NBSP;
    out += intDigits[i];
  }
  return out;
}

function assertMinor(minor: Minor): void {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`Not an integer minor amount: ${String(minor)}`);
}

/**
 * "1 234,56" (U+00A0 grouping, decimal comma); with a currency: "1 234,56 PLN".
 * Minor digits follow the currency (`currencyDigits`), 2 without one.
 */
export function formatAmount(minor: Minor, currency?: string): string {
  assertMinor(minor);
  const digits = currencyDigits(currency);
  const neg = minor < 0;
  const abs = String(Math.abs(minor)).padStart(digits + 1, '0');
  const intPart = abs.slice(0, abs.length - digits);
  const frac = abs.slice(abs.length - digits);
  const text = (neg ? '-' : '') + groupThousands(intPart) + (digits > 0 ? ',' + frac : '');
  return currency ? `${text}${NBSP}${currency}` : text;
}

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/;

interface ParsedDecimal {
  neg: boolean;
  int: string;
  frac: string;
}

function parseDecimal(value: Decimal): ParsedDecimal {
  const m = DECIMAL_RE.exec(value.trim());
  if (!m) throw new RangeError(`Not a decimal number: ${JSON.stringify(value)}`);
  return { neg: m[1] === '-', int: m[2]!.replace(/^0+(?=\d)/, ''), frac: m[3] ?? '' };
}

/** Rounds a decimal string half away from zero to `digits` fraction digits (string arithmetic via BigInt). */
export function roundDecimal(value: Decimal, digits: number): Decimal {
  const p = parseDecimal(value);
  if (p.frac.length <= digits) return value.trim();
  const scaled = BigInt(p.int + p.frac.slice(0, digits));
  const next = Number(p.frac[digits]);
  const rounded = next >= 5 ? scaled + 1n : scaled;
  const s = rounded.toString().padStart(digits + 1, '0');
  const int = s.slice(0, s.length - digits);
  const frac = s.slice(s.length - digits);
  const isZero = rounded === 0n;
  return (p.neg && !isZero ? '-' : '') + int + (digits > 0 ? '.' + frac : '');
}

/**
 * Formats a decimal string the Polish way: "1234.5" -> "1 234,5". Trailing zeros are trimmed down to
 * `minFractionDigits` (default 0); `maxFractionDigits` rounds half away from zero.
 */
export function formatDecimal(value: Decimal, options: { minFractionDigits?: number; maxFractionDigits?: number } = {}): string {
  const min = options.minFractionDigits ?? 0;
  let v = value.trim();
  if (options.maxFractionDigits !== undefined) v = roundDecimal(v, options.maxFractionDigits);
  const p = parseDecimal(v);
  let frac = p.frac.replace(/0+$/, '');
  if (frac.length < min) frac = frac.padEnd(min, '0');
  const isZero = /^0*$/.test(p.int) && /^0*$/.test(frac);
  return (p.neg && !isZero ? '-' : '') + groupThousands(p.int) + (frac ? ',' + frac : '');
}

/** `value` × 10^digits as a BigInt, exact (throws when `value` has more digits). */
function scaledBigInt(value: Decimal, digits: number): bigint {
  const p = parseDecimal(value);
  if (p.frac.replace(/0+$/, '').length > digits) throw new RangeError(`${value} has more than ${digits} fraction digits`);
  const b = BigInt(p.int + p.frac.padEnd(digits, '0').slice(0, digits));
  return p.neg ? -b : b;
}

/** VAT of a net amount at `percent` (decimal string), rounded half-up to the minor unit. */
export function vatOf(net: Minor, percent: Decimal): Minor {
  assertMinor(net);
  const p = scaledBigInt(percent, 6);
  return Number(divRound(BigInt(net) * p, 100n * 1_000_000n));
}

/**
 * Converts an amount in a foreign currency to PLN grosze at `rate` (PLN per unit), rounded half-up.
 * `fromCurrency` decides the minor digits of `minor`.
 */
export function convertToPln(minor: Minor, rate: Decimal, fromCurrency: string): Minor {
  assertMinor(minor);
  const r = scaledBigInt(rate, 10);
  const fromDigits = currencyDigits(fromCurrency);
  // minor / 10^fromDigits units × rate PLN/unit × 100 grosze/PLN
  return Number(divRound(BigInt(minor) * r * 100n, 10n ** BigInt(fromDigits) * 10_000_000_000n));
}

export interface VatRateSummary {
  /** Grouping key: the VAT label ("23%", "zw", "np"), or "—" for lines without tax. */
  label: string;
  /** Percentage as decimal text ("23"), "0" for zw/np/none. */
  percent: Decimal;
  net: Minor;
  vat: Minor;
  gross: Minor;
}

export interface Totals {
  net: Minor;
  vat: Minor;
  gross: Minor;
}

export interface Reconciled {
  /** VAT summary per rate, in the order the rates first appear on the lines. */
  summary: VatRateSummary[];
  /** The totals to print: always the host's figures. */
  totals: Totals;
  /** What the lines add up to. */
  computed: Totals;
  /** Which VAT per rate the summary carries. */
  vatMethod: 'per_rate' | 'per_line';
  warnings: PrintWarning[];
}

function lineKey(line: InvoiceLine): { label: string; percent: Decimal } {
  if (line.taxes.length === 0) return { label: '—', percent: '0' };
  if (line.taxes.length === 1) return { label: line.taxes[0]!.label, percent: line.taxes[0]!.percent };
  // several taxes on one line: the labels joined, the percentages added
  let sum = 0n;
  for (const t of line.taxes) sum += scaledBigInt(t.percent, 6);
  const s = sum.toString().padStart(7, '0');
  const percent = (s.slice(0, -6) + '.' + s.slice(-6)).replace(/\.?0+$/, '');
  return { label: line.taxes.map((t) => t.label).join(' + '), percent };
}

/** VAT summary per rate from the product lines; VAT rounded per rate (the Polish rate-summary method). */
export function vatSummary(lines: InvoiceLine[]): { perRate: VatRateSummary[]; perLine: VatRateSummary[] } {
  const groups = new Map<string, { label: string; percent: Decimal; net: Minor; lineVat: Minor }>();
  for (const line of lines) {
    if (line.kind !== 'product') continue;
    const k = lineKey(line);
    const g = groups.get(k.label) ?? { ...k, net: 0, lineVat: 0 };
    g.net += line.net;
    g.lineVat += line.gross - line.net;
    groups.set(k.label, g);
  }
  const perRate: VatRateSummary[] = [];
  const perLine: VatRateSummary[] = [];
  for (const g of groups.values()) {
    const vat = vatOf(g.net, g.percent);
    perRate.push({ label: g.label, percent: g.percent, net: g.net, vat, gross: g.net + vat });
    perLine.push({ label: g.label, percent: g.percent, net: g.net, vat: g.lineVat, gross: g.net + g.lineVat });
  }
  return { perRate, perLine };
}

function sumTotals(summary: VatRateSummary[]): Totals {
  const t = { net: 0, vat: 0, gross: 0 };
  for (const s of summary) {
    t.net += s.net;
    t.vat += s.vat;
    t.gross += s.gross;
  }
  return t;
}

/**
 * Computes the VAT summary and totals from the lines and compares them with the host's
 * `amountUntaxed / amountTax / amountTotal`. The host's figures always win (they are what the customer
 * owes and what the books hold); every difference yields a warning naming both figures.
 *
 * The summary uses VAT rounded per rate unless the host evidently rounds per line (its tax total equals
 * the sum of the lines' own VAT but not the per-rate figure).
 */
export function reconcileTotals(invoice: Pick<Invoice, 'lines' | 'amountUntaxed' | 'amountTax' | 'amountTotal' | 'currency' | 'number'>): Reconciled {
  const { perRate, perLine } = vatSummary(invoice.lines);
  let summary = perRate;
  let vatMethod: Reconciled['vatMethod'] = 'per_rate';
  const rateTotals = sumTotals(perRate);
  const lineTotals = sumTotals(perLine);
  if (rateTotals.vat !== invoice.amountTax && lineTotals.vat === invoice.amountTax) {
    summary = perLine;
    vatMethod = 'per_line';
  }
  const computed = sumTotals(summary);
  const totals = { net: invoice.amountUntaxed, vat: invoice.amountTax, gross: invoice.amountTotal };
  const warnings: PrintWarning[] = [];
  const cur = invoice.currency;
  const plain = (minor: Minor) => formatAmount(minor, cur).replace(/\u00a0/g, ' ');
  const check = (code: PrintWarningCode, mine: Minor, host: Minor) => {
    if (mine !== host) warnings.push(printWarning(code, { lines: plain(mine), host: plain(host) }));
  };
  check('print.warning.net_differs', computed.net, totals.net);
  check('print.warning.vat_differs', computed.vat, totals.vat);
  check('print.warning.gross_differs', computed.gross, totals.gross);
  return { summary, totals, computed, vatMethod, warnings };
}

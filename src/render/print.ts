/**
 * The connector's standard prints of a Polish VAT invoice, drawn with pdfkit and the pre-parsed DejaVu
 * fonts (docs/performance.md). Three print ids:
 *
 *  - `invoice`           layout by kind and currency; bilingual PL/EN when the customer's language is not
 *                        Polish (or `options.lang` is 'en'), Polish otherwise;
 *  - `invoice-pl`        always Polish only;
 *  - `invoice-bilingual` always PL/EN.
 *
 * Layouts: "Faktura VAT" (the currency stated beside the title when it is not PLN: amounts in the
 * invoice currency, the VAT per rate and in total also in PLN), "Faktura korygująca" (credit notes: the
 * corrected invoice's number, date and KSeF number when known, the reason of the correction, correction
 * amounts). Every element of art. 106e ust. 1 is printed (docs/design.md §5). A KSeF "KOD I" QR
 * code with the KSeF number under it is printed when the host provides the number and the XML hash.
 *
 * VAT in PLN (art. 106e ust. 11): what the invoice booked (`Invoice.booked`), with the rate the invoice
 * used and its source, the rate's date only when the host knows it; never recomputed from a rate table
 * when the booking is there. Without a booking: each rate's VAT converted at the host's rate, and the
 * print says it was converted when printing (plus a warning); without a rate either: a "brak kursu" note.
 *
 * Credit notes: hosts (Odoo) keep a credit note's amounts positive; the print shows them as negative
 * correction amounts (quantity and values with a minus sign), "Do zwrotu" with the amount in words, and
 * a "Zwrot" block with the buyer's account when the host has it, never the seller's own account.
 *
 * Payment: the host's payment method; "przelew" when it names none and the print gives the account to
 * pay into. The seller's phone, e-mail and web site are printed under the seller when the host has them.
 * Host product codes at the start of line names ("[CATER] …") are left out unless the installation
 * turned `stripProductCodes` off.
 *
 * Pages: the lines table breaks across pages with its header repeated; the VAT summary, the PLN note
 * and the totals stay together and always share their page with at least two line items (`planRows`);
 * the payment, notes and KSeF blocks follow, each on the next page only when it does not fit.
 *
 * Output is deterministic: the same invoice and options give the same bytes (CreationDate is fixed, by
 * default to the issue date at 00:00 UTC).
 */
import PDFDocument from 'pdfkit';
import { DateTime } from 'luxon';
import type { Invoice, InvoiceLine, Minor, Party, Seller } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import { FONT_BOLD, FONT_REGULAR, loadFonts } from './fonts.ts';
import { printWarning, type PrintWarning } from '../messages/catalogue.ts';
import { drawQr, ksefQrHash, ksefVerificationUrl, normalizeNip, type KsefEnvironment } from './ksef.ts';
import { convertToPln, formatAmount, formatDecimal, reconcileTotals, type VatRateSummary } from './money.ts';
import { isStandardPrintId, type StandardPrintId } from './prints.ts';
import { amountInWordsPl } from './words.ts';

export { STANDARD_PRINT_IDS, isStandardPrintId, listStandardPrints, type StandardPrintId } from './prints.ts';

export interface RenderOptions {
  /** For the `invoice` print: 'pl' Polish only, 'en' bilingual PL/EN, 'auto' (default) by the customer's language. */
  lang?: 'pl' | 'en' | 'auto';
  /** Which KSeF QR host the KOD I points to; default 'prod'. */
  ksefEnvironment?: KsefEnvironment;
  /**
   * Leave out a host product code in square brackets at the start of a line name ("[CATER] Catering"
   * prints "Catering"), the installation's `stripProductCodes` setting. Default true.
   */
  stripProductCodes?: boolean;
  /** The PDF CreationDate; default the issue date (or 2000-01-01) at 00:00 UTC, so output is deterministic. */
  creationDate?: Date;
  /**
   * Benchmarks only: draw with pdfkit's built-in Helvetica instead of DejaVu. Helvetica has no Polish
   * letters, so such a PDF is wrong; it measures the lower bound of the layout work alone.
   */
  builtinHelveticaForBenchmark?: boolean;
}

export interface RenderResult {
  pdf: Uint8Array;
  warnings: PrintWarning[];
}

/** True when the print of `invoice` is bilingual for this print id and options. */
export function isBilingual(invoice: Pick<Invoice, 'customer'>, printId: StandardPrintId, lang: RenderOptions['lang'] = 'auto'): boolean {
  if (printId === 'invoice-pl') return false;
  if (printId === 'invoice-bilingual') return true;
  if (lang === 'pl') return false;
  if (lang === 'en') return true;
  const l = invoice.customer.lang;
  if (l) return !/^pl([_-]|$)/i.test(l);
  const country = invoice.customer.address.countryCode;
  return country !== null && country.toUpperCase() !== 'PL';
}

// ---- page geometry (A4 in points) ----
const PAGE_W = 595.28;
const PAGE_H = 841.89;
const MARGIN = 40;
const CONTENT_W = PAGE_W - 2 * MARGIN;
/** Content never goes below this line; the footer lives under it. */
const BOTTOM = PAGE_H - 52;
const FOOTER_Y = PAGE_H - 38;
const TABLE_SIZE = 7.5;
const TEXT_SIZE = 8.5;
const GREY = '#555555';
const RULE = '#bbbbbb';
const HEAD_BG = '#e8e8e8';

type Doc = PDFKit.PDFDocument;
type Align = 'left' | 'right' | 'center';

interface Column {
  head: string;
  w: number;
  align: Align;
}

interface Ctx {
  doc: Doc;
  inv: Invoice;
  bi: boolean;
  t: (pl: string, en: string) => string;
  y: number;
  /** +1, or -1 on credit notes whose host amounts are positive. */
  sign: 1 | -1;
  warnings: PrintWarning[];
  title: string;
  stripCodes: boolean;
}

function fmtDate(iso: string | null): string {
  if (!iso) return '—';
  const d = DateTime.fromISO(iso, { zone: 'utc' });
  return d.isValid ? d.toFormat('dd.MM.yyyy') : iso;
}

function setFont(doc: Doc, bold: boolean, size: number): void {
  doc.font(bold ? FONT_BOLD : FONT_REGULAR).fontSize(size);
}

/** Draws text in a box; returns the height it took. */
function put(doc: Doc, text: string, x: number, y: number, w: number, opts: { bold?: boolean; size?: number; align?: Align; color?: string } = {}): number {
  setFont(doc, opts.bold ?? false, opts.size ?? TEXT_SIZE);
  doc.fillColor(opts.color ?? '#000000');
  doc.text(text, x, y, { width: w, align: opts.align ?? 'left' });
  return doc.y - y;
}

function measure(doc: Doc, text: string, w: number, opts: { bold?: boolean; size?: number } = {}): number {
  setFont(doc, opts.bold ?? false, opts.size ?? TEXT_SIZE);
  return textHeight(doc, text, w);
}

/** Characters that force a line break in pdfkit's line breaker (UAX #14 mandatory breaks). */
const HARD_BREAK = /[\n\r\v\f\u0085\u2028\u2029]/;

/**
 * `doc.heightOfString(text, { width: w })` in the current font, without running pdfkit's line wrapper
 * for text that fits on one line (most cells): the width of the whole string (shaped once and cached
 * per document) is below the box, so the wrapper would emit exactly one line. The arithmetic repeats
 * heightOfString's own (`y + lineHeight - y`), so layouts are identical to the last bit.
 */
function textHeight(doc: Doc, text: string, w: number): number {
  if (text.length > 0 && !HARD_BREAK.test(text) && doc.widthOfString(text) < w - 0.01) {
    const y = doc.y;
    return y + doc.currentLineHeight(true) - y;
  }
  return doc.heightOfString(text, { width: w });
}

/** "Label: value" with a bold label, wrapped in `w`; returns its height. */
function labelled(doc: Doc, label: string, value: string, x: number, y: number, w: number, size = TEXT_SIZE): number {
  doc.fillColor('#000000');
  setFont(doc, true, size);
  doc.text(`${label}: `, x, y, { width: w, continued: true });
  setFont(doc, false, size);
  doc.text(value);
  return doc.y - y;
}

function measureLabelled(doc: Doc, label: string, value: string, w: number, size = TEXT_SIZE): number {
  // measured in bold: a little wider than the mixed line, never too short
  return measure(doc, `${label}: ${value}`, w, { bold: true, size });
}

function titleOf(inv: Invoice, t: Ctx['t']): string {
  if (inv.kind === 'credit_note') return t('Faktura korygująca', 'Credit note (corrective invoice)');
  return t('Faktura VAT', 'VAT invoice');
}

/** What the title says beside it for an invoice not in PLN ("waluta: EUR"); null for PLN. */
function currencyNote(inv: Invoice, t: Ctx['t']): string | null {
  return isForeign(inv) ? `${t('waluta', 'currency')}: ${inv.currency}` : null;
}

/**
 * A host product code at the start of a line name: Odoo writes a product line's name as
 * "[default_code] name". One bracketed code of up to 40 characters on the first line, followed by a
 * space and more text; anything else is left as it is.
 */
const PRODUCT_CODE = /^\[[^\]\n]{1,40}\][ \t]+(?=\S)/;

/** The line name without a leading host product code ("[CATER] Catering" -> "Catering"). */
export function stripProductCode(name: string): string {
  return name.replace(PRODUCT_CODE, '');
}

function numberText(inv: Invoice, t: Ctx['t']): string {
  return inv.number ? `${t('nr', 'no.')} ${inv.number}` : t('PROJEKT — bez numeru', 'DRAFT — not numbered');
}

function isPolishParty(p: Party): boolean {
  const cc = p.address.countryCode?.toUpperCase() ?? null;
  return (cc === null || cc === 'PL') && normalizeNip(p.vat) !== null;
}

interface PartyLine {
  text: string;
  bold?: boolean;
  size?: number;
}

function partyLines(p: Party | Seller, ctx: Ctx, seller: boolean): PartyLine[] {
  const a = p.address;
  const out: PartyLine[] = [{ text: p.name, bold: true }];
  if (a.street) out.push({ text: a.street });
  if (a.street2) out.push({ text: a.street2 });
  const city = [a.zip, a.city].filter(Boolean).join(' ');
  if (city) out.push({ text: city });
  const cc = a.countryCode?.toUpperCase() ?? null;
  if (a.countryName && (cc !== 'PL' || ctx.bi)) out.push({ text: a.countryName });
  if (p.vat) {
    if (isPolishParty(p)) out.push({ text: `NIP: ${normalizeNip(p.vat)}` });
    else out.push({ text: `${ctx.t('NIP / nr VAT', 'VAT ID')}: ${p.vat}` });
  }
  if (seller) {
    // the seller's contacts, each when the host has it
    const sp = p as Seller;
    const phone = sp.phone?.trim();
    const email = sp.email?.trim();
    const www = sp.website
      ?.trim()
      .replace(/^https?:\/\//i, '')
      .replace(/\/+$/, '');
    if (phone) out.push({ text: `${ctx.t('Tel.', 'Phone')}: ${phone}`, size: 8 });
    if (email) out.push({ text: `E-mail: ${email}`, size: 8 });
    if (www) out.push({ text: `www: ${www}`, size: 8 });
  }
  return out;
}

// ---- header of the first page ----
function drawHeader(ctx: Ctx): void {
  const { doc, inv, t } = ctx;
  let y = MARGIN;
  const leftW = 300;
  const titleSize = ctx.bi ? 14 : 16;
  const titleH = put(doc, ctx.title, MARGIN, y, leftW, { bold: true, size: titleSize });
  const note = currencyNote(inv, t);
  if (note) {
    // the currency beside the title, on its baseline; under it when the line is too short
    setFont(doc, true, titleSize);
    const titleW = doc.widthOfString(ctx.title);
    const room = 312 - titleW - 8;
    const size = [11, 10, 9].find((sz) => (setFont(doc, false, sz), doc.widthOfString(note) <= room));
    if (size !== undefined) {
      put(doc, note, MARGIN + titleW + 8, y + (titleSize - size) * 0.8, room, { size });
      y += titleH;
    } else {
      y += titleH;
      y += put(doc, note, MARGIN, y, leftW, { size: 10 });
    }
  } else {
    y += titleH;
  }
  y += put(doc, numberText(inv, t), MARGIN, y + 2, leftW, { bold: true, size: 12 }) + 2;
  if (inv.kind === 'credit_note') {
    const c = inv.corrects;
    if (c) {
      const ref = `${c.number}${c.date ? ` ${t('z dnia', 'of')} ${fmtDate(c.date)}` : ''}`;
      y += labelled(doc, t('Dotyczy faktury', 'Corrects invoice'), ref, MARGIN, y + 4, leftW) + 4;
      if (c.ksefNumber) y += labelled(doc, t('Numer KSeF faktury korygowanej', 'KSeF number of the corrected invoice'), c.ksefNumber, MARGIN, y + 1, leftW) + 1;
    } else {
      ctx.warnings.push(printWarning('print.warning.correction_without_original'));
    }
    const reason = inv.correctionReason?.trim();
    if (reason) y += labelled(doc, t('Przyczyna korekty', 'Reason for correction'), reason, MARGIN, y + 1, leftW) + 1;
  }

  // dates on the right
  const rx = MARGIN + 320;
  const rw = CONTENT_W - 320;
  let ry = MARGIN + 2;
  ry += labelled(doc, t('Data wystawienia', 'Issue date'), fmtDate(inv.issueDate), rx, ry, rw);
  if (inv.saleDate && inv.saleDate !== inv.issueDate) {
    ry += labelled(doc, t('Data sprzedaży', 'Date of sale / supply'), fmtDate(inv.saleDate), rx, ry + 2, rw) + 2;
  }
  y = Math.max(y, ry) + 14;

  // seller and buyer
  const colW = (CONTENT_W - 20) / 2;
  const parties: [string, Party | Seller, number, boolean][] = [
    [t('Sprzedawca', 'Seller'), inv.seller, MARGIN, true],
    [t('Nabywca', 'Buyer'), inv.customer, MARGIN + colW + 20, false],
  ];
  let maxY = y;
  for (const [head, party, x, isSeller] of parties) {
    let py = y;
    py += put(doc, head, x, py, colW, { bold: true, size: 8, color: GREY });
    doc
      .moveTo(x, py + 1)
      .lineTo(x + colW, py + 1)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke();
    py += 4;
    for (const l of partyLines(party, ctx, isSeller)) py += put(doc, l.text, x, py, colW, { bold: l.bold ?? false, size: l.size ?? 9 });
    maxY = Math.max(maxY, py);
  }
  ctx.y = maxY + 16;
  if (inv.currency.toUpperCase() !== 'PLN' || ctx.bi) {
    ctx.y += put(doc, t(`Kwoty w ${inv.currency}`, `Amounts in ${inv.currency}`), MARGIN, ctx.y, CONTENT_W, { size: 8, color: GREY }) + 2;
  }
}

// ---- the lines table ----
function lineColumns(t: Ctx['t']): Column[] {
  const cols: Column[] = [
    { head: t('Lp.', 'No.'), w: 22, align: 'right' },
    { head: t('Nazwa towaru lub usługi', 'Description of goods or services'), w: 0, align: 'left' },
    { head: t('J.m.', 'Unit'), w: 34, align: 'center' },
    { head: t('Ilość', 'Qty'), w: 46, align: 'right' },
    { head: t('Cena jedn. netto', 'Net unit price'), w: 62, align: 'right' },
    { head: t('Rabat', 'Disc.'), w: 38, align: 'right' },
    { head: t('Wartość netto', 'Net value'), w: 70, align: 'right' },
    { head: t('Stawka VAT', 'VAT rate'), w: 44, align: 'center' },
  ];
  const fixed = cols.reduce((s, c) => s + c.w, 0);
  cols[1]!.w = CONTENT_W - fixed;
  return cols;
}

const PAD = 2.5;

/** Draws one table row; `indent` (pt) leaves the fill and the rule out of a leading empty column. */
function drawRow(
  doc: Doc,
  cols: Column[],
  cells: string[],
  y: number,
  opts: { bold?: boolean; size?: number; bg?: string; height?: number; indent?: number },
): number {
  const size = opts.size ?? TABLE_SIZE;
  const h = opts.height ?? rowHeight(doc, cols, cells, opts);
  const from = MARGIN + (opts.indent ?? 0);
  if (opts.bg) doc.rect(from, y, MARGIN + CONTENT_W - from, h).fill(opts.bg);
  let x = MARGIN;
  setFont(doc, opts.bold ?? false, size);
  doc.fillColor('#000000');
  cols.forEach((c, i) => {
    const text = cells[i] ?? '';
    if (text) doc.text(text, x + PAD, y + PAD, { width: c.w - 2 * PAD, align: c.align });
    x += c.w;
  });
  doc
    .moveTo(from, y + h)
    .lineTo(MARGIN + CONTENT_W, y + h)
    .lineWidth(0.4)
    .strokeColor(RULE)
    .stroke();
  return h;
}

function rowHeight(doc: Doc, cols: Column[], cells: string[], opts: { bold?: boolean; size?: number }): number {
  setFont(doc, opts.bold ?? false, opts.size ?? TABLE_SIZE);
  let h = 0;
  cols.forEach((c, i) => {
    const text = cells[i] ?? '';
    if (text) h = Math.max(h, textHeight(doc, text, c.w - 2 * PAD));
  });
  return Math.max(h, doc.currentLineHeight()) + 2 * PAD;
}

function negateDecimal(d: string): string {
  const s = d.trim();
  if (/^-?0*(\.0*)?$/.test(s)) return s;
  return s.startsWith('-') ? s.slice(1) : '-' + s;
}

function lineCells(line: InvoiceLine, lp: number, ctx: Ctx): string[] {
  const qty = ctx.sign < 0 ? negateDecimal(line.quantity) : line.quantity;
  const discount = formatDecimal(line.discountPercent);
  return [
    `${lp}`,
    ctx.stripCodes ? stripProductCode(line.name) : line.name,
    line.unit ?? '',
    formatDecimal(qty),
    formatDecimal(line.unitPrice, { minFractionDigits: 2 }),
    discount === '0' ? '' : `${discount}%`,
    formatAmount(ctx.sign * line.net, ctx.inv.currency),
    line.taxes.length ? line.taxes.map((x) => x.label).join(' + ') : '—',
  ].map((s, i) => (i === 6 ? s.replace(/\u00a0[A-Z]{3}$/, '') : s));
}

function continuationCaption(ctx: Ctx): string {
  return `${ctx.title} ${numberText(ctx.inv, ctx.t)} — ${ctx.t('ciąg dalszy', 'continued')}`;
}

function continuationPage(ctx: Ctx): void {
  ctx.doc.addPage();
  ctx.y = MARGIN;
  ctx.y += put(ctx.doc, continuationCaption(ctx), MARGIN, ctx.y, CONTENT_W, { bold: true, size: 9, color: GREY }) + 6;
}

interface TableRow {
  cells: string[];
  bold: boolean;
  section: boolean;
  /** A numbered line item (not a section heading or a note). */
  product: boolean;
  h: number;
}

function tableRows(ctx: Ctx, cols: Column[]): TableRow[] {
  const { doc } = ctx;
  let lp = 0;
  return ctx.inv.lines.map((line) => {
    const product = line.kind === 'product';
    const cells = product ? lineCells(line, ++lp, ctx) : ['', line.name];
    const bold = line.kind === 'section';
    return { cells, bold, section: bold, product, h: rowHeight(doc, cols, cells, { bold }) };
  });
}
// ---- the closing blocks: VAT summary, PLN info, totals, payment, notes, KSeF ----
interface Block {
  height: number;
  draw(y: number): void;
}

function isForeign(inv: Invoice): boolean {
  return inv.currency.toUpperCase() !== 'PLN';
}

/** The VAT in PLN a foreign-currency print shows, and where it comes from. */
interface PlnVat {
  /** Per summary row; null when the host's booking has no figure for that rate. */
  rows: (Minor | null)[];
  total: Minor;
  /** `booked`: what the invoice booked (`Invoice.booked`); `computed`: converted here at the host's rate. */
  origin: 'booked' | 'computed';
}

const rateKey = (label: string) => label.replace(/\s+/g, '').toLowerCase();
const plainAmount = (minor: Minor, currency: string) => formatAmount(minor, currency).replace(/\u00a0/g, ' ');

/**
 * VAT in PLN: the invoice's own booking when the host gives it (never recomputed, so a rate added to
 * the host later cannot change a re-sent print); else, as before, each rate's VAT converted at the
 * host's exchange rate (the print says so); null for PLN invoices and when there is neither.
 */
function plnVat(ctx: Ctx, summary: VatRateSummary[]): PlnVat | null {
  const { inv } = ctx;
  if (!isForeign(inv)) return null;
  const b = inv.booked ?? null;
  if (b && b.currency.toUpperCase() === 'PLN') {
    const byRate = new Map(b.taxByRate.map((r) => [rateKey(r.label), r.tax]));
    const rows = summary.map((s) => {
      const found = byRate.get(rateKey(s.label));
      if (found !== undefined) return found;
      // one rate on both sides: the booking's one figure is that rate's, whatever the host calls it
      if (summary.length === 1 && b.taxByRate.length <= 1) return b.taxByRate[0]?.tax ?? b.tax;
      ctx.warnings.push(printWarning('print.warning.booked_vat_missing_for_rate', { rate: s.label }));
      return null;
    });
    const sum = b.taxByRate.reduce((a, r) => a + r.tax, 0);
    if (b.taxByRate.length > 0 && sum !== b.tax) {
      ctx.warnings.push(printWarning('print.warning.booked_vat_sum_differs', { byRates: plainAmount(sum, 'PLN'), booked: plainAmount(b.tax, 'PLN') }));
    }
    return { rows, total: b.tax, origin: 'booked' };
  }
  if (b) ctx.warnings.push(printWarning('print.warning.booked_in_other_currency', { currency: b.currency }));
  const rate = inv.exchangeRate;
  if (!rate) return null;
  ctx.warnings.push(printWarning('print.warning.vat_pln_converted', { currency: inv.currency }));
  const rows = summary.map((s) => convertToPln(s.vat, rate.rate, inv.currency));
  return { rows, total: rows.reduce((a, r) => a + r, 0), origin: 'computed' };
}

function summaryBlock(ctx: Ctx, summary: VatRateSummary[], totals: { net: Minor; vat: Minor; gross: Minor }, pln: PlnVat | null): Block {
  const { doc, inv, t, sign } = ctx;
  const cols: Column[] = [
    { head: t('Stawka VAT', 'VAT rate'), w: 60, align: 'center' },
    { head: t('Wartość netto', 'Net value'), w: 85, align: 'right' },
    { head: t('Kwota VAT', 'VAT amount'), w: 85, align: 'right' },
    { head: t('Wartość brutto', 'Gross value'), w: 85, align: 'right' },
  ];
  if (pln) cols.push({ head: t('Kwota VAT w PLN', 'VAT in PLN'), w: 85, align: 'right' });
  const totalW = cols.reduce((s, c) => s + c.w, 0);
  const offset = CONTENT_W - totalW;
  const shifted = [{ head: '', w: offset, align: 'left' as Align }, ...cols];
  const cur = inv.currency;
  const amt = (m: Minor) => formatAmount(sign * m, cur).replace(/\u00a0[A-Z]{3}$/, '');
  const rows: string[][] = summary.map((s, i) => {
    const r = ['', s.label, amt(s.net), amt(s.vat), amt(s.gross)];
    if (pln) {
      const v = pln.rows[i];
      r.push(v === null || v === undefined ? '—' : formatAmount(sign * v));
    }
    return r;
  });
  const totalRow = ['', t('Razem', 'Total'), amt(totals.net), amt(totals.vat), amt(totals.gross)];
  if (pln) totalRow.push(formatAmount(sign * pln.total));
  const heads = shifted.map((c) => c.head);
  const headH = rowHeight(doc, shifted, heads, { bold: true });
  const caption = t('Podsumowanie VAT według stawek', 'VAT summary by rate') + (isForeign(inv) ? ` (${cur})` : '');
  const captionH = measure(doc, caption, CONTENT_W, { bold: true, size: 8.5 });
  const rowHs = rows.map((r) => rowHeight(doc, shifted, r, {}));
  const totalH = rowHeight(doc, shifted, totalRow, { bold: true });
  return {
    height: captionH + 3 + headH + rowHs.reduce((a, b) => a + b, 0) + totalH + 8,
    draw(y) {
      y += put(doc, caption, MARGIN + offset, y, totalW, { bold: true, size: 8.5 }) + 3;
      y += drawRow(doc, shifted, heads, y, { bold: true, bg: HEAD_BG, height: headH, indent: offset });
      rows.forEach((r, i) => {
        y += drawRow(doc, shifted, r, y, { height: rowHs[i]!, indent: offset });
      });
      drawRow(doc, shifted, totalRow, y, { bold: true, height: totalH, indent: offset });
    },
  };
}

function plnInfoBlock(ctx: Ctx, pln: PlnVat | null): Block | null {
  const { doc, inv, t } = ctx;
  if (!isForeign(inv)) return null;
  const cur = inv.currency;
  const r = inv.exchangeRate;
  // the rate the invoice used; its date only when the host says which day's rate it is; its source
  const rate = r ? formatDecimal(r.rate, { minFractionDigits: 4 }) : '';
  const ratePl = r ? `kurs ${rate} PLN/${cur}${r.date ? ` z dnia ${fmtDate(r.date)}` : ''}${r.source ? `, źródło: ${r.source}` : ''}` : '';
  const rateEn = r ? `rate ${rate} PLN/${cur}${r.date ? ` of ${fmtDate(r.date)}` : ''}${r.source ? `, source: ${r.source}` : ''}` : '';
  let text: string;
  if (pln?.origin === 'booked') {
    text = r
      ? t(`Kwoty VAT w PLN zaksięgowane na fakturze; ${ratePl}.`, `VAT in PLN as booked on the invoice; ${rateEn}.`)
      : t(
          'Kwoty VAT w PLN zaksięgowane na fakturze; system, z którego pochodzi faktura, nie podał kursu przeliczenia.',
          'VAT in PLN as booked on the invoice; the issuing system gave no exchange rate.',
        );
  } else if (pln && r) {
    text = t(
      `Kwoty VAT w PLN przeliczone przy wydruku (system nie podał kwot zaksięgowanych w PLN); ${ratePl}.`,
      `VAT in PLN converted when printing (the issuing system gave no booked PLN amounts); ${rateEn}.`,
    );
  } else {
    text = t(
      'Brak kursu waluty: system, z którego pochodzi faktura, nie podał kursu przeliczenia na PLN, dlatego kwoty VAT w PLN nie zostały wydrukowane.',
      'No exchange rate: the issuing system gave no PLN rate, so the VAT amounts in PLN are not printed.',
    );
    ctx.warnings.push(printWarning('print.warning.no_exchange_rate', { currency: inv.currency }));
  }
  const h = measure(doc, text, CONTENT_W, { size: 8 });
  return { height: h + 8, draw: (y) => void put(doc, text, MARGIN, y, CONTENT_W, { size: 8, bold: !pln }) };
}

function totalsBlock(ctx: Ctx, totals: { net: Minor; vat: Minor; gross: Minor }): Block {
  const { doc, inv, t, sign } = ctx;
  const cur = inv.currency;
  const credit = inv.kind === 'credit_note';
  const gross = sign * totals.gross;
  const dueLabel = credit ? (gross < 0 ? t('Do zwrotu', 'To be refunded') : t('Do zapłaty', 'Amount due')) : t('Do zapłaty', 'Amount due');
  const dueAmount = credit ? Math.abs(gross) : gross;
  const lines: [string, string, boolean][] = [
    [credit ? t('Korekta wartości netto', 'Net correction') : t('Razem netto', 'Total net'), formatAmount(sign * totals.net, cur), false],
    [credit ? t('Korekta kwoty VAT', 'VAT correction') : t('Razem VAT', 'Total VAT'), formatAmount(sign * totals.vat, cur), false],
    [credit ? t('Korekta wartości brutto', 'Gross correction') : t('Razem brutto', 'Total gross'), formatAmount(gross, cur), false],
    [dueLabel, formatAmount(dueAmount, cur), true],
  ];
  const words = `${t('Słownie', 'In words')}: ${amountInWordsPl(dueAmount, cur)}`;
  const boxW = 320;
  const bx = MARGIN + CONTENT_W - boxW;
  const lineH = 13;
  const wordsH = measure(doc, words, CONTENT_W, { size: 8.5 });
  return {
    height: lines.length * lineH + 10 + wordsH + 10,
    draw(y) {
      for (const [label, value, big] of lines) {
        const size = big ? 11 : 9;
        put(doc, `${label}:`, bx, y, boxW - 120, { bold: big, size });
        put(doc, value, bx + boxW - 120, y, 120, { bold: true, size, align: 'right' });
        y += big ? lineH + 2 : lineH;
      }
      doc
        .moveTo(bx, y)
        .lineTo(bx + boxW, y)
        .lineWidth(0.5)
        .strokeColor(RULE)
        .stroke();
      put(doc, words, MARGIN, y + 6, CONTENT_W, { size: 8.5 });
    },
  };
}

function kvBlock(ctx: Ctx, title: string, pairs: [string, string][]): Block | null {
  if (pairs.length === 0) return null;
  const { doc } = ctx;
  const titleH = measure(doc, title, CONTENT_W, { bold: true, size: 9 });
  const hs = pairs.map(([l, v]) => measureLabelled(doc, l, v, CONTENT_W));
  return {
    height: titleH + 3 + hs.reduce((a, b) => a + b + 1, 0) + 8,
    draw(y) {
      y += put(doc, title, MARGIN, y, CONTENT_W, { bold: true, size: 9 });
      doc
        .moveTo(MARGIN, y + 1)
        .lineTo(MARGIN + CONTENT_W, y + 1)
        .lineWidth(0.4)
        .strokeColor(RULE)
        .stroke();
      y += 3;
      for (const [l, v] of pairs) y += labelled(doc, l, v, MARGIN, y, CONTENT_W) + 1;
    },
  };
}

function paymentBlock(ctx: Ctx): Block | null {
  const { inv, t, sign } = ctx;
  const pairs: [string, string][] = [];
  const transfer = t('przelew', 'bank transfer');
  if (inv.kind === 'credit_note' && sign * inv.amountTotal < 0) {
    // a refund: the buyer's account it goes to when the host has it, never the seller's own account
    const account = inv.customer.bankAccount?.trim() || null;
    const method = inv.paymentMethod ?? (account ? transfer : null);
    if (method) pairs.push([t('Sposób zwrotu', 'Refund method'), method]);
    if (inv.dueDate) pairs.push([t('Termin zwrotu', 'Refund date'), fmtDate(inv.dueDate)]);
    if (account) pairs.push([t('Rachunek nabywcy do zwrotu', "Buyer's account for the refund"), account]);
    return kvBlock(ctx, t('Zwrot', 'Refund'), pairs);
  }
  const account = inv.seller.bankAccount?.trim() || null;
  // paying into the account printed below is a bank transfer, when the host names no other method
  const method = inv.paymentMethod ?? (account && inv.amountTotal !== 0 ? transfer : null);
  if (method) pairs.push([t('Sposób płatności', 'Payment method'), method]);
  if (inv.dueDate) pairs.push([t('Termin płatności', 'Due date'), fmtDate(inv.dueDate)]);
  if (inv.paymentTerm) pairs.push([t('Warunki płatności', 'Payment terms'), inv.paymentTerm]);
  if (account) pairs.push([t('Numer rachunku', 'Bank account'), account + (inv.seller.bankName ? ` (${inv.seller.bankName})` : '')]);
  if (inv.paymentReference) pairs.push([t('Tytuł przelewu', 'Payment reference'), inv.paymentReference]);
  return kvBlock(ctx, t('Płatność', 'Payment'), pairs);
}

function notesBlock(ctx: Ctx): Block | null {
  const { inv, t } = ctx;
  const n = inv.notes;
  const pairs: [string, string][] = [];
  if (n.splitPayment) pairs.push([t('Adnotacja', 'Note'), t('mechanizm podzielonej płatności', 'split payment mechanism')]);
  if (n.reverseCharge) pairs.push([t('Adnotacja', 'Note'), t('odwrotne obciążenie', 'reverse charge')]);
  if (n.exemptionBasis) pairs.push([t('Podstawa zwolnienia z VAT', 'Legal basis of the VAT exemption'), n.exemptionBasis]);
  if (n.narration) pairs.push([t('Uwagi', 'Remarks'), n.narration]);
  if (inv.ksef?.number && ksefQrHash(inv).hash === null) pairs.push([t('Numer KSeF', 'KSeF number'), inv.ksef.number]);
  return kvBlock(ctx, t('Adnotacje i uwagi', 'Notes'), pairs);
}

const QR_W = 120;

function ksefBlock(ctx: Ctx, env: KsefEnvironment): Block | null {
  const { doc, inv, t } = ctx;
  const k = inv.ksef;
  if (!k) return null;
  const { hash, problem } = ksefQrHash(inv);
  if (problem) {
    ctx.warnings.push(problem);
    return null;
  }
  // An invoice issued offline (its XML exists, its KSeF number not yet): KOD I labelled OFFLINE.
  if (!k.number && !k.xml) return null;
  if (!hash) {
    ctx.warnings.push(printWarning('print.warning.ksef_no_hash'));
    return null;
  }
  const nip = normalizeNip(inv.seller.vat);
  if (!nip || !inv.issueDate) {
    ctx.warnings.push(printWarning('print.warning.ksef_no_nip_or_date'));
    return null;
  }
  let url: string;
  try {
    url = ksefVerificationUrl({ sellerNip: nip, issueDate: inv.issueDate, xmlSha256Base64Url: hash, environment: env });
  } catch (e) {
    ctx.warnings.push(printWarning('print.warning.ksef_qr_invalid', { detail: (e as Error).message }));
    return null;
  }
  const label = k.number ?? 'OFFLINE';
  const caption = t('Kod weryfikacyjny KSeF (KOD I)', 'KSeF verification code');
  return {
    height: QR_W + 40,
    draw(y) {
      put(doc, caption, MARGIN, y, QR_W + 100, { bold: true, size: 8 });
      drawQr(doc, url, MARGIN, y + 12, QR_W);
      put(doc, label, MARGIN, y + 12 + QR_W, QR_W + 100, { size: 7.5 });
    },
  };
}

/** Space left under the lines table before the closing blocks. */
const TABLE_GAP = 10;

/**
 * Page of every table row, decided before anything is drawn:
 *  - rows fill each page (the table header repeated at the top of every page that carries rows);
 *  - a section heading never ends a page (it moves with the row after it);
 *  - the `keep` group (VAT summary, PLN note, totals) stays on one page and is never alone on it:
 *    when it does not fit under the last row it goes to the next page, and the rows before it move
 *    along until its page carries `KEEP_ROWS` line items (a page left with one line item pulls one
 *    more); nothing else moves, so the page before stays full.
 * Returns the page index (0-based, counted from the page the table starts on) of each row.
 */
const KEEP_ROWS = 2;

function planRows(rows: TableRow[], startY: number, topY: number, headH: number, keepH: number): number[] {
  const page: number[] = [];
  let p = 0;
  let y = startY + headH;
  let onPage = 0;
  const newPage = () => {
    p++;
    y = topY + headH;
    onPage = 0;
  };
  rows.forEach((r, i) => {
    const next = rows[i + 1];
    const need = r.section && next ? r.h + next.h : r.h;
    if (onPage > 0 && y + need > BOTTOM) newPage();
    page.push(p);
    y += r.h;
    onPage++;
  });
  if (rows.length === 0 || keepH > BOTTOM - topY - headH) return page;
  // the page the group goes on: under the last row, or the next page when it does not fit there
  const target = y + TABLE_GAP + keepH <= BOTTOM ? p : p + 1;
  if (target === 0) return page;
  // pull rows onto the group's page until it has KEEP_ROWS line items (notes and headings do not
  // count); every page keeps at least one row
  const countOn = (q: number) => page.filter((x) => x === q).length;
  let onTarget = rows.filter((r, i) => r.product && page[i] === target).length;
  let height = rows.reduce((sum, r, i) => (page[i] === target ? sum + r.h : sum), 0);
  let first = page.indexOf(target) === -1 ? rows.length : page.indexOf(target);
  const fits = (h: number) => topY + headH + h + TABLE_GAP + keepH <= BOTTOM;
  const pull = (): boolean => {
    const i = first - 1;
    if (i < 0 || countOn(page[i]!) <= 1 || !fits(height + rows[i]!.h)) return false;
    page[i] = target;
    height += rows[i]!.h;
    first = i;
    if (rows[i]!.product) onTarget++;
    return true;
  };
  while (onTarget < KEEP_ROWS && pull());
  // a section heading left at the bottom of the page before goes with its rows
  while (first > 0 && rows[first - 1]!.section && pull());
  return page;
}

function drawBody(ctx: Ctx, keep: Block[], rest: Block[]): void {
  const { doc, t } = ctx;
  const cols = lineColumns(t);
  const heads = cols.map((c) => c.head);
  const headH = rowHeight(doc, cols, heads, { bold: true });
  const header = () => {
    ctx.y += drawRow(doc, cols, heads, ctx.y, { bold: true, bg: HEAD_BG, height: headH });
  };
  const rows = tableRows(ctx, cols);
  const topY = MARGIN + measure(doc, continuationCaption(ctx), CONTENT_W, { bold: true, size: 9 }) + 6;
  const keepH = keep.reduce((s, b) => s + b.height, 0);
  const pages = planRows(rows, ctx.y, topY, headH, keepH);

  header();
  let current = 0;
  rows.forEach((r, i) => {
    if (pages[i]! > current) {
      continuationPage(ctx);
      header();
      current = pages[i]!;
    }
    ctx.y += drawRow(doc, cols, r.cells, ctx.y, { bold: r.bold, height: r.h });
  });
  ctx.y += TABLE_GAP;
  const flow = (b: Block) => {
    if (ctx.y + b.height > BOTTOM) continuationPage(ctx);
    b.draw(ctx.y);
    ctx.y += b.height;
  };
  // the group as one piece when it fits on a page, else block by block
  if (ctx.y + keepH > BOTTOM && keepH <= BOTTOM - topY) continuationPage(ctx);
  keep.forEach(flow);
  rest.forEach(flow);
}

function drawFooters(ctx: Ctx): void {
  const { doc, t } = ctx;
  const range = doc.bufferedPageRange();
  const count = range.count;
  const left = `${ctx.title} ${numberText(ctx.inv, t)}`;
  for (let i = 0; i < count; i++) {
    doc.switchToPage(range.start + i);
    doc
      .moveTo(MARGIN, FOOTER_Y - 4)
      .lineTo(MARGIN + CONTENT_W, FOOTER_Y - 4)
      .lineWidth(0.4)
      .strokeColor(RULE)
      .stroke();
    setFont(doc, false, 7.5);
    doc.fillColor(GREY);
    doc.text(left, MARGIN, FOOTER_Y, { width: CONTENT_W - 150, lineBreak: false });
    doc.text(t(`strona ${i + 1} z ${count}`, `page ${i + 1} of ${count}`), MARGIN + CONTENT_W - 150, FOOTER_Y, {
      width: 150,
      align: 'right',
      lineBreak: false,
    });
  }
}

function defaultCreationDate(inv: Invoice): Date {
  const d = inv.issueDate ? DateTime.fromISO(inv.issueDate, { zone: 'utc' }) : null;
  return d?.isValid ? d.toJSDate() : new Date(Date.UTC(2000, 0, 1));
}

/** Draws the document synchronously and returns the pdfkit document, not yet ended. */
function draw(invoice: Invoice, printId: StandardPrintId, options: RenderOptions, warnings: PrintWarning[]): Doc {
  const helvetica = options.builtinHelveticaForBenchmark === true;
  const bi = isBilingual(invoice, printId, options.lang);
  const t = (pl: string, en: string) => (bi ? `${pl} / ${en}` : pl);
  const title = titleOf(invoice, t);
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, left: MARGIN, right: MARGIN, bottom: 20 },
    bufferPages: true,
    // no default font: the pre-parsed fonts are registered below (pdfkit would otherwise load Helvetica)
    font: null as unknown as string,
    lang: 'pl-PL',
    displayTitle: true,
    info: {
      Title: invoice.number ?? `Faktura — projekt ${invoice.id}`,
      Author: invoice.seller.name,
      Subject: title,
      Producer: 'Invoice Courier',
      Creator: 'Invoice Courier',
      CreationDate: options.creationDate ?? defaultCreationDate(invoice),
    },
  });
  if (helvetica) {
    doc.registerFont(FONT_REGULAR, 'Helvetica');
    doc.registerFont(FONT_BOLD, 'Helvetica-Bold');
  } else {
    const fonts = loadFonts();
    // pdfkit accepts a fontkit font object as a source (it checks for `layout`); its typings do not say so
    doc.registerFont(FONT_REGULAR, fonts.regular as unknown as Buffer);
    doc.registerFont(FONT_BOLD, fonts.bold as unknown as Buffer);
  }
  doc.font(FONT_REGULAR);

  const rec = reconcileTotals(invoice);
  warnings.push(...rec.warnings);
  const ctx: Ctx = {
    doc,
    inv: invoice,
    bi,
    t,
    y: MARGIN,
    sign: invoice.kind === 'credit_note' && invoice.amountTotal > 0 ? -1 : 1,
    warnings,
    title,
    stripCodes: options.stripProductCodes ?? true,
  };
  drawHeader(ctx);
  const pln = plnVat(ctx, rec.summary);
  const present = (bs: (Block | null)[]) => bs.filter((b): b is Block => b !== null);
  const keep = present([summaryBlock(ctx, rec.summary, rec.totals, pln), plnInfoBlock(ctx, pln), totalsBlock(ctx, rec.totals)]);
  const rest = present([paymentBlock(ctx), notesBlock(ctx), ksefBlock(ctx, options.ksefEnvironment ?? 'prod')]);
  drawBody(ctx, keep, rest);
  drawFooters(ctx);
  return doc;
}

/**
 * Renders one of the standard prints. Warnings (totals that do not add up, missing exchange rate,
 * missing KSeF data) are returned, never thrown; an unknown print id or a drawing failure throws
 * `ConnectorError` `print_unavailable` / `render_failed`.
 */
export async function renderStandardPrint(invoice: Invoice, printId: string, options: RenderOptions = {}): Promise<RenderResult> {
  const id = printId.startsWith('standard:') ? printId.slice('standard:'.length) : printId;
  if (!isStandardPrintId(id)) {
    throw new ConnectorError('print_unavailable', `There is no standard print "${printId}".`, { detail: { printId } });
  }
  const warnings: PrintWarning[] = [];
  let doc: Doc;
  try {
    doc = draw(invoice, id, options, warnings);
  } catch (cause) {
    if (cause instanceof ConnectorError) throw cause;
    throw new ConnectorError('render_failed', `Rendering invoice ${invoice.number ?? invoice.id} failed: ${(cause as Error).message}`, { cause });
  }
  const pdf = await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('error', (e: Error) => reject(new ConnectorError('render_failed', `Writing the PDF failed: ${e.message}`, { cause: e })));
    doc.on('end', () => {
      const buf = Buffer.concat(chunks);
      // a Uint8Array owning its whole ArrayBuffer, so a worker can transfer it
      resolve(buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? new Uint8Array(buf.buffer, 0, buf.byteLength) : new Uint8Array(buf));
    });
    doc.end();
  });
  return { pdf, warnings };
}

/**
 * Connector-managed e-mail templates (for hosts without their own, e.g. Tryton) in a deliberately small
 * placeholder language: `{{ invoice.number }}`, `{{ customer.name }}` … and nothing else — no
 * expressions, no loops, no code. Values are HTML-escaped in the body; the subject is plain text made
 * one line by `oneLineSubject`. An unknown placeholder renders as nothing and is reported by
 * `validateTemplate` when a template is saved.
 */
import { compile } from 'html-to-text';
import { DateTime } from 'luxon';
import type { Invoice } from '../domain.ts';
import { formatAmount, NBSP } from './money.ts';

export interface ConnectorTemplate {
  name?: string;
  subject: string;
  html: string;
}

/** The two languages connector templates speak: Polish for Polish customers (and those without a language), English for the rest. */
export type TemplateLang = 'pl' | 'en';

/** The template language for an invoice's customer (host language codes such as "pl_PL", "en_US", "de_DE"). */
export function customerLang(invoice: Pick<Invoice, 'customer'>): TemplateLang {
  const lang = invoice.customer.lang;
  return lang && !lang.toLowerCase().startsWith('pl') ? 'en' : 'pl';
}

/** pl "09.12.2026", en "9 December 2026" (never the ambiguous 12/09/2026). */
function fmtDate(iso: string | null, lang: TemplateLang): string {
  if (!iso) return '';
  const d = DateTime.fromISO(iso, { zone: 'utc' });
  if (!d.isValid) return iso;
  return lang === 'pl' ? d.toFormat('dd.MM.yyyy') : d.setLocale('en-GB').toFormat('d MMMM yyyy');
}

/** pl "17 662,14 PLN", en "17,662.14 PLN" (grouping and decimal sign of the language; U+00A0 before the code). */
function fmtMoney(minor: number, currency: string, lang: TemplateLang): string {
  if (lang === 'pl') return formatAmount(minor, currency);
  const number = formatAmount(minor, currency).replace(`${NBSP}${currency}`, '').replace(',', '.').replaceAll(NBSP, ',');
  return `${number}${NBSP}${currency}`;
}

function kindName(invoice: Invoice, lang: TemplateLang): string {
  if (lang === 'pl') return invoice.kind === 'credit_note' ? 'Faktura korygująca' : 'Faktura VAT';
  return invoice.kind === 'credit_note' ? 'Credit note' : 'Invoice';
}

type Getter = (inv: Invoice, lang: TemplateLang) => string;

/** Every placeholder the language knows, with what it prints (in the customer's language). */
export const PLACEHOLDERS: Record<string, { help: string; get: Getter }> = {
  'invoice.number': { help: 'Numer faktury', get: (i) => i.number ?? '' },
  'invoice.kind': { help: 'Rodzaj dokumentu (Faktura VAT / Faktura korygująca; en: Invoice / Credit note)', get: kindName },
  'invoice.issueDate': { help: 'Data wystawienia (DD.MM.RRRR; en: 9 December 2026)', get: (i, l) => fmtDate(i.issueDate, l) },
  'invoice.saleDate': { help: 'Data sprzedaży (DD.MM.RRRR)', get: (i, l) => fmtDate(i.saleDate ?? i.issueDate, l) },
  'invoice.dueDate': { help: 'Termin płatności (DD.MM.RRRR)', get: (i, l) => fmtDate(i.dueDate, l) },
  'invoice.total': { help: 'Kwota brutto z walutą, np. 1 234,56 PLN (en: 1,234.56 PLN)', get: (i, l) => fmtMoney(i.amountTotal, i.currency, l) },
  'invoice.net': { help: 'Kwota netto z walutą', get: (i, l) => fmtMoney(i.amountUntaxed, i.currency, l) },
  'invoice.tax': { help: 'Kwota VAT z walutą', get: (i, l) => fmtMoney(i.amountTax, i.currency, l) },
  'invoice.currency': { help: 'Waluta (kod ISO)', get: (i) => i.currency },
  'invoice.paymentReference': { help: 'Tytuł przelewu', get: (i) => i.paymentReference ?? i.number ?? '' },
  'invoice.paymentTerm': { help: 'Warunki płatności', get: (i) => i.paymentTerm ?? '' },
  'invoice.ksefNumber': { help: 'Numer KSeF', get: (i) => i.ksef?.number ?? '' },
  'invoice.corrects': { help: 'Numer faktury korygowanej', get: (i) => i.corrects?.number ?? '' },
  'customer.name': { help: 'Nazwa nabywcy', get: (i) => i.customer.name },
  'customer.vat': { help: 'NIP / nr VAT nabywcy', get: (i) => i.customer.vat ?? '' },
  'seller.name': { help: 'Nazwa sprzedawcy', get: (i) => i.seller.name },
  'seller.vat': { help: 'NIP sprzedawcy', get: (i) => i.seller.vat ?? '' },
  'seller.email': { help: 'E-mail sprzedawcy', get: (i) => i.seller.email ?? '' },
  'seller.bankAccount': { help: 'Numer rachunku sprzedawcy', get: (i) => i.seller.bankAccount ?? '' },
};

const PLACEHOLDER_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Placeholders used in the template that the language does not know (each once, in order of use). */
export function validateTemplate(template: Pick<ConnectorTemplate, 'subject' | 'html'>): { unknownPlaceholders: string[] } {
  const unknown: string[] = [];
  for (const text of [template.subject, template.html]) {
    for (const m of text.matchAll(PLACEHOLDER_RE)) {
      const name = m[1]!;
      if (!Object.hasOwn(PLACEHOLDERS, name) && !unknown.includes(name)) unknown.push(name);
    }
  }
  return { unknownPlaceholders: unknown };
}

function fill(text: string, invoice: Invoice, lang: TemplateLang, escape: (s: string) => string): string {
  return text.replace(PLACEHOLDER_RE, (all: string, name: string, offset: number) => {
    if (!Object.hasOwn(PLACEHOLDERS, name)) return '';
    let value = PLACEHOLDERS[name]!.get(invoice, lang);
    // "… od Piekarnia Sp. z o.o.." : a value that ends with a dot where the template puts one gives one dot.
    if (value.endsWith('.') && text.charAt(offset + all.length) === '.') value = value.slice(0, -1);
    return escape(value);
  });
}

/** Fills a template in the customer's language (or in `lang` when given). */
export function renderConnectorTemplate(
  template: Pick<ConnectorTemplate, 'subject' | 'html'>,
  invoice: Invoice,
  lang: TemplateLang = customerLang(invoice),
): { subject: string; html: string } {
  return {
    subject: oneLineSubject(fill(template.subject, invoice, lang, (s) => s)),
    html: fill(template.html, invoice, lang, escapeHtml),
  };
}

/**
 * The connector's default template "Faktura dla klienta", worded for the document: an invoice
 * ("faktura" / "invoice") or a credit note ("faktura korygująca" / "credit note", naming the corrected
 * invoice when the host gives it).
 */
export function defaultInvoiceTemplate(
  lang: TemplateLang,
  document: Pick<Invoice, 'kind' | 'corrects'> = { kind: 'invoice', corrects: null },
): Required<ConnectorTemplate> {
  const credit = document.kind === 'credit_note';
  const corrected = credit && document.corrects !== null;
  if (lang === 'en') {
    return {
      name: 'Faktura dla klienta',
      subject: credit ? '{{ seller.name }}: credit note {{ invoice.number }}' : '{{ seller.name }}: invoice {{ invoice.number }}',
      html: [
        '<p>Dear {{ customer.name }},</p>',
        credit
          ? `<p>please find attached credit note <strong>{{ invoice.number }}</strong> of {{ invoice.issueDate }}${corrected ? ', correcting invoice {{ invoice.corrects }},' : ''} for <strong>{{ invoice.total }}</strong>.</p>`
          : '<p>please find attached invoice <strong>{{ invoice.number }}</strong> of {{ invoice.issueDate }} for <strong>{{ invoice.total }}</strong>, payable by {{ invoice.dueDate }}.</p>',
        '<p>Kind regards,<br>{{ seller.name }}</p>',
      ].join('\n'),
    };
  }
  return {
    name: 'Faktura dla klienta',
    subject: credit ? '{{ seller.name }}: faktura korygująca {{ invoice.number }}' : '{{ seller.name }}: faktura {{ invoice.number }}',
    html: [
      '<p>Dzień dobry,</p>',
      credit
        ? `<p>w załączniku przesyłamy fakturę korygującą <strong>{{ invoice.number }}</strong> z dnia {{ invoice.issueDate }}${corrected ? ' do faktury {{ invoice.corrects }}' : ''} na kwotę <strong>{{ invoice.total }}</strong>.</p>`
        : '<p>w załączniku przesyłamy fakturę <strong>{{ invoice.number }}</strong> z dnia {{ invoice.issueDate }} na kwotę <strong>{{ invoice.total }}</strong>, z terminem płatności {{ invoice.dueDate }}.</p>',
      '<p>Z poważaniem<br>{{ seller.name }}</p>',
    ].join('\n'),
  };
}

/** html-to-text's converter, its selectors compiled once per process on first use (not per message). */
let htmlToText: ((html: string) => string) | null = null;

/** The plain-text alternative of an HTML body. */
export function toPlainText(html: string): string {
  htmlToText ??= compile({
    wordwrap: 78,
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
    ],
  });
  return htmlToText(html)
    .replace(/\u00a0/g, ' ')
    .trim();
}

/** A subject line that is safe in a header: no CR/LF or control characters, whitespace collapsed, ≤ 250 characters. */
export function oneLineSubject(s: string): string {
  const clean = s
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  const chars = Array.from(clean);
  return chars.length <= 250 ? clean : chars.slice(0, 250).join('').trimEnd();
}

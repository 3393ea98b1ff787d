/**
 * Connector-managed e-mail templates (for hosts without their own, e.g. Tryton) in a deliberately small
 * placeholder language: `{{ invoice.number }}`, `{{ customer.name }}` … and nothing else — no
 * expressions, no loops, no code. Values are HTML-escaped in the body; the subject is plain text made
 * one line by `oneLineSubject`. An unknown placeholder renders as nothing and is reported by
 * `validateTemplate` when a template is saved.
 */
import { convert } from 'html-to-text';
import { DateTime } from 'luxon';
import type { Invoice } from '../domain.ts';
import { formatAmount } from './money.ts';

export interface ConnectorTemplate {
  name?: string;
  subject: string;
  html: string;
}

function fmtDate(iso: string | null): string {
  if (!iso) return '';
  const d = DateTime.fromISO(iso, { zone: 'utc' });
  return d.isValid ? d.toFormat('dd.MM.yyyy') : iso;
}

type Getter = (inv: Invoice) => string;

/** Every placeholder the language knows, with what it prints. */
export const PLACEHOLDERS: Record<string, { help: string; get: Getter }> = {
  'invoice.number': { help: 'Numer faktury', get: (i) => i.number ?? '' },
  'invoice.kind': { help: 'Rodzaj dokumentu (Faktura VAT / Faktura korygująca)', get: (i) => (i.kind === 'credit_note' ? 'Faktura korygująca' : 'Faktura VAT') },
  'invoice.issueDate': { help: 'Data wystawienia (DD.MM.RRRR)', get: (i) => fmtDate(i.issueDate) },
  'invoice.saleDate': { help: 'Data sprzedaży (DD.MM.RRRR)', get: (i) => fmtDate(i.saleDate ?? i.issueDate) },
  'invoice.dueDate': { help: 'Termin płatności (DD.MM.RRRR)', get: (i) => fmtDate(i.dueDate) },
  'invoice.total': { help: 'Kwota brutto z walutą, np. 1 234,56 PLN', get: (i) => formatAmount(i.amountTotal, i.currency) },
  'invoice.net': { help: 'Kwota netto z walutą', get: (i) => formatAmount(i.amountUntaxed, i.currency) },
  'invoice.tax': { help: 'Kwota VAT z walutą', get: (i) => formatAmount(i.amountTax, i.currency) },
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

function fill(text: string, invoice: Invoice, escape: (s: string) => string): string {
  return text.replace(PLACEHOLDER_RE, (_all, name: string) => (Object.hasOwn(PLACEHOLDERS, name) ? escape(PLACEHOLDERS[name]!.get(invoice)) : ''));
}

export function renderConnectorTemplate(template: Pick<ConnectorTemplate, 'subject' | 'html'>, invoice: Invoice): { subject: string; html: string } {
  return {
    subject: oneLineSubject(fill(template.subject, invoice, (s) => s)),
    html: fill(template.html, invoice, escapeHtml),
  };
}

export function defaultInvoiceTemplate(lang: 'pl' | 'en'): Required<ConnectorTemplate> {
  if (lang === 'en') {
    return {
      name: 'Faktura dla klienta',
      subject: '{{ seller.name }}: invoice {{ invoice.number }}',
      html: [
        '<p>Dear {{ customer.name }},</p>',
        '<p>please find attached invoice <strong>{{ invoice.number }}</strong> of {{ invoice.issueDate }} ',
        'for <strong>{{ invoice.total }}</strong>, payable by {{ invoice.dueDate }}.</p>',
        '<p>Kind regards,<br>{{ seller.name }}</p>',
      ].join('\n'),
    };
  }
  return {
    name: 'Faktura dla klienta',
    subject: '{{ seller.name }}: faktura {{ invoice.number }}',
    html: [
      '<p>Dzień dobry,</p>',
      '<p>w załączniku przesyłamy fakturę <strong>{{ invoice.number }}</strong> z dnia {{ invoice.issueDate }} ',
      'na kwotę <strong>{{ invoice.total }}</strong>, z terminem płatności {{ invoice.dueDate }}.</p>',
      '<p>Z poważaniem<br>{{ seller.name }}</p>',
    ].join('\n'),
  };
}

/** The plain-text alternative of an HTML body. */
export function toPlainText(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
    ],
  })
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

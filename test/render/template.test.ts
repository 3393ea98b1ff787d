import { describe, expect, it } from 'vitest';
import {
  defaultInvoiceTemplate,
  oneLineSubject,
  renderConnectorTemplate,
  toPlainText,
  validateTemplate,
} from '../../src/render/template.ts';
import { CREDIT_NOTE, PLN_INVOICE } from '../fixtures/invoices.ts';

describe('connector-managed templates', () => {
  it('fills the default Polish template with formatted values', () => {
    const t = defaultInvoiceTemplate('pl');
    expect(t.name).toBe('Faktura dla klienta');
    const r = renderConnectorTemplate(t, PLN_INVOICE);
    expect(r.subject).toBe('Zakład Usług Informatycznych „Żółć i Łoś” Sp. z o.o.: faktura FV/2026/0001');
    expect(r.html).toContain('<strong>FV/2026/0001</strong> z dnia 02.02.2026');
    expect(r.html).toContain('<strong>4\u00a0669,37\u00a0PLN</strong>');
    expect(r.html).toContain('terminem płatności 16.02.2026');
  });

  it('has an English default', () => {
    const r = renderConnectorTemplate(defaultInvoiceTemplate('en'), PLN_INVOICE);
    expect(r.html).toContain('please find attached invoice');
    expect(validateTemplate(defaultInvoiceTemplate('en')).unknownPlaceholders).toEqual([]);
    expect(validateTemplate(defaultInvoiceTemplate('pl')).unknownPlaceholders).toEqual([]);
  });

  it('escapes values in the body, so a customer name cannot inject markup', () => {
    const inv = { ...PLN_INVOICE, customer: { ...PLN_INVOICE.customer, name: '<script>alert("x")</script> & Co' } };
    const r = renderConnectorTemplate({ subject: 'Dla {{customer.name}}', html: '<p>{{ customer.name }}</p>' }, inv);
    expect(r.html).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>');
    expect(r.subject).toBe('Dla <script>alert("x")</script> & Co');
  });

  it('reports unknown placeholders and renders them as nothing', () => {
    const tpl = { subject: '{{ invoice.number }} {{ invoice.secret }}', html: '<p>{{ constructor }}{{customer.name}}{{ invoice.secret }}</p>' };
    expect(validateTemplate(tpl).unknownPlaceholders).toEqual(['invoice.secret', 'constructor']);
    expect(renderConnectorTemplate(tpl, PLN_INVOICE).html).toBe(`<p>${PLN_INVOICE.customer.name.replace(/"/g, '&quot;')}</p>`);
  });

  it('knows credit-note placeholders', () => {
    const r = renderConnectorTemplate({ subject: '{{ invoice.kind }} {{ invoice.number }} do {{ invoice.corrects }}', html: '' }, CREDIT_NOTE);
    expect(r.subject).toBe('Faktura korygująca KOR/2026/0001 do FV/2026/0001');
  });
});

describe('oneLineSubject', () => {
  it('strips CR/LF and control characters and collapses whitespace', () => {
    expect(oneLineSubject('  Faktura\r\nBcc: evil@example.com\t\u0000 nr 1  ')).toBe('Faktura Bcc: evil@example.com nr 1');
    expect(oneLineSubject('a\u2028b')).toBe('a b');
  });

  it('trims to 250 characters without splitting a character', () => {
    const s = oneLineSubject('ż'.repeat(300));
    expect(Array.from(s)).toHaveLength(250);
    expect(oneLineSubject('😀'.repeat(300))).toBe('😀'.repeat(250));
  });
});

describe('toPlainText', () => {
  it('gives a readable plain-text alternative', () => {
    const text = toPlainText(renderConnectorTemplate(defaultInvoiceTemplate('pl'), PLN_INVOICE).html);
    expect(text).toContain('Dzień dobry,');
    expect(text).toContain('FV/2026/0001');
    expect(text).toContain('4 669,37 PLN');
    expect(text).not.toMatch(/<[a-z]/);
  });
});

import { describe, expect, it } from 'vitest';
import { defaultInvoiceTemplate, oneLineSubject, renderConnectorTemplate, toPlainText, validateTemplate } from '../../src/render/template.ts';
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

describe('wording per document type and language', () => {
  it('words a credit note "faktura korygująca" (pl) and "credit note" (en), naming the corrected invoice', () => {
    const pl = renderConnectorTemplate(defaultInvoiceTemplate('pl', CREDIT_NOTE), CREDIT_NOTE, 'pl');
    expect(pl.subject).toBe(`${CREDIT_NOTE.seller.name}: faktura korygująca KOR/2026/0001`);
    expect(pl.html).toContain('fakturę korygującą <strong>KOR/2026/0001</strong>');
    expect(pl.html).toContain('do faktury FV/2026/0001');
    const en = renderConnectorTemplate(defaultInvoiceTemplate('en', CREDIT_NOTE), CREDIT_NOTE, 'en');
    expect(en.subject).toBe(`${CREDIT_NOTE.seller.name}: credit note KOR/2026/0001`);
    expect(en.html).toContain('credit note <strong>KOR/2026/0001</strong>');
    expect(en.html).toContain('correcting invoice FV/2026/0001');
    expect(renderConnectorTemplate({ subject: '{{ invoice.kind }}', html: '' }, CREDIT_NOTE, 'en').subject).toBe('Credit note');
    expect(renderConnectorTemplate({ subject: '{{ invoice.kind }}', html: '' }, PLN_INVOICE, 'en').subject).toBe('Invoice');
  });

  it('a credit note without a known corrected invoice does not print an empty "do faktury"', () => {
    const lone = { ...CREDIT_NOTE, corrects: null };
    expect(renderConnectorTemplate(defaultInvoiceTemplate('pl', lone), lone, 'pl').html).not.toContain('do faktury');
    expect(renderConnectorTemplate(defaultInvoiceTemplate('en', lone), lone, 'en').html).not.toContain('correcting');
  });

  it('formats amounts and dates for the language: pl "4 669,37 PLN" and "02.02.2026", en "4,669.37 PLN" and "2 February 2026"', () => {
    const tpl = { subject: '', html: '{{ invoice.total }}|{{ invoice.issueDate }}' };
    expect(renderConnectorTemplate(tpl, PLN_INVOICE, 'pl').html).toBe('4\u00a0669,37\u00a0PLN|02.02.2026');
    expect(renderConnectorTemplate(tpl, PLN_INVOICE, 'en').html).toBe('4,669.37\u00a0PLN|2 February 2026');
    const big = { ...PLN_INVOICE, amountTotal: 1_766_214 };
    expect(renderConnectorTemplate(tpl, big, 'pl').html.split('|')[0]).toBe('17\u00a0662,14\u00a0PLN');
    expect(renderConnectorTemplate(tpl, big, 'en').html.split('|')[0]).toBe('17,662.14\u00a0PLN');
  });

  it('chooses the language from the customer: Polish for pl_PL and for none, English for any other', () => {
    const withLang = (lang: string | null) => ({ ...PLN_INVOICE, customer: { ...PLN_INVOICE.customer, lang } });
    const tpl = { subject: '{{ invoice.kind }}', html: '' };
    expect(renderConnectorTemplate(tpl, withLang('pl_PL')).subject).toBe('Faktura VAT');
    expect(renderConnectorTemplate(tpl, withLang(null)).subject).toBe('Faktura VAT');
    expect(renderConnectorTemplate(tpl, withLang('de_DE')).subject).toBe('Invoice');
  });

  it('a value ending with a dot before the template\'s own dot gives one dot ("Sp. z o.o." not "Sp. z o.o..")', () => {
    const inv = { ...PLN_INVOICE, seller: { ...PLN_INVOICE.seller, name: 'Piekarnia Sp. z o.o.' } };
    const r = renderConnectorTemplate({ subject: 'od {{ seller.name }}.', html: '<p>od {{ seller.name }}.</p><p>{{ seller.name }}</p>' }, inv);
    expect(r.subject).toBe('od Piekarnia Sp. z o.o.');
    expect(r.html).toBe('<p>od Piekarnia Sp. z o.o.</p><p>Piekarnia Sp. z o.o.</p>');
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

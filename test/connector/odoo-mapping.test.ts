import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ConnectorError } from '../../src/errors.ts';
import { toMinor, toDecimal, htmlToText, escapeHtml, consentFromSendingMethod, mapLines, mapTax, pickExchangeRate } from '../../src/connector/odoo/mapping.ts';
import { codeForOdooClass, translateFault, redact } from '../../src/connector/odoo/errors.ts';
import { dueDomain, fromFilterAllows, smtpTls } from '../../src/connector/odoo/adapter.ts';

describe('toMinor turns Odoo floats into exact minor units through their decimal text', () => {
  it('converts 1234.56 to 123456', () => {
    expect(toMinor(1234.56)).toBe(123456);
  });
  it('absorbs binary noise such as 0.1 + 0.2 and 1.15 * 100', () => {
    expect(toMinor(0.1 + 0.2)).toBe(30);
    expect(toMinor(1.15)).toBe(115);
    expect(toMinor(8.675)).toBe(868); // decimal text "8.675" rounds half up, not 867 as float math would
    expect(toMinor(1.005)).toBe(101);
  });
  it('keeps negatives exact and rounds half away from zero', () => {
    expect(toMinor(-1234.56)).toBe(-123456);
    expect(toMinor(-0.005)).toBe(-1);
    expect(toMinor(-0.004)).toBe(0);
    expect(Object.is(toMinor(-0.001), 0)).toBe(true);
  });
  it('drops 1e-7 noise and exponent forms', () => {
    expect(toMinor(1e-7)).toBe(0);
    expect(toMinor(100.00000001)).toBe(10000);
    expect(toMinor(99.99999999)).toBe(10000);
    expect(toMinor(1.5e3)).toBe(150000);
  });
  it('handles large amounts exactly and refuses unsafe ones', () => {
    expect(toMinor(12345678901.23)).toBe(1234567890123);
    expect(toMinor(9999999999999.99)).toBe(999999999999999);
    expect(toMinor(-9999999999999.99)).toBe(-999999999999999);
    expect(() => toMinor(1e21)).toThrow(ConnectorError);
  });
  it('treats Odoo false as zero and honours other currency precisions', () => {
    expect(toMinor(false)).toBe(0);
    expect(toMinor(1234, 0)).toBe(1234);
    expect(toMinor(1.2345, 3)).toBe(1235);
  });
  it('equals the integer in cents for every two-decimal amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (cents) => {
        const asFloat = cents / 100; // what Odoo's JSON carries
        expect(toMinor(asFloat)).toBe(cents === 0 ? 0 : cents);
      }),
    );
  });
});

describe('toDecimal gives canonical decimal text without float arithmetic', () => {
  it('writes plain, trimmed decimals', () => {
    expect(toDecimal(2.5)).toBe('2.5');
    expect(toDecimal(23)).toBe('23');
    expect(toDecimal(0)).toBe('0');
    expect(toDecimal(-0)).toBe('0');
    expect(toDecimal(-3.25)).toBe('-3.25');
    expect(toDecimal(1e-7)).toBe('0.0000001');
    expect(toDecimal(1.5e21)).toBe('1500000000000000000000');
  });
  it('drops float noise past 8 places', () => {
    expect(toDecimal(12.300000000000001)).toBe('12.3');
    expect(toDecimal(0.1 + 0.2)).toBe('0.3');
    expect(toDecimal(false)).toBe('0');
  });
  it('rounds to the requested places', () => {
    expect(toDecimal(4.123456789, 6)).toBe('4.123457');
  });
  it('refuses text that is not a number', () => {
    expect(() => toDecimal('abc')).toThrow(ConnectorError);
  });
});

describe('mapping helpers', () => {
  it('turns narration HTML into text and empty HTML into null', () => {
    expect(htmlToText('<p>Płatność <b>przelewem</b></p><p>Dziękujemy</p>')).toBe('Płatność przelewem\n\nDziękujemy');
    expect(htmlToText('<p><br></p>')).toBeNull();
    expect(htmlToText(false)).toBeNull();
  });
  it('escapes notes for chatter', () => {
    expect(escapeHtml('a <b> & "c"\nd')).toBe('a &lt;b&gt; &amp; &quot;c&quot;<br>d');
  });
  it('maps invoice_sending_method to consent', () => {
    expect(consentFromSendingMethod('manual')).toBe(false);
    expect(consentFromSendingMethod('email')).toBe(true);
    expect(consentFromSendingMethod(false)).toBeNull();
  });
  it('keeps product, section and note lines in sequence order and drops tax lines', () => {
    const taxes = new Map([[1, { id: 1, name: 'VAT 23%', amount: 23.0, amount_type: 'percent', invoice_label: '23%' }]]);
    const lines = mapLines(
      [
        {
          id: 3,
          sequence: 20,
          display_type: 'product',
          name: 'Usługa',
          quantity: 2.5,
          product_uom_id: [1, 'godz.'],
          price_unit: 100.1,
          discount: 0,
          tax_ids: [1],
          price_subtotal: 250.25,
          price_total: 307.81,
        },
        {
          id: 2,
          sequence: 10,
          display_type: 'line_section',
          name: 'Sekcja',
          quantity: 0,
          price_unit: 0,
          discount: 0,
          tax_ids: [],
          price_subtotal: 0,
          price_total: 0,
        },
        {
          id: 4,
          sequence: 30,
          display_type: 'tax',
          name: 'VAT',
          quantity: 0,
          price_unit: 0,
          discount: 0,
          tax_ids: [],
          price_subtotal: 57.56,
          price_total: 57.56,
        },
      ],
      taxes,
      2,
    );
    expect(lines.map((l) => [l.id, l.kind])).toEqual([
      ['2', 'section'],
      ['3', 'product'],
    ]);
    expect(lines[1]).toMatchObject({ quantity: '2.5', unitPrice: '100.1', unit: 'godz.', net: 25025, gross: 30781, discountPercent: '0' });
    expect(lines[1]!.taxes).toEqual([{ id: '1', name: 'VAT 23%', percent: '23', label: '23%' }]);
  });
  it('labels a tax without invoice_label by its percent', () => {
    expect(mapTax({ id: 5, name: 'VAT 8%', amount: 8.0 }).label).toBe('8%');
  });
  it('picks the newest rate on or before the invoice date, PLN per unit from inverse_company_rate', () => {
    const rates = [
      { id: 3, name: '2026-11-20', inverse_company_rate: 4.2712, rate: 0.234126 },
      { id: 2, name: '2026-11-10', inverse_company_rate: 4.3001, rate: 0.232553 },
    ];
    expect(pickExchangeRate(rates, '2026-11-15')).toEqual({ rate: '4.3001', date: '2026-11-10', source: null });
    expect(pickExchangeRate(rates, '2026-11-01')).toBeNull();
    expect(pickExchangeRate([], '2026-11-15')).toBeNull();
  });
});

describe('Odoo fault classification', () => {
  it.each([
    ['odoo.exceptions.AccessDenied', 'host_auth'],
    ['odoo.exceptions.AccessError', 'host_access'],
    ['odoo.exceptions.MissingError', 'host_not_found'],
    ['odoo.exceptions.ValidationError', 'host_validation'],
    ['odoo.exceptions.UserError', 'host_validation'],
    ['builtins.KeyError', 'host_validation'],
    ['builtins.ValueError', 'host_validation'],
    ['builtins.AttributeError', 'host_validation'],
    ['odoo.exceptions.LockError', 'host_unavailable'],
  ])('%s -> %s', (name, code) => {
    expect(codeForOdooClass(name, 200)).toBe(code);
  });
  it('treats fault code 404 as not found', () => {
    expect(codeForOdooClass(undefined, 404)).toBe('host_not_found');
  });
  it('keeps the server message but masks secrets', () => {
    const e = translateFault(
      {
        code: 200,
        message: 'Odoo Server Error',
        data: { name: 'builtins.ValueError', message: 'Invalid field s3cret-pass on x', debug: 'Traceback s3cret-pass' },
      },
      { service: 'object', method: 'search_read', model: 'account.move' },
      ['s3cret-pass'],
    );
    expect(e.code).toBe('host_validation');
    expect(e.message).toContain('Invalid field');
    expect(e.message).not.toContain('s3cret-pass');
    expect(e.message).not.toContain('Traceback');
    expect(redact('a xyz b', ['xyz'])).toBe('a *** b');
  });
});

describe('adapter rules without a host', () => {
  it('filters mail servers by from_filter like Odoo', () => {
    expect(fromFilterAllows(null, 'anna@firma.pl')).toBe(true);
    expect(fromFilterAllows('firma.pl', 'Anna <Anna@Firma.pl>')).toBe(true);
    expect(fromFilterAllows('faktury@firma.pl', 'anna@firma.pl')).toBe(false);
    expect(fromFilterAllows('inna.pl, anna@firma.pl', 'anna@firma.pl')).toBe(true);
    expect(fromFilterAllows('firma.pl', null)).toBe(false);
  });
  it('maps smtp_encryption to TLS modes', () => {
    expect([smtpTls('none'), smtpTls('starttls'), smtpTls('ssl'), smtpTls(false)]).toEqual(['none', 'starttls', 'tls', 'none']);
  });
  it('builds the sale-date domain with the delivery-date fallback', () => {
    const d = dueDomain(
      { documents: 'all', dateBasis: 'sale_date', fromDate: '2026-11-01', pageSize: 50, excludeHostMarkedSent: true },
      { move: new Set(['delivery_date', 'is_move_sent']) },
      { id: 1 },
    );
    expect(d).toEqual([
      ['move_type', 'in', ['out_invoice', 'out_refund']],
      ['state', 'in', ['draft', 'posted']],
      ['company_id', '=', 1],
      ['is_move_sent', '=', false],
      '|',
      ['delivery_date', '>=', '2026-11-01'],
      '&',
      ['delivery_date', '=', false],
      ['invoice_date', '>=', '2026-11-01'],
    ]);
  });
  it('builds the issue-date domain for confirmed documents only', () => {
    const d = dueDomain(
      { documents: 'confirmed_only', dateBasis: 'issue_date', fromDate: '2026-11-01', pageSize: 50, excludeHostMarkedSent: false },
      { move: new Set(['delivery_date', 'is_move_sent']) },
      { id: 3 },
    );
    expect(d).toEqual([
      ['move_type', 'in', ['out_invoice', 'out_refund']],
      ['state', 'in', ['posted']],
      ['company_id', '=', 3],
      ['invoice_date', '>=', '2026-11-01'],
    ]);
  });
});

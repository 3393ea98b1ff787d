import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertToPln, formatAmount, formatDecimal, reconcileTotals, roundDecimal, vatOf } from '../../src/render/money.ts';
import { PLN_INVOICE, productLine, VAT23, VAT8 } from '../fixtures/invoices.ts';

const NB = '\u00a0';

describe('formatAmount', () => {
  it('groups thousands with a no-break space and uses a decimal comma', () => {
    expect(formatAmount(123456)).toBe(`1${NB}234,56`);
    expect(formatAmount(1)).toBe('0,01');
    expect(formatAmount(0)).toBe('0,00');
    expect(formatAmount(-100000000)).toBe(`-1${NB}000${NB}000,00`);
    expect(formatAmount(123456, 'PLN')).toBe(`1${NB}234,56${NB}PLN`);
    expect(formatAmount(1500, 'JPY')).toBe(`1${NB}500${NB}JPY`);
  });

  it('round-trips every safe integer amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (n) => {
        const back = Number(formatAmount(n).replaceAll(NB, '').replace(',', ''));
        expect(back).toBe(n);
      }),
    );
  });

  it('refuses non-integer amounts', () => {
    expect(() => formatAmount(1.5)).toThrow(RangeError);
  });
});

describe('formatDecimal', () => {
  it('trims trailing zeros down to the minimum and groups the integer part', () => {
    expect(formatDecimal('2.500')).toBe('2,5');
    expect(formatDecimal('1234.5', { minFractionDigits: 2 })).toBe(`1${NB}234,50`);
    expect(formatDecimal('10')).toBe('10');
    expect(formatDecimal('-0.000')).toBe('0');
    expect(formatDecimal('0.12345', { maxFractionDigits: 4 })).toBe('0,1235');
  });

  it('rounds half away from zero on the decimal string', () => {
    expect(roundDecimal('2.345', 2)).toBe('2.35');
    expect(roundDecimal('-2.345', 2)).toBe('-2.35');
    expect(roundDecimal('0.004', 2)).toBe('0.00');
  });
});

describe('VAT arithmetic', () => {
  it('rounds the VAT of a rate summary half-up to the grosz', () => {
    expect(vatOf(366090, '23')).toBe(84201); // 842,007 -> 842,01
    expect(vatOf(1999, '8')).toBe(160); // 1,5992 -> 1,60
    expect(vatOf(50, '23')).toBe(12); // 0,115 -> 0,12 (half-up)
    expect(vatOf(10, '5')).toBe(1); // 0,005 -> 0,01
  });

  it('converts foreign VAT to PLN at the host rate', () => {
    expect(convertToPln(51727, '4.2893', 'EUR')).toBe(221873); // 517,27 × 4,2893 = 2218,7262
  });
});

describe('reconcileTotals', () => {
  it('gives no warning when the lines add up to the host totals', () => {
    const r = reconcileTotals(PLN_INVOICE);
    expect(r.warnings).toEqual([]);
    expect(r.totals).toEqual({ net: PLN_INVOICE.amountUntaxed, vat: PLN_INVOICE.amountTax, gross: PLN_INVOICE.amountTotal });
    expect(r.summary.map((s) => s.label)).toEqual(['23%', '5%', '8%']);
  });

  it('keeps the host figures and warns when the lines do not add up', () => {
    const inv = { ...PLN_INVOICE, amountUntaxed: PLN_INVOICE.amountUntaxed + 1, amountTotal: PLN_INVOICE.amountTotal + 1 };
    const r = reconcileTotals(inv);
    expect(r.totals.net).toBe(inv.amountUntaxed);
    expect(r.totals.gross).toBe(inv.amountTotal);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings).toEqual([
      { code: 'print.warning.net_differs', params: { lines: '3 818,86 PLN', host: '3 818,87 PLN' } },
      { code: 'print.warning.gross_differs', params: { lines: expect.any(String), host: expect.any(String) } },
    ]);
  });

  it('recognises a host that rounds VAT per line and prints its per-line VAT', () => {
    // 3 lines of 0,50 net at 23%: per line 0,12 VAT each (0,36), per rate 0,35
    const lines = [1, 2, 3].map(() => productLine('x', '1', '0.50', 50, VAT23));
    const inv = { ...PLN_INVOICE, lines, amountUntaxed: 150, amountTax: 36, amountTotal: 186 };
    const r = reconcileTotals(inv);
    expect(r.vatMethod).toBe('per_line');
    expect(r.summary[0]!.vat).toBe(36);
    expect(r.warnings).toEqual([]);
  });

  it('sums several rates separately', () => {
    const lines = [productLine('a', '1', '10.00', 1000, VAT23), productLine('b', '1', '10.00', 1000, VAT8)];
    const r = reconcileTotals({ ...PLN_INVOICE, lines, amountUntaxed: 2000, amountTax: 310, amountTotal: 2310 });
    expect(r.summary).toEqual([
      { label: '23%', percent: '23', net: 1000, vat: 230, gross: 1230 },
      { label: '8%', percent: '8', net: 1000, vat: 80, gross: 1080 },
    ]);
  });
});

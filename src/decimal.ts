/**
 * Exact decimal arithmetic for money, rates and percentages, on BigInt: the one implementation the
 * host adapters (Odoo floats, Tryton Decimals) and the prints share. A value is `m × 10^e`; rounding is
 * always half away from zero. No binary-float arithmetic ever touches an amount.
 */

/** A decimal value as mantissa and power of ten: value = m × 10^e. */
export interface Exact {
  m: bigint;
  e: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Parses decimal text ("1234.56", "-0.5", "1e-7") or a number's shortest decimal text (String(0.1) is
 * "0.1") into an exact value. Throws RangeError for anything else, including non-finite numbers.
 */
export function parseExact(value: number | string): Exact {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  const text = typeof value === 'number' ? String(value) : value.trim();
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal number: ${JSON.stringify(text).slice(0, 40)}`);
  const digits = `${m[2]}${m[3] ?? ''}` || '0';
  const mant = BigInt(digits);
  return { m: m[1] === '-' ? -mant : mant, e: Number(m[4] ?? '0') - (m[3] ?? '').length };
}

export const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** n / d rounded half away from zero. */
export function divRound(n: bigint, d: bigint): bigint {
  const neg = n < 0n !== d < 0n;
  const an = n < 0n ? -n : n;
  const ad = d < 0n ? -d : d;
  const q = (an * 2n + ad) / (ad * 2n);
  return neg ? -q : q;
}

/** value × 10^places, rounded half away from zero. */
export function scaleRound(x: Exact, places: number): bigint {
  const shift = x.e + places;
  return shift >= 0 ? x.m * pow10(shift) : divRound(x.m, pow10(-shift));
}

/** Canonical text of v × 10^-scale: no exponent, no trailing zeros, no "-0" ("2.5", "23", "0.0001"). */
export function formatScaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  let s = (neg ? -v : v).toString();
  if (scale > 0) {
    s = s.padStart(scale + 1, '0');
    s = `${s.slice(0, -scale)}.${s.slice(-scale)}`.replace(/\.?0+$/, '');
  }
  return `${neg && s !== '0' ? '-' : ''}${s}`;
}

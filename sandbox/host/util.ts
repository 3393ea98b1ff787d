/**
 * Small pure helpers of the sandbox host: a seeded PRNG (the seed never uses Math.random), identifier
 * checksums (NIP, IBAN, EU VAT ids, the KSeF number's CRC-8) and exact money arithmetic on scaled
 * integers (amounts are computed in minor units and only exposed as JSON numbers at the edge).
 */

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; same seed -> same sequence. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }
  /** Picks by weight: `[[value, weight], ...]`. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [value, w] of items) {
      r -= w;
      if (r < 0) return value;
    }
    return (items[items.length - 1] as readonly [T, number])[0];
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789ABCDEF'[this.int(0, 15)];
    return s;
  }
}

const NIP_WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7];

/** True when `nip` is 10 digits with a correct checksum (weights 6,5,7,2,3,4,5,6,7 mod 11). */
export function isValidNip(nip: string): boolean {
  if (!/^\d{10}$/.test(nip)) return false;
  const sum = NIP_WEIGHTS.reduce((s, w, i) => s + w * Number(nip[i]), 0);
  const check = sum % 11;
  return check !== 10 && check === Number(nip[9]);
}

/** A checksum-correct NIP (tax-office prefix never starts with 0). */
export function randomNip(rng: Prng): string {
  for (;;) {
    const body = String(rng.int(1, 9)) + rng.digits(8);
    const sum = NIP_WEIGHTS.reduce((s, w, i) => s + w * Number(body[i]), 0);
    const check = sum % 11;
    if (check !== 10) return body + String(check);
  }
}

/** Polish IBAN with correct ISO 7064 mod-97 check digits, grouped in fours as Polish banks print it. */
export function polishIban(bankSortCode: string, account16: string): string {
  const bban = bankSortCode + account16; // 8 + 16 = 24 digits, the first 8 are the bank's settlement number
  const numeric = bban + '2521' + '00'; // P=25 L=21
  const check = 98n - (BigInt(numeric) % 97n);
  const iban = 'PL' + String(check).padStart(2, '0') + bban;
  return iban.replace(/(.{4})/g, '$1 ').trim();
}

export function isValidIban(iban: string): boolean {
  const s = iban.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  const numeric = rearranged.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return BigInt(numeric) % 97n === 1n;
}

/** German USt-IdNr.: 'DE' + 9 digits, ISO 7064 MOD 11,10 check digit. */
export function randomGermanVat(rng: Prng): string {
  const body = String(rng.int(1, 9)) + rng.digits(7);
  let product = 10;
  for (const ch of body) {
    let sum = (Number(ch) + product) % 10;
    if (sum === 0) sum = 10;
    product = (2 * sum) % 11;
  }
  let check = 11 - product;
  if (check === 10) check = 0;
  return 'DE' + body + String(check);
}

/** Czech DIČ of a legal entity: 'CZ' + 8 digits, weights 8..2 mod 11. */
export function randomCzechVat(rng: Prng): string {
  for (;;) {
    const body = String(rng.int(1, 9)) + rng.digits(6);
    const sum = [...body].reduce((s, ch, i) => s + Number(ch) * (8 - i), 0);
    const check = (11 - (sum % 11)) % 10;
    if (11 - (sum % 11) !== 10) return 'CZ' + body + String(check);
  }
}

/** French TVA: 'FR' + 2-digit key + SIREN (Luhn-valid), key = (12 + 3 * (SIREN mod 97)) mod 97. */
export function randomFrenchVat(rng: Prng): string {
  const body = String(rng.int(3, 9)) + rng.digits(7);
  let luhn = 0;
  for (let i = 0; i < 9; i++) {
    // position i counted from the left of the 9-digit SIREN; the check digit is last (i = 8)
    const d = i < 8 ? Number(body[i]) : 0;
    luhn += i % 2 === 1 ? ((d * 2) % 10) + Math.floor((d * 2) / 10) : d;
  }
  const siren = body + String((10 - (luhn % 10)) % 10);
  const key = (12 + 3 * Number(BigInt(siren) % 97n)) % 97;
  return 'FR' + String(key).padStart(2, '0') + siren;
}

/** CRC-8, polynomial 0x07, initial value 0x00 (the KSeF number's checksum over its first 32 characters). */
export function crc8(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'ascii')) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** KSeF number `NIP-YYYYMMDD-<12 hex>-<2 hex CRC-8>` (35 characters). */
export function ksefNumber(nip: string, isoDate: string, technical12: string): string {
  const data = `${nip}-${isoDate.replaceAll('-', '')}-${technical12}`;
  return `${data}-${crc8(data).toString(16).toUpperCase().padStart(2, '0')}`;
}

// ---- exact decimals -------------------------------------------------------------------------

/** The value's shortest decimal text scaled to `scale` decimals, as a BigInt (rounded half away from zero). */
export function toScaled(value: number | string, scale: number): bigint {
  const text = typeof value === 'number' ? numberText(value) : value.trim();
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m) throw new Error(`not a decimal: ${text}`);
  const negative = m[1] === '-';
  const intPart = m[2] || '0';
  const frac = m[3] ?? '';
  const kept = (frac + '0'.repeat(scale)).slice(0, scale);
  let result = BigInt(intPart + kept);
  const next = frac.length > scale ? Number(frac[scale]) : 0;
  if (next >= 5) result += 1n;
  return negative ? -result : result;
}

/** Shortest round-trip decimal text of a finite number, never in exponent form. */
export function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  const s = String(value);
  if (!/e/i.test(s)) return s;
  return value.toFixed(20).replace(/\.?0+$/, '');
}

/** num / den rounded half away from zero. */
export function divRound(num: bigint, den: bigint): bigint {
  const negative = num < 0n !== den < 0n;
  const a = num < 0n ? -num : num;
  const b = den < 0n ? -den : den;
  const q = (a * 2n + b) / (2n * b);
  return negative ? -q : q;
}

/** Minor units (grosze) -> the JSON number Odoo shows (division by 100 is correctly rounded in IEEE). */
export function minorToNumber(minor: number | bigint, decimals = 2): number {
  return Number(minor) / 10 ** decimals;
}

/** A JSON number amount -> exact minor units via its shortest decimal text. */
export function numberToMinor(value: number, decimals = 2): number {
  return Number(toScaled(value, decimals));
}

export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

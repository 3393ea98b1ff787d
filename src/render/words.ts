/**
 * Polish amount in words ("słownie") for the prints.
 *
 * Conventions (chosen here, tested in test/render/words.test.ts):
 *  - the whole units and the minor units are both spelt out: "dwadzieścia jeden złotych zero groszy";
 *    zero is written "zero"; a count of one thousand/million is written with "jeden" ("jeden tysiąc");
 *  - declension: exactly 1 → singular (złoty, grosz, tysiąc); last two digits 12–14 → genitive plural
 *    (złotych, groszy, tysięcy); last digit 2–4 → nominative plural (złote, grosze, tysiące); otherwise
 *    genitive plural — so 22 → "dwadzieścia dwa złote", 25 → "dwadzieścia pięć złotych";
 *  - PLN → złoty/grosz, EUR → "euro" (indeclinable) and eurocent/eurocenty/eurocentów; any other currency:
 *    the whole units in words, then the code and the minor units as digits: "sto USD 45/100"
 *    (for currencies without minor units just the code);
 *  - negative amounts start with "minus".
 */
import type { Minor } from '../domain.ts';
import { currencyDigits } from './money.ts';

const UNITS = ['zero', 'jeden', 'dwa', 'trzy', 'cztery', 'pięć', 'sześć', 'siedem', 'osiem', 'dziewięć'];
const TEENS = ['dziesięć', 'jedenaście', 'dwanaście', 'trzynaście', 'czternaście', 'piętnaście', 'szesnaście', 'siedemnaście', 'osiemnaście', 'dziewiętnaście'];
const TENS = ['', '', 'dwadzieścia', 'trzydzieści', 'czterdzieści', 'pięćdziesiąt', 'sześćdziesiąt', 'siedemdziesiąt', 'osiemdziesiąt', 'dziewięćdziesiąt'];
const HUNDREDS = ['', 'sto', 'dwieście', 'trzysta', 'czterysta', 'pięćset', 'sześćset', 'siedemset', 'osiemset', 'dziewięćset'];

/** [singular, nominative plural (2–4), genitive plural (5+)] */
type Forms = readonly [string, string, string];

const SCALES: Forms[] = [
  ['tysiąc', 'tysiące', 'tysięcy'],
  ['milion', 'miliony', 'milionów'],
  ['miliard', 'miliardy', 'miliardów'],
  ['bilion', 'biliony', 'bilionów'],
  ['biliard', 'biliardy', 'biliardów'],
];

/** Chooses the Polish noun form for a count. */
export function pluralPl(n: bigint | number, forms: Forms): string {
  const v = BigInt(n) < 0n ? -BigInt(n) : BigInt(n);
  if (v === 1n) return forms[0];
  const last2 = Number(v % 100n);
  const last = Number(v % 10n);
  if (last2 >= 12 && last2 <= 14) return forms[2];
  if (last >= 2 && last <= 4) return forms[1];
  return forms[2];
}

function below1000(n: number): string[] {
  const out: string[] = [];
  const h = Math.floor(n / 100);
  const rest = n % 100;
  if (h) out.push(HUNDREDS[h]!);
  if (rest >= 10 && rest < 20) out.push(TEENS[rest - 10]!);
  else {
    const t = Math.floor(rest / 10);
    const u = rest % 10;
    if (t) out.push(TENS[t]!);
    if (u) out.push(UNITS[u]!);
  }
  return out;
}

/** A non-negative integer in Polish words: 1234 → "jeden tysiąc dwieście trzydzieści cztery". */
export function numberInWordsPl(n: bigint | number): string {
  let v = BigInt(n);
  if (v < 0n) return 'minus ' + numberInWordsPl(-v);
  if (v === 0n) return UNITS[0]!;
  const groups: number[] = [];
  while (v > 0n) {
    groups.push(Number(v % 1000n));
    v /= 1000n;
  }
  const words: string[] = [];
  for (let i = groups.length - 1; i >= 0; i--) {
    const g = groups[i]!;
    if (g === 0) continue;
    words.push(...below1000(g));
    if (i > 0) {
      const forms = SCALES[i - 1];
      if (!forms) throw new RangeError('Number too large to spell');
      words.push(pluralPl(g, forms));
    }
  }
  return words.join(' ');
}

const CURRENCY_FORMS: Record<string, { major: Forms; minor: Forms }> = {
  PLN: { major: ['złoty', 'złote', 'złotych'], minor: ['grosz', 'grosze', 'groszy'] },
  EUR: { major: ['euro', 'euro', 'euro'], minor: ['eurocent', 'eurocenty', 'eurocentów'] },
};

/**
 * "jeden tysiąc dwieście trzydzieści cztery złote pięćdziesiąt sześć groszy" for 123456 PLN minor units.
 * See the module comment for the conventions.
 */
export function amountInWordsPl(minor: Minor, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`Not an integer minor amount: ${String(minor)}`);
  const code = currency.toUpperCase();
  const digits = currencyDigits(code);
  const abs = BigInt(Math.abs(minor));
  const base = 10n ** BigInt(digits);
  const major = abs / base;
  const rest = abs % base;
  const sign = minor < 0 ? 'minus ' : '';
  const forms = CURRENCY_FORMS[code];
  if (forms) {
    return `${sign}${numberInWordsPl(major)} ${pluralPl(major, forms.major)} ${numberInWordsPl(rest)} ${pluralPl(rest, forms.minor)}`;
  }
  const tail = digits > 0 ? ` ${rest.toString().padStart(digits, '0')}/${base.toString()}` : '';
  return `${sign}${numberInWordsPl(major)} ${code}${tail}`;
}

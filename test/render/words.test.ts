import { describe, expect, it } from 'vitest';
import { amountInWordsPl, numberInWordsPl, pluralPl } from '../../src/render/words.ts';

describe('amountInWordsPl', () => {
  const table: [number, string, string][] = [
    [1, 'PLN', 'zero złotych jeden grosz'],
    [0, 'PLN', 'zero złotych zero groszy'],
    [100, 'PLN', 'jeden złoty zero groszy'],
    [200, 'PLN', 'dwa złote zero groszy'],
    [500, 'PLN', 'pięć złotych zero groszy'],
    [1200, 'PLN', 'dwanaście złotych zero groszy'],
    [1400, 'PLN', 'czternaście złotych zero groszy'],
    [2100, 'PLN', 'dwadzieścia jeden złotych zero groszy'],
    [2200, 'PLN', 'dwadzieścia dwa złote zero groszy'],
    [2502, 'PLN', 'dwadzieścia pięć złotych dwa grosze'],
    [11213, 'PLN', 'sto dwanaście złotych trzynaście groszy'],
    [12304, 'PLN', 'sto dwadzieścia trzy złote cztery grosze'],
    [123456, 'PLN', 'jeden tysiąc dwieście trzydzieści cztery złote pięćdziesiąt sześć groszy'],
    [200000, 'PLN', 'dwa tysiące złotych zero groszy'],
    [500000, 'PLN', 'pięć tysięcy złotych zero groszy'],
    [1200000, 'PLN', 'dwanaście tysięcy złotych zero groszy'],
    [2200000, 'PLN', 'dwadzieścia dwa tysiące złotych zero groszy'],
    [100100, 'PLN', 'jeden tysiąc jeden złotych zero groszy'],
    [99999999, 'PLN', 'dziewięćset dziewięćdziesiąt dziewięć tysięcy dziewięćset dziewięćdziesiąt dziewięć złotych dziewięćdziesiąt dziewięć groszy'],
    [100000000, 'PLN', 'jeden milion złotych zero groszy'],
    [300000000, 'PLN', 'trzy miliony złotych zero groszy'],
    [1300000000, 'PLN', 'trzynaście milionów złotych zero groszy'],
    [100000000000, 'PLN', 'jeden miliard złotych zero groszy'],
    [-2550, 'PLN', 'minus dwadzieścia pięć złotych pięćdziesiąt groszy'],
    [1, 'EUR', 'zero euro jeden eurocent'],
    [276627, 'EUR', 'dwa tysiące siedemset sześćdziesiąt sześć euro dwadzieścia siedem eurocentów'],
    [1003, 'EUR', 'dziesięć euro trzy eurocenty'],
    [10045, 'USD', 'sto USD 45/100'],
    [5, 'GBP', 'zero GBP 05/100'],
    [1500, 'JPY', 'jeden tysiąc pięćset JPY'],
  ];
  it.each(table)('%i minor units of %s reads "%s"', (minor, currency, words) => {
    expect(amountInWordsPl(minor, currency)).toBe(words);
  });

  it('accepts the currency code in any case', () => {
    expect(amountInWordsPl(2100, 'pln')).toBe('dwadzieścia jeden złotych zero groszy');
  });

  it('refuses a fractional minor amount', () => {
    expect(() => amountInWordsPl(1.5, 'PLN')).toThrow(RangeError);
  });
});

describe('Polish plural forms', () => {
  it('uses the singular only for exactly one, 2–4 forms except 12–14, genitive otherwise', () => {
    const f = ['tysiąc', 'tysiące', 'tysięcy'] as const;
    expect([1, 2, 4, 5, 11, 12, 14, 21, 22, 24, 25, 101, 112, 122].map((n) => pluralPl(n, f))).toEqual([
      'tysiąc',
      'tysiące',
      'tysiące',
      'tysięcy',
      'tysięcy',
      'tysięcy',
      'tysięcy',
      'tysięcy',
      'tysiące',
      'tysiące',
      'tysięcy',
      'tysięcy',
      'tysięcy',
      'tysiące',
    ]);
  });

  it('spells teens, tens and hundreds', () => {
    expect(numberInWordsPl(919)).toBe('dziewięćset dziewiętnaście');
    expect(numberInWordsPl(40)).toBe('czterdzieści');
    expect(numberInWordsPl(1_000_001)).toBe('jeden milion jeden');
  });
});

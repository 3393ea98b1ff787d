import { createHash } from 'node:crypto';
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { isConnectorError } from '../../src/errors.ts';
import { ksefVerificationUrl } from '../../src/render/ksef.ts';
import { listStandardPrints, renderStandardPrint, stripProductCode } from '../../src/render/print.ts';
import {
  BUYER_PL,
  CREDIT_NOTE,
  CREDIT_NOTE_KSEF,
  DRAFT_INVOICE,
  EUR_BOOKED_INVOICE,
  PRODUCT_CODE_INVOICE,
  SELLER,
  SELLER_WITH_CONTACTS,
  EUR_INVOICE,
  EUR_NO_RATE_INVOICE,
  EXEMPT_INVOICE,
  KSEF_INVOICE,
  LONG_INVOICE,
  PLN_INVOICE,
  REVERSE_CHARGE_INVOICE,
  SPLIT_PAYMENT_INVOICE,
} from '../fixtures/invoices.ts';
import { decodeQr, pdfPages, pdfText, rasterPage, squash } from './pdf-tools.ts';

const POLISH = 'ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ';
/** The text as one line: sentences the layout wrapped read whole. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

describe('standard print "Faktura VAT" (PLN)', () => {
  it('carries every element art. 106e requires', async () => {
    const { pdf, warnings } = await renderStandardPrint(PLN_INVOICE, 'invoice');
    expect(warnings).toEqual([]);
    const text = squash(await pdfText(pdf));
    for (const s of [
      'Faktura VAT',
      'nr FV/2026/0001',
      'Data wystawienia: 02.02.2026',
      'Data sprzedaży: 31.01.2026',
      'Sprzedawca',
      'Nabywca',
      'Zakład Usług Informatycznych „Żółć i Łoś”',
      'Przedsiębiorstwo Handlowe „Ćma i Źrebię”',
      'ul. Świętokrzyska 12/4',
      '00-916 Łódź',
      '80-210 Gdańsk',
      'NIP: 5260250995',
      'NIP: 7740001454',
      'Lp.',
      'J.m.',
      'Ilość',
      'Cena jedn.',
      'Rabat',
      'Wartość netto',
      'Stawka',
      'Usługi wdrożeniowe',
      '1 Wdrożenie systemu — łączność, źródła, żółte godz. 10 150,00 1 500,00 23%',
      '2 Licencja roczna „Gęśla” szt. 2 1 200,50 10% 2 160,90 23%',
      '3 Książka „Zażółć gęślą jaźń” szt. 3 45,99 137,97 5%',
      'Podsumowanie VAT według stawek',
      '23% 3 660,90 842,01 4 502,91',
      '5% 137,97 6,90 144,87',
      '8% 19,99 1,60 21,59',
      'Razem 3 818,86 850,51 4 669,37',
      'Razem netto: 3 818,86 PLN',
      'Razem VAT: 850,51 PLN',
      'Do zapłaty: 4 669,37 PLN',
      'Słownie: cztery tysiące sześćset sześćdziesiąt dziewięć złotych trzydzieści siedem groszy',
      'Sposób płatności: przelew',
      'Termin płatności: 16.02.2026',
      'Numer rachunku: PL61 1090 1014 0000 0712 1981 2874',
      'Uwagi: Dziękujemy za współpracę.',
      'strona 1 z 1',
    ]) {
      expect(text).toContain(s);
    }
    expect(text).not.toContain('/ VAT invoice');
  });

  it('extracts every Polish diacritic correctly', async () => {
    const text = await pdfText((await renderStandardPrint(PLN_INVOICE, 'invoice-pl')).pdf);
    expect(text).toContain('ĄĆĘŁŃÓŚŹŻ ąćęłńóśźż');
    for (const ch of POLISH.replace(' ', '')) expect(text).toContain(ch);
  });

  it('keeps every letter extractable in later documents of the same process (fontkit glyph cache)', async () => {
    // PLN_INVOICE subsets composite glyphs (Ć, Ę) before "C"/"E" were ever laid out in this process
    await renderStandardPrint({ ...PLN_INVOICE, id: 'warm' }, 'invoice-pl');
    const text = squash(await pdfText((await renderStandardPrint(EUR_INVOICE, 'invoice')).pdf));
    expect(text).toContain('Consulting services');
    expect(text).toContain('waluta / currency: EUR');
    expect(text).toContain('DE811115368');
  });

  it('omits the sale date when it equals the issue date', async () => {
    const text = await pdfText((await renderStandardPrint({ ...PLN_INVOICE, saleDate: PLN_INVOICE.issueDate }, 'invoice')).pdf);
    expect(text).not.toContain('Data sprzedaży');
  });

  it('sets the document metadata and is deterministic', async () => {
    const a = await renderStandardPrint(PLN_INVOICE, 'invoice');
    const b = await renderStandardPrint(PLN_INVOICE, 'invoice');
    expect(Buffer.from(a.pdf).equals(Buffer.from(b.pdf))).toBe(true);
    const doc = await PDFDocument.load(a.pdf, { updateMetadata: false });
    expect(doc.getTitle()).toBe('FV/2026/0001');
    expect(doc.getAuthor()).toBe(PLN_INVOICE.seller.name);
    expect(doc.getProducer()).toBe('Invoice Courier');
    expect(doc.getCreationDate()?.toISOString()).toBe('2026-02-02T00:00:00.000Z');
    expect(doc.getPageCount()).toBe(1);
  });

  it('marks a draft without a number as a draft', async () => {
    const { pdf } = await renderStandardPrint(DRAFT_INVOICE, 'invoice');
    expect(await pdfText(pdf)).toContain('PROJEKT — bez numeru');
    const doc = await PDFDocument.load(pdf, { updateMetadata: false });
    expect(doc.getTitle()).toBe('Faktura — projekt inv-10');
  });
});

describe('print choice and language', () => {
  it('lists the three standard prints with Polish names', () => {
    expect(listStandardPrints().map((p) => p.choice)).toEqual(['standard:invoice', 'standard:invoice-pl', 'standard:invoice-bilingual']);
    for (const p of listStandardPrints()) expect(p.name).toMatch(/Faktura/);
  });

  it('prints Polish and English for a customer whose language is not Polish', async () => {
    const text = squash(await pdfText((await renderStandardPrint(EUR_INVOICE, 'invoice')).pdf));
    expect(text).toContain('Sprzedawca / Seller');
    expect(text).toContain('strona 1 z 1 / page 1 of 1');
  });

  it('prints only Polish with invoice-pl, and both languages with invoice-bilingual', async () => {
    const pl = squash(await pdfText((await renderStandardPrint(EUR_INVOICE, 'standard:invoice-pl')).pdf));
    expect(pl).toContain('Sprzedawca');
    expect(pl).not.toContain('Seller');
    const bi = squash(await pdfText((await renderStandardPrint(PLN_INVOICE, 'invoice-bilingual')).pdf));
    expect(bi).toContain('Nabywca / Buyer');
    expect(bi).toContain('Faktura VAT / VAT invoice');
  });

  it('follows the lang option of the automatic print', async () => {
    const text = await pdfText((await renderStandardPrint(EUR_INVOICE, 'invoice', { lang: 'pl' })).pdf);
    expect(text).not.toContain('Seller');
  });

  it('refuses an unknown print id with print_unavailable', async () => {
    const e = await renderStandardPrint(PLN_INVOICE, 'standard:nope').catch((x: unknown) => x);
    expect(isConnectorError(e, 'print_unavailable')).toBe(true);
  });
});

describe('standard print "Faktura VAT" in a foreign currency', () => {
  it("without booked PLN amounts: converts each rate's VAT at the host's rate, and says so, with the rate, its date and source", async () => {
    const { pdf, warnings } = await renderStandardPrint(EUR_INVOICE, 'invoice-pl');
    const text = squash(await pdfText(pdf));
    expect(text).toContain('Kwota VAT w');
    // 517,27 EUR × 4,2893 = 2 218,73 PLN, once for the 23% rate and once in total
    expect(text).toContain('23% 2 249,00 517,27 2 766,27 2 218,73');
    expect(text).toContain('Razem 2 249,00 517,27 2 766,27 2 218,73');
    expect(flat(text)).toContain(
      'Kwoty VAT w PLN przeliczone przy wydruku (system nie podał kwot zaksięgowanych w PLN); kurs 4,2893 PLN/EUR z dnia 30.01.2026, źródło: NBP tabela 021/A/NBP/2026.',
    );
    expect(text).not.toContain('zaksięgowane na fakturze');
    expect(warnings).toContainEqual({ code: 'print.warning.vat_pln_converted', params: { currency: 'EUR' } });
    expect(text).toContain('Do zapłaty: 2 766,27 EUR');
    expect(text).toContain('Słownie: dwa tysiące siedemset sześćdziesiąt sześć euro dwadzieścia siedem eurocentów');
  });

  it('says that the host gave no rate instead of inventing one', async () => {
    const { pdf, warnings } = await renderStandardPrint(EUR_NO_RATE_INVOICE, 'invoice');
    const text = squash(await pdfText(pdf));
    expect(text).toContain('Brak kursu waluty');
    expect(text).not.toContain('Kwota VAT w');
    expect(text).not.toMatch(/\d PLN/);
    expect(warnings).toContainEqual({ code: 'print.warning.no_exchange_rate', params: { currency: 'EUR' } });
  });
});

describe('VAT in PLN on a foreign-currency print is what the invoice booked', () => {
  it('prints the booked VAT in PLN per rate and in total, never a conversion at a rate table', async () => {
    const { pdf, warnings } = await renderStandardPrint(EUR_BOOKED_INVOICE, 'invoice-pl');
    expect(warnings).toEqual([]);
    const text = squash(await pdfText(pdf));
    expect(text).toContain('23% 2 249,00 517,27 2 766,27 2 221,52');
    expect(text).toContain('8% 200,00 16,00 216,00 68,72');
    expect(text).toContain('Razem 2 449,00 533,27 2 982,27 2 290,24');
    // what a conversion at the rate table's 4,2893 would give
    expect(text).not.toContain('2 218,73');
    expect(text).not.toContain('68,63');
  });

  it('states the rate the invoice used and its source, without a date when the host does not know it', async () => {
    const text = flat(await pdfText((await renderStandardPrint(EUR_BOOKED_INVOICE, 'invoice-pl')).pdf));
    expect(text).toContain('Kwoty VAT w PLN zaksięgowane na fakturze; kurs 4,2947 PLN/EUR, źródło: Odoo.');
    expect(text).not.toContain('z dnia');
    const dated = { ...EUR_BOOKED_INVOICE, exchangeRate: { rate: '4.2947', date: '2026-01-30', source: 'NBP tabela 021/A/NBP/2026' } };
    expect(flat(await pdfText((await renderStandardPrint(dated, 'invoice-pl')).pdf))).toContain(
      'Kwoty VAT w PLN zaksięgowane na fakturze; kurs 4,2947 PLN/EUR z dnia 30.01.2026, źródło: NBP tabela 021/A/NBP/2026.',
    );
  });

  it('names no source when the host only has its own rate table (no "źródło: Odoo res.currency.rate" for the customer)', async () => {
    const own = { ...EUR_BOOKED_INVOICE, exchangeRate: { rate: '4.2947', date: '2026-01-30', source: null } };
    const text = flat(await pdfText((await renderStandardPrint(own, 'invoice-pl')).pdf));
    expect(text).toContain('Kwoty VAT w PLN zaksięgowane na fakturze; kurs 4,2947 PLN/EUR z dnia 30.01.2026.');
    expect(text).not.toContain('źródło');
  });

  it('keeps the booked figures whatever rate the host reports later (a re-sent print does not change)', async () => {
    const later = { ...EUR_BOOKED_INVOICE, exchangeRate: { rate: '4.3600', date: '2026-03-02', source: null } };
    const text = squash(await pdfText((await renderStandardPrint(later, 'invoice-pl')).pdf));
    expect(text).toContain('Razem 2 449,00 533,27 2 982,27 2 290,24');
    expect(text).toContain('23% 2 249,00 517,27 2 766,27 2 221,52');
  });

  it('prints the booked VAT in PLN when the host gave no rate, and says it gave none', async () => {
    const { pdf, warnings } = await renderStandardPrint({ ...EUR_BOOKED_INVOICE, exchangeRate: null }, 'invoice-pl');
    const text = flat(squash(await pdfText(pdf)));
    expect(text).toContain('Razem 2 449,00 533,27 2 982,27 2 290,24');
    expect(text).toContain('Kwoty VAT w PLN zaksięgowane na fakturze; system, z którego pochodzi faktura, nie podał kursu przeliczenia.');
    expect(warnings).toEqual([]);
  });

  it('shows no figure, and warns, for a rate the booking lacks; the total is still the booked VAT', async () => {
    const partial = { ...EUR_BOOKED_INVOICE, booked: { ...EUR_BOOKED_INVOICE.booked!, taxByRate: [EUR_BOOKED_INVOICE.booked!.taxByRate[0]!] } };
    const { pdf, warnings } = await renderStandardPrint(partial, 'invoice-pl');
    const text = squash(await pdfText(pdf));
    expect(text).toContain('8% 200,00 16,00 216,00 —');
    expect(text).toContain('Razem 2 449,00 533,27 2 982,27 2 290,24');
    expect(warnings).toContainEqual({ code: 'print.warning.booked_vat_missing_for_rate', params: { rate: '8%' } });
    expect(warnings).toContainEqual({ code: 'print.warning.booked_vat_sum_differs', params: { byRates: '2 221,52 PLN', booked: '2 290,24 PLN' } });
  });

  it("falls back to converting at the host's rate, and warns, when the booking is not in PLN", async () => {
    const eurBooked = { ...EUR_BOOKED_INVOICE, booked: { ...EUR_BOOKED_INVOICE.booked!, currency: 'EUR' } };
    const { pdf, warnings } = await renderStandardPrint(eurBooked, 'invoice-pl');
    const text = flat(squash(await pdfText(pdf)));
    // 517,27 × 4,2947 = 2 221,52; 16,00 × 4,2947 = 68,72 (here the same as booked, by construction of the rate)
    expect(text).toContain('Kwoty VAT w PLN przeliczone przy wydruku');
    expect(warnings).toContainEqual({ code: 'print.warning.booked_in_other_currency', params: { currency: 'EUR' } });
  });

  it('credit notes show the booked VAT in PLN as a negative correction', async () => {
    const credit = {
      ...EUR_BOOKED_INVOICE,
      kind: 'credit_note' as const,
      number: 'KOR/2026/0011/EUR',
      corrects: { number: 'FV/2026/0010/EUR', date: '2026-01-30' },
      exchangeRate: { rate: '4.3600', date: null, source: 'Odoo' },
    };
    const text = squash(await pdfText((await renderStandardPrint(credit, 'invoice-pl')).pdf));
    expect(text).toContain('Razem -2 449,00 -533,27 -2 982,27 -2 290,24');
  });
});

describe('title', () => {
  it('reads "Faktura VAT" with the currency stated beside it, on the same line', async () => {
    const pages = await pdfPages((await renderStandardPrint(EUR_BOOKED_INVOICE, 'invoice-pl')).pdf);
    const first = squash(pages[0]!.split('\n')[0]!);
    expect(first).toMatch(/^Faktura VAT waluta: EUR /);
    expect(pages.join('\n')).not.toContain('waluta obca');
    const bi = squash((await pdfPages((await renderStandardPrint(EUR_INVOICE, 'invoice')).pdf))[0]!.split('\n')[0]!);
    expect(bi).toMatch(/^Faktura VAT \/ VAT invoice waluta \/ currency: EUR /);
  });

  it('states no currency beside the title of a PLN invoice', async () => {
    const text = await pdfText((await renderStandardPrint(PLN_INVOICE, 'invoice')).pdf);
    expect(text).not.toContain('waluta');
  });
});

describe('product codes in line names', () => {
  it('leaves out a leading "[code] " by default, and nothing else', async () => {
    const text = squash(await pdfText((await renderStandardPrint(PRODUCT_CODE_INVOICE, 'invoice')).pdf));
    expect(text).toContain('1 Usługa gastronomiczna – catering (osoba) szt. 40 89,00 3 560,00 8%');
    expect(text).toContain('2 Papier ksero A4 80 g/m² (ryza 500 ark.)');
    expect(text).not.toContain('[CATER]');
    expect(text).not.toContain('[PAP-A4]');
    // a bracket inside the name, and a name that is only a code, stay as they are
    expect(text).toContain('Zestaw [PROMO] bez kodu na początku');
    expect(text).toContain('4 [BEZ-NAZWY]');
  });

  it('keeps the codes when the installation turned the option off', async () => {
    const text = squash(await pdfText((await renderStandardPrint(PRODUCT_CODE_INVOICE, 'invoice', { stripProductCodes: false })).pdf));
    expect(text).toContain('1 [CATER] Usługa gastronomiczna – catering (osoba)');
    expect(text).toContain('2 [PAP-A4] Papier ksero A4');
  });

  it('stripProductCode takes only one bracketed code followed by a space and more text', () => {
    expect(stripProductCode('[CATER] Catering')).toBe('Catering');
    expect(stripProductCode('[E-COM 11]   Biurko')).toBe('Biurko');
    expect(stripProductCode('[CATER]Catering')).toBe('[CATER]Catering');
    expect(stripProductCode('[CATER] ')).toBe('[CATER] ');
    expect(stripProductCode('Biurko [E-COM11]')).toBe('Biurko [E-COM11]');
    expect(stripProductCode(`[${'X'.repeat(41)}] Nazwa`)).toBe(`[${'X'.repeat(41)}] Nazwa`);
  });
});

describe('payment method and seller contacts', () => {
  it("prints the host's payment method as given", async () => {
    const text = squash(await pdfText((await renderStandardPrint({ ...PLN_INVOICE, paymentMethod: 'gotówka' }, 'invoice-pl')).pdf));
    expect(text).toContain('Sposób płatności: gotówka');
  });

  it('names a bank transfer when the host names no method and the print gives the account to pay into', async () => {
    const text = squash(await pdfText((await renderStandardPrint({ ...PLN_INVOICE, paymentMethod: null }, 'invoice-pl')).pdf));
    expect(text).toContain('Sposób płatności: przelew');
    expect(text).toContain('Numer rachunku: PL61 1090 1014 0000 0712 1981 2874');
    const noAccount = { ...PLN_INVOICE, paymentMethod: null, seller: { ...SELLER, bankAccount: null } };
    expect(await pdfText((await renderStandardPrint(noAccount, 'invoice-pl')).pdf)).not.toContain('Sposób płatności');
  });

  it("prints the seller's phone, e-mail and web site in the seller's block when the host has them", async () => {
    const pages = await pdfPages((await renderStandardPrint({ ...PLN_INVOICE, seller: SELLER_WITH_CONTACTS }, 'invoice-pl')).pdf);
    const lines = pages[0]!.split('\n').map((l) => squash(l).trim());
    const nip = lines.findIndex((l) => l.startsWith('NIP: 5260250995'));
    // under the seller's NIP, in the left column (the buyer's column is on the same text lines, to the right)
    expect(lines[nip + 1]).toMatch(/^Tel\.: \+48 42 555 01 00\b/);
    expect(lines[nip + 2]).toMatch(/^E-mail: faktury@zolc-los\.example\.pl\b/);
    expect(lines[nip + 3]).toMatch(/^www: www\.zolc-los\.example\.pl\b/);
    const bare = await pdfText((await renderStandardPrint({ ...PLN_INVOICE, seller: { ...SELLER, email: null } }, 'invoice-pl')).pdf);
    expect(bare).not.toMatch(/Tel\.|E-mail:|www:/);
  });
});

describe('standard print "Faktura korygująca"', () => {
  it('refers to the corrected invoice and shows the correction amounts', async () => {
    const text = squash(await pdfText((await renderStandardPrint(CREDIT_NOTE, 'invoice')).pdf));
    expect(text).toContain('Faktura korygująca');
    expect(text).toContain('nr KOR/2026/0001');
    expect(text).toContain('Dotyczy faktury: FV/2026/0001 z dnia 02.02.2026');
    expect(text).toContain('1 Zwrot: Licencja roczna „Gęśla” szt. -1 1 080,45 -1 080,45 23%');
    expect(text).toContain('Korekta kwoty VAT: -248,50 PLN');
    expect(text).toContain('Do zwrotu: 1 328,95 PLN');
    expect(text).toContain('Słownie: jeden tysiąc trzysta dwadzieścia osiem złotych dziewięćdziesiąt pięć groszy');
  });

  it("prints the corrected invoice's number, date and KSeF number, and the reason of the correction", async () => {
    const { pdf, warnings } = await renderStandardPrint(CREDIT_NOTE_KSEF, 'invoice-pl');
    expect(warnings).toEqual([]);
    const text = flat(squash(await pdfText(pdf)));
    expect(text).toContain('Dotyczy faktury: FV/2026/0001 z dnia 02.02.2026');
    expect(text).toContain('Numer KSeF faktury korygowanej: 5260250995-20260202-0A1B2C3D4E5F-3C');
    expect(text).toContain('Przyczyna korekty: Zwrot jednej licencji (reklamacja z 05.02.2026)');
    const none = flat(
      await pdfText(
        (await renderStandardPrint({ ...CREDIT_NOTE_KSEF, corrects: { number: 'FV/2026/0001', date: null }, correctionReason: null }, 'invoice-pl')).pdf,
      ),
    );
    expect(none).toContain('Dotyczy faktury: FV/2026/0001');
    expect(none).not.toMatch(/Numer KSeF|Przyczyna korekty|z dnia/);
  });

  it('refunds to the buyer\'s account under "Zwrot", never shows the seller\'s account next to "Do zwrotu"', async () => {
    const text = flat(squash(await pdfText((await renderStandardPrint(CREDIT_NOTE_KSEF, 'invoice-pl')).pdf)));
    expect(text).toContain('Do zwrotu: 1 328,95 PLN');
    expect(text).toContain('Zwrot Sposób zwrotu: przelew Termin zwrotu: 16.02.2026 Rachunek nabywcy do zwrotu: PL27 1140 2004 0000 3002 0135 5387');
    expect(text).not.toContain(SELLER.bankAccount!);
    expect(text).not.toContain('Płatność');
    expect(text).not.toContain('Tytuł przelewu');
    // no buyer's account known: no account at all (and no method the print cannot back up)
    const unknown = flat(await pdfText((await renderStandardPrint({ ...CREDIT_NOTE_KSEF, customer: BUYER_PL }, 'invoice-pl')).pdf));
    expect(unknown).not.toContain(SELLER.bankAccount!);
    expect(unknown).not.toMatch(/Rachunek|Sposób zwrotu|Płatność/);
    expect(unknown).toContain('Termin zwrotu: 16.02.2026');
  });

  it('warns when the host gave no corrected invoice', async () => {
    const { warnings } = await renderStandardPrint({ ...CREDIT_NOTE, corrects: null }, 'invoice');
    expect(warnings).toEqual([{ code: 'print.warning.correction_without_original', params: {} }]);
  });
});

describe('notes', () => {
  it('prints split payment, reverse charge and the exemption basis when the host marks them', async () => {
    expect(squash(await pdfText((await renderStandardPrint(SPLIT_PAYMENT_INVOICE, 'invoice')).pdf))).toContain('mechanizm podzielonej płatności');
    const rc = squash(await pdfText((await renderStandardPrint(REVERSE_CHARGE_INVOICE, 'invoice')).pdf));
    expect(rc).toContain('odwrotne obciążenie / reverse charge');
    expect(rc).toContain('np');
    const ex = squash(await pdfText((await renderStandardPrint(EXEMPT_INVOICE, 'invoice')).pdf));
    expect(ex).toContain('Podstawa zwolnienia z VAT: art. 43 ust. 1 pkt 29 lit. b ustawy o VAT');
    expect(ex).toContain('zw');
    const plain = squash(await pdfText((await renderStandardPrint(PLN_INVOICE, 'invoice')).pdf));
    expect(plain).not.toContain('podzielonej');
    expect(plain).not.toContain('odwrotne');
  });

  it('warns, and keeps the host totals, when the lines do not add up', async () => {
    const { pdf, warnings } = await renderStandardPrint({ ...PLN_INVOICE, amountTax: 85000, amountTotal: 466886 }, 'invoice');
    expect(warnings).toHaveLength(2);
    const text = squash(await pdfText(pdf));
    expect(text).toContain('Razem VAT: 850,00 PLN');
    expect(text).toContain('Do zapłaty: 4 668,86 PLN');
  });
});

describe('a 200-line invoice', () => {
  it('spreads over several pages with the header repeated, page numbers everywhere and totals only at the end', async () => {
    const { pdf } = await renderStandardPrint(LONG_INVOICE, 'invoice');
    const doc = await PDFDocument.load(pdf);
    const n = doc.getPageCount();
    expect(n).toBeGreaterThan(1);
    const pages = (await pdfPages(pdf)).map(squash);
    expect(pages).toHaveLength(n);
    pages.forEach((p, i) => {
      expect(p).toContain(`strona ${i + 1} z ${n}`);
      expect(p).toContain('Nazwa towaru lub usługi');
      if (i < n - 1) {
        expect(p).not.toContain('Do zapłaty');
        expect(p).not.toContain('Słownie');
        expect(p).not.toContain('Podsumowanie VAT');
      }
      if (i > 0) expect(p).toContain('ciąg dalszy');
    });
    expect(pages[n - 1]).toContain('Do zapłaty');
    expect(pages[n - 1]).toContain('Podsumowanie VAT');
    // every line is printed exactly once, in order
    const all = pages.join('\n');
    let last = -1;
    for (let i = 1; i <= 200; i++) {
      const at = all.indexOf(`Pozycja ${i}:`);
      expect(at).toBeGreaterThan(last);
      last = at;
    }
  });
});

describe('KSeF', () => {
  it('prints the KOD I QR code that decodes to the verification URL, with the KSeF number under it', async () => {
    const { pdf, warnings } = await renderStandardPrint(KSEF_INVOICE, 'invoice', { ksefEnvironment: 'test' });
    expect(warnings).toEqual([]);
    const text = squash(await pdfText(pdf));
    expect(text).toContain('1111111111-20260201-ABCDEF123456-7B');
    const png = await rasterPage(pdf, 1, 150);
    const code = decodeQr(png);
    expect(code).toBe('https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE');
    expect(code).toBe(
      ksefVerificationUrl({ sellerNip: '1111111111', issueDate: '2026-02-01', xmlSha256Base64Url: KSEF_INVOICE.ksef!.xmlSha256!, environment: 'test' }),
    );
    // caption, then the code, then the number under it
    expect(text.indexOf('Kod weryfikacyjny KSeF')).toBeGreaterThan(-1);
    expect(text.indexOf('1111111111-20260201-ABCDEF123456-7B')).toBeGreaterThan(text.indexOf('Kod weryfikacyjny KSeF'));
  });

  it('prints no QR code and no KSeF text when the host gave no KSeF data', async () => {
    const { pdf } = await renderStandardPrint(PLN_INVOICE, 'invoice');
    expect(await pdfText(pdf)).not.toContain('KSeF');
    const png = await rasterPage(pdf, 1, 150);
    expect(decodeQr(png)).toBeNull();
  });

  it('prints the KSeF number without a code, and warns, when the XML hash is missing', async () => {
    const { pdf, warnings } = await renderStandardPrint({ ...KSEF_INVOICE, ksef: { ...KSEF_INVOICE.ksef!, xmlSha256: null } }, 'invoice');
    expect(squash(await pdfText(pdf))).toContain('Numer KSeF: 1111111111-20260201-ABCDEF123456-7B');
    expect(warnings).toContainEqual({ code: 'print.warning.ksef_no_hash', params: {} });
  });

  const XML = new TextEncoder().encode('<?xml version="1.0" encoding="UTF-8"?>\n<Faktura><Fa><P_2>FV/2026/02/0001</P_2></Fa></Faktura>\n');
  const XML_HASH = createHash('sha256').update(XML).digest('base64url');

  it("prints the QR with the SHA-256 of the attached XML bytes when the host's hash matches them", async () => {
    const inv = { ...KSEF_INVOICE, ksef: { ...KSEF_INVOICE.ksef!, xmlSha256: XML_HASH, xml: { filename: 'FA3-FV_2026_02_0001.xml', content: XML } } };
    const { pdf, warnings } = await renderStandardPrint(inv, 'invoice', { ksefEnvironment: 'test' });
    expect(warnings).toEqual([]);
    expect(decodeQr(await rasterPage(pdf, 1, 150))).toBe(`https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/${XML_HASH}`);
  });

  it('refuses a QR whose hash does not match the attached XML: no code, the number in the notes, a warning', async () => {
    const tampered = new TextEncoder().encode(new TextDecoder().decode(XML).replace('0001', '0002'));
    const inv = { ...KSEF_INVOICE, ksef: { ...KSEF_INVOICE.ksef!, xmlSha256: XML_HASH, xml: { filename: 'FA3-FV_2026_02_0001.xml', content: tampered } } };
    const { pdf, warnings } = await renderStandardPrint(inv, 'invoice', { ksefEnvironment: 'test' });
    expect(decodeQr(await rasterPage(pdf, 1, 150))).toBeNull();
    const text = squash(await pdfText(pdf));
    expect(text).not.toContain('Kod weryfikacyjny KSeF');
    expect(text).toContain('Numer KSeF: 1111111111-20260201-ABCDEF123456-7B');
    expect(warnings).toEqual([
      { code: 'print.warning.ksef_hash_mismatch', params: { hostHash: XML_HASH, filename: 'FA3-FV_2026_02_0001.xml', actual: expect.any(String) } },
    ]);
  });

  it('labels KOD I OFFLINE for an invoice with its XML but no KSeF number yet', async () => {
    const inv = { ...KSEF_INVOICE, ksef: { number: null, status: 'offline', xmlSha256: XML_HASH, xml: { filename: 'FA3-FV_2026_02_0001.xml', content: XML } } };
    const { pdf, warnings } = await renderStandardPrint(inv, 'invoice', { ksefEnvironment: 'test' });
    expect(warnings).toEqual([]);
    expect(decodeQr(await rasterPage(pdf, 1, 150))).toBe(`https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/${XML_HASH}`);
    const text = squash(await pdfText(pdf));
    expect(text.indexOf('OFFLINE')).toBeGreaterThan(text.indexOf('Kod weryfikacyjny KSeF'));
    expect(text).not.toContain('Numer KSeF');
  });
});

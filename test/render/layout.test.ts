/**
 * Page layout of the standard prints, read back from the PDFs: pdftotext for what is on which page,
 * pdftoppm for where the ink is. A4 is 841.89 pt high; the footer rule sits 42 pt above the bottom
 * edge, so a page's content area ends above `CONTENT_END`.
 *
 * Pixels: the lines table's header row and the VAT summary's header row are both filled grey
 * (#e8e8e8). The lines table spans the whole width, the summary table only the right part, so a grey
 * band at the left margin is a lines-table header and a grey band only at the right edge is the
 * summary's header.
 */
import { describe, expect, it } from 'vitest';
import type { Invoice } from '../../src/domain.ts';
import { renderStandardPrint } from '../../src/render/print.ts';
import { BUYER_DE, EUR_RATE, cateringInvoice, LONG_INVOICE } from '../fixtures/invoices.ts';
import { bandsAt, emptyBottom, pdfPages, rasterPage, squash } from './pdf-tools.ts';

const PAGE_H = 841.89;
const CONTENT_END = PAGE_H - 44;
const HEAD_GREY = 0xe8;
const LEFT_X = 43;
const RIGHT_X = 550;
const DPI = 50;
/**
 * The issue: "a two-page invoice leaves a third of page 1 empty". What may stay empty is the closing
 * group (VAT summary and totals, kept together) plus the two lines that go with it: under a quarter
 * of the page in PLN. The bilingual foreign-currency group (three-line headings, the PLN note in both
 * languages) is the tallest, and still leaves less than the third the issue saw.
 */
const MAX_EMPTY = 0.25;
const MAX_EMPTY_TALLEST = 1 / 3;

interface Layout {
  pages: string[];
  /** Page (1-based) of the VAT summary, of the amount due, and of each line by its number. */
  summaryPage: number;
  duePage: number;
  linePages: number[];
  emptyFirst: number;
}

async function layout(inv: Invoice, n: number): Promise<Layout & { pdf: Uint8Array }> {
  const { pdf } = await renderStandardPrint(inv, 'invoice');
  const pages = (await pdfPages(pdf)).map(squash);
  const pageOf = (s: string) => pages.findIndex((p) => p.includes(s)) + 1;
  const linePages = Array.from({ length: n }, (_, i) => pageOf(`dzień ${i + 1} `));
  const emptyFirst = emptyBottom(await rasterPage(pdf, 1, DPI), PAGE_H, CONTENT_END);
  return { pdf, pages, summaryPage: pageOf('Podsumowanie VAT'), duePage: pageOf('Do zapłaty'), linePages, emptyFirst };
}

/** Grey header bands (top, in points) on a page: lines-table headers and the summary's header. */
async function headers(pdf: Uint8Array, page: number): Promise<{ lines: number[]; summary: number[] }> {
  const r = await rasterPage(pdf, page, DPI);
  const left = bandsAt(r, PAGE_H, LEFT_X, HEAD_GREY);
  const right = bandsAt(r, PAGE_H, RIGHT_X, HEAD_GREY);
  const near = (ys: number[], y: number) => ys.some((v) => Math.abs(v - y) < 1.5);
  // a band is interrupted where its text is: grey rows less than 10 pt apart are one band; a filled
  // band has at least 4 grey pixel rows (an anti-aliased letter edge that happens to be this grey has fewer)
  const tops = (ys: number[]) => {
    const bands: number[][] = [];
    for (const y of ys) {
      const last = bands[bands.length - 1];
      if (last && y - last[last.length - 1]! <= 10) last.push(y);
      else bands.push([y]);
    }
    return bands.filter((b) => b.length >= 4).map((b) => b[0]!);
  };
  return { lines: tops(left), summary: tops(right.filter((y) => !near(left, y))) };
}

// Catering lines at two rates in PLN, and the same billed in EUR to a German buyer (bilingual, a PLN
// column and its note: the tallest closing group); the counts span every way two pages can split.
const CASES: { name: string; make: (n: number) => Invoice; counts: number[]; maxEmpty: number }[] = [
  { name: 'PLN', make: (n) => cateringInvoice(n), counts: [14, 20, 25, 28, 31, 34, 38, 43, 46], maxEmpty: MAX_EMPTY },
  {
    name: 'EUR, bilingual',
    make: (n) => cateringInvoice(n, { currency: 'EUR', customer: BUYER_DE, exchangeRate: EUR_RATE }),
    counts: [10, 18, 21, 24, 27, 30, 35, 40],
    maxEmpty: MAX_EMPTY_TALLEST,
  },
];

describe('two-page invoices: the line table breaks across pages and the VAT summary stays with its last lines', () => {
  for (const c of CASES) {
    it(`${c.name}: page 1 is never left more than ${c.maxEmpty === MAX_EMPTY ? 'a quarter' : 'a third'} empty, the summary and the amount due share a page with at least two lines`, async () => {
      let twoPage = 0;
      for (const n of c.counts) {
        const l = await layout(c.make(n), n);
        const at = `${c.name}, ${n} lines`;
        if (l.pages.length !== 2) continue;
        twoPage++;
        expect(l.emptyFirst, `${at}: empty bottom of page 1`).toBeLessThan(c.maxEmpty);
        expect(l.duePage, `${at}: amount due with the summary`).toBe(l.summaryPage);
        const withSummary = l.linePages.filter((p) => p === l.summaryPage).length;
        expect(withSummary, `${at}: lines on the summary's page ${l.summaryPage}`).toBeGreaterThanOrEqual(2);
        // every line once, in order, pages never going back
        expect(
          l.linePages.every((p, i) => p >= 1 && (i === 0 || p >= l.linePages[i - 1]!)),
          at,
        ).toBe(true);
        // the header repeated: the table head on every page with lines, "ciąg dalszy" on page 2
        for (const p of new Set(l.linePages)) expect(l.pages[p - 1], `${at}: table head on page ${p}`).toContain('Nazwa towaru lub usługi');
        expect(l.pages[1], at).toContain('ciąg dalszy');
      }
      expect(twoPage, `${c.name}: the counts give two-page invoices`).toBeGreaterThanOrEqual(4);
    });
  }

  it('when the summary does not fit under the last line, the last two lines go with it: pixels show the table head, two rows, then the summary', async () => {
    // 31 catering lines: the lines alone fill page 1 down to where the summary and totals no longer fit
    const n = 31;
    const l = await layout(cateringInvoice(n), n);
    expect(l.pages).toHaveLength(2);
    expect(l.summaryPage).toBe(2);
    expect(l.linePages.filter((p) => p === 2)).toHaveLength(2);
    expect(l.emptyFirst).toBeLessThan(MAX_EMPTY);
    const h = await headers(l.pdf, 2);
    expect(h.lines, 'one lines-table header on page 2').toHaveLength(1);
    expect(h.summary, 'one summary header on page 2').toHaveLength(1);
    // between the two headers: the lines-table head (≈ 3 text lines), two rows (≈ 13 pt each), the gap and the caption
    expect(h.summary[0]! - h.lines[0]!).toBeGreaterThan(2 * 13 + 10);
    const p1 = await headers(l.pdf, 1);
    expect(p1.summary, 'no summary header on page 1').toHaveLength(0);
  });

  it("a note after the last line does not count as a line: the summary's page still carries two line items", async () => {
    // 43 lines fill page 1 with 42; line 43 and the note go to page 2, where the summary fits
    const base = cateringInvoice(43);
    const note = { ...base.lines[0]!, id: 'note', kind: 'note' as const, name: 'Gwarancja 24 miesiące od daty dostawy.', net: 0, gross: 0, taxes: [] };
    const l = await layout({ ...base, lines: [...base.lines, note] }, 43);
    expect(l.pages).toHaveLength(2);
    expect(l.summaryPage).toBe(2);
    expect(l.linePages.filter((p) => p === 2)).toHaveLength(2);
    expect(l.pages[1]).toContain('Gwarancja 24 miesiące');
  });

  it('when the summary fits under the lines, it stays on page 1 and only what does not fit moves on', async () => {
    // 25 lines: the summary and the totals fit under the lines; the payment block does not
    const n = 25;
    const l = await layout(cateringInvoice(n), n);
    expect(l.pages).toHaveLength(2);
    expect(l.summaryPage).toBe(1);
    expect(l.duePage).toBe(1);
    expect(l.linePages.every((p) => p === 1)).toBe(true);
    expect(l.pages[1]).toContain('Płatność');
    expect(l.emptyFirst).toBeLessThan(MAX_EMPTY);
    expect((await headers(l.pdf, 1)).summary).toHaveLength(1);
  });

  it("the 200-line invoice: the summary's page carries lines too (pixels: a lines-table header above the summary header)", async () => {
    const { pdf } = await renderStandardPrint(LONG_INVOICE, 'invoice');
    const pages = (await pdfPages(pdf)).map(squash);
    const last = pages.length;
    expect(pages[last - 1]).toContain('Podsumowanie VAT');
    const h = await headers(pdf, last);
    expect(h.lines).toHaveLength(1);
    expect(h.summary).toHaveLength(1);
    expect(h.lines[0]!).toBeLessThan(h.summary[0]!);
    for (let p = 1; p < last; p++) expect(emptyBottom(await rasterPage(pdf, p, DPI), PAGE_H, CONTENT_END), `page ${p}`).toBeLessThan(0.05);
  });
});

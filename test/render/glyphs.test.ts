/**
 * Pixel test of the Polish letters in the prints' embedded (subset) fonts.
 *
 * DejaVu builds most Polish letters from composite glyphs (base + accent), and a subsetter that maps a
 * composite's component ids wrongly draws a wrong or bare letter while the text still extracts fine.
 * Reference: the same letters drawn as vector outlines straight from a freshly parsed copy of the font
 * (fontkit assembles composites itself), so no font embedding is involved. Both pages are rasterised
 * by pdftoppm; each letter's ink must match its outline within a small tolerance (anti-aliasing), and
 * the test proves it can fail: "z" printed where "ż" is expected exceeds the tolerance.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';
import { describe, expect, it } from 'vitest';
import { FONT_BOLD, FONT_REGULAR, fontDirectory, loadFonts } from '../../src/render/fonts.ts';
import { renderStandardPrint } from '../../src/render/print.ts';
import { PLN_INVOICE } from '../fixtures/invoices.ts';
import { rasterPage, type Raster } from './pdf-tools.ts';

const LETTERS = Array.from('ąćęłńóśźżĄĆĘŁŃÓŚŹŻ');
const SIZE = 36;
const CELL = 48;
const DPI = 200;
const TOLERANCE = 0.02;
/** Both-ways binary rendering: text and vectors rasterised without anti-aliasing. */
const AA_OFF = ['-aa', 'no', '-aaVector', 'no'];

interface Cell {
  letter: string;
  bold: boolean;
  x: number;
  baseline: number;
}

function cells(letters: string[]): Cell[] {
  const out: Cell[] = [];
  [false, true].forEach((bold, b) =>
    letters.forEach((letter, i) => out.push({ letter, bold, x: 40 + (i % 10) * CELL, baseline: 80 + (b * 2 + Math.floor(i / 10)) * 70 })),
  );
  return out;
}

/** Page 1: letters through the embedded subset fonts; page 2: `outlineLetters` as outlines at the same places. */
async function drawPages(textLetters: string[], outlineLetters: string[]): Promise<Uint8Array> {
  const fonts = loadFonts();
  const dir = fontDirectory();
  const fresh = {
    regular: fontkit.create(readFileSync(join(dir, 'DejaVuSans.ttf'))) as unknown as OutlineFont,
    bold: fontkit.create(readFileSync(join(dir, 'DejaVuSans-Bold.ttf'))) as unknown as OutlineFont,
  };
  const doc = new PDFDocument({ size: 'A4', font: null as unknown as string, info: { CreationDate: new Date(0) } });
  doc.registerFont(FONT_REGULAR, fonts.regular as unknown as Buffer);
  doc.registerFont(FONT_BOLD, fonts.bold as unknown as Buffer);
  for (const c of cells(textLetters)) {
    doc
      .font(c.bold ? FONT_BOLD : FONT_REGULAR)
      .fontSize(SIZE)
      .fillColor('black');
    doc.text(c.letter, c.x, c.baseline, { lineBreak: false, baseline: 'alphabetic' });
  }
  doc.addPage();
  for (const c of cells(outlineLetters)) {
    const font = c.bold ? fresh.bold : fresh.regular;
    const glyph = font.glyphForCodePoint(c.letter.codePointAt(0)!);
    const s = SIZE / font.unitsPerEm;
    doc.save().translate(c.x, c.baseline).scale(s, -s).path(glyph.path.toSVG()).fill('black').restore();
  }
  const chunks: Buffer[] = [];
  doc.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<void>((r) => doc.on('end', () => r()));
  doc.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

interface OutlineFont {
  unitsPerEm: number;
  glyphForCodePoint(cp: number): { path: { toSVG(): string } };
}

/** Binary ink map of a page, and the same map dilated by one pixel. */
interface InkMap {
  width: number;
  height: number;
  ink: Uint8Array;
  near: Uint8Array;
}

function inkMap(r: Raster): InkMap {
  const { width, height } = r;
  const ink = new Uint8Array(width * height);
  for (let i = 0; i < width * height; i++) ink[i] = r.data[i * 4]! + r.data[i * 4 + 1]! + r.data[i * 4 + 2]! < 3 * 128 ? 1 : 0;
  const near = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      if (!ink[y * width + x]) continue;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < width && ny < height) near[ny * width + nx] = 1;
        }
    }
  return { width, height, ink, near };
}

function at(m: InkMap, map: Uint8Array, x: number, y: number): number {
  return x < 0 || y < 0 || x >= m.width || y >= m.height ? 0 : map[y * m.width + x]!;
}

/**
 * Share of ink pixels in one cell that have no ink of the other image within one pixel (both ways), at
 * the best of small shifts (±2 px): edge noise of two rasterisers cancels, a missing or wrong accent does not.
 */
function mismatch(a: InkMap, b: InkMap, c: Cell): number {
  const k = DPI / 72;
  const x0 = Math.floor((c.x - 4) * k);
  const x1 = Math.ceil((c.x + CELL - 4) * k);
  const y0 = Math.floor((c.baseline - SIZE * 1.2) * k);
  const y1 = Math.ceil((c.baseline + SIZE * 0.45) * k);
  let inkA = 0;
  let inkB = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      inkA += at(a, a.ink, x, y);
      inkB += at(b, b.ink, x, y);
    }
  let best = Infinity;
  for (let sy = -2; sy <= 2; sy++)
    for (let sx = -2; sx <= 2; sx++) {
      let diff = 0;
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) {
          if (at(a, a.ink, x, y) && !at(b, b.near, x + sx, y + sy)) diff++;
          if (at(b, b.ink, x + sx, y + sy) && !at(a, a.near, x, y)) diff++;
        }
      best = Math.min(best, diff);
    }
  return best / Math.max(inkA, inkB, 1);
}

async function mismatches(textLetters: string[], outlineLetters: string[]): Promise<{ cell: Cell; ratio: number }[]> {
  const pdf = await drawPages(textLetters, outlineLetters);
  const [a, b] = await Promise.all([rasterPage(pdf, 1, DPI, AA_OFF), rasterPage(pdf, 2, DPI, AA_OFF)]);
  const ma = inkMap(a);
  const mb = inkMap(b);
  return cells(textLetters).map((cell) => ({ cell, ratio: mismatch(ma, mb, cell) }));
}

describe('Polish letters in the embedded subset fonts', () => {
  it('every Polish letter, regular and bold, matches its font outline pixel for pixel (1-pixel tolerance)', async () => {
    // render an invoice first so the shared fonts carry the state real renders leave behind
    await renderStandardPrint(PLN_INVOICE, 'invoice');
    const res = await mismatches(LETTERS, LETTERS);
    const bad = res.filter((r) => r.ratio > TOLERANCE).map((r) => `${r.cell.letter}${r.cell.bold ? ' (bold)' : ''}: ${r.ratio.toFixed(3)}`);
    expect(bad).toEqual([]);
  });

  it('fails when a letter loses its accent (the test can fail)', async () => {
    const bare = Array.from('acelnoszzACELNOSZZ');
    const res = await mismatches(bare, LETTERS);
    for (const r of res) expect(r.ratio, `${r.cell.letter} vs ${LETTERS[LETTERS.indexOf(r.cell.letter)] ?? ''}`).toBeGreaterThan(TOLERANCE);
  });
});

/**
 * Test helpers reading real PDFs back with poppler (pdftotext, pdftoppm) and pdf-lib.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

const run = promisify(execFile);

async function withTempPdf<T>(pdf: Uint8Array, fn: (dir: string, file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ic-render-'));
  try {
    const file = join(dir, 'doc.pdf');
    await writeFile(file, pdf);
    return await fn(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `pdftotext -layout`, one string per page, NBSP turned into plain spaces. */
export async function pdfPages(pdf: Uint8Array): Promise<string[]> {
  return withTempPdf(pdf, async (_dir, file) => {
    const { stdout } = await run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    const pages = stdout.replace(/\u00a0/g, ' ').split('\f');
    if (pages.length > 1 && pages[pages.length - 1]!.trim() === '') pages.pop();
    return pages;
  });
}

export async function pdfText(pdf: Uint8Array): Promise<string> {
  return (await pdfPages(pdf)).join('\n');
}

/** Collapses runs of spaces so assertions do not depend on the layout's column widths. */
export function squash(s: string): string {
  return s.replace(/[ \t]+/g, ' ');
}

export interface Raster {
  width: number;
  height: number;
  /** RGBA */
  data: Uint8Array;
}

/** Renders one page with `pdftoppm -png` at `dpi`. */
export async function rasterPage(pdf: Uint8Array, page: number, dpi: number, extra: string[] = []): Promise<Raster> {
  return withTempPdf(pdf, async (dir, file) => {
    const out = join(dir, 'page');
    await run('pdftoppm', ['-png', '-r', String(dpi), '-f', String(page), '-l', String(page), '-singlefile', ...extra, file, out], { timeout: 60_000 });
    const png = PNG.sync.read(await readFile(`${out}.png`));
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
  });
}

type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
// jsqr is CommonJS with an ESM-style `export default` typing: take whichever shape the loader gives
const jsQR: JsQr = ((jsQRModule as unknown as { default?: JsQr }).default ?? jsQRModule) as unknown as JsQr;

/**
 * Decodes the QR code on a rendered page; null when there is none. jsQR now and then "finds" a code with
 * no data in a page that has none (a print's table rules); every code a print carries has data, so an
 * empty one counts as none.
 */
export function decodeQr(r: Raster): string | null {
  const data = jsQR(new Uint8ClampedArray(r.data.buffer, r.data.byteOffset, r.data.byteLength), r.width, r.height)?.data;
  return data ? data : null;
}

/** For each pixel row of `r`: true when any pixel in it is darker than `threshold` (0–255, on red). */
export function inkRows(r: Raster, threshold = 200): boolean[] {
  const rows: boolean[] = [];
  for (let y = 0; y < r.height; y++) {
    let ink = false;
    for (let x = 0; x < r.width && !ink; x++) ink = r.data[(y * r.width + x) * 4]! < threshold;
    rows.push(ink);
  }
  return rows;
}

/**
 * The empty band at the bottom of a page's content area, as a fraction of the page height: from the
 * last row with ink above `bottomPt` (points from the top, e.g. just above the footer) down to it.
 */
export function emptyBottom(r: Raster, pageHeightPt: number, bottomPt: number): number {
  const limit = Math.floor((bottomPt / pageHeightPt) * r.height);
  const ink = inkRows(r).slice(0, limit);
  const last = ink.lastIndexOf(true);
  return (limit - (last + 1)) / r.height;
}

/** Pixel rows (as points from the top) where the pixel at `xPt` has exactly the grey `grey` (±tol): filled bands. */
export function bandsAt(r: Raster, pageHeightPt: number, xPt: number, grey: number, tol = 3): number[] {
  const scale = r.height / pageHeightPt;
  const x = Math.round(xPt * scale);
  const out: number[] = [];
  for (let y = 0; y < r.height; y++) {
    const o = (y * r.width + x) * 4;
    const [red, green, blue] = [r.data[o]!, r.data[o + 1]!, r.data[o + 2]!];
    if (Math.abs(red - grey) <= tol && Math.abs(green - grey) <= tol && Math.abs(blue - grey) <= tol) out.push(y / scale);
  }
  return out;
}

/**
 * The print fonts: DejaVu Sans regular and bold (npm package `dejavu-fonts-ttf`, full Polish coverage),
 * read and parsed by fontkit ONCE per process (research/performance.md: pre-parsed fonts make pdfkit ~3×
 * faster than passing the bytes to every document, because fontkit keeps its glyph caches on the font).
 *
 * A fontkit 2 caveat handled here: fontkit caches one Glyph object per glyph id, created on first use
 * with the code points of that use. When a composite glyph (DejaVu builds "Ć" from "C" + acute) is
 * subset BEFORE its component was ever laid out, the subsetter creates the component's Glyph with no
 * code points and that object is cached for the life of the font: every later document then maps "C"
 * to nothing in its ToUnicode table (the text looks right but copies/extracts without the letter).
 * `loadFonts` therefore creates every mapped glyph through the cmap once, right after parsing.
 *
 * Nothing happens at import time: the first `loadFonts()` call reads the files; later calls return the
 * same parsed fonts. Each worker thread has its own copy (one parse per thread).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as fontkit from 'fontkit';
import { ConnectorError } from '../errors.ts';

export interface PrintFonts {
  regular: fontkit.Font;
  bold: fontkit.Font;
}

/** Names the fonts are registered under in every document. */
export const FONT_REGULAR = 'IC-Regular';
export const FONT_BOLD = 'IC-Bold';

let cached: PrintFonts | null = null;

/** Directory holding DejaVuSans.ttf and DejaVuSans-Bold.ttf. */
export function fontDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
}

export function loadFonts(): PrintFonts {
  if (cached) return cached;
  try {
    const dir = fontDirectory();
    cached = {
      regular: fontkit.create(readFileSync(join(dir, 'DejaVuSans.ttf'))),
      bold: fontkit.create(readFileSync(join(dir, 'DejaVuSans-Bold.ttf'))),
    };
    warmGlyphCache(cached.regular);
    warmGlyphCache(cached.bold);
  } catch (cause) {
    throw new ConnectorError('render_failed', 'The print fonts (dejavu-fonts-ttf) could not be loaded.', { cause });
  }
  return cached;
}

/**
 * Creates (and so caches) each glyph the cmap reaches with its code point; see the module comment.
 * Presentation forms are skipped: the "fi" ligature glyph must keep the code points "f","i" that
 * shaping gives it, not U+FB01, or extracted text reads "weryﬁkacja".
 */
function warmGlyphCache(font: fontkit.Font): void {
  for (const cp of font.characterSet) {
    if ((cp >= 0xfb00 && cp <= 0xfdff) || (cp >= 0xfe70 && cp <= 0xfeff)) continue;
    font.glyphForCodePoint(cp);
  }
}

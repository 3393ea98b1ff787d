/**
 * The print fonts: DejaVu Sans regular and bold (npm package `dejavu-fonts-ttf`, full Polish coverage),
 * read and parsed by fontkit ONCE per process (docs/performance.md: pre-parsed fonts make pdfkit ~3×
 * faster than passing the bytes to every document, because fontkit keeps its glyph caches on the font).
 *
 * A fontkit 2 caveat handled here: fontkit caches one Glyph object per glyph id, created on first use
 * with the code points of that use. When a composite glyph (DejaVu builds "Ć" from "C" + acute) is
 * subset BEFORE its component was ever laid out, the subsetter creates the component's Glyph with no
 * code points and that object is cached for the life of the font: every later document then maps "C"
 * to nothing in its ToUnicode table (the text looks right but copies/extracts without the letter).
 * `loadFonts` therefore creates every mapped glyph through the cmap once, right after parsing.
 *
 * Shaping is memoised per process: pdfkit keeps its word-layout cache on each document's font object,
 * so every new document shaped every word again through fontkit's GSUB/GPOS engine (a quarter of the
 * render CPU). `memoizeLayout` puts a bounded LRU in front of the fonts' public `layout(text)`; see there.
 * Likewise each document's font subset decoded every glyph outline again (`memoizeGlyphDecode`).
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
    memoizeLayout(cached.regular);
    memoizeLayout(cached.bold);
    memoizeGlyphDecode(cached.regular);
    memoizeGlyphDecode(cached.bold);
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

/**
 * Words (pdfkit lays text out word by word) whose shaping is kept per font (and thread). 2,000 packed
 * entries keep ~3.5 MB live per thread where 4,000 unpacked ones kept ~13 MB, and the heap grows with
 * what is live (issue 12; docs/performance.md, memory): one thread's live heap after 3,000 distinct
 * renders 35 → 26 MB, render CPU per invoice the same (`bench/render.ts`).
 */
export const LAYOUT_CACHE_ENTRIES = 2000;

/**
 * Longer runs are not kept: a word of more glyphs (a URL, an IBAN written without spaces) rarely comes
 * again, and this bounds the cache in bytes as well as in entries (a packed entry costs ~40 bytes per glyph).
 */
export const LAYOUT_CACHE_MAX_GLYPHS = 64;

interface GlyphRunShape {
  glyphs: unknown[];
  positions: object[];
  features?: unknown;
}

function isGlyphRun(run: unknown): run is GlyphRunShape {
  if (typeof run !== 'object' || run === null) return false;
  const r = run as { glyphs?: unknown; positions?: unknown };
  return Array.isArray(r.glyphs) && Array.isArray(r.positions) && r.glyphs.length === r.positions.length;
}

/** A copy the caller may mutate: pdfkit scales the positions of the run it gets in place. */
function copyRun(run: GlyphRunShape): GlyphRunShape {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(run) as object) as GlyphRunShape, run);
  copy.glyphs = run.glyphs.slice();
  copy.positions = run.positions.map((p) => Object.assign(Object.create(Object.getPrototypeOf(p) as object) as object, p));
  if (typeof run.features === 'object' && run.features !== null) copy.features = { ...run.features };
  return copy;
}

/** The four fields of a fontkit GlyphPosition, in its own order. */
const POSITION_KEYS = ['xAdvance', 'yAdvance', 'xOffset', 'yOffset'] as const;

/**
 * A shaped word as the cache keeps it, in about a third of the memory of the run itself: the run's own
 * fields with the positions packed into one array of numbers (four per glyph, when every position is a
 * plain GlyphPosition: those four own number fields, one prototype) and the features object shared
 * between entries that have equal ones (`intern`). `positions` holds full copies only for runs not shaped so.
 */
interface CachedRun {
  shell: GlyphRunShape;
  packed: number[] | null;
  positionProto: object | null;
}

function isPlainPosition(p: object, proto: object): boolean {
  if (Object.getPrototypeOf(p) !== proto) return false;
  const keys = Object.keys(p);
  if (keys.length !== POSITION_KEYS.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = POSITION_KEYS[i]!;
    if (keys[i] !== k || typeof (p as Record<string, unknown>)[k] !== 'number') return false;
  }
  return true;
}

function pack(run: GlyphRunShape, intern: (features: unknown) => unknown): CachedRun {
  const shell = Object.assign(Object.create(Object.getPrototypeOf(run) as object) as GlyphRunShape, run);
  shell.glyphs = run.glyphs.slice();
  if (typeof run.features === 'object' && run.features !== null) shell.features = intern(run.features);
  const first = run.positions[0];
  const proto = first ? (Object.getPrototypeOf(first) as object | null) : null;
  if (proto && run.positions.every((p) => isPlainPosition(p, proto))) {
    const packed: number[] = [];
    for (const p of run.positions as Record<(typeof POSITION_KEYS)[number], number>[]) packed.push(p.xAdvance, p.yAdvance, p.xOffset, p.yOffset);
    shell.positions = [];
    return { shell, packed, positionProto: proto };
  }
  shell.positions = copyRun(run).positions;
  return { shell, packed: null, positionProto: null };
}

function unpack(entry: CachedRun): GlyphRunShape {
  const { shell, packed, positionProto } = entry;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(shell) as object) as GlyphRunShape, shell);
  copy.glyphs = shell.glyphs.slice();
  if (packed && positionProto) {
    const positions: object[] = new Array<object>(packed.length / 4);
    for (let i = 0, j = 0; j < packed.length; i++, j += 4) {
      const p = Object.create(positionProto) as Record<(typeof POSITION_KEYS)[number], number>;
      p.xAdvance = packed[j]!;
      p.yAdvance = packed[j + 1]!;
      p.xOffset = packed[j + 2]!;
      p.yOffset = packed[j + 3]!;
      positions[i] = p;
    }
    copy.positions = positions;
  } else {
    copy.positions = copyRun(shell).positions;
  }
  if (typeof shell.features === 'object' && shell.features !== null) copy.features = { ...shell.features };
  return copy;
}

/** Shares equal features objects (flat key → value) between cache entries; a few distinct ones at most. */
function featureInterner(): (features: unknown) => unknown {
  const seen: Record<string, unknown>[] = [];
  const equal = (a: Record<string, unknown>, b: Record<string, unknown>) => {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => kb[i] === k && a[k] === b[k]);
  };
  return (features) => {
    const f = features as Record<string, unknown>;
    if (Object.values(f).some((v) => typeof v === 'object' && v !== null)) return { ...f };
    const hit = seen.find((s) => equal(s, f));
    if (hit) return hit;
    const own = { ...f };
    if (seen.length < 16) seen.push(own);
    return own;
  };
}

/**
 * Wraps `font.layout` (fontkit's public API, which pdfkit calls once per word and document) with a
 * bounded LRU keyed by the text, for calls without features/script/language/direction. The cached run
 * is never handed out: every caller gets a fresh copy of the run and its positions (the glyph objects
 * are fontkit's own per-font cache and stay shared, as without this). Anything not shaped like a
 * GlyphRun is passed through uncached. Shaping is a pure function of the text and the font, so the
 * PDFs are byte-identical with and without the cache. Entries are kept packed (`CachedRun`).
 */
export function memoizeLayout(font: fontkit.Font, maxEntries = LAYOUT_CACHE_ENTRIES): void {
  const original = font.layout.bind(font) as (text: string, ...rest: unknown[]) => unknown;
  const cache = new Map<string, CachedRun>();
  const intern = featureInterner();
  font.layout = (text: string, ...rest: unknown[]): unknown => {
    if (typeof text !== 'string' || rest.some((a) => a !== undefined)) return original(text, ...rest);
    const hit = cache.get(text);
    if (hit) {
      cache.delete(text); // most recently used goes last
      cache.set(text, hit);
      return unpack(hit);
    }
    const fresh = original(text);
    if (!isGlyphRun(fresh) || fresh.glyphs.length > LAYOUT_CACHE_MAX_GLYPHS || maxEntries <= 0) return fresh;
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(text, pack(fresh, intern));
    return fresh;
  };
}

type DecodableGlyph = { _decode?: () => unknown };

/**
 * fontkit's TrueType subsetter (used by pdfkit when it embeds a font at the end of every document)
 * calls `glyph._decode()` on each glyph it includes, only to learn whether the glyph is composite and
 * which components it has; that decode parses the whole outline from the font bytes again every time
 * (an eighth of the render CPU). Glyph objects are fontkit's per-font cache (one per id, kept for the
 * life of the font), so the decoded header can be kept on them.
 *
 * This touches a fontkit internal, so it is guarded: only static (non-variable) fonts, only glyphs
 * that have a `_decode` method; anything else is left as fontkit made it. Safe because fontkit mutates
 * a decoded glyph only when applying font variations (excluded here); the outline is otherwise read
 * only. Guarded by the render tests (pixel comparison of Polish composite glyphs, text read back) and
 * by byte-identical output with and without it.
 */
export function memoizeGlyphDecode(font: fontkit.Font): void {
  const internals = font as unknown as { _variationProcessor?: unknown; getGlyph?: unknown };
  if (internals._variationProcessor != null || typeof internals.getGlyph !== 'function') return;
  const getGlyph = (internals.getGlyph as (id: number, codePoints?: number[]) => unknown).bind(font);
  const done = new WeakSet<object>();
  internals.getGlyph = (id: number, codePoints?: number[]): unknown => {
    const glyph = getGlyph(id, codePoints);
    if (typeof glyph === 'object' && glyph !== null && !done.has(glyph)) {
      done.add(glyph);
      const g = glyph as DecodableGlyph;
      const decode = g._decode;
      if (typeof decode === 'function') {
        let decoded = false;
        let value: unknown;
        g._decode = function memoizedDecode(this: unknown): unknown {
          if (!decoded) {
            value = decode.call(this);
            decoded = true;
          }
          return value;
        };
      }
    }
    return glyph;
  };
}

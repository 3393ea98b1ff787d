import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fontkit from 'fontkit';
import { describe, expect, it } from 'vitest';
import { LAYOUT_CACHE_MAX_GLYPHS, fontDirectory, memoizeLayout } from '../../src/render/fonts.ts';

/** A font of its own (not the process's shared one), so the test decides what is cached. */
const freshFont = () => fontkit.create(readFileSync(join(fontDirectory(), 'DejaVuSans.ttf')));

/** A fresh font that counts the shapings fontkit itself does (calls reaching its own `layout`). */
function countingFont() {
  const font = freshFont();
  let n = 0;
  const original = font.layout.bind(font);
  font.layout = ((...args: Parameters<typeof original>) => {
    n++;
    return original(...args);
  }) as typeof font.layout;
  return { font, shaped: () => n };
}

/** What pdfkit reads of a run, with the prototypes of the run and its positions. */
function shape(run: unknown) {
  const r = run as { glyphs: { id: number }[]; positions: object[]; features: unknown; script: unknown; language: unknown; direction: unknown };
  return {
    proto: Object.getPrototypeOf(r) as unknown,
    keys: Object.keys(r),
    glyphs: r.glyphs.map((g) => g.id),
    positions: r.positions.map((p) => ({ proto: Object.getPrototypeOf(p) as unknown, keys: Object.keys(p), ...p })),
    features: r.features,
    script: r.script,
    language: r.language,
    direction: r.direction,
  };
}

// with combining marks (C + acute, q + dot below + acute): GPOS gives them x and y offsets
const WORDS = ['C\u0301', 'q\u0323\u0301', 'Faktura', 'Zażółć', 'gęślą', 'jaźń', 'ĄĆĘŁŃÓŚŹŻ', 'weryfikacja', 'AV', 'To', '1 234,56', 'zł', '„Ćma”', '—', ''];

describe('word-layout cache (memoizeLayout)', () => {
  it("hands out runs equal to fontkit's own shaping, on the first call and from the cache", () => {
    const plain = freshFont();
    const cached = freshFont();
    memoizeLayout(cached, 100);
    for (const word of WORDS) {
      const expected = shape(plain.layout(word));
      expect(shape(cached.layout(word)), `${word} (miss)`).toEqual(expected);
      expect(shape(cached.layout(word)), `${word} (hit)`).toEqual(expected);
    }
  });

  it('hands out a fresh run each time: changing one (pdfkit scales positions in place) leaves the next unchanged', () => {
    const font = freshFont();
    memoizeLayout(font, 100);
    const first = font.layout('Zażółć') as unknown as { positions: { xAdvance: number }[]; features: Record<string, boolean> };
    const before = first.positions.map((p) => p.xAdvance);
    const second = font.layout('Zażółć') as unknown as { positions: { xAdvance: number }[]; features: Record<string, boolean>; glyphs: unknown[] };
    for (const p of second.positions) p.xAdvance *= 1000;
    second.features['liga'] = false;
    second.glyphs.length = 0;
    const third = font.layout('Zażółć') as unknown as { positions: { xAdvance: number }[]; features: Record<string, boolean>; glyphs: unknown[] };
    expect(third.positions.map((p) => p.xAdvance)).toEqual(before);
    expect(third.features['liga']).toBe(true);
    expect(third.glyphs.length).toBe(before.length);
  });

  it('keeps at most maxEntries words, dropping the least recently used', () => {
    const { font, shaped } = countingFont();
    memoizeLayout(font, 2);
    font.layout('a');
    font.layout('b');
    font.layout('a'); // a is now the most recently used
    font.layout('c'); // drops b
    expect(shaped()).toBe(3);
    font.layout('a');
    font.layout('c');
    expect(shaped()).toBe(3);
    font.layout('b');
    expect(shaped()).toBe(4);
  });

  it('does not keep runs longer than LAYOUT_CACHE_MAX_GLYPHS (the cache stays bounded in bytes)', () => {
    const { font, shaped } = countingFont();
    memoizeLayout(font, 10);
    const long = 'x'.repeat(LAYOUT_CACHE_MAX_GLYPHS + 1);
    const short = 'x'.repeat(LAYOUT_CACHE_MAX_GLYPHS);
    for (const w of [long, long, short, short]) font.layout(w);
    expect(shaped()).toBe(3);
  });

  it('passes calls with features through uncached', () => {
    const { font, shaped } = countingFont();
    memoizeLayout(font, 10);
    font.layout('fi', ['liga']);
    font.layout('fi', ['liga']);
    expect(shaped()).toBe(2);
  });
});

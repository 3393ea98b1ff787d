/**
 * Minimal typing of fontkit 2 (the package ships no types): only what the renderer uses. pdfkit accepts a
 * fontkit font object wherever it takes a font source (it checks for a `layout` function).
 */
declare module 'fontkit' {
  export interface Font {
    postscriptName: string;
    familyName: string;
    layout(text: string, ...rest: unknown[]): unknown;
    /** Every code point the font's cmap maps. */
    characterSet: number[];
    glyphForCodePoint(codePoint: number): { id: number; codePoints: number[] };
  }
  export function create(buffer: Uint8Array, postscriptName?: string): Font;
}

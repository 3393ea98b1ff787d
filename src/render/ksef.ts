/**
 * KSeF "KOD I" (verification code) of an invoice visualisation: the URL of the Ministry of Finance
 * specification (github.com/CIRFMF/ksef-api, kody-qr.md) and its QR code drawn as vector squares.
 *
 *   https://qr.ksef.mf.gov.pl/invoice/{sellerNIP}/{DD-MM-YYYY issue date}/{SHA-256 of the XML, Base64URL}
 *
 * Test and demo environments use the hosts qr-test. and qr-demo. The hash must be of exactly the XML the
 * host holds (`ksefQrHash` checks it); an invoice issued offline has no KSeF number yet and its KOD I is
 * labelled OFFLINE.
 */
import { createHash } from 'node:crypto';
// the encoder alone: the package's main entry also loads its PNG/SVG/terminal renderers (memory per worker)
import { create as createQr } from 'qrcode/lib/core/qrcode.js';
import type { Invoice } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import { printWarning, type PrintWarning } from '../messages/catalogue.ts';

export type KsefEnvironment = 'prod' | 'test' | 'demo';

const HOSTS: Record<KsefEnvironment, string> = {
  prod: 'https://qr.ksef.mf.gov.pl',
  test: 'https://qr-test.ksef.mf.gov.pl',
  demo: 'https://qr-demo.ksef.mf.gov.pl',
};

/** Polish NIP as 10 digits: strips a "PL" prefix, spaces and dashes; null when it is not 10 digits. */
export function normalizeNip(vat: string | null | undefined): string | null {
  if (!vat) return null;
  const s = vat.replace(/[\s-]/g, '').replace(/^PL/i, '');
  return /^\d{10}$/.test(s) ? s : null;
}

/**
 * The hash KOD I may carry: the host's KSeF hash, checked against the FA(3) XML's bytes when the host
 * gave them (SHA-256, Base64URL, of exactly those bytes). A mismatch gives no hash (so no QR, never a
 * wrong one) and a problem to warn of.
 */
export function ksefQrHash(inv: Pick<Invoice, 'ksef'>): { hash: string | null; problem: PrintWarning | null } {
  const k = inv.ksef;
  if (!k) return { hash: null, problem: null };
  const xml = k.xml ?? null;
  if (xml) {
    const actual = createHash('sha256').update(xml.content).digest('base64url');
    if (k.xmlSha256 && k.xmlSha256.replace(/=+$/, '') !== actual) {
      return { hash: null, problem: printWarning('print.warning.ksef_hash_mismatch', { hostHash: k.xmlSha256, filename: xml.filename, actual }) };
    }
    return { hash: actual, problem: null };
  }
  return { hash: k.xmlSha256, problem: null };
}

export function ksefVerificationUrl(input: {
  sellerNip: string;
  /** ISO date `YYYY-MM-DD` (the invoice's P_1). */
  issueDate: string;
  xmlSha256Base64Url: string;
  environment: KsefEnvironment;
}): string {
  const nip = normalizeNip(input.sellerNip);
  if (!nip) throw new ConnectorError('validation', `KSeF QR: the seller NIP ${JSON.stringify(input.sellerNip)} is not 10 digits.`);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(input.issueDate);
  if (!m) throw new ConnectorError('validation', `KSeF QR: the issue date ${JSON.stringify(input.issueDate)} is not YYYY-MM-DD.`);
  // Base64URL of 32 bytes: 43 characters, no padding.
  const hash = input.xmlSha256Base64Url.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]{43}$/.test(hash)) {
    throw new ConnectorError('validation', 'KSeF QR: the XML hash is not a SHA-256 in Base64URL (43 characters).');
  }
  const host = HOSTS[input.environment];
  return `${host}/invoice/${nip}/${m[3]}-${m[2]}-${m[1]}/${hash}`;
}

/** The modules of a QR code (ISO/IEC 18004), error correction M: `size`×`size`, `dark(x, y)`. */
export interface QrMatrix {
  size: number;
  dark(x: number, y: number): boolean;
}

export function qrMatrix(text: string): QrMatrix {
  const qr = createQr(text, { errorCorrectionLevel: 'M' });
  const { size, data } = qr.modules;
  return { size, dark: (x, y) => data[y * size + x] === 1 };
}

/** Minimal drawing surface (a pdfkit document satisfies it). */
export interface RectSurface {
  rect(x: number, y: number, w: number, h: number): unknown;
  fill(color?: string): unknown;
  save(): unknown;
  restore(): unknown;
}

/**
 * Draws the QR code as filled squares (horizontal runs merged into one rectangle each), `width` points
 * wide including a 4-module quiet zone, with its top-left corner at (x, y).
 */
export function drawQr(doc: RectSurface, text: string, x: number, y: number, width: number): void {
  const m = qrMatrix(text);
  const quiet = 4;
  const cell = width / (m.size + 2 * quiet);
  doc.save();
  for (let row = 0; row < m.size; row++) {
    let col = 0;
    while (col < m.size) {
      if (!m.dark(col, row)) {
        col++;
        continue;
      }
      const start = col;
      while (col < m.size && m.dark(col, row)) col++;
      doc.rect(x + (quiet + start) * cell, y + (quiet + row) * cell, (col - start) * cell, cell);
    }
  }
  doc.fill('#000000');
  doc.restore();
}

/**
 * Webhook signatures, both directions (Stripe style). One header:
 *
 *   Invoice-Courier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]
 *
 * Several `v1` values may be present (a sender signing with an old and a new secret while a secret is
 * being rotated); the signature holds when any of them matches any of the receiver's secrets. The
 * timestamp must lie within a tolerance window of the receiver's clock (default 300 s, both
 * directions) so that a captured request cannot be replayed later. Comparisons are constant-time.
 * Pure functions: no clock or I/O of their own (the caller passes `now`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Invoice-Courier-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Why a signature was refused; stable codes the HTTP layer returns. */
export type SignatureFailure = 'signature_missing' | 'signature_malformed' | 'signature_expired' | 'signature_mismatch';

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; code: SignatureFailure; message: string };

/** Hex HMAC-SHA256 of `"<timestamp>.<body>"`. */
export function computeSignature(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return mac.digest('hex');
}

/** The header value for `body` signed at `timestamp` (unix seconds) with each of `secrets`. */
export function signatureHeader(secrets: string | readonly string[], timestamp: number, body: string | Buffer): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new Error('signatureHeader needs at least one secret');
  return [`t=${timestamp}`, ...list.map((s) => `v1=${computeSignature(s, timestamp, body)}`)].join(',');
}

/** Parses `t=...,v1=...`; unknown schemes (v0, v2, ...) are ignored. Null when malformed. */
export function parseSignatureHeader(header: string): { timestamp: number; v1: string[] } | null {
  let timestamp: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== null || !/^\d{1,12}$/.test(value)) return null;
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return null;
      v1.push(value.toLowerCase());
    }
  }
  if (timestamp === null || v1.length === 0) return null;
  return { timestamp, v1 };
}

export interface VerifyInput {
  /** The header value as received (undefined/empty when absent). */
  header: string | string[] | undefined;
  /** The raw request body, byte for byte as received. */
  body: string | Buffer;
  /** The receiver's secrets (current first; the previous one too while rotating). */
  secrets: readonly string[];
  /** Receiver's clock, unix seconds. */
  now: number;
  toleranceSeconds?: number;
}

export function verifySignature(input: VerifyInput): VerifyResult {
  const raw = Array.isArray(input.header) ? input.header[0] : input.header;
  if (!raw) return { ok: false, code: 'signature_missing', message: `the ${SIGNATURE_HEADER} header is missing` };
  const parsed = parseSignatureHeader(raw);
  if (!parsed) return { ok: false, code: 'signature_malformed', message: `the ${SIGNATURE_HEADER} header must read t=<unix seconds>,v1=<64 hex digits>` };
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(input.now - parsed.timestamp) > tolerance) {
    return { ok: false, code: 'signature_expired', message: `the signature's timestamp is more than ${tolerance} s away from the receiver's clock` };
  }
  // Compare every candidate (no early exit) so timing does not tell which secret or value matched.
  let match = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(computeSignature(secret, parsed.timestamp, input.body), 'hex');
    for (const given of parsed.v1) {
      if (timingSafeEqual(expected, Buffer.from(given, 'hex'))) match = true;
    }
  }
  if (!match) return { ok: false, code: 'signature_mismatch', message: 'the signature does not match the body and the webhook secret' };
  return { ok: true, timestamp: parsed.timestamp };
}

/**
 * Short-lived signed page links and page sessions for the embeddable settings and logs pages.
 *
 * A token is `base64url(JSON payload).base64url(HMAC-SHA256)`. The HMAC key is derived per installation
 * from its webhook signing secret (encrypted at rest, dropped at uninstall, so uninstalling also voids
 * every link). A `link` token (about 10 minutes) opens a page once per URL; the page then works with a
 * `session` token (about an hour) that only the page-API routes accept. Neither replaces the host's API
 * token: both are scoped to one installation, one language and a fixed expiry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type PageLang = 'pl' | 'en';
export type PageTokenKind = 'link' | 'session';

export interface PageClaims {
  /** Installation id. */
  i: string;
  lang: PageLang;
  kind: PageTokenKind;
  /** Expiry, epoch seconds. */
  exp: number;
}

export const LINK_TTL_SECONDS = 10 * 60;
export const SESSION_TTL_SECONDS = 60 * 60;

/** The page-signing key of one installation, derived from its webhook secret (plaintext, in memory only). */
export function pageKey(webhookSecret: string): Buffer {
  return createHmac('sha256', webhookSecret).update('invoice-courier/page-links/v1').digest();
}

export function signPageToken(key: Buffer, claims: PageClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const mac = createHmac('sha256', key).update(body).digest('base64url');
  return `${body}.${mac}`;
}

/** The claims inside a token, unverified (to find the installation whose key verifies it), or null. */
export function peekPageToken(token: string): PageClaims | null {
  const [body] = token.split('.');
  if (!body || token.length > 2048) return null;
  try {
    const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<PageClaims>;
    if (typeof c.i !== 'string' || (c.lang !== 'pl' && c.lang !== 'en') || (c.kind !== 'link' && c.kind !== 'session') || typeof c.exp !== 'number')
      return null;
    return { i: c.i, lang: c.lang, kind: c.kind, exp: c.exp };
  } catch {
    return null;
  }
}

export type PageTokenProblem = 'malformed' | 'forged' | 'expired' | 'wrong_installation' | 'wrong_kind';

/** How long a token of each kind may live; a token claiming more (minted elsewhere with the key) is refused. */
export const PAGE_TOKEN_TTL_SECONDS: Record<PageTokenKind, number> = { link: LINK_TTL_SECONDS, session: SESSION_TTL_SECONDS };
/** Clock skew between the process that signed a token and the one checking it. */
const SKEW_SECONDS = 60;

/** Verifies signature, expiry, installation and kind; returns the claims or the reason it fails. */
export function verifyPageToken(
  key: Buffer,
  token: string,
  expect: { installationId: string; kind: PageTokenKind; now: Date },
): { ok: true; claims: PageClaims } | { ok: false; problem: PageTokenProblem } {
  const parts = token.split('.');
  const claims = peekPageToken(token);
  if (parts.length !== 2 || !claims) return { ok: false, problem: 'malformed' };
  const expected = createHmac('sha256', key).update(parts[0]!).digest();
  const given = Buffer.from(parts[1]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'forged' };
  if (claims.i !== expect.installationId) return { ok: false, problem: 'wrong_installation' };
  if (claims.kind !== expect.kind) return { ok: false, problem: 'wrong_kind' };
  if (claims.exp * 1000 <= expect.now.getTime()) return { ok: false, problem: 'expired' };
  // Expiry capped at the kind's TTL: a link valid for days is not one this connector hands out.
  if (claims.exp * 1000 > expect.now.getTime() + (PAGE_TOKEN_TTL_SECONDS[claims.kind] + SKEW_SECONDS) * 1000) return { ok: false, problem: 'expired' };
  return { ok: true, claims };
}

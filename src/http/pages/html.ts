/** HTML helpers for the embeddable pages: escaping, the page shell and its security headers. */
import { randomBytes } from 'node:crypto';
import type { PageLang } from './links.ts';

export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** JSON safe inside a `<script type="application/json">` block. */
export function jsonBlock(value: unknown): string {
  return JSON.stringify(value).replaceAll('<', '\\u003c').replaceAll('>', '\\u003e').replaceAll('&', '\\u0026');
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** The origin of the host's URL, for `frame-ancestors` ("'none'" when it is not a usable URL). */
export function originOf(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : "'none'";
  } catch {
    return "'none'";
  }
}

/**
 * The pages' Content-Security-Policy: scripts only from this origin (the assets) or with the nonce,
 * styles the same, API calls only to this origin, and framing only by the installation's host.
 */
export function pageHeaders(opts: { nonce: string; frameAncestors: string }): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'self' 'nonce-${opts.nonce}'`,
      `style-src 'self' 'nonce-${opts.nonce}'`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "frame-src 'self' blob:",
      "object-src 'self' blob:",
      "base-uri 'none'",
      "form-action 'self'",
      `frame-ancestors ${opts.frameAncestors}`,
    ].join('; '),
  };
}

export function pageShell(opts: { lang: PageLang; title: string; nonce: string; body: string; data?: unknown; script?: string }): string {
  return `<!doctype html>
<html lang="${opts.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<link rel="stylesheet" href="/ui/assets/pages.css">
</head>
<body>
${opts.body}
${opts.data !== undefined ? `<script type="application/json" id="page-data" nonce="${opts.nonce}">${jsonBlock(opts.data)}</script>` : ''}
${opts.script ? `<script src="/ui/assets/${opts.script}" nonce="${opts.nonce}" defer></script>` : ''}
</body>
</html>`;
}

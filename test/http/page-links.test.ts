/**
 * Signed page links: handed out to the installation's own token only, short-lived, opening the pages
 * with their security headers, refused (a 401 page) when expired, forged or another installation's.
 * Through `app.inject` on the real app (build.ts) with the sandbox host installed; the clock can move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, PUBLIC_URL, type Built } from './build.ts';

let b: Built;
let mine: { id: string; token: string };
let theirs: { id: string; token: string };
let offsetMs = 0;

async function links(i: { id: string; token: string }, lang?: 'pl' | 'en') {
  const res = await b.call('POST', `/api/installations/${i.id}/page-links`, { token: i.token, body: lang ? { lang } : {} });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { settingsUrl: string; logsUrl: string; expiresAt: string };
}

/** Opens a page (a link the connector handed out, or a path) and returns the answer and its HTML. */
async function open(url: string) {
  const u = new URL(url, PUBLIC_URL);
  const res = await b.app.inject({ method: 'GET', url: u.pathname + u.search });
  return { res: { status: res.statusCode, headers: { get: (h: string) => String(res.headers[h] ?? '') } }, html: res.body };
}

beforeAll(async () => {
  b = await build(null, { sandbox: true, clock: () => new Date(Date.now() + offsetMs) });
  mine = await b.install();
  theirs = await b.install();
});
afterAll(async () => b?.close());

describe('signed page links', () => {
  it('are handed out only for the installation whose token asks, and expire in about ten minutes', async () => {
    const [a, other] = [mine, theirs];
    const none = await b.call('POST', `/api/installations/${a.id}/page-links`, { body: {} });
    expect(none.status).toBe(401);
    const wrong = await b.call('POST', `/api/installations/${a.id}/page-links`, { token: other.token, body: {} });
    expect(wrong.status).toBe(403);
    const l = await links(a);
    expect(l.settingsUrl.startsWith(`${PUBLIC_URL}/ui/installations/${a.id}/settings?t=`)).toBe(true);
    expect(l.logsUrl.startsWith(`${PUBLIC_URL}/ui/installations/${a.id}/logs?t=`)).toBe(true);
    const minutes = (Date.parse(l.expiresAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(5);
    expect(minutes).toBeLessThanOrEqual(10.1);
  });

  it('open the pages framed only by the installation host, with scripts only from the connector or with the nonce', async () => {
    const a = mine;
    for (const url of Object.values(await links(a)).filter((u) => u.startsWith('http'))) {
      const { res, html } = await open(url);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain(`frame-ancestors ${new URL(b.sandbox!.url).origin}`);
      expect(csp).not.toContain('unsafe-inline');
      const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
      expect(scripts.length).toBeGreaterThan(0);
      for (const attrs of scripts) expect(attrs).toContain(`nonce="${nonce}"`);
      // no inline event handlers either
      expect(html).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it("refuse an expired, forged or another installation's link with a 401 page", async () => {
    const [a, other] = [mine, theirs];
    const l = await links(a, 'en');
    const t = new URL(l.settingsUrl).searchParams.get('t')!;
    const [body, mac] = t.split('.') as [string, string];
    const forgedMac = `${body}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const longer = `${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86400 })).toString('base64url')}.${mac}`;
    for (const bad of [forgedMac, longer, 'garbage', '']) {
      const { res, html } = await open(`/ui/installations/${a.id}/settings?t=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(401);
      expect(html).not.toContain('page-data');
    }
    const elsewhere = await open(`/ui/installations/${other.id}/logs?t=${encodeURIComponent(t)}`);
    expect(elsewhere.res.status).toBe(401);
    offsetMs = 11 * 60_000;
    try {
      const expired = await open(l.settingsUrl);
      expect(expired.res.status).toBe(401);
      expect(expired.html).toContain('expired');
    } finally {
      offsetMs = 0;
    }
    expect((await open(l.settingsUrl)).res.status).toBe(200);
  });
});

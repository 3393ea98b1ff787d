import { describe, expect, it } from 'vitest';
import { LINK_TTL_SECONDS, SESSION_TTL_SECONDS, pageKey, signPageToken, verifyPageToken } from '../../src/http/pages/links.ts';

const key = pageKey('whsec_test');
const now = new Date('2026-12-01T12:00:00Z');
const at = (seconds: number) => Math.floor(now.getTime() / 1000) + seconds;

describe('page-link expiry is capped at its TTL', () => {
  it('a link or session within its TTL is accepted', () => {
    for (const [kind, ttl] of [
      ['link', LINK_TTL_SECONDS],
      ['session', SESSION_TTL_SECONDS],
    ] as const) {
      const token = signPageToken(key, { i: 'inst', lang: 'pl', kind, exp: at(ttl) });
      expect(verifyPageToken(key, token, { installationId: 'inst', kind, now })).toMatchObject({ ok: true });
    }
  });

  it('a correctly signed token claiming a longer life than its kind allows is refused', () => {
    for (const [kind, ttl] of [
      ['link', LINK_TTL_SECONDS],
      ['session', SESSION_TTL_SECONDS],
    ] as const) {
      const token = signPageToken(key, { i: 'inst', lang: 'pl', kind, exp: at(ttl + 3600) });
      expect(verifyPageToken(key, token, { installationId: 'inst', kind, now })).toEqual({ ok: false, problem: 'expired' });
    }
    const forever = signPageToken(key, { i: 'inst', lang: 'en', kind: 'link', exp: 4_102_444_800 });
    expect(verifyPageToken(key, forever, { installationId: 'inst', kind: 'link', now })).toEqual({ ok: false, problem: 'expired' });
  });

  it('an expired token is refused', () => {
    const token = signPageToken(key, { i: 'inst', lang: 'pl', kind: 'link', exp: at(-1) });
    expect(verifyPageToken(key, token, { installationId: 'inst', kind: 'link', now })).toEqual({ ok: false, problem: 'expired' });
  });
});

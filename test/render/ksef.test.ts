import { describe, expect, it } from 'vitest';
import { isConnectorError } from '../../src/errors.ts';
import { ksefVerificationUrl, normalizeNip, qrMatrix } from '../../src/render/ksef.ts';

const HASH = 'UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE';

describe('KSeF KOD I URL', () => {
  it('matches the Ministry of Finance example', () => {
    expect(ksefVerificationUrl({ sellerNip: '1111111111', issueDate: '2026-02-01', xmlSha256Base64Url: HASH, environment: 'test' })).toBe(
      'https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE',
    );
  });

  it('uses the production and demo hosts and accepts a PL-prefixed NIP', () => {
    expect(ksefVerificationUrl({ sellerNip: 'PL 111-111-11-11', issueDate: '2026-12-31', xmlSha256Base64Url: HASH, environment: 'prod' })).toBe(
      `https://qr.ksef.mf.gov.pl/invoice/1111111111/31-12-2026/${HASH}`,
    );
    expect(ksefVerificationUrl({ sellerNip: '1111111111', issueDate: '2026-02-01', xmlSha256Base64Url: HASH, environment: 'demo' })).toMatch(
      /^https:\/\/qr-demo\.ksef\.mf\.gov\.pl\/invoice\//,
    );
  });

  it('refuses a NIP, date or hash it cannot vouch for', () => {
    const bad = [
      { sellerNip: '123', issueDate: '2026-02-01', xmlSha256Base64Url: HASH },
      { sellerNip: '1111111111', issueDate: '01.02.2026', xmlSha256Base64Url: HASH },
      { sellerNip: '1111111111', issueDate: '2026-02-01', xmlSha256Base64Url: 'abc+/=' },
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        ksefVerificationUrl({ ...b, environment: 'prod' });
      } catch (e) {
        err = e;
      }
      expect(isConnectorError(err, 'validation')).toBe(true);
    }
  });

  it('normalises NIPs', () => {
    expect(normalizeNip('PL5260250995')).toBe('5260250995');
    expect(normalizeNip('DE811115368')).toBeNull();
    expect(normalizeNip(null)).toBeNull();
  });

  it('builds a square QR matrix with finder patterns', () => {
    const m = qrMatrix(`https://qr.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/${HASH}`);
    expect(m.size).toBeGreaterThanOrEqual(21);
    expect((m.size - 17) % 4).toBe(0);
    // top-left finder: dark ring, light gap, dark centre
    expect([m.dark(0, 0), m.dark(6, 6), m.dark(1, 1), m.dark(3, 3)]).toEqual([true, true, false, true]);
  });
});

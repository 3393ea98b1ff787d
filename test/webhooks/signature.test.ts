import { describe, expect, it } from 'vitest';
import { computeSignature, parseSignatureHeader, signatureHeader, verifySignature } from '../../src/webhooks/signature.ts';

const secret = 'whsec_current_3b1f';
const body = JSON.stringify({ id: 'e1', type: 'run.completed', data: { counts: { sent: 3 } } });
const t = 1_790_000_000;

describe('webhook signatures', () => {
  it('a body signed with the secret verifies within the tolerance window', () => {
    const header = signatureHeader(secret, t, body);
    expect(header).toMatch(/^t=1790000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature({ header, body, secrets: [secret], now: t })).toEqual({ ok: true, timestamp: t });
    expect(verifySignature({ header, body, secrets: [secret], now: t + 299 }).ok).toBe(true);
    expect(verifySignature({ header, body, secrets: [secret], now: t - 299 }).ok).toBe(true);
  });

  it('is HMAC-SHA256 over "<t>.<body>" in hex (what a receiver in any language computes)', async () => {
    const { createHmac } = await import('node:crypto');
    expect(computeSignature(secret, t, body)).toBe(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  });

  it('a tampered body is refused as a mismatch', () => {
    const header = signatureHeader(secret, t, body);
    const tampered = body.replace('"sent":3', '"sent":4');
    expect(verifySignature({ header, body: tampered, secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_mismatch' });
    expect(verifySignature({ header, body: body + ' ', secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_mismatch' });
  });

  it('a changed timestamp with the old signature is refused (the timestamp is signed too)', () => {
    const v1 = computeSignature(secret, t, body);
    expect(verifySignature({ header: `t=${t + 1},v1=${v1}`, body, secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_mismatch' });
  });

  it('an old timestamp is refused as expired (replay), also one from the future', () => {
    const header = signatureHeader(secret, t, body);
    expect(verifySignature({ header, body, secrets: [secret], now: t + 301 })).toMatchObject({ ok: false, code: 'signature_expired' });
    expect(verifySignature({ header, body, secrets: [secret], now: t - 301 })).toMatchObject({ ok: false, code: 'signature_expired' });
    expect(verifySignature({ header, body, secrets: [secret], now: t + 50, toleranceSeconds: 30 })).toMatchObject({ ok: false, code: 'signature_expired' });
  });

  it('a signature made with another secret is refused', () => {
    const header = signatureHeader('whsec_someone_else', t, body);
    expect(verifySignature({ header, body, secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_mismatch' });
  });

  it('during rotation: several v1 values, several receiver secrets; any pair matching is enough', () => {
    const old = 'whsec_old_91aa';
    const both = signatureHeader([secret, old], t, body);
    expect(both.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    // Receiver already on the new secret only, or still on the old one only, or on both.
    expect(verifySignature({ header: both, body, secrets: [secret], now: t }).ok).toBe(true);
    expect(verifySignature({ header: both, body, secrets: [old], now: t }).ok).toBe(true);
    // Sender on the new secret only, receiver accepting both while it rotates.
    expect(verifySignature({ header: signatureHeader(secret, t, body), body, secrets: [old, secret], now: t }).ok).toBe(true);
    // Neither matches.
    expect(verifySignature({ header: both, body, secrets: ['whsec_third'], now: t })).toMatchObject({ ok: false, code: 'signature_mismatch' });
  });

  it('a missing or malformed header is refused with its own code', () => {
    expect(verifySignature({ header: undefined, body, secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_missing' });
    expect(verifySignature({ header: '', body, secrets: [secret], now: t })).toMatchObject({ ok: false, code: 'signature_missing' });
    for (const header of ['garbage', `t=${t}`, `v1=${'a'.repeat(64)}`, `t=abc,v1=${'a'.repeat(64)}`, `t=${t},v1=xyz`, `t=${t},t=${t},v1=${'a'.repeat(64)}`]) {
      expect(verifySignature({ header, body, secrets: [secret], now: t }), header).toMatchObject({ ok: false, code: 'signature_malformed' });
    }
  });

  it('ignores unknown schemes next to v1', () => {
    const header = `${signatureHeader(secret, t, body)},v0=${'0'.repeat(64)}`;
    expect(parseSignatureHeader(header)?.v1).toHaveLength(1);
    expect(verifySignature({ header, body, secrets: [secret], now: t }).ok).toBe(true);
  });

  it('verifies a Buffer body byte for byte like the same string', () => {
    const header = signatureHeader(secret, t, Buffer.from(body));
    expect(verifySignature({ header, body, secrets: [secret], now: t }).ok).toBe(true);
    expect(verifySignature({ header, body: Buffer.from('ą' + body), secrets: [secret], now: t }).ok).toBe(false);
  });
});

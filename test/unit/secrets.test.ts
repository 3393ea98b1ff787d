import { describe, it, expect } from 'vitest';
import { createSecretBox, generateSecretKey } from '../../src/secrets/secret-box.ts';

describe('secrets at rest', () => {
  it('round-trips a password and never stores it in clear', () => {
    const box = createSecretBox([generateSecretKey('a')]);
    const enc = box.encrypt('zażółć-hasło');
    expect(enc.keyId).toBe('a');
    expect(Buffer.from(enc.data, 'base64').toString('latin1')).not.toContain('has');
    expect(box.decrypt(enc)).toBe('zażółć-hasło');
  });

  it('decrypts values made with an older key after rotation and says they need re-encryption', () => {
    const oldKey = generateSecretKey('old');
    const enc = createSecretBox([oldKey]).encrypt('s3cret');
    const rotated = createSecretBox([generateSecretKey('new'), oldKey]);
    expect(rotated.decrypt(enc)).toBe('s3cret');
    expect(rotated.needsRotation(enc)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt('x'))).toBe(false);
  });

  it('refuses a tampered ciphertext', () => {
    const box = createSecretBox([generateSecretKey('a')]);
    const enc = box.encrypt('s3cret');
    const raw = Buffer.from(enc.data, 'base64');
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 1;
    expect(() => box.decrypt({ keyId: 'a', data: raw.toString('base64') })).toThrow(/could not be decrypted/);
  });

  it('names the missing key id when a value was made with an unknown key', () => {
    const enc = createSecretBox([generateSecretKey('gone')]).encrypt('x');
    expect(() => createSecretBox([generateSecretKey('a')]).decrypt(enc)).toThrow(/gone/);
  });
});

describe('logs', () => {
  it('never write the page link token that a request URL carries', async () => {
    const { createLogger } = await import('../../src/observability/logger.ts');
    const { PassThrough } = await import('node:stream');
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const logger = createLogger('info', out);
    logger.info({ req: { method: 'GET', url: '/ui/installations/x/settings?lang=pl&t=SECRET-LINK-TOKEN', hostname: 'h' } }, 'incoming request');
    logger.info({ password: 'hunter2', smtp: { password: 'x' } }, 'with secrets');
    await new Promise((r) => setImmediate(r));
    expect(text).toContain('/ui/installations/x/settings?lang=pl&t=[redacted]');
    expect(text).not.toContain('SECRET-LINK-TOKEN');
    expect(text).not.toContain('hunter2');
  });
});

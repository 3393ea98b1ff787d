/**
 * Secrets at rest: AES-256-GCM with a key id, so keys can be rotated (the first key encrypts, every
 * configured key decrypts; `needsRotation` tells which stored values to re-encrypt). Plaintext exists
 * only in memory, just before use; it is never logged and never returned by the API.
 */
import { createCipheriv, createDecipheriv, randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { SecretKey } from '../config.ts';
import type { EncryptedSecret } from '../store/port.ts';
import { ConnectorError } from '../errors.ts';

export interface SecretBox {
  encrypt(plaintext: string): EncryptedSecret;
  decrypt(secret: EncryptedSecret): string;
  /** True when the value was made with a key other than the current one. */
  needsRotation(secret: EncryptedSecret): boolean;
}

export function createSecretBox(keys: SecretKey[]): SecretBox {
  if (keys.length === 0) throw new Error('createSecretBox needs at least one key');
  for (const k of keys) if (k.key.length !== 32) throw new Error(`secret key ${k.id} must be 32 bytes`);
  const current = keys[0]!;
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  return {
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(current.id));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { keyId: current.id, data: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
    },
    decrypt(secret) {
      const key = byId.get(secret.keyId);
      if (!key) throw new ConnectorError('internal', `no secret key with id "${secret.keyId}" is configured (SECRET_KEYS)`);
      const raw = Buffer.from(secret.data, 'base64');
      if (raw.length < 28) throw new ConnectorError('internal', 'stored secret is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(secret.keyId));
      decipher.setAuthTag(raw.subarray(12, 28));
      try {
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw new ConnectorError('internal', 'stored secret could not be decrypted (wrong key?)', { cause });
      }
    },
    needsRotation(secret) {
      return secret.keyId !== current.id;
    },
  };
}

/** A new random key for SECRET_KEYS or the embedded default. */
export function generateSecretKey(id = `k${Date.now().toString(36)}`): SecretKey {
  return { id, key: randomBytes(32) };
}

/** Random token for API access and webhook signing (URL-safe). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

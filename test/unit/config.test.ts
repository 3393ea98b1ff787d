import { describe, it, expect } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.ts';

describe('config', () => {
  it('starts with embedded defaults when no variable is set', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c.database).toEqual({ kind: 'embedded-postgres', dataDir: '/srv/app/data/postgres', port: 5433 });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 3000, publicUrl: 'http://127.0.0.1:3000' });
    expect(c.demo.enabled).toBe(true);
    expect(c.demo.sandboxPort).toBe(8069);
    expect(c.demo.smtpSinkPort).toBe(1025);
    expect(c.demo.mailDir).toBe('/srv/app/data/mail');
    expect(c.secretKeys).toBeNull();
  });

  it('chooses the store by the DATABASE_URL scheme', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).database.kind).toBe('postgres');
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).database.kind).toBe('postgres');
    expect(loadConfig({ DATABASE_URL: 'mongodb://h/db' }).database.kind).toBe('mongodb');
    expect(loadConfig({ DATABASE_URL: 'mongodb+srv://h/db' }).database.kind).toBe('mongodb');
  });

  it('lists every bad variable at once', () => {
    try {
      loadConfig({ DATABASE_URL: 'mysql://x', PORT: 'eighty', LOG_LEVEL: 'loud', MAX_ATTEMPTS: '0', DEMO: 'maybe' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join('\n');
      expect(problems).toMatch(/DATABASE_URL/);
      expect(problems).toMatch(/PORT must be a whole number/);
      expect(problems).toMatch(/LOG_LEVEL/);
      expect(problems).toMatch(/MAX_ATTEMPTS must be between 1 and 100/);
      expect(problems).toMatch(/DEMO must be true or false/);
    }
  });

  it('reads secret keys as id:base64 pairs and refuses keys that are not 32 bytes', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k0 = Buffer.alloc(32, 2).toString('base64');
    const c = loadConfig({ SECRET_KEYS: `new:${k1},old:${k0}` });
    expect(c.secretKeys?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(() => loadConfig({ SECRET_KEYS: `short:${Buffer.alloc(16).toString('base64')}` })).toThrow(/SECRET_KEYS/);
  });

  it('points KSeF QR codes at production unless KSEF_ENVIRONMENT names test or demo', () => {
    expect(loadConfig({}).render.ksefEnvironment).toBe('prod');
    expect(loadConfig({ KSEF_ENVIRONMENT: 'test' }).render.ksefEnvironment).toBe('test');
    expect(loadConfig({ KSEF_ENVIRONMENT: 'demo' }).render.ksefEnvironment).toBe('demo');
    expect(() => loadConfig({ KSEF_ENVIRONMENT: 'staging' })).toThrow(/KSEF_ENVIRONMENT must be one of prod, test, demo/);
  });

  it('turns the demo off with DEMO=false', () => {
    expect(loadConfig({ DEMO: 'false' }).demo.enabled).toBe(false);
  });
});

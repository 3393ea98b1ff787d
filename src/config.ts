/**
 * The one place that reads the environment. `loadConfig(process.env)` turns it into a typed, validated
 * `Config` or throws a `ConfigError` that lists every bad variable at once. Nothing else in `src/`
 * reads `process.env` (checked by lint).
 */
import path from 'node:path';

export type DatabaseConfig =
  { kind: 'postgres'; url: string } | { kind: 'mongodb'; url: string } | { kind: 'embedded-postgres'; dataDir: string; port: number };

export interface SecretKey {
  id: string;
  key: Buffer;
}

export interface Config {
  dataDir: string;
  database: DatabaseConfig;
  http: { host: string; port: number; publicUrl: string };
  /** Demo mode: start the sandbox host and the SMTP sink, register the sandbox as an installation. */
  demo: { enabled: boolean; sandboxPort: number; smtpSinkPort: number; smtpSinkWebPort: number; mailDir: string };
  /** AES-256-GCM keys for secrets at rest; the first encrypts, all decrypt. Null: generate under dataDir. */
  secretKeys: SecretKey[] | null;
  /** Token for connector operators (Agendash, installation listing); null disables those endpoints. */
  adminToken: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  delivery: {
    /** Attempts for temporary failures before an invoice is failed. */
    maxAttempts: number;
    /** Lease of a claimed invoice; a `sending` claim older than this is resolved by evidence. */
    leaseSeconds: number;
    /** Invoices rendered/sent concurrently within one run. */
    maxInFlight: number;
    /** SMTP connections per account in the pool. */
    smtpPoolSize: number;
  };
  render: {
    workers: number;
    /** KSeF environment the KOD I QR codes on standard prints point to (qr., qr-test., qr-demo.ksef.mf.gov.pl). */
    ksefEnvironment: 'prod' | 'test' | 'demo';
  };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const KSEF_ENVIRONMENTS = ['prod', 'test', 'demo'] as const;

export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const str = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name} must be a whole number, got "${raw}"`);
      return fallback;
    }
    const n = Number(raw);
    if (n < min || n > max) problems.push(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };

  const dataDir = path.resolve(cwd, str('DATA_DIR', 'data'));

  let database: DatabaseConfig;
  const dbUrl = env['DATABASE_URL'];
  if (dbUrl === undefined || dbUrl === '') {
    database = { kind: 'embedded-postgres', dataDir: path.join(dataDir, 'postgres'), port: int('EMBEDDED_PG_PORT', 5433, 1, 65535) };
  } else if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    database = { kind: 'postgres', url: dbUrl };
  } else if (/^mongodb(\+srv)?:\/\//.test(dbUrl)) {
    database = { kind: 'mongodb', url: dbUrl };
  } else {
    problems.push('DATABASE_URL must start with postgres://, postgresql:// or mongodb:// (or be unset for the embedded database)');
    database = { kind: 'embedded-postgres', dataDir: path.join(dataDir, 'postgres'), port: 5433 };
  }

  const host = str('HOST', '127.0.0.1');
  const port = int('PORT', 3000, 0, 65535);
  const publicUrl = str('PUBLIC_URL', `http://${host}:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(publicUrl)) problems.push(`PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);

  let secretKeys: SecretKey[] | null = null;
  const rawKeys = env['SECRET_KEYS'];
  if (rawKeys !== undefined && rawKeys !== '') {
    secretKeys = [];
    for (const part of rawKeys.split(',')) {
      const m = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(part.trim());
      const key = m ? Buffer.from(m[2]!, 'base64') : null;
      if (!m || !key || key.length !== 32) {
        problems.push('SECRET_KEYS must be a comma-separated list of <id>:<base64 of 32 bytes> (first one encrypts)');
        secretKeys = null;
        break;
      }
      secretKeys.push({ id: m[1]!, key });
    }
  }

  const ksefEnvironment = str('KSEF_ENVIRONMENT', 'prod');
  if (!(KSEF_ENVIRONMENTS as readonly string[]).includes(ksefEnvironment)) {
    problems.push(`KSEF_ENVIRONMENT must be one of ${KSEF_ENVIRONMENTS.join(', ')}, got "${ksefEnvironment}"`);
  }

  const logLevel = str('LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const config: Config = {
    dataDir,
    database,
    http: { host, port, publicUrl },
    demo: {
      enabled: bool('DEMO', true),
      sandboxPort: int('SANDBOX_PORT', 8069, 0, 65535),
      smtpSinkPort: int('SMTP_SINK_PORT', 1025, 0, 65535),
      smtpSinkWebPort: int('SMTP_SINK_WEB_PORT', 8025, 0, 65535),
      mailDir: path.join(dataDir, 'mail'),
    },
    secretKeys,
    adminToken: env['ADMIN_TOKEN'] ? env['ADMIN_TOKEN'] : null,
    logLevel: logLevel as Config['logLevel'],
    delivery: {
      maxAttempts: int('MAX_ATTEMPTS', 5, 1, 100),
      leaseSeconds: int('LEASE_SECONDS', 600, 5, 86400),
      maxInFlight: int('MAX_IN_FLIGHT', 16, 1, 256),
      smtpPoolSize: int('SMTP_POOL_SIZE', 5, 1, 50),
    },
    render: { workers: int('RENDER_WORKERS', 0, 0, 16), ksefEnvironment: ksefEnvironment as Config['render']['ksefEnvironment'] },
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

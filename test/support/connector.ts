/**
 * Starts the whole connector for end-to-end tests, composed exactly as `src/main.ts` does, on a fresh
 * database of the test run's PostgreSQL and a random port. Talk to it over real HTTP.
 */
import { loadConfig } from '../../src/config.ts';
import { composeConnector, type ComposeOptions, type Connector } from '../../src/compose.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { createSecretBox, generateSecretKey } from '../../src/secrets/secret-box.ts';
import { freshDatabase } from '../setup/db.ts';

export interface TestConnector extends Connector {
  /** fetch against the connector's API with an optional bearer token; returns status and parsed JSON. */
  api<T = any>(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; body: T }>;
  /** Polls the runs list until a run with the given trigger has finished after `since`. */
  waitForRun(installationId: string, token: string, opts?: { trigger?: string; since?: number; timeoutMs?: number }): Promise<any>;
}

export async function startTestConnector(
  overrides: {
    env?: Record<string, string>;
    databaseUrl?: string;
    /** The connector's logger (e.g. one writing to a buffer, to prove what is never logged); default silent. */
    logger?: Logger;
  } & Partial<Omit<ComposeOptions, 'config' | 'logger' | 'secrets' | 'version'>> = {},
): Promise<TestConnector> {
  const databaseUrl = overrides.databaseUrl ?? (await freshDatabase());
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', DEMO: 'false', LOG_LEVEL: 'silent', ...overrides.env });
  const { env: _env, databaseUrl: _db, logger, ...rest } = overrides;
  const connector = await composeConnector({
    config,
    logger: logger ?? createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent'),
    // SECRET_KEYS in `env` (e.g. key rotation tests) is honoured as main.ts does; else a fresh test key.
    secrets: createSecretBox(config.secretKeys ?? [generateSecretKey('test')]),
    version: 'test',
    processEvery: 250,
    pipeline: { retryDelayMs: 20 },
    ...rest,
  });
  const api: TestConnector['api'] = async (method, path, options = {}) => {
    const res = await fetch(`${connector.url}${path}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const waitForRun: TestConnector['waitForRun'] = async (installationId, token, opts = {}) => {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const since = opts.since ?? 0;
    for (;;) {
      const { body } = await api('GET', `/api/installations/${installationId}/runs`, { token });
      const run = (body.runs as any[]).find((r) => r.status !== 'running' && (!opts.trigger || r.trigger === opts.trigger) && Date.parse(r.startedAt) >= since);
      if (run) return run;
      if (Date.now() > deadline) throw new Error(`no finished run within the timeout; runs: ${JSON.stringify(body.runs)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return Object.assign(connector, { api, waitForRun });
}

/**
 * `build(t)`: the HTTP app alone, for tests of HTTP behaviour through `app.inject` (no port, no
 * listening, no scheduler polling). Its services are the real ones, wired the way src/compose.ts wires
 * them: a PostgreSQL store on a fresh database, the installation service, previews with the in-process
 * PDF renderer, connector-managed accounts, the webhook dispatcher (never started) and an Agenda
 * scheduler (never started: a run asked for is queued in the database, not run). With `sandbox: true`
 * a sandbox host runs beside it and `install()` installs it (kind odoo) through the API.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildHttpServer } from '../../src/http/app.ts';
import { openStore } from '../../src/store/index.ts';
import { createHost as createRegistryHost, type InstallationHostFactory } from '../../src/connector/registry.ts';
import { ManagedService } from '../../src/connector-managed/index.ts';
import { createPdfRenderer, listStandardPrints } from '../../src/render/index.ts';
import { createAgendaScheduler } from '../../src/jobs/scheduler/agenda.ts';
import { InstallationService } from '../../src/installations/service.ts';
import { InvoicePreviews } from '../../src/installations/previews.ts';
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.ts';
import { IncomingWebhooks } from '../../src/webhooks/incoming.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createSecretBox, generateSecretKey, type SecretBox } from '../../src/secrets/secret-box.ts';
import type { Store } from '../../src/store/port.ts';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { freshDatabase } from '../setup/db.ts';

export const ADMIN_TOKEN = 'admin-token-for-http-tests-0123456789';
export const PUBLIC_URL = 'http://courier.test';

export interface Built {
  app: FastifyInstance;
  store: Store;
  secrets: SecretBox;
  sandbox: SandboxHost | null;
  /** `app.inject` with an optional bearer token and JSON body; the body parsed when it is JSON. */
  call(
    method: InjectOptions['method'],
    url: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; res: LightMyRequestResponse }>;
  /** Installs the sandbox host through the API. */
  install(): Promise<{ id: string; token: string; webhookSecret: string }>;
  close(): Promise<void>;
}

/** Builds the app; with a test context, closes it when that test finishes (else the caller closes it, e.g. in afterAll). */
export async function build(
  t?: { onTestFinished(fn: () => Promise<void>): void } | null,
  options: { sandbox?: boolean; invoiceCount?: number; clock?: () => Date } = {},
): Promise<Built> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const logger = createLogger('silent');
    const secrets = createSecretBox([generateSecretKey('test')]);
    const clock = options.clock ?? (() => new Date());
    const opened = await openStore({ kind: 'postgres', url: await freshDatabase() }, { log: () => undefined });
    closers.push(() => opened.close());
    const { store } = opened;
    const managed = new ManagedService({ store, secrets, clock });
    const createHost: InstallationHostFactory = (connection, installationId) =>
      createRegistryHost(connection, installationId ? { managed: managed.providers(installationId) } : {});
    const renderer = createPdfRenderer({ workers: 0, maxInFlight: 2 });
    closers.push(() => renderer.close());
    const prints = {
      render: (invoice: Parameters<typeof renderer.render>[0], printId: string, printOptions: Parameters<typeof renderer.render>[2]) =>
        renderer.render(invoice, printId, printOptions),
    };
    const scheduler = await createAgendaScheduler({
      database: { kind: 'postgres', url: opened.databaseUrl },
      store,
      run: async () => undefined,
      clock,
      logger,
      name: 'http-test',
    });
    closers.push(() => scheduler.stop(1000));
    // Agenda connects in the background; one read through the port waits for it, so closing never races the connect.
    await scheduler.nextRunAt('00000000-0000-4000-8000-000000000000');
    const service = new InstallationService({
      store,
      createHost,
      secrets,
      scheduler,
      clock,
      standardPrints: listStandardPrints,
      adminToken: ADMIN_TOKEN,
      publicUrl: () => PUBLIC_URL,
    });
    const dispatcher = new WebhookDispatcher({ store, secrets, logger, owner: 'http-test', version: 'test', tuning: {} });
    const incoming = new IncomingWebhooks({ store, secrets, service, scheduler, logger });
    closers.push(async () => incoming.close());
    const previews = new InvoicePreviews({ store, createHost, prints, secrets, clock, delivery: { maxAttempts: 5 } });
    const app = await buildHttpServer({
      logger,
      version: 'test',
      publicUrl: PUBLIC_URL,
      store,
      service,
      previews,
      managed,
      webhooks: { dispatcher, incoming },
      secrets,
      clock,
    });
    closers.push(() => app.close());
    // Nothing is sent in these tests: the sandbox's mail server setting points at a closed port.
    const sandbox = options.sandbox ? await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: 9 }, invoiceCount: options.invoiceCount ?? 5 }) : null;
    if (sandbox) closers.push(() => sandbox.stop());

    const call: Built['call'] = async (method, url, o = {}) => {
      const res = await app.inject({
        method,
        url,
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...o.headers,
        },
        ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
      });
      const json = (res.headers['content-type'] ?? '').toString().includes('json') && res.body ? JSON.parse(res.body) : res.body;
      return { status: res.statusCode, body: json, res };
    };
    const install: Built['install'] = async () => {
      if (!sandbox) throw new Error('build(t, { sandbox: true }) to install');
      const r = await call('POST', '/api/installations', {
        body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
      });
      if (r.status !== 201) throw new Error(`install answered ${r.status}: ${JSON.stringify(r.body)}`);
      return { id: r.body.id, token: r.body.apiToken, webhookSecret: r.body.webhookSecret };
    };
    const built: Built = { app, store, secrets, sandbox, call, install, close };
    t?.onTestFinished(close);
    return built;
  } catch (e) {
    await close();
    throw e;
  }
}

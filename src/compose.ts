/**
 * Wires the connector from a validated config: store -> mail, prints, scheduler -> service -> HTTP.
 * Used by `src/main.ts` (with the demo around it) and by the end-to-end tests, so both run the same
 * composition. Returns a handle that closes everything in reverse order.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import type { Logger } from './observability/logger.ts';
import { openStore } from './store/index.ts';
import { createHost as createRegistryHost, type InstallationHostFactory } from './connector/registry.ts';
import { ManagedService } from './connector-managed/index.ts';
import { createMailDelivery } from './mail/delivery.ts';
import { createPdfRenderer } from './render/pool.ts';
import { listStandardPrints } from './render/prints.ts';
import { createAgendaScheduler, type Scheduler, type SchedulerOptions } from './jobs/scheduler/agenda.ts';
import { closePageSessions, DeliverySlots, runInstallation, runPage, type PipelineDeps, type PipelineEvent } from './jobs/run/pipeline.ts';
import { HeldWriteBacks } from './jobs/run/writeback.ts';
import { createRunConsole } from './jobs/run/run-console.ts';
import { InstallationService } from './installations/service.ts';
import { WebhookDispatcher, type DispatcherTuning } from './webhooks/dispatcher.ts';
import { FailureDigest } from './jobs/run/digest.ts';
import { IncomingWebhooks } from './webhooks/incoming.ts';
import { InvoicePreviews } from './installations/previews.ts';
import { buildHttpServer } from './http/app.ts';
import { createMetrics } from './observability/metrics.ts';
import type { SecretBox } from './secrets/secret-box.ts';
import type { Store } from './store/port.ts';
import type { MailDelivery } from './mail/port.ts';

export interface Connector {
  app: FastifyInstance;
  store: Store;
  scheduler: Scheduler;
  service: InstallationService;
  pipeline: PipelineDeps;
  /** Outgoing webhooks (deliveries persisted in the store). */
  webhooks: WebhookDispatcher;
  /** Base URL the HTTP API listens on. */
  url: string;
  close(): Promise<void>;
}

export interface ComposeOptions {
  config: Config;
  logger: Logger;
  secrets: SecretBox;
  version: string;
  clock?: () => Date;
  /** Replace the mail delivery (e.g. with TLS options for test servers). */
  mail?: MailDelivery;
  events?: (event: PipelineEvent) => void;
  /** Agenda poll interval in ms. */
  processEvery?: number;
  pipeline?: Partial<Pick<PipelineDeps, 'retryDelayMs' | 'inRunRetries' | 'pageSize' | 'parkMarginMs' | 'pagesPollMs'>>;
  /** Scheduler tuning (tests: a short retry backoff for failed slot runs, a short lock lifetime, page jobs at once). */
  scheduler?: Partial<Pick<SchedulerOptions, 'retryBaseMs' | 'lockLifetimeMs' | 'pageConcurrency'>>;
  /** Webhook tuning (tests: short backoff, poll and hint debounce). */
  webhooks?: Partial<DispatcherTuning> & { hintDebounceMs?: number };
}

export async function composeConnector(options: ComposeOptions): Promise<Connector> {
  const { config, logger, secrets } = options;
  const clock = options.clock ?? (() => new Date());
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'error while closing'));
  };
  try {
    const opened = await openStore(config.database, { log: (m: string) => logger.info(m), debug: (m: string) => logger.debug(m) });
    closers.push(() => opened.close());
    const { store } = opened;
    // Host adapters get their installation's connector-managed accounts/templates (docs/design.md §6).
    const managed = new ManagedService({ store, secrets, clock });
    const createHost: InstallationHostFactory = (connection, installationId) =>
      createRegistryHost(connection, installationId ? { managed: managed.providers(installationId) } : {});

    const mail = options.mail ?? createMailDelivery({ poolSize: config.delivery.smtpPoolSize, copyToSent: true });
    closers.push(() => mail.close());
    const renderer = createPdfRenderer({ workers: config.render.workers, maxInFlight: config.delivery.maxInFlight });
    closers.push(() => renderer.close());
    // The pipeline and the previews render through this one binding, so both print the same bytes.
    const ksefEnvironment = config.render.ksefEnvironment;
    const prints: PipelineDeps['prints'] = {
      render: (invoice, printId, printOptions) => renderer.render(invoice, printId, { ...printOptions, ksefEnvironment }),
      warm: () => renderer.warm(),
    };

    // Filled once the scheduler exists (queue depth is read from Agenda at scrape time).
    let queue: Scheduler | null = null;
    const metrics = createMetrics({ queue: { getJobsOverview: async () => (queue ? queue.jobsOverview() : []) } });
    const owner = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    // Outgoing webhooks: pipeline events are persisted, then POSTed signed, with retries (src/webhooks).
    const webhooks = new WebhookDispatcher({ store, secrets, logger, owner, version: options.version, tuning: options.webhooks ?? {} });
    // One e-mail to the operator after a run that left invoices failed or uncertain (src/jobs/run/digest.ts).
    const digest = new FailureDigest({ store, createHost, secrets, mail, logger, clock });
    closers.push(() => digest.drain());
    const runConsole = createRunConsole({ store, logger, clock });
    const pipeline: PipelineDeps = {
      store,
      createHost,
      mail,
      prints,
      secrets,
      clock,
      owner,
      heldWriteBacks: new HeldWriteBacks(),
      // One bound of deliveries at once for the whole process: every run and page job, every installation.
      deliverySlots: new DeliverySlots(config.delivery.maxInFlight),
      delivery: config.delivery,
      logger,
      events: (event: PipelineEvent) => {
        webhooks.emit(event);
        metrics.observe(event);
        if (event.type === 'run.completed') digest.onRunCompleted(event.installationId, event.run);
        runConsole.observe(event);
        options.events?.(event);
      },
      ...options.pipeline,
    };
    const scheduler = await createAgendaScheduler({
      database: store.kind === 'mongodb' ? { kind: 'mongodb', url: opened.databaseUrl } : { kind: 'postgres', url: opened.databaseUrl },
      store,
      run: (id, trigger) => runInstallation(pipeline, id, trigger),
      // Page jobs of split runs: this process takes its share of any run on the database.
      runPage: (work) => runPage(pipeline, work),
      clock,
      logger,
      name: owner,
      ...(options.processEvery ? { processEvery: options.processEvery } : {}),
      ...options.scheduler,
    });
    queue = scheduler;
    // Runs of more than one page are split into page jobs of the scheduler (src/jobs/run/pipeline.ts).
    pipeline.pages = scheduler;
    let publicUrl = config.http.publicUrl;
    const service = new InstallationService({
      store,
      createHost,
      secrets,
      scheduler,
      clock,
      standardPrints: listStandardPrints,
      adminToken: config.adminToken,
      publicUrl: () => publicUrl,
    });
    const incoming = new IncomingWebhooks({
      store,
      secrets,
      service,
      scheduler,
      logger,
      ...(options.webhooks?.hintDebounceMs !== undefined ? { hintDebounceMs: options.webhooks.hintDebounceMs } : {}),
    });
    closers.push(async () => incoming.close());
    const previews = new InvoicePreviews({ store, createHost, prints, secrets, clock, delivery: config.delivery });
    const app = await buildHttpServer({
      logger,
      version: options.version,
      publicUrl: config.http.publicUrl,
      store,
      service,
      previews,
      managed,
      webhooks: { dispatcher: webhooks, incoming },
      secrets,
      clock,
      operator: { adminToken: config.adminToken, dashboard: () => scheduler.dashboard(), metrics },
    });
    const url = await app.listen({ host: config.http.host, port: config.http.port });
    // Port 0 (tests): links the connector hands out must carry the port it actually got.
    if (config.http.port === 0) app.site.publicUrl = publicUrl = url;
    closers.push(() => app.close());
    webhooks.start();
    closers.push(() => webhooks.stop());
    // Closed after the scheduler stopped: the host connections kept for other processes' runs.
    closers.push(() => closePageSessions(pipeline));
    await scheduler.start();
    closers.push(() => scheduler.stop(10_000));
    return { app, store, scheduler, service, pipeline, webhooks, url, close };
  } catch (e) {
    await close();
    throw e;
  }
}

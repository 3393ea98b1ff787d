/**
 * One run of one installation (docs/data-flow.md):
 *   resolve interrupted deliveries, announce uncertain outcomes never announced (./earlier-deliveries.ts) ->
 *   flush owed write-backs -> list due invoices page by page ->
 *   plan (pure, ./delivery/plan.ts) -> claim in the ledger -> render template + attachment -> mark sending ->
 *   deliver (mark handed over just before the final ".") -> classify (pure, ./delivery/classify.ts) ->
 *   settle: record, check the claim, count, log, announce (./delivery/settle.ts) -> write back to the host
 *   (batched per page) -> finish the run (and tell the host's own log, `recordRun`).
 *
 * The ledger's atomic claim is what makes every invoice go out at most once, whatever the scheduler
 * does (Agenda is at-least-once) and however many processes run. The mail server is called in a step of
 * its own: only a fault that proves nothing was handed over is delivered again, and a store that fails
 * afterwards delays the record, never causes a second delivery. Nothing is written back to the host as
 * sent unless the SMTP server accepted the message or the IMAP server stored the draft.
 *
 * The run is a pipeline without page barriers: the next page is listed while this one is planned,
 * claimed (one `claimMany` statement per page), rendered (templates in growing batches 1, 4, 16, 64, so
 * the first e-mail leaves within seconds) and delivered; owed write-backs are flushed beside the
 * deliveries after each page. One bound holds it all: at most `maxInFlight` deliveries run at once (a
 * run or page job starts with 2 and may run one more for each that settled), and a full pool holds the
 * producer (back-pressure). A run ends only after every delivery it started settled.
 * Progress is written after settled invoices at most once per second and at the run's end.
 *
 * A run of more than one page is split (when the composition root gave it a page queue and the host lists
 * ids, `HostErp.listDueInvoiceIds`): the process that started it (the coordinator) lists the first page as
 * above, then only the ids of the rest (one host call), and queues them as page jobs of the scheduler
 * (`PageQueue`) that any connector process on the database may take (`runPage`). It works the first page
 * itself and waits until every page job is done, then finishes as a run that was not split (re-sends,
 * write-backs, delivery reports, counts). Every page job reads its page (`getInvoices`), claims, delivers
 * and writes back exactly as an unsplit run does: the ledger's claim stays the one gate, so a page worked
 * twice (its process died, Agenda ran it again) sends nothing twice. Each process adds what its pages
 * settled to the run's counts in the store (`Store.addRunCounts`); the run's counts are their sum.
 */
import type { Config } from '../../config.ts';
import type { DueInvoiceQuery, HostErp, RunSummary } from '../../connector/port.ts';
import type { InstallationHostFactory } from '../../connector/registry.ts';
import type { EmailAccount, Invoice, InvoiceReadError, Operator, RenderedTemplate, RunCounts, RunTrigger, Settings } from '../../domain.ts';
import { parsePrintChoice } from '../../domain.ts';
import { isConnectorError, type ConnectorError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { MailDelivery } from '../../mail/port.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Installation, LedgerEntry, NewLogEntry, Run, Store } from '../../store/port.ts';
import { classify, type Classified, type ClassifyContext } from '../rules/classify.ts';
import { planDelivery, requireCompleteSettings, resolveSender } from '../rules/plan.ts';
import { settle, type PipelineEvent, type SettleDeps, type Settled } from './settle.ts';
import { hostConnectionFor } from './installation-host.ts';
import { senderAddress } from './message.ts';
import { launchWithTemplates, renderTemplates } from './templates.ts';
import { contentHash, messageIdFor } from '../rules/selection.ts';
import { flushWriteBacks, type HeldWriteBacks } from './writeback.ts';
import { checkBounces, resendPages } from './bounces.ts';
import { closeDeadRuns, ownerIsGone, RUN_HEARTBEAT_MS, RUN_LEASE_MS, runIsDead } from './run-lease.ts';
import type { DeliverySlots } from './delivery-slots.ts';
import { RunClaims, type Candidate, type Claimed } from './run-claims.ts';
import { deliverInvoice, type InvoiceDeliveryContext, type PrintRenderer } from './deliver-invoice.ts';
import { RunDeliveries } from './run-deliveries.ts';
import { ownerIsHere, sessionsOf, type RunSession } from './page-sessions.ts';
import { RunProgress } from './run-progress.ts';
import { RunParks, type PlannedInvoice } from './run-parks.ts';
import { PageLogs } from './page-logs.ts';
import { RunSplit, type PageQueue, type RunPage } from './run-split.ts';
import { announceUncertainOutcomes, resolveInterruptedDeliveries, type EarlierDeliveriesContext } from './earlier-deliveries.ts';

export { DeliverySlots } from './delivery-slots.ts';
export { closePageSessions } from './page-sessions.ts';

export type { PipelineEvent } from './settle.ts';

export type { PrintOptions, PrintRenderer } from './deliver-invoice.ts';

export type { PageQueue, RunPage } from './run-split.ts';

export interface PipelineDeps {
  store: Store;
  /** The host adapter for an installation (with its connector-managed accounts/templates). */
  createHost: InstallationHostFactory;
  mail: MailDelivery;
  prints: PrintRenderer;
  secrets: SecretBox;
  clock: () => Date;
  /** Identity of this worker in ledger claims: `<hostname>:<pid>:<random>`. */
  owner: string;
  delivery: Config['delivery'];
  logger: Logger;
  events?: (event: PipelineEvent) => void;
  /** Pause between in-run retries of a temporary failure (ms, doubled each time). */
  retryDelayMs?: number;
  /** In-run retries of a temporary SMTP failure before it is left for a later run. */
  inRunRetries?: number;
  pageSize?: number;
  /** Invoices on a run's first page (default `FIRST_PAGE_SIZE`; at most `pageSize`). */
  firstPageSize?: number;
  /** First pause between attempts to record an outcome while the store fails (ms, doubled; default 250). */
  recordPauseMs?: number;
  /** Least time between two progress writes of a run (ms; default 1000). */
  progressEveryMs?: number;
  /** Write-backs this process took and could not give back while the store failed (./writeback.ts). */
  heldWriteBacks?: HeldWriteBacks;
  /** How far before a park's last check the host is asked for changes (ms; default `PARK_MARGIN_MS`). */
  parkMarginMs?: number;
  /**
   * The process-wide bound of deliveries at once (`MAX_IN_FLIGHT`), shared by every run and page job of
   * the process, whatever the installation. Absent: each run has its own bound of `maxInFlight`.
   */
  deliverySlots?: DeliverySlots;
  /** The scheduler's page jobs (src/jobs/scheduler); absent = runs are never split. */
  pages?: PageQueue;
  /** How often the coordinator of a split run looks whether its pages are done, at most (ms; default 500): a page that ends wakes it earlier. */
  pagesPollMs?: number;
}

/** Stops the whole run: the account refused its credentials or cannot be used as configured. */
class AccountAuthFailed extends Error {}

const PAGE_SIZE = 200;
/**
 * A run's first page is smaller: its first e-mails wait for the host's answers about 100 invoices, not
 * 200, and the next pages are listed and read while they go out (issue 12: the host took 0.5–0.9 s for
 * a first page of 200 on the benchmark's machine, in which nothing left; a first page of 50 was sent
 * before the next page's reads ended, and nothing left in between).
 */
const FIRST_PAGE_SIZE = 100;
export async function runInstallation(deps: PipelineDeps, installationId: string, trigger: RunTrigger): Promise<Run | null> {
  const { store } = deps;
  const installation = await store.getInstallation(installationId);
  if (!installation || installation.status !== 'active') return null;
  if (trigger === 'schedule' || trigger === 'catch_up') {
    if (!installation.settings.enabled) return null;
  }
  // Runs whose process died are closed first, and what they left in the ledger is given back (and counted).
  const recovered = await closeDeadRuns(deps, installationId);
  const startedAt = deps.clock();
  const run = await store.startRun({
    installationId,
    trigger,
    startedAt: startedAt.toISOString(),
    owner: deps.owner,
    leaseUntil: new Date(startedAt.getTime() + RUN_LEASE_MS).toISOString(),
  });
  const ctx = new RunContext(deps, installation, run);
  // The heartbeat: while it beats, no other process takes this run (and its claims) for dead.
  const heartbeat = setInterval(() => {
    void store.heartbeatRun(run.id, new Date(deps.clock().getTime() + RUN_LEASE_MS).toISOString()).catch(() => undefined);
  }, RUN_HEARTBEAT_MS);
  heartbeat.unref();
  // What the interrupted runs left is counted by this run (their own log entries say it too).
  const recoveredData = recovered.runs.length
    ? { interruptedRuns: recovered.runs.map((r) => r.id), released: recovered.released, expired: recovered.expired }
    : {};
  await ctx.log('info', 'run.started', `Run started (${triggerLabel(trigger)})`, null, { trigger, ...recoveredData });
  let status: 'completed' | 'failed' = 'completed';
  let error: string | null = null;
  try {
    await ctx.execute();
  } catch (e) {
    status = 'failed';
    error = describeError(e);
    if (!(e instanceof AccountAuthFailed)) {
      deps.logger.error({ err: e, installationId, runId: run.id }, 'run failed');
      // A store that is down now must not also keep the run `running` forever: finishRun is still tried.
      await ctx.log('error', 'run.failed', `Run failed: ${error}`, null, { code: isConnectorError(e) ? e.code : 'internal' }).catch(() => undefined);
    }
  } finally {
    clearInterval(heartbeat);
    // A split run's counts are the sum in the store of what every process's pages settled.
    await ctx.joinCounts({ strict: false });
    sessionsOf(deps).unregister(run.id);
    if (status === 'completed') {
      // Completed means settled: nothing this run claimed in this process is still open (page jobs check their own pages).
      const open = await ctx.unsettled().catch(() => null);
      if (open === null || open.length > 0) {
        status = 'failed';
        error =
          open === null
            ? 'The ledger could not be read to check that every claimed invoice was settled'
            : `${open.length} claimed invoice(s) were not settled by the run`;
        await ctx.log('error', 'run.unsettled', error, null, { invoiceIds: (open ?? []).slice(0, 50).map((e) => e.invoiceId) }).catch(() => undefined);
      }
    }
    // The host's own log gets the final status (Odoo ir.logging), before its connection is closed.
    await ctx.reportToHost(status, error);
    await Promise.resolve(ctx.close()).catch((err: unknown) => deps.logger.warn({ err, installationId }, 'closing the host connection failed'));
  }
  const finished = await store.finishRun(run.id, status, ctx.counts, error, deps.clock().toISOString());
  const c = ctx.counts;
  await ctx.log(
    status === 'completed' ? 'info' : 'error',
    'run.completed',
    `Run ${status === 'completed' ? 'completed' : 'ended with an error'}: ${c.sent} sent, ${c.drafted} drafted, ${c.skipped} skipped, ${c.failed} failed, ${c.retry} to retry, ${c.uncertain} uncertain`,
    null,
    { counts: c, status },
  );
  deps.events?.({ type: 'run.completed', installationId, run: finished });
  return finished;
}

function triggerLabel(t: RunTrigger): string {
  return { schedule: 'scheduled', manual: 'manual', catch_up: 'catch-up after downtime', hint: 'host hint' }[t];
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

class RunContext {
  /** This context's counts and progress, and how they reach the store (./run-progress.ts). */
  private readonly runProgress: RunProgress;
  /** Called as each delivery of the run's own pages settles; the first call lets a big run be split (see `execute`). */
  private onDelivered: (() => void) | null = null;
  /** The index in its run of the page this context works (0: the run's own pages); its deliveries' priority. */
  private pageIndex = 0;
  /** What this context claims in the ledger, and the invoices it is answerable for (./run-claims.ts). */
  private readonly claims: RunClaims;
  /** What the run leaves out of its listing until the host changes it (./run-parks.ts). */
  private readonly parks: RunParks;
  /** The log-once entries of the page being planned (./page-logs.ts). */
  private readonly pageLogs: PageLogs;
  /** The e-mail account's error that stopped the run (credentials refused, unusable as configured). */
  private accountStop: ConnectorError | null = null;
  private host!: HostErp; // set first thing in execute()
  private operator!: Operator;
  private account!: EmailAccount;
  private readonly settings: Settings;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly installation: Installation,
    private readonly run: Run,
    session?: RunSession,
  ) {
    this.settings = installation.settings;
    this.runProgress = new RunProgress(deps.store, run.id, deps.progressEveryMs ?? 1000);
    this.deliveries = new RunDeliveries(deps.deliverySlots ?? { maxInFlight: deps.delivery.maxInFlight }, () => this.pageIndex);
    this.claims = new RunClaims({
      store: deps.store,
      installationId: installation.id,
      owner: deps.owner,
      leaseSeconds: deps.delivery.leaseSeconds,
      maxAttempts: deps.delivery.maxAttempts,
      messageIdOf: (invoiceId) => messageIdFor(installation.id, invoiceId, senderAddress(this.account, this.operator)),
    });
    this.parks = new RunParks({
      store: deps.store,
      installationId: installation.id,
      clock: deps.clock,
      ...(deps.parkMarginMs !== undefined ? { marginMs: deps.parkMarginMs } : {}),
      warn: (err, message) => deps.logger.warn({ err, installationId: installation.id, runId: run.id }, message),
    });
    this.pageLogs = new PageLogs({ store: deps.store, installationId: installation.id, runId: run.id, clock: deps.clock });
    if (session) {
      this.host = session.host;
      this.operator = session.operator;
      this.account = session.account;
    }
  }

  /** This context's counts: the whole run's, or (a page job) its page's. */
  get counts(): RunCounts {
    return this.runProgress.counts;
  }

  /**
   * What the run left open (`claimed` or `sending`) of its own claims in this process (claims of this
   * process's page jobs of other runs are theirs; every page job checks its own page as it ends).
   */
  unsettled(): Promise<LedgerEntry[]> {
    return this.claims.unsettled();
  }

  async log(
    level: NewLogEntry['level'],
    event: string,
    message: string,
    invoice: Pick<Invoice, 'id' | 'number'> | null,
    data: Record<string, unknown> | null = null,
  ) {
    await this.deps.store.appendLogs([
      {
        installationId: this.installation.id,
        runId: this.run.id,
        at: this.deps.clock().toISOString(),
        level,
        event,
        invoiceId: invoice?.id ?? null,
        invoiceNumber: invoice?.number ?? null,
        message,
        data,
      },
    ]);
  }

  async close(): Promise<void> {
    if (this.host) await this.host.close?.();
  }

  /** Tells the host's own log how the run ended (`HostErp.recordRun`); a failure is a warning, never the run's. */
  async reportToHost(status: RunSummary['status'], error: string | null): Promise<void> {
    if (!this.host?.recordRun) return;
    const summary: RunSummary = {
      runId: this.run.id,
      status,
      trigger: this.run.trigger,
      startedAt: this.run.startedAt,
      finishedAt: this.deps.clock().toISOString(),
      counts: { ...this.counts },
      error,
    };
    try {
      await this.host.recordRun(summary);
    } catch (e) {
      this.deps.logger.warn({ err: e, installationId: this.installation.id, runId: this.run.id }, 'the host did not take the run summary');
      await this.log('warning', 'run.host_log_failed', `The run could not be recorded in the host's log: ${describeError(e)}`, null).catch(() => undefined);
    }
  }

  async execute(): Promise<void> {
    const { deps, installation, settings } = this;
    requireCompleteSettings(settings, { fromDate: true });
    this.host = deps.createHost(hostConnectionFor(installation, deps.secrets), installation.id);
    try {
      const sender = await resolveSender(this.host, settings);
      this.operator = sender.operator;
      this.account = sender.account;
    } catch (e) {
      if (isConnectorError(e, 'host_auth')) {
        await this.log(
          'error',
          'operator.auth_failed',
          `The operator "${settings.operator}" can no longer log in to the host; the run stopped. Update the password in the settings.`,
          null,
        );
        throw new AccountAuthFailed(e.message);
      }
      throw e;
    }

    await resolveInterruptedDeliveries(this.earlierDeliveries());
    await announceUncertainOutcomes(this.earlierDeliveries());
    await this.flushWriteBacks();

    // A run that prints gets the renderer ready while the host answers (the first renders of a cold process
    // would otherwise hold the first e-mails back).
    if ([settings.attachments.pln, settings.attachments.foreign].some((c) => parsePrintChoice(c)?.kind === 'standard')) void deps.prints.warm?.();
    // Parked invoices the host did not change since they were last looked at are left out by the host.
    const parked = await this.parks.stillParked(this.host);
    this.counts.due += parked.counted;
    this.counts.skipped += parked.counted;
    this.runProgress.processed += parked.counted;
    const excludeIds = parked.ids;
    const pageSize = deps.pageSize ?? PAGE_SIZE;
    const firstPageSize = Math.min(pageSize, deps.firstPageSize ?? FIRST_PAGE_SIZE);
    const query: DueInvoiceQuery = {
      documents: settings.documents,
      dateBasis: settings.dateBasis,
      fromDate: settings.fromDate!,
      pageSize,
      firstPageSize,
      // With drafts in scope, invoices we already e-mailed (and marked sent) are listed too: a draft that
      // was e-mailed and later confirmed or edited must be compared with what was sent (content hash).
      excludeHostMarkedSent: settings.documents !== 'all',
      ...(excludeIds.length ? { excludeIds } : {}),
    };
    const pages = this.host.listDueInvoices(query);
    // The next page is listed while this one is claimed, rendered and sent; owed write-backs are flushed
    // in the background after each page. Deliveries of one page go on while the next is prepared: the
    // only bound is `maxInFlight` (back-pressure), there is no barrier between pages.
    const iterator = pages[Symbol.asyncIterator]();
    let failure: { error: unknown } | null = null;
    let split = false;
    let splitting: Promise<boolean> | null = null;
    // The rest of a run of one page that started with a small first page (`FIRST_PAGE_SIZE`), read by id.
    let restOfPage: Promise<Invoice[]> | null = null;
    // Set once the first page's first delivery settled (or the page launched all it had): the rest of a big
    // run is listed and queued from then on, so the first e-mails wait neither for it nor for other pages'
    // reads, which would hold this thread while the first deliveries' SMTP connections open.
    let firstDelivered!: (go: boolean) => void;
    const deliveredFirst = new Promise<boolean>((resolve) => (firstDelivered = resolve));
    this.onDelivered = () => firstDelivered(true);
    try {
      let next = iterator.next();
      for (let first = true; ; first = false) {
        const current = await next;
        if (current.done) break;
        if (this.stop) break;
        // A full first page with a page queue: the rest is listed as ids only (one host call). A run of
        // more than one full page queues it as page jobs; this process works the first page itself, then
        // waits for the others. A smaller rest is this process's: read by id as a page job reads its page.
        let last = false;
        const listIds = this.host.listDueInvoiceIds?.bind(this.host);
        if (first && deps.pages && listIds && current.value.length >= firstPageSize) {
          const firstPage = current.value;
          splitting = deliveredFirst.then(async (go) => {
            if (!go) return false;
            const rest = await listIds({ ...query, afterId: firstPage[firstPage.length - 1]!.id });
            if (firstPage.length + rest.length > pageSize) {
              await this.split().queue(rest, pageSize, firstPage.length, this.parks.parkedAt);
              return true;
            }
            if (rest.length > 0) {
              restOfPage = this.host.getInvoices(rest);
              restOfPage.catch(() => undefined); // awaited below
            }
            return false;
          });
          splitting.catch(() => undefined); // awaited below; a run that fails first must not crash on it
          last = true;
        }
        if (!last) {
          next = iterator.next();
          // An unhandled rejection of the prefetch must not crash the process when the run stops first.
          next.catch(() => undefined);
        }
        await this.processPage(current.value, { park: true });
        firstDelivered(true);
        if (splitting) split = await splitting;
        if (restOfPage && !this.stop) await this.processPage(await restOfPage, { park: true });
        if (this.stop) break;
        this.flushInBackground();
        await this.progress();
        if (last) break;
      }
      if (split) await this.split().wait(() => !!this.stop);
    } catch (e) {
      failure = { error: e };
      this.stopWith({ fatal: e });
    } finally {
      // A run that failed before its first delivery queues no pages; pages queued meanwhile are ended.
      firstDelivered(false);
      this.onDelivered = null;
      if (splitting && !split) split = await (splitting as Promise<boolean>).catch(() => false);
      // Nothing is left running behind the run: every delivery settles before the run ends.
      await this.deliveries.allSettled();
      await this.backgroundFlush;
      if (split && (failure || this.stop)) await this.split().end();
    }
    if (failure) throw failure.error;
    await this.throwIfStopped();
    await iterator.return?.();
    if (split) await this.joinCounts({ strict: true });
    // Later versions a person allowed (a bounced invoice re-sent), then the delivery reports (./bounces.ts).
    for await (const page of resendPages(deps.store, this.host, installation.id)) await this.processPage(page);
    await this.deliveries.allSettled();
    await this.throwIfStopped();
    await this.flushWriteBacks();
    if (this.flushError) throw this.flushError.error;
    await checkBounces(deps, { installationId: installation.id, runId: this.run.id, host: this.host, account: this.account });
    await this.progress(true);
  }

  /** Deliveries running now, and when one more may start (./run-deliveries.ts). */
  private readonly deliveries: RunDeliveries;
  /** What stopped the run's deliveries: the e-mail account, or any other error (thrown once all settled). */
  private stop: { account: ConnectorError } | { fatal: unknown } | null = null;
  private backgroundFlush: Promise<void> = Promise.resolve();
  private flushing = false;
  private flushError: { error: unknown } | null = null;

  private stopWith(stop: { account: ConnectorError } | { fatal: unknown }): void {
    this.stop ??= stop;
    if ('account' in stop) this.accountStop ??= stop.account;
  }

  /** One write-back flush at a time, beside the deliveries; a failing store is the run's error at its end. */
  private flushInBackground(): void {
    if (this.flushing) return;
    this.flushing = true;
    this.backgroundFlush = this.flushWriteBacks().then(
      () => {
        this.flushing = false;
      },
      (error: unknown) => {
        this.flushing = false;
        this.flushError ??= { error };
      },
    );
  }

  /** Starts the delivery beside the others once the context may (./run-deliveries.ts); a run that stopped meanwhile gives the claim back. */
  private async launch(item: Claimed, template: RenderedTemplate | null): Promise<void> {
    const deliver = () => this.deliverSettled(item, template).finally(() => this.onDelivered?.());
    if (!(await this.deliveries.start(deliver, () => !this.stop))) await this.giveBack(item);
  }

  /** One delivery in the pool; never rejects (what stops the run is kept in `stop`). */
  private async deliverSettled(item: Claimed, template: RenderedTemplate | null): Promise<void> {
    const { deps, installation } = this;
    try {
      const stop = await deliverInvoice((this.deliveryCtx ??= this.deliveryContext()), item, template);
      if (stop) this.stopWith({ account: stop });
    } catch (e) {
      this.stopWith({ fatal: e });
      // Only a claim that never reached `sending` is given back (release matches `claimed` only);
      // a delivery that may have started stays `sending` for the evidence check.
      await deps.store.release(installation.id, item.invoice.id, deps.owner).catch(() => undefined);
      return;
    }
    this.runProgress.processed += 1;
    await this.progress();
  }

  /** After every delivery settled: what stopped them, as the run's error (logged and announced once). */
  private async throwIfStopped(): Promise<void> {
    const { deps, installation } = this;
    const stopped = this.stop;
    if (!stopped) return;
    if ('fatal' in stopped) throw stopped.fatal;
    const stop = stopped.account;
    if (stop.code === 'mail_config') {
      await this.log(
        'error',
        'delivery.account_unusable',
        `The e-mail account "${this.account.name}" cannot be used as configured; the run stopped (no invoice was failed or marked as sent): ${stop.message}`,
        null,
        { account: this.account.id },
      );
      throw new AccountAuthFailed(stop.message);
    }
    await this.log(
      'error',
      'delivery.auth_failed',
      `The e-mail account "${this.account.name}" refused its credentials; the run stopped (no invoice was marked as sent): ${stop.message}`,
      null,
      { account: this.account.id },
    );
    deps.events?.({ type: 'delivery.auth_failed', installationId: installation.id, account: this.account.id, detail: stop.message });
    throw new AccountAuthFailed(stop.message);
  }

  /** The run's progress for the logs page: after every settled invoice at most once per `progressEveryMs`, and at each page's end. */
  private async progress(force = false): Promise<void> {
    try {
      await this.runProgress.report(force);
    } catch (err) {
      this.deps.logger.warn({ err, installationId: this.installation.id, runId: this.run.id }, 'run progress not written');
    }
  }

  /** The run's page jobs, as its coordinator queues, waits for and ends them (./run-split.ts); only a run given a page queue splits. */
  private split(): RunSplit {
    const { deps, installation, run } = this;
    return (this.runSplit ??= new RunSplit({
      pages: deps.pages!,
      installationId: installation.id,
      runId: run.id,
      progress: this.runProgress,
      pollMs: deps.pagesPollMs ?? 500,
      // This process's page jobs of the run use this run's host connection, operator and account.
      registerSession: () => sessionsOf(deps).register(run.id, { installation, host: this.host, operator: this.operator, account: this.account }),
      log: (level, event, message, data) => this.log(level, event, message, null, data),
      warn: (err, message) => deps.logger.warn({ err, installationId: installation.id, runId: run.id }, message),
    }));
  }
  private runSplit: RunSplit | null = null;

  /**
   * A split run's counts back from the store (the sum of every page's) into `counts`; the context then
   * writes them whole again. `strict`: a store that fails is the run's error (else the counts it has).
   */
  async joinCounts({ strict }: { strict: boolean }): Promise<void> {
    if (!this.runProgress.shared) return;
    try {
      await this.runProgress.join();
    } catch (e) {
      if (strict) throw e;
      this.deps.logger.warn({ err: e, installationId: this.installation.id, runId: this.run.id }, 'the split run’s counts could not be read back');
      this.runProgress.stopSharing();
    }
  }

  /**
   * One page job of a split run (any process): read the page, plan, claim, deliver, write back, exactly as
   * the run's own pages; then add what it settled to the run's counts. `rerun`: an earlier attempt's
   * process stopped mid-page (its claims were given back): its interrupted deliveries are resolved first.
   */
  async runPage(page: RunPage, rerun: boolean): Promise<void> {
    this.runProgress.addToStored(page.index);
    this.parks.parkedAt = page.parkedAt;
    this.pageIndex = page.index;
    let failure: { error: unknown } | null = null;
    try {
      if (rerun) await resolveInterruptedDeliveries(this.earlierDeliveries());
      const invoices = await this.host.getInvoices(page.ids);
      await this.processPage(invoices, { park: true });
    } catch (e) {
      failure = { error: e };
      this.stopWith({ fatal: e });
    } finally {
      await this.deliveries.allSettled();
    }
    try {
      if (failure) throw failure.error;
      await this.throwIfStopped();
      await this.flushWriteBacks();
    } catch (e) {
      await this.runProgress.write().catch(() => undefined);
      throw e;
    }
    await this.runProgress.write();
    const open = await this.claims.unsettledOfPage();
    if (open.length > 0) {
      const error = `${open.length} claimed invoice(s) of page ${page.index + 1} were not settled`;
      await this.log('error', 'run.unsettled', error, null, { invoiceIds: open.slice(0, 50).map((e) => e.invoiceId) }).catch(() => undefined);
      throw new Error(error);
    }
  }

  /** What one delivery needs of this context (./deliver-invoice.ts), made at its first delivery (the host, account and operator are set by then). */
  private deliveryCtx: InvoiceDeliveryContext | null = null;
  private deliveryContext(): InvoiceDeliveryContext {
    const { deps, installation, settings, host, account, operator } = this;
    return {
      installationId: installation.id,
      settings,
      host,
      account,
      operator,
      prints: deps.prints,
      mail: deps.mail,
      store: deps.store,
      owner: deps.owner,
      clock: deps.clock,
      logger: deps.logger,
      leaseFrom: (now) => this.claims.leaseFrom(now),
      inRunRetries: deps.inRunRetries ?? 2,
      retryDelayMs: deps.retryDelayMs ?? 500,
      log: (level, event, message, invoice, data) => this.log(level, event, message, invoice, data),
      settle: (invoice, leaseUntil, verdict, data) => this.settleClaim(invoice, leaseUntil, verdict, data),
      classifyContext: (attempts, recipients) => this.classifyContext(attempts, recipients),
    };
  }

  private settleDeps(): SettleDeps {
    const { store, clock, logger, events, recordPauseMs } = this.deps;
    return { store, clock, logger, events, recordPauseMs };
  }

  private classifyContext(attempts: number, recipients: string[]): ClassifyContext {
    return { mode: this.settings.delivery, attempts, maxAttempts: this.deps.delivery.maxAttempts, now: this.deps.clock(), recipients };
  }

  /** Settles one invoice of this run's own claim (see ./delivery/settle.ts). */
  private settleClaim(invoice: Pick<Invoice, 'id' | 'number'>, leaseUntil: string, verdict: Classified, data?: Record<string, unknown>): Promise<Settled> {
    return settle(
      this.settleDeps(),
      {
        installationId: this.installation.id,
        runId: this.run.id,
        invoice: { id: invoice.id, number: invoice.number },
        via: { kind: 'claim', owner: this.deps.owner, leaseUntil },
        counts: this.counts,
        ...(data ? { data } : {}),
      },
      verdict,
    );
  }

  /** What the start of a run (or a page job worked again) needs to make good what earlier deliveries left (./earlier-deliveries.ts). */
  private earlierDeliveries(): EarlierDeliveriesContext {
    const { store, mail, clock, events } = this.deps;
    return {
      installationId: this.installation.id,
      runId: this.run.id,
      store,
      mail,
      account: this.account,
      clock,
      counts: this.counts,
      settleDeps: this.settleDeps(),
      classifyContext: (attempts, recipients) => this.classifyContext(attempts, recipients),
      events,
    };
  }

  /** Writes owed outcomes back to the host (src/jobs/run/writeback.ts: each taken once, cleared by outcome version). */
  private async flushWriteBacks(): Promise<void> {
    await flushWriteBacks(this.deps, this.installation.id, this.host, (level, event, message) => this.log(level, event, message, null));
  }

  private async processPage(page: Invoice[], opts: { park?: boolean } = {}): Promise<void> {
    const { deps, installation, settings } = this;
    const now = deps.clock();
    const ledger = new Map(
      (
        await deps.store.getLedger(
          installation.id,
          page.map((i) => i.id),
        )
      ).map((e) => [e.invoiceId, e]),
    );
    const plans: PlannedInvoice[] = page.map((invoice) => {
      const entry = ledger.get(invoice.id) ?? null;
      return { invoice, entry, plan: planDelivery(invoice, settings, entry, { maxAttempts: deps.delivery.maxAttempts, now }) };
    });
    // Log-once rules of the whole page in one query (not one per skipped invoice), and their new entries
    // appended in one statement.
    const events = new Set<string>(['invoice.changed_after_sending', 'invoice.invalid_recipients']);
    for (const { plan } of plans) if (plan.kind === 'skip') events.add(`invoice.skipped.${plan.reason}`);
    await this.pageLogs.startPage(
      page.map((i) => i.id),
      events,
    );
    const toSend: Candidate[] = [];
    for (const { invoice, entry, plan } of plans) {
      switch (plan.kind) {
        case 'exhausted':
          await this.closeExhausted(invoice, plan.entry, now);
          break;
        case 'hold':
          await this.holdBack(invoice, plan.error, now);
          break;
        case 'skip':
          if (plan.changedAfterSending && entry) {
            this.pageLogs.once(
              invoice,
              'invoice.changed_after_sending',
              'warning',
              'The invoice changed after it was e-mailed (content differs from what was sent); it is not sent again automatically.',
              { sentContentHash: entry.contentHash, currentContentHash: contentHash(invoice) },
            );
          }
          if (plan.logOnce) {
            this.counts.due += 1;
            this.counts.skipped += 1;
            this.runProgress.processed += 1;
            this.pageLogs.once(invoice, `invoice.skipped.${plan.reason}`, plan.reason === 'host_is_sending' ? 'info' : 'warning', `Skipped: ${plan.detail}`, {
              reason: plan.reason,
              invalidRecipients: plan.invalidRecipients,
            });
          }
          break;
        case 'send':
          this.counts.due += 1;
          toSend.push({ invoice, recipients: plan.recipients, invalidRecipients: plan.invalidRecipients, printId: plan.printId, newVersion: plan.newVersion });
          break;
      }
    }
    await this.pageLogs.append();
    if (opts.park) await this.parks.park(plans);
    if (toSend.length === 0) return;

    // The page's claimable invoices are claimed in one statement (the exactly-once gate); a posted draft's
    // new version one by one. Claims of invoices this run will not deliver are given back.
    const claimed = await this.claimPage(toSend);
    // A page job's counts as judged reach the run before its first delivery (once per page: see RunProgress).
    if (this.pageIndex > 0) await this.progress(true);
    // Templates in growing batches (./templates.ts), handed to the deliveries as they are ready.
    const left = await launchWithTemplates(
      claimed,
      (batch) =>
        renderTemplates(
          this.host,
          deps.store,
          installation.id,
          settings.emailTemplate,
          batch.map((s) => s.invoice),
        ),
      (item, template) => this.launch(item, template),
      () => !!this.stop,
    );
    if (!left) return;
    if ('stopped' in left) {
      // Nothing more goes out behind a run that stops.
      for (const item of left.stopped) await this.giveBack(item);
      return;
    }
    // Nothing left for these (and the following batches): their claims go back, a later run takes them.
    for (const item of left.rest) await deps.store.release(installation.id, item.invoice.id, deps.owner).catch(() => undefined);
    throw left.failed;
  }

  /** Claims the page's candidates: one `claimMany` for new claims, `claimNewVersion` for posted drafts. */
  private async claimPage(toSend: Candidate[]): Promise<Claimed[]> {
    const now = this.deps.clock();
    const leaseUntil = this.claims.leaseFrom(now);
    const won = await this.claims.many(
      toSend.filter((c) => !c.newVersion).map((c) => c.invoice),
      now,
      leaseUntil,
    );
    const items: Claimed[] = [];
    for (const c of toSend) {
      const entry = c.newVersion ? await this.claimNewVersion(c.invoice, now, c.newVersion) : (won.get(c.invoice.id) ?? null);
      if (!entry) {
        this.counts.due -= 1; // someone else owns it
        continue;
      }
      items.push({ ...c, entry, leaseUntil: entry.leaseUntil ?? leaseUntil });
      if (c.invalidRecipients.length) {
        this.pageLogs.once(c.invoice, 'invoice.invalid_recipients', 'warning', `Invalid e-mail address(es) left out: ${c.invalidRecipients.join(', ')}`);
      }
    }
    await this.pageLogs.append();
    return items;
  }

  /**
   * A claim this run will not deliver: when the e-mail account stopped the run, it waits for the account
   * like the invoices that met the fault (`skipped` with the account's reason); otherwise it is released.
   */
  private async giveBack(item: Claimed): Promise<void> {
    const { deps, installation } = this;
    if (this.accountStop) {
      const verdict = classify({ kind: 'mail', error: this.accountStop }, null, this.classifyContext(item.entry.attempts, item.recipients));
      if ((await this.settleClaim(item.invoice, item.leaseUntil, verdict)) === 'settled') return;
    }
    await deps.store.release(installation.id, item.invoice.id, deps.owner).catch(() => undefined);
  }

  /** The posted invoice of a draft we e-mailed: the entry's next version, logged once it is ours. */
  private async claimNewVersion(invoice: Invoice, now: Date, version: number): Promise<LedgerEntry | null> {
    const claimed = await this.claims.newVersion(invoice, now, version);
    if (claimed) {
      await this.log(
        'info',
        'invoice.new_version',
        `The draft e-mailed earlier was posted${invoice.number ? ` as ${invoice.number}` : ''}; it is e-mailed again, once, as the confirmed invoice (version ${claimed.version ?? version}).`,
        invoice,
        {
          version: claimed.version ?? version,
          messageId: claimed.messageId,
        },
      );
    }
    return claimed;
  }

  /** A `retry` entry that used every attempt (e.g. MAX_ATTEMPTS was lowered) becomes `failed`, once, with a reason. */
  private async closeExhausted(invoice: Invoice, entry: LedgerEntry, now: Date): Promise<void> {
    // This entry is past the limit on purpose: take it to close it.
    const claimed = await this.claims.one(invoice, now, entry.attempts + 1);
    if (!claimed) return;
    const verdict = classify({ kind: 'exhausted', attempts: entry.attempts, lastDetail: entry.detail }, null, this.classifyContext(entry.attempts, []));
    await this.settleClaim(invoice, claimed.leaseUntil ?? now.toISOString(), verdict);
  }

  /** An invoice whose host read failed is held back alone: retry (retryable read) or failed; the run goes on. */
  private async holdBack(invoice: Invoice, error: InvoiceReadError, now: Date): Promise<void> {
    this.counts.due += 1;
    const claimed = await this.claims.one(invoice, now);
    if (!claimed) {
      this.counts.due -= 1;
      return;
    }
    const verdict = classify({ kind: 'read', error }, null, this.classifyContext(claimed.attempts, []));
    await this.settleClaim(invoice, claimed.leaseUntil ?? now.toISOString(), verdict, { what: error.what, retryable: error.retryable });
    this.runProgress.processed += 1;
  }
}

/** A page job as the scheduler hands it: `previousOwner` when an earlier attempt's process stopped mid-page. */
export interface RunPageWork extends RunPage {
  previousOwner: string | null;
}

/**
 * Works one page job of a split run in this process (the scheduler's `installation.run-page` handler).
 * A page of a run that is no longer running (finished, or its process died) is left: the installation's
 * next run lists what it did not settle. Throws what makes the page (and so the run) fail.
 */
export async function runPage(deps: PipelineDeps, work: RunPageWork): Promise<void> {
  const { store } = deps;
  const run = await store.getRun(work.runId);
  if (!run || run.status !== 'running' || runIsDead(run, deps.owner, deps.clock())) return;
  const sessions = sessionsOf(deps);
  const session = await sessions.acquire(deps, work.runId, work.installationId);
  if (!session) return;
  try {
    // The earlier attempt's process stopped (Agenda ran the page again after its lock expired): what it
    // claimed is given back and its interrupted deliveries go to the evidence check, as for a dead run.
    // A process of this machine that is still alive only stalled: its claims stay its own.
    const rerun = !!work.previousOwner && (ownerIsGone(work.previousOwner, deps.owner) || !ownerIsHere(work.previousOwner));
    if (rerun) await store.releaseDeadOwners(work.installationId, [work.previousOwner!], deps.clock().toISOString());
    await new RunContext(deps, session.installation, run, session).runPage(work, rerun);
  } finally {
    sessions.release(work.runId);
  }
}

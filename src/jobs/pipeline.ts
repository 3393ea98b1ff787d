/**
 * One run of one installation (DESIGN §3):
 *   resolve interrupted deliveries -> flush owed write-backs -> list due invoices page by page ->
 *   decide (pure rules) -> claim in the ledger -> render template + attachment -> mark sending ->
 *   deliver -> record outcome -> write back to the host (batched per page) -> log -> finish the run.
 *
 * The ledger's atomic claim is what makes every invoice go out at most once, whatever the scheduler
 * does (Agenda is at-least-once) and however many processes run. Nothing is written back to the host
 * as sent unless the SMTP server accepted the message or the IMAP server stored the draft.
 */
import type { Config } from '../config.ts';
import type { HostErp } from '../connector/port.ts';
import type { InstallationHostFactory } from '../connector/registry.ts';
import type { EmailAccount, Invoice, Operator, Outcome, RenderedTemplate, RunCounts, RunTrigger, Settings } from '../domain.ts';
import { emptyCounts, parsePrintChoice } from '../domain.ts';
import { ConnectorError, isConnectorError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MailDelivery } from '../mail/port.ts';
import type { SecretBox } from '../secrets.ts';
import type { Installation, LedgerEntry, NewLogEntry, Run, Store } from '../store/port.ts';
import { hostConnectionFor } from './installation-host.ts';
import { composeMessage } from './message.ts';
import { renderTemplates } from './templates.ts';
import { contentHash, decide, messageIdFor } from './rules.ts';
import { flushWriteBacks } from './writeback.ts';
import { closeDeadRuns, RUN_HEARTBEAT_MS, RUN_LEASE_MS } from './run-lease.ts';

/** What draws the connector's standard prints (src/render). */
export interface PrintRenderer {
  render(invoice: Invoice, printId: string): Promise<{ pdf: Uint8Array; warnings: string[] }>;
}

/** Outgoing events (webhooks); the pipeline only announces, the webhook module delivers. */
export type PipelineEvent =
  | { type: 'run.completed'; installationId: string; run: Run }
  | { type: 'invoice.sent' | 'invoice.failed' | 'invoice.uncertain'; installationId: string; invoiceId: string; invoiceNumber: string | null; detail: string | null }
  | { type: 'delivery.auth_failed'; installationId: string; account: string; detail: string };

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
}

/** Stops the whole run: the account refused its credentials or cannot be used as configured. */
class AccountAuthFailed extends Error {}

const PAGE_SIZE = 200;

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
  const run = await store.startRun({ installationId, trigger, startedAt: startedAt.toISOString(), owner: deps.owner, leaseUntil: new Date(startedAt.getTime() + RUN_LEASE_MS).toISOString() });
  const ctx = new RunContext(deps, installation, run);
  // The heartbeat: while it beats, no other process takes this run (and its claims) for dead.
  const heartbeat = setInterval(() => {
    void store.heartbeatRun(run.id, new Date(deps.clock().getTime() + RUN_LEASE_MS).toISOString()).catch(() => undefined);
  }, RUN_HEARTBEAT_MS);
  heartbeat.unref();
  // What the interrupted runs left is counted by this run (their own log entries say it too).
  const recoveredData = recovered.runs.length ? { interruptedRuns: recovered.runs.map((r) => r.id), released: recovered.released, expired: recovered.expired } : {};
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
    await Promise.resolve(ctx.close()).catch((err: unknown) => deps.logger.warn({ err, installationId }, 'closing the host connection failed'));
  }
  if (status === 'completed') {
    // Completed means settled: nothing this process claimed for the installation is still open.
    const open = await store.listLedger(installationId, { owner: deps.owner, states: ['claimed', 'sending'], limit: 1000 }).catch(() => null);
    if (open === null || open.length > 0) {
      status = 'failed';
      error = open === null ? 'The ledger could not be read to check that every claimed invoice was settled' : `${open.length} claimed invoice(s) were not settled by the run`;
      await ctx.log('error', 'run.unsettled', error, null, { invoiceIds: (open ?? []).slice(0, 50).map((e) => e.invoiceId) }).catch(() => undefined);
    }
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
  readonly counts: RunCounts = emptyCounts();
  private processed = 0;
  private host!: HostErp; // set first thing in execute()
  private operator!: Operator;
  private account!: EmailAccount;
  private readonly settings: Settings;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly installation: Installation,
    private readonly run: Run,
  ) {
    this.settings = installation.settings;
  }

  async log(level: NewLogEntry['level'], event: string, message: string, invoice: Pick<Invoice, 'id' | 'number'> | null, data: Record<string, unknown> | null = null) {
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

  async execute(): Promise<void> {
    const { deps, installation, settings } = this;
    if (!settings.operator || !settings.emailAccount || !settings.emailTemplate) {
      throw new ConnectorError('validation', 'Settings are incomplete: operator, e-mail account and template must be chosen');
    }
    if (!settings.fromDate) throw new ConnectorError('validation', 'Settings have no "from date"', { field: 'fromDate' });
    this.host = deps.createHost(hostConnectionFor(installation, deps.secrets), installation.id);
    try {
      this.operator = await this.host.checkOperator();
    } catch (e) {
      if (isConnectorError(e, 'host_auth')) {
        await this.log('error', 'operator.auth_failed', `The operator "${settings.operator}" can no longer log in to the host; the run stopped. Update the password in the settings.`, null);
        throw new AccountAuthFailed(e.message);
      }
      throw e;
    }
    const accounts = await this.host.listEmailAccounts(this.operator);
    const account = accounts.find((a) => a.id === settings.emailAccount);
    if (!account) {
      throw new ConnectorError('host_not_found', `E-mail account ${settings.emailAccount} is not active or not available to the operator`, { field: 'emailAccount' });
    }
    this.account = account;

    await this.resolveInterrupted();
    await this.announceUncertain();
    await this.flushWriteBacks();

    const pages = this.host.listDueInvoices({
      documents: settings.documents,
      dateBasis: settings.dateBasis,
      fromDate: settings.fromDate,
      pageSize: deps.pageSize ?? PAGE_SIZE,
      // With drafts in scope, invoices we already e-mailed (and marked sent) are listed too: a draft that
      // was e-mailed and later confirmed or edited must be compared with what was sent (content hash).
      excludeHostMarkedSent: settings.documents !== 'all',
    });
    for await (const page of pages) {
      await this.processPage(page);
      await this.flushWriteBacks();
      await deps.store.updateRunProgress(this.run.id, this.processed, this.counts.due, this.counts);
    }
  }

  /** `sending` claims whose lease expired: the process died mid-delivery. Evidence decides. */
  private async resolveInterrupted(): Promise<void> {
    const { store, mail, clock } = this.deps;
    const expired = await store.listExpiredSending(this.installation.id, clock().toISOString());
    for (const entry of expired) {
      const evidence = await mail.findByMessageId(this.account, entry.messageId).catch(() => 'unknown' as const);
      const invoice = { id: entry.invoiceId, number: entry.invoiceNumber };
      const drafted = this.settings.delivery === 'save_draft';
      let outcome: Outcome;
      let writeBack = false;
      if (evidence === 'found') {
        outcome = { state: drafted ? 'drafted' : 'sent', reason: null, detail: 'Delivery confirmed after an interruption: the message was found in the mailbox', recipients: entry.recipients };
        writeBack = true;
      } else if (evidence === 'not_found' && drafted) {
        // A draft that is not in Drafts was never stored: safe to try again.
        outcome = { state: 'retry', reason: 'interrupted', detail: 'Interrupted before the draft was stored; will be retried', recipients: [] };
      } else {
        outcome = {
          state: 'uncertain',
          reason: 'interrupted',
          detail:
            evidence === 'not_found'
              ? 'Interrupted during delivery; the message is not in Sent, but the server may have accepted it. A person decides whether to re-send.'
              : 'Interrupted during delivery and the account has no IMAP to look for evidence. A person decides whether to re-send.',
          recipients: entry.recipients,
        };
      }
      const ok = await store.resolveInterrupted(this.installation.id, entry.invoiceId, entry.leaseUntil ?? '', outcome, writeBack);
      if (!ok) continue;
      this.bump(outcome.state);
      await this.log(outcome.state === 'uncertain' ? 'warning' : 'info', `invoice.${outcome.state}`, outcome.detail ?? '', invoice, { evidence, messageId: entry.messageId });
      if (outcome.state === 'uncertain') {
        this.deps.events?.({ type: 'invoice.uncertain', installationId: this.installation.id, invoiceId: entry.invoiceId, invoiceNumber: entry.invoiceNumber, detail: outcome.detail });
      } else if (outcome.state === 'sent') {
        const to = outcome.recipients.filter((r) => r.accepted).map((r) => r.address);
        this.deps.events?.({ type: 'invoice.sent', installationId: this.installation.id, invoiceId: entry.invoiceId, invoiceNumber: entry.invoiceNumber, detail: to.join(', ') });
      }
    }
  }

  /**
   * An `uncertain` outcome is recorded first and logged/announced after; a process that dies between
   * the two leaves it unannounced. Every run makes up for that, so no uncertain invoice stays unseen.
   */
  private async announceUncertain(): Promise<void> {
    const { store } = this.deps;
    const uncertain = await store.listLedger(this.installation.id, { states: ['uncertain'], limit: 1000 });
    for (const entry of uncertain) {
      if (await store.hasLog(this.installation.id, entry.invoiceId, 'invoice.uncertain')) continue;
      const detail = entry.detail ?? 'Delivery was interrupted; it may or may not have reached the recipient. A person decides whether to re-send.';
      await this.log('warning', 'invoice.uncertain', detail, { id: entry.invoiceId, number: entry.invoiceNumber }, { messageId: entry.messageId, announcedLate: true });
      this.deps.events?.({ type: 'invoice.uncertain', installationId: this.installation.id, invoiceId: entry.invoiceId, invoiceNumber: entry.invoiceNumber, detail });
    }
  }

  /** Writes owed outcomes back to the host (src/jobs/writeback.ts: each taken once, cleared by version). */
  private async flushWriteBacks(): Promise<void> {
    await flushWriteBacks(this.deps, this.installation.id, this.host, (level, event, message) => this.log(level, event, message, null));
  }

  private bump(state: Outcome['state'] | 'skipped'): void {
    const key = state as keyof RunCounts;
    if (key in this.counts) this.counts[key] += 1;
  }

  private async processPage(page: Invoice[]): Promise<void> {
    const { deps, installation, settings } = this;
    const now = deps.clock();
    const ledger = new Map((await deps.store.getLedger(installation.id, page.map((i) => i.id))).map((e) => [e.invoiceId, e]));
    const toSend: { invoice: Invoice; recipients: string[]; printId: string; entry: LedgerEntry }[] = [];
    for (const invoice of page) {
      const entry = ledger.get(invoice.id) ?? null;
      const decision = decide(invoice, settings, entry, { maxAttempts: deps.delivery.maxAttempts, now });
      if (!decision.send) {
        if (decision.reason === 'attempts_exhausted' && entry) {
          await this.failExhausted(invoice, entry, now);
          continue;
        }
        if (decision.reason === 'already_recorded' && entry?.contentHash && entry.contentHash !== contentHash(invoice)) {
          await this.logOnce(invoice, 'invoice.changed_after_sending', 'warning',
            'The invoice changed after it was e-mailed (content differs from what was sent); it is not sent again automatically.',
            { sentContentHash: entry.contentHash, currentContentHash: contentHash(invoice) });
        }
        if (decision.logOnce) {
          this.counts.due += 1;
          this.counts.skipped += 1;
          this.processed += 1;
          await this.logOnce(invoice, `invoice.skipped.${decision.reason}`, 'warning', `Skipped: ${decision.detail}`, { reason: decision.reason, invalidRecipients: decision.invalidRecipients });
        }
        continue;
      }
      this.counts.due += 1;
      const claimed = await this.claim(invoice, now, deps.delivery.maxAttempts);
      if (!claimed) {
        this.counts.due -= 1; // someone else owns it
        continue;
      }
      if (decision.invalidRecipients.length) {
        await this.logOnce(invoice, 'invoice.invalid_recipients', 'warning', `Invalid e-mail address(es) left out: ${decision.invalidRecipients.join(', ')}`);
      }
      const print = decision.print;
      const printId = print.kind === 'none' ? 'none' : `${print.kind}:${print.id}`;
      toSend.push({ invoice, recipients: decision.recipients, printId, entry: claimed });
    }
    if (toSend.length === 0) return;

    let rendered: Map<string, RenderedTemplate>;
    try {
      rendered = await renderTemplates(this.host, deps.store, installation.id, settings.emailTemplate, toSend.map((s) => s.invoice));
    } catch (e) {
      // Nothing left: give the claims back so a later run takes them.
      for (const s of toSend) await deps.store.release(installation.id, s.invoice.id, deps.owner);
      throw e;
    }

    const limit = Math.max(1, deps.delivery.maxInFlight);
    let next = 0;
    let authFailure: ConnectorError | null = null;
    // Any other error stops the run too, but only after every worker has stopped: no delivery goes on
    // behind a run that has ended (and closed its host), and no claim is left to wait out its lease.
    let fatal: { error: unknown } | null = null;
    const worker = async () => {
      while (next < toSend.length) {
        const item = toSend[next++]!;
        if (authFailure || fatal) {
          await deps.store.release(installation.id, item.invoice.id, deps.owner);
          continue;
        }
        try {
          await this.deliverOne(item.invoice, item.recipients, item.printId, rendered.get(item.invoice.id) ?? null);
        } catch (e) {
          if (isConnectorError(e, 'mail_auth') || isConnectorError(e, 'mail_config')) authFailure = e;
          else fatal ??= { error: e };
          // Only a claim that never reached `sending` is given back (release matches `claimed` only);
          // a delivery that may have started stays `sending` for the evidence check.
          await deps.store.release(installation.id, item.invoice.id, deps.owner);
          continue;
        }
        this.processed += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, toSend.length) }, worker));
    if (fatal) throw (fatal as { error: unknown }).error;
    if (authFailure && (authFailure as ConnectorError).code === 'mail_config') {
      const detail = (authFailure as ConnectorError).message;
      await this.log('error', 'delivery.account_unusable', `The e-mail account "${this.account.name}" cannot be used as configured; the run stopped (no invoice was failed or marked as sent): ${detail}`, null, { account: this.account.id });
      throw new AccountAuthFailed(detail);
    }
    if (authFailure) {
      const detail = (authFailure as ConnectorError).message;
      await this.log('error', 'delivery.auth_failed', `The e-mail account "${this.account.name}" refused its credentials; the run stopped (no invoice was marked as sent): ${detail}`, null, { account: this.account.id });
      deps.events?.({ type: 'delivery.auth_failed', installationId: installation.id, account: this.account.id, detail });
      throw new AccountAuthFailed(detail);
    }
  }

  /** Claims the invoice in the ledger for this worker (the exactly-once gate). */
  private claim(invoice: Invoice, now: Date, maxAttempts: number): Promise<LedgerEntry | null> {
    const { deps, installation } = this;
    return deps.store.claim({
      installationId: installation.id,
      invoiceId: invoice.id,
      invoiceNumber: invoice.number,
      owner: deps.owner,
      leaseUntil: new Date(now.getTime() + deps.delivery.leaseSeconds * 1000).toISOString(),
      messageId: messageIdFor(installation.id, invoice.id),
      now: now.toISOString(),
      maxAttempts,
    });
  }

  /** A `retry` entry that used every attempt (e.g. MAX_ATTEMPTS was lowered) becomes `failed`, once, with a reason. */
  private async failExhausted(invoice: Invoice, entry: LedgerEntry, now: Date): Promise<void> {
    const { deps, installation } = this;
    // This entry is past the limit on purpose: take it to close it.
    const claimed = await this.claim(invoice, now, entry.attempts + 1);
    if (!claimed) return;
    const outcome: Outcome = { state: 'failed', reason: 'attempts_exhausted', detail: `Gave up after ${entry.attempts} attempts (limit ${deps.delivery.maxAttempts}): ${entry.detail ?? ''}`.trim(), recipients: [] };
    await deps.store.recordOutcome(installation.id, invoice.id, deps.owner, outcome, { writeBack: true, nextAttemptAt: null });
    this.bump('failed');
    await this.log('error', 'invoice.failed', `Failed: ${outcome.detail}`, invoice, { reason: outcome.reason });
    deps.events?.({ type: 'invoice.failed', installationId: installation.id, invoiceId: invoice.id, invoiceNumber: invoice.number, detail: outcome.detail });
  }

  private async deliverOne(invoice: Invoice, recipients: string[], printId: string, template: RenderedTemplate | null): Promise<void> {
    const { deps, installation, settings } = this;
    const inst = installation.id;
    const owner = deps.owner;
    const fail = async (outcome: Outcome, writeBack: boolean, nextAttemptAt: string | null = null) => {
      await deps.store.recordOutcome(inst, invoice.id, owner, outcome, { writeBack, nextAttemptAt });
      this.bump(outcome.state);
      await this.log(outcome.state === 'retry' ? 'warning' : 'error', `invoice.${outcome.state}`, `${outcome.state === 'retry' ? 'Will retry' : 'Failed'}: ${outcome.detail ?? outcome.reason}`, invoice, {
        reason: outcome.reason,
        recipients: outcome.recipients,
      });
      if (outcome.state === 'failed') {
        deps.events?.({ type: 'invoice.failed', installationId: inst, invoiceId: invoice.id, invoiceNumber: invoice.number, detail: outcome.detail });
      }
    };

    if (!template) {
      await fail({ state: 'failed', reason: 'render_failed', detail: 'The host did not render the e-mail template for this invoice', recipients: [] }, true);
      return;
    }

    // Attachment.
    const choice = parsePrintChoice(printId) ?? { kind: 'none' as const };
    let attachment: Uint8Array | null = null;
    try {
      if (choice.kind === 'standard') {
        const { pdf, warnings } = await deps.prints.render(invoice, choice.id);
        attachment = pdf;
        for (const w of warnings) await this.log('warning', 'invoice.print_warning', w, invoice);
      } else if (choice.kind === 'user') {
        attachment = await this.host.getUserPrint(choice.id, invoice.id);
      }
    } catch (e) {
      if (isConnectorError(e) && e.retryable) {
        await fail({ state: 'retry', reason: 'print_unavailable', detail: `The print could not be produced now: ${e.message}`, recipients: [] }, false, this.backoff(1));
        return;
      }
      await fail({ state: 'failed', reason: isConnectorError(e, 'print_unavailable') ? 'print_unavailable' : 'render_failed', detail: describeError(e), recipients: [] }, true);
      return;
    }

    const message = composeMessage({
      installationId: inst,
      invoice,
      template,
      recipients,
      account: this.account,
      operator: this.operator,
      attachment,
    });
    const hash = contentHash(invoice);
    const leaseUntil = new Date(deps.clock().getTime() + deps.delivery.leaseSeconds * 1000).toISOString();
    if (!(await deps.store.markSending(inst, invoice.id, owner, hash, leaseUntil))) {
      deps.logger.warn({ installationId: inst, invoiceId: invoice.id }, 'lost the claim before sending; left to its new owner');
      return;
    }

    const retries = deps.inRunRetries ?? 2;
    const baseDelay = deps.retryDelayMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await deps.mail.deliver(this.account, message, settings.delivery);
        const state = settings.delivery === 'save_draft' ? 'drafted' : 'sent';
        const refused = result.recipients.filter((r) => !r.accepted);
        await deps.store.recordOutcome(inst, invoice.id, owner, { state, reason: null, detail: result.response, recipients: result.recipients }, { writeBack: true, nextAttemptAt: null });
        this.bump(state);
        const to = result.recipients.filter((r) => r.accepted).map((r) => r.address);
        await this.log(
          refused.length ? 'warning' : 'info',
          `invoice.${state}`,
          state === 'sent'
            ? `Sent to ${to.join(', ')}${refused.length ? `; refused: ${refused.map((r) => `${r.address} (${r.reply ?? 'refused'})`).join(', ')}` : ''}`
            : `Saved in Drafts for ${to.join(', ')}`,
          invoice,
          { messageId: message.messageId, recipients: result.recipients, attachment: attachment ? message.attachments[0]?.filename : null },
        );
        if (state === 'sent') deps.events?.({ type: 'invoice.sent', installationId: inst, invoiceId: invoice.id, invoiceNumber: invoice.number, detail: to.join(', ') });
        return;
      } catch (e) {
        if (!isConnectorError(e)) throw e;
        if (e.code === 'mail_auth' || e.code === 'mail_config') {
          // Nothing left (the server refused the login before any message), and the invoice is not
          // at fault: `skipped` is claimable again at the next run whatever the attempts count, so a
          // password that stays wrong for several runs cannot use up the invoice's attempts.
          // The same holds for an account that cannot be used as configured (TLS mode, certificate, no IMAP
          // for drafts): the account is at fault, so the run stops and the invoices wait for the fix.
          const reason = e.code === 'mail_auth' ? 'smtp_auth' : 'account_unusable';
          await deps.store.recordOutcome(inst, invoice.id, owner, { state: 'skipped', reason, detail: e.message, recipients: [] }, { writeBack: false, nextAttemptAt: null });
          throw e;
        }
        if (e.code === 'mail_temporary' && e.detail?.['unknownOutcome']) {
          // The server may have accepted it: never guess. Evidence or a person decides.
          const evidence = await deps.mail.findByMessageId(this.account, message.messageId).catch(() => 'unknown' as const);
          if (evidence === 'found') {
            const state = settings.delivery === 'save_draft' ? 'drafted' : 'sent';
            await deps.store.recordOutcome(inst, invoice.id, owner, { state, reason: null, detail: 'Accepted (confirmed in the mailbox after a lost reply)', recipients: recipients.map((a) => ({ address: a, accepted: true, reply: null })) }, { writeBack: true, nextAttemptAt: null });
            this.bump(state);
            await this.log('info', `invoice.${state}`, `Sent to ${recipients.join(', ')} (confirmed in the mailbox)`, invoice, { messageId: message.messageId });
            if (state === 'sent') deps.events?.({ type: 'invoice.sent', installationId: inst, invoiceId: invoice.id, invoiceNumber: invoice.number, detail: recipients.join(', ') });
            return;
          }
          await deps.store.recordOutcome(inst, invoice.id, owner, { state: 'uncertain', reason: 'interrupted', detail: `The connection dropped after the message was handed over; it may have been delivered: ${e.message}`, recipients: [] }, { writeBack: false, nextAttemptAt: null });
          this.bump('uncertain');
          await this.log('warning', 'invoice.uncertain', `Delivery uncertain: the connection dropped after the message was handed over. A person decides whether to re-send.`, invoice, { messageId: message.messageId });
          deps.events?.({ type: 'invoice.uncertain', installationId: inst, invoiceId: invoice.id, invoiceNumber: invoice.number, detail: e.message });
          return;
        }
        if (e.code === 'mail_temporary' || (e.retryable && e.code !== 'mail_permanent')) {
          if (attempt < retries) {
            await sleep(baseDelay * 2 ** attempt);
            continue;
          }
          const attempts = await this.attemptsOf(invoice.id);
          if (attempts >= deps.delivery.maxAttempts) {
            await fail({ state: 'failed', reason: 'attempts_exhausted', detail: `Gave up after ${attempts} attempts: ${e.message}`, recipients: [] }, true);
          } else {
            await fail({ state: 'retry', reason: 'smtp_temporary', detail: e.message, recipients: [] }, false, this.backoff(attempts));
          }
          return;
        }
        if (e.code === 'mail_permanent') {
          await fail({ state: 'failed', reason: 'smtp_permanent', detail: e.message, recipients: (e.detail?.['recipients'] as Outcome['recipients']) ?? [] }, true);
          return;
        }
        throw e;
      }
    }
  }

  private async attemptsOf(invoiceId: string): Promise<number> {
    const [entry] = await this.deps.store.getLedger(this.installation.id, [invoiceId]);
    return entry?.attempts ?? 1;
  }

  /** Next attempt after `attempts` temporary failures: 5 min, 15 min, 45 min, ... capped at 6 h. */
  private backoff(attempts: number): string {
    const minutes = Math.min(360, 5 * 3 ** Math.max(0, attempts - 1));
    return new Date(this.deps.clock().getTime() + minutes * 60_000).toISOString();
  }

  private async logOnce(invoice: Invoice, event: string, level: NewLogEntry['level'], message: string, data: Record<string, unknown> | null = null) {
    if (await this.deps.store.hasLog(this.installation.id, invoice.id, event)) return;
    await this.log(level, event, message, invoice, data);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * What earlier deliveries left open, made good at the start of every run (and of a page job worked again):
 *
 * - **Interrupted deliveries**: `sending` claims whose lease expired (the process died mid-delivery). The
 *   rules decide from what is known (was the message handed over?) and, when that is not enough, from the
 *   mailbox's evidence (the Message-ID in Sent or Drafts); `settle` records the verdict once.
 * - **Uncertain outcomes never announced**: an `uncertain` outcome is announced after it was recorded, so a
 *   process that dies between the two leaves it unannounced (and an interrupted delivery resolved as
 *   uncertain is logged apart from its record). Every run announces those, so no uncertain invoice stays
 *   unseen. They are read by cursor, `UNCERTAIN_PAGE` at a time, with one query for which of a page were
 *   announced already and one statement for the page's new log entries: the cost is per page of uncertain
 *   invoices, not per invoice, and there is no cap on how many are looked at.
 */
import type { EmailAccount, RunCounts } from '../../domain.ts';
import type { Evidence, MailDelivery } from '../../mail/port.ts';
import type { Ledger, NewLogEntry, RunLog } from '../../store/port.ts';
import { loggedKey } from '../../store/port.ts';
import { classify, type ClassifyContext, type Fault } from '../rules/classify.ts';
import type { PipelineEvent } from './events.ts';
import { settle, type SettleDeps } from './settle.ts';

/** Uncertain ledger entries read (and checked for their announcement) at a time. */
export const UNCERTAIN_PAGE = 500;

const UNCERTAIN_EVENT = 'invoice.uncertain';

/** What a run's start needs to make good what earlier deliveries left open. */
export interface EarlierDeliveriesContext {
  installationId: string;
  runId: string;
  store: Pick<Ledger, 'listExpiredSending' | 'listLedger'> & Pick<RunLog, 'loggedEvents' | 'appendLogs'>;
  mail: Pick<MailDelivery, 'findByMessageId'>;
  account: EmailAccount;
  clock: () => Date;
  /** The run's tallies (an interrupted delivery's outcome counts in the run that resolved it). */
  counts: RunCounts;
  settleDeps: SettleDeps;
  classifyContext(attempts: number, recipients: string[]): ClassifyContext;
  events?: ((event: PipelineEvent) => void) | undefined;
  /** Default `UNCERTAIN_PAGE`. */
  uncertainPage?: number;
}

/** `sending` claims whose lease expired: the process died mid-delivery. Evidence decides. */
export async function resolveInterruptedDeliveries(ctx: EarlierDeliveriesContext): Promise<void> {
  const expired = await ctx.store.listExpiredSending(ctx.installationId, ctx.clock().toISOString());
  for (const entry of expired) {
    const fault: Fault = { kind: 'interrupted', recipients: entry.recipients, handedOver: entry.handedOver ?? true };
    const rules = ctx.classifyContext(
      entry.attempts,
      entry.recipients.map((r) => r.address),
    );
    let verdict = classify(fault, null, rules);
    let evidence: Evidence | null = null;
    if (verdict.needsEvidence) {
      evidence = await ctx.mail.findByMessageId(ctx.account, entry.messageId).catch(() => 'unknown' as const);
      verdict = classify(fault, evidence, rules);
    }
    await settle(
      ctx.settleDeps,
      {
        installationId: ctx.installationId,
        runId: ctx.runId,
        invoice: { id: entry.invoiceId, number: entry.invoiceNumber },
        via: { kind: 'interrupted', expectedLeaseUntil: entry.leaseUntil ?? '' },
        counts: ctx.counts,
        data: { evidence, messageId: entry.messageId },
      },
      verdict,
    );
  }
}

/** Announces (log entry, then event) every uncertain outcome that was never announced; returns how many. */
export async function announceUncertainOutcomes(ctx: EarlierDeliveriesContext): Promise<number> {
  const { store, installationId } = ctx;
  const limit = ctx.uncertainPage ?? UNCERTAIN_PAGE;
  let announced = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listLedger(installationId, { states: ['uncertain'], limit, ...(after === undefined ? {} : { after }) });
    if (page.length === 0) break;
    after = page[page.length - 1]!.invoiceId;
    const logged = await store.loggedEvents(
      installationId,
      page.map((e) => e.invoiceId),
      [UNCERTAIN_EVENT],
    );
    const unannounced = page.filter((e) => !logged.has(loggedKey(e.invoiceId, UNCERTAIN_EVENT)));
    if (unannounced.length > 0) {
      const at = ctx.clock().toISOString();
      const entries = unannounced.map((e): NewLogEntry => ({
        installationId,
        runId: ctx.runId,
        at,
        level: 'warning',
        event: UNCERTAIN_EVENT,
        invoiceId: e.invoiceId,
        invoiceNumber: e.invoiceNumber,
        message: detailOf(e.detail),
        data: { messageId: e.messageId, announcedLate: true },
      }));
      await store.appendLogs(entries);
      for (const e of unannounced) {
        ctx.events?.({ type: UNCERTAIN_EVENT, installationId, invoiceId: e.invoiceId, invoiceNumber: e.invoiceNumber, detail: detailOf(e.detail) });
      }
      announced += unannounced.length;
    }
    if (page.length < limit) break;
  }
  return announced;
}

function detailOf(detail: string | null | undefined): string {
  return detail ?? 'Delivery was interrupted; it may or may not have reached the recipient. A person decides whether to re-send.';
}

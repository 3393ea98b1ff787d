/**
 * The one settle step of every invoice a run handled: record the outcome in the ledger, check that the
 * claim was still ours, then count, log and announce — in that order, and only the last three when the
 * record stands.
 *
 * Recording is never a reason to deliver again. It happens after the delivery, outside the delivery's
 * `try`, and a store that fails (down, stalled, `store_unavailable`) is retried with backoff for as long
 * as the claim's lease lasts. If the outcome still cannot be recorded, the entry stays as it is (`sending`
 * once a message was handed over) and the next run's evidence check resolves it — it is never claimed
 * and sent again, because the ledger never lets a `sending` entry be claimed.
 */
import type { Outcome, RunCounts } from '../../domain.ts';
import { isConnectorError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Ledger, NewLogEntry, RunLog } from '../../store/port.ts';
import type { Classified } from '../rules/classify.ts';
import type { PipelineEvent } from './events.ts';

export type { PipelineEvent } from './events.ts';

export interface SettleDeps {
  store: Pick<Ledger, 'recordOutcome' | 'resolveInterrupted'> & Pick<RunLog, 'appendLogs'>;
  clock: () => Date;
  logger: Logger;
  events?: ((event: PipelineEvent) => void) | undefined;
  /** First pause between attempts to record (ms), doubled up to `maxRecordPauseMs`. Default 250. */
  recordPauseMs?: number | undefined;
  /** Default 5000. */
  maxRecordPauseMs?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

export interface SettleTarget {
  installationId: string;
  runId: string | null;
  invoice: { id: string; number: string | null };
  /**
   * Whose entry this is: a live claim (recorded with `recordOutcome` for `owner`, retried until
   * `leaseUntil`), or an interrupted delivery of a dead process (`resolveInterrupted`, once).
   */
  via: { kind: 'claim'; owner: string; leaseUntil: string } | { kind: 'interrupted'; expectedLeaseUntil: string };
  /** The run's tallies; bumped once the outcome is recorded. */
  counts: RunCounts;
  /** Extra data for the log entry (Message-ID, attachment, evidence). */
  data?: Record<string, unknown>;
}

/** `settled`: recorded, counted, logged, announced. `lost`: the claim was no longer ours (nothing counted). `unrecorded`: the store did not take it within the lease. */
export type Settled = 'settled' | 'lost' | 'unrecorded';

const sleepFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The log line of an outcome: level, event and the sentence a person reads. */
export function logLineFor(outcome: Outcome, byEvidence = false): { level: NewLogEntry['level']; event: string; message: string } {
  const event = `invoice.${outcome.state}`;
  switch (outcome.state) {
    case 'sent': {
      const to = outcome.recipients.filter((r) => r.accepted).map((r) => r.address);
      const refused = outcome.recipients.filter((r) => !r.accepted);
      const confirmed = byEvidence ? ' (confirmed in the mailbox)' : '';
      return {
        level: refused.length ? 'warning' : 'info',
        event,
        message: `Sent to ${to.join(', ')}${confirmed}${refused.length ? `; refused: ${refused.map((r) => `${r.address} (${r.reply ?? 'refused'})`).join(', ')}` : ''}`,
      };
    }
    case 'drafted':
      return {
        level: 'info',
        event,
        message: `Saved in Drafts for ${outcome.recipients
          .filter((r) => r.accepted)
          .map((r) => r.address)
          .join(', ')}`,
      };
    case 'retry':
      return { level: 'warning', event, message: `Will retry: ${outcome.detail ?? outcome.reason ?? ''}` };
    case 'failed':
      return { level: 'error', event, message: `Failed: ${outcome.detail ?? outcome.reason ?? ''}` };
    case 'uncertain':
      return { level: 'warning', event, message: `Delivery uncertain: ${outcome.detail ?? 'interrupted'}` };
    case 'skipped':
      return { level: 'warning', event, message: `Skipped: ${outcome.detail ?? outcome.reason ?? ''}` };
  }
}

/** Records the outcome (retrying a failing store within the lease), then counts, logs and announces it. */
export async function settle(deps: SettleDeps, target: SettleTarget, verdict: Classified): Promise<Settled> {
  const { outcome } = verdict;
  const line = verdict.silent ? null : logLineFor(outcome, verdict.byEvidence);
  const entry: NewLogEntry | null = line && {
    installationId: target.installationId,
    runId: target.runId,
    at: deps.clock().toISOString(),
    level: line.level,
    event: line.event,
    invoiceId: target.invoice.id,
    invoiceNumber: target.invoice.number,
    message: line.message,
    data: { reason: outcome.reason, recipients: outcome.recipients, ...target.data },
  };
  // A claim's outcome carries its log entry into the store (one statement, written only if recorded).
  const withOutcome = target.via.kind === 'claim' ? entry : null;
  const recorded = await record(deps, target, verdict, withOutcome);
  if (recorded !== 'settled') {
    if (recorded === 'lost') {
      deps.logger.warn(
        { installationId: target.installationId, invoiceId: target.invoice.id, state: outcome.state },
        'the claim was no longer ours when its outcome was recorded; left to its new owner',
      );
    }
    return recorded;
  }
  if (!entry) return 'settled';
  const key = outcome.state as keyof RunCounts;
  if (key in target.counts) target.counts[key] += 1;
  try {
    if (!withOutcome) await deps.store.appendLogs([entry]);
  } catch (err) {
    // The outcome stands; an `uncertain` one is announced again by the next run (it looks for its log).
    deps.logger.warn(
      { err, installationId: target.installationId, invoiceId: target.invoice.id },
      'the outcome was recorded but its log entry was not written',
    );
  }
  const announce = { installationId: target.installationId, invoiceId: target.invoice.id, invoiceNumber: target.invoice.number };
  if (outcome.state === 'sent') {
    deps.events?.({
      type: 'invoice.sent',
      ...announce,
      detail: outcome.recipients
        .filter((r) => r.accepted)
        .map((r) => r.address)
        .join(', '),
    });
  } else if (outcome.state === 'failed') {
    deps.events?.({ type: 'invoice.failed', ...announce, detail: outcome.detail });
  } else if (outcome.state === 'uncertain') {
    deps.events?.({ type: 'invoice.uncertain', ...announce, detail: outcome.detail });
  }
  return 'settled';
}

async function record(deps: SettleDeps, target: SettleTarget, verdict: Classified, log: NewLogEntry | null): Promise<Settled> {
  const { store } = deps;
  const { via, installationId, invoice } = target;
  if (via.kind === 'interrupted') {
    // Another run may resolve the same entry at the same time: only one of them gets `true`.
    try {
      return (await store.resolveInterrupted(installationId, invoice.id, via.expectedLeaseUntil, verdict.outcome, verdict.writeBack)) ? 'settled' : 'lost';
    } catch (err) {
      deps.logger.warn({ err, installationId, invoiceId: invoice.id }, 'an interrupted delivery could not be resolved now; the next run tries again');
      return 'unrecorded';
    }
  }
  const sleep = deps.sleep ?? sleepFor;
  const deadline = Date.parse(via.leaseUntil);
  let pause = deps.recordPauseMs ?? 250;
  const maxPause = deps.maxRecordPauseMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      const ours = await store.recordOutcome(installationId, invoice.id, via.owner, verdict.outcome, {
        writeBack: verdict.writeBack,
        nextAttemptAt: verdict.nextAttemptAt,
        ...(log ? { log } : {}),
      });
      return ours ? 'settled' : 'lost';
    } catch (err) {
      const retryable = !isConnectorError(err) || err.retryable;
      const now = deps.clock().getTime();
      if (!retryable || now + pause >= deadline) {
        deps.logger.error(
          { err, installationId, invoiceId: invoice.id, state: verdict.outcome.state, attempts: attempt },
          'the outcome could not be recorded within the lease; the entry stays as it is and the next run resolves it by evidence',
        );
        return 'unrecorded';
      }
      deps.logger.warn({ err, installationId, invoiceId: invoice.id, attempt }, 'recording the outcome failed; trying again');
      await sleep(pause);
      pause = Math.min(maxPause, pause * 2);
    }
  }
}

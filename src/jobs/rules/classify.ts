/**
 * The one table of what happened to an invoice: every fault of a delivery attempt (template, print,
 * host read, mail, an interrupted delivery found after a crash, attempts used up) and every evidence
 * answer maps to exactly one outcome. Pure: no I/O, no clock of its own (`now` comes in).
 *
 * The rule that keeps "exactly once": a mail fault is a re-delivery candidate (`retry`, `retryNow`)
 * only when the SMTP phase proves the message cannot have been accepted — it failed before the final
 * "." of DATA was handed to the server. A fault after that (`awaiting_reply`), or one whose phase is not
 * known, asks for evidence first and, without proof, leaves the invoice `uncertain` for a person.
 * Faults of our own store are not mail faults and never reach this table: see settle.ts.
 */
import type { DeliveryMode, InvoiceReadError, Outcome, RecipientResult } from '../../domain.ts';
import { isConnectorError } from '../../errors.ts';
import type { DeliveryResult, Evidence } from '../../mail/port.ts';
import { deliveryPhaseOf } from '../../mail/port.ts';

export type Fault =
  /** The server accepted the message (or IMAP stored the draft). */
  | { kind: 'delivered'; result: DeliveryResult }
  /** The template step gave nothing for this invoice. */
  | { kind: 'no_template' }
  /** The print (attachment) could not be produced. */
  | { kind: 'print'; error: unknown }
  /** A host read this invoice needs failed (`invoice.readError`). */
  | { kind: 'read'; error: InvoiceReadError }
  /** `MailDelivery.deliver` threw. */
  | { kind: 'mail'; error: unknown }
  /**
   * A `sending` entry whose lease expired: its process died during the delivery. `handedOver` false: it
   * died before the message was handed over (the ledger says so), so nothing can have been accepted.
   */
  | { kind: 'interrupted'; recipients: RecipientResult[]; handedOver: boolean }
  /** A `retry` entry that already used every attempt. */
  | { kind: 'exhausted'; attempts: number; lastDetail: string | null };

export interface ClassifyContext {
  mode: DeliveryMode;
  /** Attempts recorded in the ledger for this invoice, this one included. */
  attempts: number;
  maxAttempts: number;
  now: Date;
  /** Addresses the message was addressed to (evidence of acceptance applies to all of them). */
  recipients: string[];
}

export interface Classified {
  outcome: Outcome;
  /** The host is told (note, sent flag) once recorded. */
  writeBack: boolean;
  /** Earliest next attempt of a `retry`. */
  nextAttemptAt: string | null;
  /** Nothing left: the same delivery may be tried again at once within the run. */
  retryNow: boolean;
  /** The e-mail account is at fault: the run stops after this invoice, which waits (`skipped`) for the fix. */
  stopRun: 'mail_auth' | 'mail_config' | null;
  /** The message may have been accepted: look for it by Message-ID and classify again with the answer. */
  needsEvidence: boolean;
  /** Recorded only: neither counted nor logged per invoice (the run logs the account problem once). */
  silent: boolean;
  /** The outcome rests on the mailbox search (the message was found by its Message-ID). */
  byEvidence: boolean;
}

/** Next attempt after `attempts` temporary failures: 5 min, 15 min, 45 min, ... capped at 6 h. */
export function backoffAt(now: Date, attempts: number): string {
  const minutes = Math.min(360, 5 * 3 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + minutes * 60_000).toISOString();
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const base = { writeBack: false, nextAttemptAt: null, retryNow: false, stopRun: null, needsEvidence: false, silent: false, byEvidence: false } as const;

function done(state: 'sent' | 'drafted', detail: string, recipients: RecipientResult[]): Classified {
  return { ...base, outcome: { state, reason: null, detail, recipients }, writeBack: true };
}

function failed(reason: Outcome['reason'], detail: string, recipients: RecipientResult[] = []): Classified {
  return { ...base, outcome: { state: 'failed', reason, detail, recipients }, writeBack: true };
}

function uncertain(detail: string, recipients: RecipientResult[] = []): Classified {
  return { ...base, outcome: { state: 'uncertain', reason: 'interrupted', detail, recipients } };
}

/** A temporary fault before anything left: retried (now within the run, later by backoff), until attempts run out. */
function temporary(
  ctx: ClassifyContext,
  reason: NonNullable<Outcome['reason']>,
  detail: string,
  opts: { countsAttempts: boolean; retryNow: boolean },
): Classified {
  if (opts.countsAttempts && ctx.attempts >= ctx.maxAttempts) {
    return { ...failed('attempts_exhausted', `Gave up after ${ctx.attempts} attempts: ${detail}`), retryNow: opts.retryNow };
  }
  return {
    ...base,
    outcome: { state: 'retry', reason, detail, recipients: [] },
    nextAttemptAt: backoffAt(ctx.now, Math.max(1, ctx.attempts)),
    retryNow: opts.retryNow,
  };
}

function accepted(ctx: ClassifyContext): RecipientResult[] {
  return ctx.recipients.map((address) => ({ address, accepted: true, reply: null }));
}

/** What the evidence search says about a message that may have been accepted. */
function byEvidence(ctx: ClassifyContext, evidence: Evidence, how: 'lost_reply' | 'interrupted', recipients: RecipientResult[]): Classified {
  const state = ctx.mode === 'save_draft' ? 'drafted' : 'sent';
  if (evidence === 'found') {
    return {
      ...done(
        state,
        how === 'lost_reply'
          ? 'Accepted (confirmed in the mailbox after a lost reply)'
          : 'Delivery confirmed after an interruption: the message was found in the mailbox',
        recipients.length ? recipients : accepted(ctx),
      ),
      byEvidence: true,
    };
  }
  if (evidence === 'not_found' && ctx.mode === 'save_draft') {
    // A draft that is not in Drafts was never stored: safe to try again.
    return {
      ...base,
      outcome: { state: 'retry', reason: 'interrupted', detail: 'Interrupted before the draft was stored; will be retried', recipients: [] },
      nextAttemptAt: null,
    };
  }
  if (how === 'lost_reply') {
    return uncertain(
      evidence === 'not_found'
        ? 'The connection dropped after the message was handed over, before the server replied; it is not in Sent, but the server may have accepted it. A person decides whether to re-send.'
        : 'The connection dropped after the message was handed over, before the server replied; it may have been delivered. A person decides whether to re-send.',
    );
  }
  return uncertain(
    evidence === 'not_found'
      ? 'Interrupted during delivery; the message is not in Sent, but the server may have accepted it. A person decides whether to re-send.'
      : 'Interrupted during delivery and the account has no IMAP to look for evidence. A person decides whether to re-send.',
    recipients,
  );
}

/**
 * The outcome of one fault. `evidence` is null until it was looked for; a result with
 * `needsEvidence` asks the caller to search the mailbox and call again with the answer.
 */
export function classify(fault: Fault, evidence: Evidence | null, ctx: ClassifyContext): Classified {
  switch (fault.kind) {
    case 'delivered': {
      const state = ctx.mode === 'save_draft' ? 'drafted' : 'sent';
      return done(state, fault.result.response, fault.result.recipients);
    }
    case 'no_template':
      return failed('render_failed', 'The host did not render the e-mail template for this invoice');
    case 'print': {
      const e = fault.error;
      if (isConnectorError(e) && e.retryable) {
        // The host cannot produce the print right now: not the invoice's fault, nothing left.
        return temporary(ctx, 'print_unavailable', `The print could not be produced now: ${e.message}`, { countsAttempts: false, retryNow: false });
      }
      return failed(isConnectorError(e, 'print_unavailable') ? 'print_unavailable' : 'render_failed', message(e));
    }
    case 'read': {
      const detail = `The host could not give ${fault.error.what} for this invoice: ${fault.error.detail}`;
      if (fault.error.retryable) return temporary(ctx, 'host_read_failed', detail, { countsAttempts: false, retryNow: false });
      return failed('host_read_failed', detail);
    }
    case 'exhausted':
      return failed('attempts_exhausted', `Gave up after ${fault.attempts} attempts (limit ${ctx.maxAttempts}): ${fault.lastDetail ?? ''}`.trim());
    case 'interrupted':
      if (!fault.handedOver) {
        return temporary(ctx, 'interrupted', 'Interrupted before the message was handed to the server; it is retried automatically', {
          countsAttempts: true,
          retryNow: false,
        });
      }
      if (evidence === null) return { ...uncertain('Interrupted during delivery'), needsEvidence: true };
      return byEvidence(ctx, evidence, 'interrupted', fault.recipients);
    case 'mail':
      return classifyMail(fault.error, evidence, ctx);
  }
}

function classifyMail(e: unknown, evidence: Evidence | null, ctx: ClassifyContext): Classified {
  // Not our error: we cannot place it in the SMTP transaction, so it may have delivered the message.
  // A fault after the final "." of DATA (awaiting_reply) may have too. Both ask the mailbox first.
  const phase = deliveryPhaseOf(e);
  const handedOver = !isConnectorError(e) || phase === 'awaiting_reply' || phase === 'unknown' || e.detail?.['unknownOutcome'] === true;
  if (handedOver) {
    if (evidence === null) return { ...uncertain(`Delivery may have happened: ${message(e)}`), needsEvidence: true };
    return byEvidence(ctx, evidence, 'lost_reply', []);
  }
  if (e.code === 'mail_auth' || e.code === 'mail_config') {
    // Nothing left (the server refused the login, or the account cannot be used as configured) and the
    // invoice is not at fault: `skipped` is claimable again whatever the attempts count.
    return {
      ...base,
      outcome: { state: 'skipped', reason: e.code === 'mail_auth' ? 'smtp_auth' : 'account_unusable', detail: e.message, recipients: [] },
      stopRun: e.code,
      silent: true,
    };
  }
  if (e.code === 'mail_permanent') {
    return failed('smtp_permanent', e.message, (e.detail?.['recipients'] as RecipientResult[] | undefined) ?? []);
  }
  if (e.code === 'mail_temporary' || e.retryable) {
    // Refused with a 4xx reply, or the connection was lost before the hand-over: nothing was accepted.
    // Stopped by us before the hand-over (the claim could not be confirmed): not again in this run.
    return temporary(ctx, 'smtp_temporary', e.message, { countsAttempts: true, retryNow: e.detail?.['handover'] !== 'refused' });
  }
  return failed(e.code === 'render_failed' ? 'render_failed' : 'smtp_permanent', e.message);
}

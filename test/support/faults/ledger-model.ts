/**
 * A reference model of the ledger's state machine, written against the store port as it is at af8a8be
 * (src/store/port.ts), for the property test in test/faults/ledger-property.test.ts.
 *
 * LEDGER_MODEL_TRANSITIONS is the one place that says which state changes each store operation may
 * make. When src/store declares its own transition table (a `LEDGER_TRANSITIONS`-style export), swap
 * this constant for it (or assert the two equal) — nothing else in the model or the test lists
 * transitions.
 */
import type { LedgerState, Outcome } from '../../../src/domain.ts';

export type LedgerOp = 'claim' | 'markSending' | 'recordOutcome' | 'release' | 'resolveInterrupted' | 'allowResend';
/** `none`: no ledger entry yet. */
export type ModelState = LedgerState | 'none';
export type OutcomeState = Outcome['state'];

export const OUTCOME_STATES: readonly OutcomeState[] = ['sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'];

/** Allowed (from -> to) per operation; a call that changes nothing is not a transition. */
export const LEDGER_MODEL_TRANSITIONS: Readonly<Record<LedgerOp, readonly (readonly [ModelState, ModelState])[]>> = {
  // A fresh claim, a skipped one, a due retry, or a claim whose lease expired (its owner is gone).
  claim: [
    ['none', 'claimed'],
    ['skipped', 'claimed'],
    ['retry', 'claimed'],
    ['claimed', 'claimed'],
  ],
  markSending: [['claimed', 'sending']],
  // The owner settles its claim (before or after handing the message over).
  recordOutcome: (['claimed', 'sending'] as const).flatMap((from) => OUTCOME_STATES.map((to) => [from, to] as const)),
  // A claim that did nothing goes back (to what it was before, or `skipped`).
  release: [
    ['claimed', 'skipped'],
    ['claimed', 'retry'],
  ],
  // Evidence settles a delivery whose owner died mid-send.
  resolveInterrupted: OUTCOME_STATES.map((to) => ['sending', to] as const),
  // A person re-sends an uncertain or failed invoice.
  allowResend: [
    ['uncertain', 'retry'],
    ['failed', 'retry'],
  ],
};

export function transitionAllowed(op: LedgerOp, from: ModelState, to: ModelState): boolean {
  return LEDGER_MODEL_TRANSITIONS[op].some(([f, t]) => f === from && t === to);
}

/** What the model knows of one invoice's entry. */
export interface ModelEntry {
  state: ModelState;
  prevState: ModelState | null;
  owner: string | null;
  /** ms since epoch */
  leaseUntil: number | null;
  attempts: number;
  nextAttemptAt: number | null;
}

export const EMPTY: ModelEntry = { state: 'none', prevState: null, owner: null, leaseUntil: null, attempts: 0, nextAttemptAt: null };

/** The claim rule (port.ts `claim`): which entries a claimer may take at `now`. */
export function claimable(e: ModelEntry, now: number, maxAttempts: number): boolean {
  switch (e.state) {
    case 'none':
    case 'skipped':
      return true;
    case 'retry':
      return e.attempts < maxAttempts && (e.nextAttemptAt === null || e.nextAttemptAt <= now);
    case 'claimed':
      return e.leaseUntil === null || e.leaseUntil < now;
    default:
      return false; // sending, sent, drafted, failed, uncertain: never
  }
}

/** The model's next entry for each operation, or null when the store must refuse / change nothing. */
export const step = {
  claim(e: ModelEntry, owner: string, now: number, leaseUntil: number, maxAttempts: number): ModelEntry | null {
    if (!claimable(e, now, maxAttempts)) return null;
    return { ...e, state: 'claimed', prevState: e.state === 'none' ? null : e.state, owner, leaseUntil };
  },
  markSending(e: ModelEntry, owner: string, leaseUntil: number): ModelEntry | null {
    if (e.state !== 'claimed' || e.owner !== owner) return null;
    return { ...e, state: 'sending', attempts: e.attempts + 1, leaseUntil };
  },
  recordOutcome(e: ModelEntry, owner: string, state: OutcomeState, nextAttemptAt: number | null): ModelEntry | null {
    if ((e.state !== 'claimed' && e.state !== 'sending') || e.owner !== owner) return null;
    return { ...e, state, prevState: null, owner: null, leaseUntil: null, nextAttemptAt };
  },
  release(e: ModelEntry, owner: string): ModelEntry | null {
    if (e.state !== 'claimed' || e.owner !== owner) return null;
    const back: ModelState = e.prevState === 'skipped' || e.prevState === 'retry' ? e.prevState : 'skipped';
    return { ...e, state: back, prevState: null, owner: null, leaseUntil: null };
  },
  resolveInterrupted(e: ModelEntry, expectedLeaseUntil: number, state: OutcomeState): ModelEntry | null {
    if (e.state !== 'sending' || e.leaseUntil !== expectedLeaseUntil) return null;
    return { ...e, state, prevState: null, owner: null, leaseUntil: null, nextAttemptAt: null };
  },
  allowResend(e: ModelEntry): ModelEntry | null {
    if (e.state !== 'uncertain' && e.state !== 'failed') return null;
    return { ...e, state: 'retry', prevState: null, attempts: 0, nextAttemptAt: null, owner: null, leaseUntil: null };
  },
};

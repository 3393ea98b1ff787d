/**
 * A reference model of the ledger's state machine, for the property test in
 * test/faults/ledger-property.test.ts.
 *
 * Which state changes each store operation may make is the store's own transition table,
 * `LEDGER_TRANSITIONS` (src/store/ledger-states.ts), declared once; the property test checks every change
 * the real adapter makes against it. `step` below is the model's independent account of what each
 * operation does (the expected next entry), which the adapter must agree with after every step.
 */
import type { LedgerState, Outcome } from '../../../src/domain.ts';
import { LEDGER_TRANSITIONS, OUTCOME_STATES as TABLE_OUTCOME_STATES } from '../../../src/store/ledger-states.ts';

export type LedgerOp = 'claim' | 'markSending' | 'recordOutcome' | 'release' | 'resolveInterrupted' | 'allowResend';
/** `none`: no ledger entry yet. */
export type ModelState = LedgerState | 'none';
export type OutcomeState = Outcome['state'];

export const OUTCOME_STATES: readonly OutcomeState[] = TABLE_OUTCOME_STATES;

/** Allowed (from -> to) per operation, from the store's table; a call that changes nothing is not a transition. */
export const LEDGER_MODEL_TRANSITIONS: Readonly<Record<LedgerOp, readonly (readonly [ModelState, ModelState])[]>> = Object.fromEntries(
  (['claim', 'markSending', 'recordOutcome', 'release', 'resolveInterrupted', 'allowResend'] as const).map((op) => [
    op,
    (Object.keys(LEDGER_TRANSITIONS[op].from) as ModelState[]).flatMap((from) => LEDGER_TRANSITIONS[op].to.map((to) => [from, to] as const)),
  ]),
) as unknown as Record<LedgerOp, readonly (readonly [ModelState, ModelState])[]>;

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

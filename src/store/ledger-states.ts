/**
 * The ledger's state machine, declared once: which state each store operation may move an entry from,
 * to which states, under which condition. Both store adapters (PostgreSQL, MongoDB) build their
 * conditional writes from this table (`claimConditions`, `fromStates`), and the property test drives
 * the real adapter against it. Pure data, no I/O.
 *
 * `none` stands for "no ledger entry yet" (only `claim` creates entries).
 *
 * Guards (all evaluated atomically by the adapter, against the committed row):
 * - `always`         the state alone allows it;
 * - `due`            `retry` with attempts < maxAttempts and nextAttemptAt unset or <= now;
 * - `lease_expired`  leaseUntil unset or < now (the owner stopped renewing: dead or stalled);
 * - `owner`          the caller owns the entry (owner = caller);
 * - `dead_owner`     the entry's owner is one the caller proved dead (its run was closed interrupted);
 * - `expected_lease` leaseUntil equals the value the caller read (nobody moved it meanwhile);
 * - `bounced`        a recipient of the entry carries a bounce (a delivery report came back for it).
 */
import type { LedgerState } from '../domain.ts';

export type LedgerOperation =
  /** Take an invoice for one owner (the exactly-once gate). */
  | 'claim'
  /** claimed -> sending: the message is about to be handed to the server (counts the attempt). */
  | 'markSending'
  /** The owner records what happened. */
  | 'recordOutcome'
  /** The owner gives back a claim that did nothing: the state before the claim (or `skipped`). */
  | 'release'
  /** A dead owner's `claimed` entries are given back like `release` (nothing of them left). */
  | 'releaseDead'
  /** A dead owner's `sending` entries: their lease ends now, so evidence resolves them at once. */
  | 'expireDead'
  /** An interrupted delivery (`sending`, lease expired) resolved by evidence. */
  | 'resolveInterrupted'
  /** A person allows an `uncertain` or `failed` invoice, or a `sent` one that bounced, to go out again. */
  | 'allowResend';

export type LedgerGuard = 'always' | 'due' | 'lease_expired' | 'owner' | 'dead_owner' | 'expected_lease' | 'bounced';

export interface LedgerTransition {
  /** States the entry may be in, each with the guard that must also hold. */
  from: Partial<Record<LedgerState | 'none', LedgerGuard[]>>;
  /** States the entry may end in. */
  to: readonly LedgerState[];
}

/** Outcome states: what `recordOutcome` / `resolveInterrupted` may write. */
export const OUTCOME_STATES = ['sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'] as const satisfies readonly LedgerState[];

/** States no operation but `allowResend` (failed/uncertain, a bounced sent) ever leaves: the invoice is settled. */
export const FINAL_STATES = ['sent', 'drafted', 'failed', 'uncertain'] as const satisfies readonly LedgerState[];

export const LEDGER_TRANSITIONS: Record<LedgerOperation, LedgerTransition> = {
  claim: {
    from: { none: ['always'], skipped: ['always'], retry: ['due'], claimed: ['lease_expired'] },
    to: ['claimed'],
  },
  markSending: { from: { claimed: ['owner'] }, to: ['sending'] },
  recordOutcome: { from: { claimed: ['owner'], sending: ['owner'] }, to: OUTCOME_STATES },
  release: { from: { claimed: ['owner'] }, to: ['skipped', 'retry'] },
  releaseDead: { from: { claimed: ['dead_owner'] }, to: ['skipped', 'retry'] },
  expireDead: { from: { sending: ['dead_owner'] }, to: ['sending'] },
  // The caller read the entry with an expired lease (listExpiredSending, by its clock); the write holds only
  // while that lease is unchanged, i.e. nobody renewed, recorded or resolved it since.
  resolveInterrupted: { from: { sending: ['expected_lease'] }, to: OUTCOME_STATES },
  // A bounced `sent` entry goes out again as its next version (new Message-ID), to the host's current address.
  allowResend: { from: { uncertain: ['always'], failed: ['always'], sent: ['bounced'] }, to: ['retry'] },
};

/** The existing states an operation may start from (`none` left out). */
export function fromStates(op: LedgerOperation): LedgerState[] {
  return (Object.keys(LEDGER_TRANSITIONS[op].from) as (LedgerState | 'none')[]).filter((s): s is LedgerState => s !== 'none');
}

/** Per existing state, the guards an operation needs (for adapters that build one condition per state). */
export function guardsOf(op: LedgerOperation): [LedgerState, LedgerGuard[]][] {
  return fromStates(op).map((s) => [s, LEDGER_TRANSITIONS[op].from[s] ?? []]);
}

/** The states `release` goes back to: the state before the claim when it is one of these, else `skipped`. */
export const RELEASE_RESTORES: readonly LedgerState[] = LEDGER_TRANSITIONS.release.to;

/**
 * The pure check: may `op` move an entry in `state` (undefined = none) when the given guards hold?
 * The property test compares the adapter's behaviour against this.
 */
export function allows(op: LedgerOperation, state: LedgerState | undefined, holds: (g: LedgerGuard) => boolean): boolean {
  const guards = LEDGER_TRANSITIONS[op].from[state ?? 'none'];
  return guards !== undefined && guards.every(holds);
}

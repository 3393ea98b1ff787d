/**
 * The ledger's state machine, declared once: which state each store operation may move an entry from,
 * to which states, under which condition. Both store adapters (PostgreSQL, MongoDB) build the condition
 * of every conditional write that changes an entry's state or owner from this table (`pgCondition`,
 * `mongoCondition`, over `guardsOf`); test/store/ledger-states.test.ts drives each adapter against it
 * state by state, and the property test (test/faults/ledger-property.test.ts) takes its allowed
 * transitions from it. Pure data, no I/O.
 *
 * Not in the table: writes that change neither state nor owner (recordBounces on a `sent` entry, the
 * write-back leases, the mailbox cursors) and reads.
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
 * - `bounced`        a recipient of the entry carries a bounce (a delivery report came back for it);
 * - `was_draft`      the entry was claimed while the invoice was a draft (`LedgerEntry.draft`);
 * - `written_back`   no write-back is owed for the entry (`writeBackPending` false).
 */
import type { LedgerState } from '../domain.ts';

export type LedgerOperation =
  /** Take an invoice for one owner (the exactly-once gate). */
  | 'claim'
  /** A draft e-mailed under "all documents" was posted: its settled entry is claimed again as the next version. */
  | 'claimNewVersion'
  /** claimed -> sending: the message is about to be handed to the server (counts the attempt). */
  | 'markSending'
  /** The owner's `sending` entry: the message is being handed over now (`LedgerEntry.handedOver`). */
  | 'markHandedOver'
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

export type LedgerGuard = 'always' | 'due' | 'lease_expired' | 'owner' | 'dead_owner' | 'expected_lease' | 'bounced' | 'was_draft' | 'written_back';

export interface LedgerTransition {
  /** States the entry may be in, each with the guard that must also hold. */
  from: Partial<Record<LedgerState | 'none', LedgerGuard[]>>;
  /** States the entry may end in. */
  to: readonly LedgerState[];
}

/** Outcome states: what `recordOutcome` / `resolveInterrupted` may write. */
export const OUTCOME_STATES = ['sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'] as const satisfies readonly LedgerState[];

export const LEDGER_TRANSITIONS: Record<LedgerOperation, LedgerTransition> = {
  claim: {
    from: { none: ['always'], skipped: ['always'], retry: ['due'], claimed: ['lease_expired'] },
    to: ['claimed'],
  },
  // Only once its write-back is done, so the host never gets the draft's note after the posted version's.
  claimNewVersion: { from: { sent: ['was_draft', 'written_back'], drafted: ['was_draft', 'written_back'] }, to: ['claimed'] },
  markSending: { from: { claimed: ['owner'] }, to: ['sending'] },
  markHandedOver: { from: { sending: ['owner'] }, to: ['sending'] },
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

/** States in which an entry is owned by a delivery (no write-back is taken for it then). */
export const OWNED_STATES: readonly LedgerState[] = [...new Set([...fromStates('markSending'), ...fromStates('recordOutcome')])];

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

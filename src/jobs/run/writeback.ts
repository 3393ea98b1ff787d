/**
 * Writing outcomes back to the host, once: an owed write-back is taken like an invoice (a lease on the
 * pending write-back, `Ledger.claimWriteBacks`), so two processes flushing at once never post the same
 * note; it is cleared for the (invoice, version) it wrote, so an outcome recorded meanwhile stays owed.
 * The note carries the Message-ID, and host adapters look for a note before posting it (HostErp.writeBack
 * is idempotent), so a process that dies between posting and clearing does not post it twice either.
 * A host that is down delays the write-back, never the ledger.
 *
 * A store that fails after the take (a dropped connection, a failover) must not leave the taken
 * write-backs leased to nobody for the whole lease: clearing or giving them back is retried for a while,
 * and what still cannot be given back is remembered by this process (`HeldWriteBacks`) and given back
 * before its next flush of that installation takes anything. A take that fails may still have happened
 * (the store committed it, its answer was lost): every take of this process has a lease stamp of its own
 * (`leaseStamp`), and a failed take is given back by that stamp, the same way.
 */
import type { HostErp, WriteBack } from '../../connector/port.ts';
import type { Ledger, NewLogEntry, LedgerEntry } from '../../store/port.ts';
import type { Outcome } from '../../domain.ts';
import { isConnectorError } from '../../errors.ts';
import { noteFor } from '../rules/notes.ts';

/** Write-backs taken per host call. */
export const WRITE_BACK_BATCH = 100;
/** How long a taken write-back is ours: far longer than one host call, short enough to be taken over after a crash. */
export const WRITE_BACK_LEASE_MS = 5 * 60_000;

/** How long clearing or giving back taken write-backs is retried while the store fails. */
export const WRITE_BACK_SETTLE_MS = 30_000;

export interface WriteBackDeps {
  store: Ledger;
  /** Identity of this process (the ledger owner). */
  owner: string;
  clock: () => Date;
  /** Write-backs this process took and could not give back yet (one per process, from the composition root). */
  heldWriteBacks?: HeldWriteBacks | undefined;
  /** First pause between attempts while the store fails (ms, doubled up to 5 s); default 250. */
  recordPauseMs?: number | undefined;
}

/**
 * Write-backs this process took and could not give back while the store failed: nobody is working on
 * them (the flush that took them has ended), so the next flush of the installation gives them back first.
 */
export class HeldWriteBacks {
  private readonly held = new Map<string, { ids: Set<string>; takes: Set<string> }>();

  private of(installationId: string) {
    let held = this.held.get(installationId);
    if (!held) this.held.set(installationId, (held = { ids: new Set(), takes: new Set() }));
    return held;
  }

  /** Taken write-backs: the named invoices, or (`{ leaseUntil }`) whatever the take of that stamp leased. */
  add(installationId: string, taken: string[] | { leaseUntil: string }): void {
    const held = this.of(installationId);
    if (Array.isArray(taken)) for (const id of taken) held.ids.add(id);
    else held.takes.add(taken.leaseUntil);
  }

  /** Gives back what is held for the installation; throws (and keeps holding what is left) while the store fails. */
  async giveBack(store: Pick<Ledger, 'releaseWriteBacks'>, installationId: string, owner: string): Promise<void> {
    const held = this.held.get(installationId);
    if (!held) return;
    if (held.ids.size) {
      const ids = [...held.ids];
      await store.releaseWriteBacks(installationId, owner, ids);
      for (const id of ids) held.ids.delete(id);
    }
    for (const leaseUntil of [...held.takes]) {
      await store.releaseWriteBacks(installationId, owner, { leaseUntil });
      held.takes.delete(leaseUntil);
    }
  }

  /** Invoices held, and takes whose invoices are not known (each counts one). */
  count(installationId: string): number {
    const held = this.held.get(installationId);
    return (held?.ids.size ?? 0) + (held?.takes.size ?? 0);
  }
}

let lastStamp = 0;
/**
 * The lease end of a take: `ms` from now, but later than any earlier take's of this process, so that the
 * stamp names one take (of this owner) and a failed take can be given back by it alone.
 */
export function leaseStamp(now: Date, ms: number): string {
  lastStamp = Math.max(now.getTime() + ms, lastStamp + 1);
  return new Date(lastStamp).toISOString();
}

export type WriteBackLog = (level: NewLogEntry['level'], event: string, message: string) => Promise<void>;

/** Writes every owed outcome of the installation back to the host; returns how many were written. */
export async function flushWriteBacks(deps: WriteBackDeps, installationId: string, host: Pick<HostErp, 'writeBack'>, log: WriteBackLog): Promise<number> {
  const { store, owner, clock } = deps;
  await deps.heldWriteBacks?.giveBack(store, installationId, owner);
  let written = 0;
  for (;;) {
    const now = clock();
    const leaseUntil = leaseStamp(now, WRITE_BACK_LEASE_MS);
    let taken: LedgerEntry[];
    try {
      taken = await store.claimWriteBacks(installationId, { owner, now: now.toISOString(), leaseUntil, limit: WRITE_BACK_BATCH });
    } catch (e) {
      // It may have taken some all the same (its answer lost): those are given back by the take's stamp.
      await settleTaken(deps, installationId, { leaseUntil }, () => store.releaseWriteBacks(installationId, owner, { leaseUntil })).catch(() => undefined);
      throw e;
    }
    if (taken.length === 0) return written;
    const ids = taken.map((t) => t.invoiceId);
    try {
      await host.writeBack(taken.map(writeBackFor));
    } catch (e) {
      await settleTaken(deps, installationId, ids, () => store.releaseWriteBacks(installationId, owner, ids)).catch(() => undefined);
      await log(
        'warning',
        'writeback.delayed',
        `Writing ${taken.length} outcome(s) back to the host failed; will retry on the next run: ${e instanceof Error ? e.message : String(e)}`,
      );
      return written;
    }
    // Written on the host: clear them (a later flush that writes them again finds the note and posts nothing).
    await settleTaken(deps, installationId, ids, () =>
      store.markWrittenBack(
        installationId,
        owner,
        taken.map((t) => ({ invoiceId: t.invoiceId, outcomeVersion: t.outcomeVersion ?? 0 })),
      ),
    );
    written += taken.length;
    if (taken.length < WRITE_BACK_BATCH) return written;
  }
}

/**
 * Clears or gives back taken write-backs, retrying a failing store for WRITE_BACK_SETTLE_MS; if it still
 * fails, they are held by this process (given back by its next flush) and the error is thrown.
 */
async function settleTaken(deps: WriteBackDeps, installationId: string, taken: string[] | { leaseUntil: string }, step: () => Promise<void>): Promise<void> {
  const deadline = deps.clock().getTime() + WRITE_BACK_SETTLE_MS;
  let pause = deps.recordPauseMs ?? 250;
  for (;;) {
    try {
      return await step();
    } catch (e) {
      const retryable = !isConnectorError(e) || e.retryable;
      if (!retryable || deps.clock().getTime() + pause >= deadline) {
        deps.heldWriteBacks?.add(installationId, taken);
        throw e;
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(5000, pause * 2);
    }
  }
}

/** What the host gets for a recorded outcome. */
export function writeBackFor(entry: LedgerEntry): WriteBack {
  const outcome: Outcome = {
    state: entry.state as Outcome['state'],
    reason: entry.reason,
    detail: entry.detail,
    recipients: entry.recipients,
  };
  return {
    invoiceId: entry.invoiceId,
    outcome,
    messageId: entry.messageId,
    note: noteFor(outcome, entry.messageId),
    markSent: outcome.state === 'sent' || outcome.state === 'drafted',
  };
}

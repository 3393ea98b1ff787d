/**
 * Writing outcomes back to the host, once: an owed write-back is taken like an invoice (a lease on the
 * pending write-back, `Store.claimWriteBacks`), so two processes flushing at once never post the same
 * note; it is cleared for the (invoice, version) it wrote, so an outcome recorded meanwhile stays owed.
 * The note carries the Message-ID, and host adapters look for a note before posting it (HostErp.writeBack
 * is idempotent), so a process that dies between posting and clearing does not post it twice either.
 * A host that is down delays the write-back, never the ledger.
 */
import type { HostErp, WriteBack } from '../connector/port.ts';
import type { NewLogEntry, LedgerEntry, Store } from '../store/port.ts';
import type { Outcome } from '../domain.ts';
import { noteFor } from './notes.ts';

/** Write-backs taken per host call. */
export const WRITE_BACK_BATCH = 100;
/** How long a taken write-back is ours: far longer than one host call, short enough to be taken over after a crash. */
export const WRITE_BACK_LEASE_MS = 5 * 60_000;

export interface WriteBackDeps {
  store: Store;
  /** Identity of this process (the ledger owner). */
  owner: string;
  clock: () => Date;
}

export type WriteBackLog = (level: NewLogEntry['level'], event: string, message: string) => Promise<void>;

/** Writes every owed outcome of the installation back to the host; returns how many were written. */
export async function flushWriteBacks(deps: WriteBackDeps, installationId: string, host: Pick<HostErp, 'writeBack'>, log: WriteBackLog): Promise<number> {
  const { store, owner, clock } = deps;
  let written = 0;
  for (;;) {
    const now = clock();
    const taken = await store.claimWriteBacks(installationId, {
      owner,
      now: now.toISOString(),
      leaseUntil: new Date(now.getTime() + WRITE_BACK_LEASE_MS).toISOString(),
      limit: WRITE_BACK_BATCH,
    });
    if (taken.length === 0) return written;
    try {
      await host.writeBack(taken.map(writeBackFor));
    } catch (e) {
      await store.releaseWriteBacks(installationId, owner, taken.map((t) => t.invoiceId)).catch(() => undefined);
      await log('warning', 'writeback.delayed', `Writing ${taken.length} outcome(s) back to the host failed; will retry on the next run: ${e instanceof Error ? e.message : String(e)}`);
      return written;
    }
    await store.markWrittenBack(installationId, owner, taken.map((t) => ({ invoiceId: t.invoiceId, outcomeVersion: t.outcomeVersion ?? 0 })));
    written += taken.length;
    if (taken.length < WRITE_BACK_BATCH) return written;
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

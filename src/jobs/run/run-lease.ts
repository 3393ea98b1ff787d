/**
 * Runs carry a lease (heartbeat): a running run renews `leaseUntil` while it works, so a run whose
 * lease ran out belongs to a process that died (SIGKILL, power loss) or stalled. The next start or run
 * of the installation closes such runs as `interrupted` and gives back what their process left in the
 * ledger: `claimed` entries (nothing left for them) are released at once, `sending` entries get an
 * expired lease so the evidence check resolves them now instead of after LEASE_SECONDS.
 *
 * A process on this machine whose pid is gone is known dead at once (no need to wait out the lease).
 */
import os from 'node:os';
import type { Logger } from '../../observability/logger.ts';
import type { Ledger, Run, RunLog } from '../../store/port.ts';

/** A running run renews its lease this often... */
export const RUN_HEARTBEAT_MS = 5_000;
/** ...for this long: three missed heartbeats and the run is taken for dead. */
export const RUN_LEASE_MS = 20_000;

/** `<hostname>:<pid>:<random>` of a process that is surely gone: same machine, and its pid is not alive (or is ours). */
export function ownerIsGone(owner: string, self: string): boolean {
  if (owner === self) return false;
  const m = /^(.*):(\d+):[^:]+$/.exec(owner);
  if (!m || m[1] !== os.hostname()) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return true; // our pid, another random: an earlier life of this pid
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

export function runIsDead(run: Run, self: string, now: Date): boolean {
  if (run.status !== 'running' || run.owner === self) return false;
  if (run.owner && ownerIsGone(run.owner, self)) return true;
  // No lease at all: a run of a version without heartbeats, dead once it is older than a lease.
  const until = run.leaseUntil ?? new Date(Date.parse(run.startedAt) + RUN_LEASE_MS).toISOString();
  return Date.parse(until) < now.getTime();
}

export interface Recovered {
  runs: Run[];
  /** `claimed` entries of the dead runs' processes given back. */
  released: number;
  /** `sending` entries of theirs handed to the evidence check now. */
  expired: number;
}

/** Closes the installation's dead runs as `interrupted` and gives back their processes' claims. */
export async function closeDeadRuns(
  deps: { store: RunLog & Pick<Ledger, 'releaseDeadOwners'>; owner: string; clock: () => Date; logger?: Logger },
  installationId: string,
): Promise<Recovered> {
  const { store, owner, clock } = deps;
  const now = clock();
  const running = await store.listRuns(installationId, 100, { status: 'running' });
  const closed: Run[] = [];
  for (const run of running.filter((r) => runIsDead(r, owner, now))) {
    const done = await store.interruptRun(
      run.id,
      `Interrupted: the process running it stopped (${run.owner ?? 'unknown process'}, no heartbeat since ${run.leaseUntil ?? run.startedAt})`,
      now.toISOString(),
    );
    if (done) closed.push(done);
  }
  const owners = [...new Set(closed.map((r) => r.owner).filter((o): o is string => !!o))];
  const { released, expired } = await store.releaseDeadOwners(installationId, owners, now.toISOString());
  if (closed.length) {
    deps.logger?.info({ installationId, runs: closed.map((r) => r.id), released, expired }, 'closed interrupted runs');
    await store.appendLogs(
      closed.map((run) => ({
        installationId,
        runId: run.id,
        at: now.toISOString(),
        level: 'warning' as const,
        event: 'run.interrupted',
        invoiceId: null,
        invoiceNumber: null,
        message: `Run interrupted: its process stopped. ${released} claimed invoice(s) were given back, ${expired} interrupted delivery(ies) are checked at once.`,
        data: { released, expired, owner: run.owner ?? null },
      })),
    );
  }
  return { runs: closed, released, expired };
}

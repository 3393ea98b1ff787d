/**
 * The console's human lines about runs: one when a run ends, and one per minute while a long run goes
 * on, with its counts, e.g.
 *
 *   run 3f2a9c1e for sandbox at 127.0.0.1:8069: 80 sent, 2 skipped, 0 failed in 14 s
 *   run 3f2a9c1e for sandbox at 127.0.0.1:8069: 1200 of 4000 done so far (1195 sent, 5 skipped, 0 failed), 1 min 0 s
 *
 * It listens to the pipeline's events: `run.completed` gives the closing line; an invoice event marks
 * its installation busy, and while one is busy its running run is read from the store once a minute
 * (the timer runs only then).
 * Written through the process logger at `info`, so it is a readable line on a terminal (pino-pretty)
 * and a `{"msg": …, "run": …}` record in JSON.
 */
import type { RunCounts } from '../../domain.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Installations, Run, RunLog } from '../../store/port.ts';
import type { PipelineEvent } from './events.ts';

export interface RunConsoleDeps {
  store: Pick<Installations, 'getInstallation'> & Pick<RunLog, 'listRuns'>;
  logger: Logger;
  clock?: () => Date;
  /** How often a long run reports its progress (default one minute). */
  everyMs?: number;
}

export interface RunConsole {
  observe(event: PipelineEvent): void;
  stop(): void;
}

/** "14 s", "1 min 5 s", "2 h 3 min". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "80 sent, 2 skipped, 0 failed" plus drafted / will retry / uncertain when there are any. */
export function formatCounts(c: RunCounts): string {
  const parts = [`${c.sent} sent`];
  if (c.drafted) parts.push(`${c.drafted} saved as drafts`);
  parts.push(`${c.skipped} skipped`, `${c.failed} failed`);
  if (c.retry) parts.push(`${c.retry} will retry`);
  if (c.uncertain) parts.push(`${c.uncertain} uncertain`);
  return parts.join(', ');
}

/** The one line for a run that ended. */
export function runLine(run: Run, installationName: string): string {
  const took = run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : 0;
  const head = `run ${run.id.slice(0, 8)} for ${installationName}`;
  if (run.status === 'failed') return `${head} failed after ${formatDuration(took)}: ${run.error ?? 'unknown error'} (${formatCounts(run.counts)})`;
  return `${head}: ${formatCounts(run.counts)} in ${formatDuration(took)}`;
}

/** The line for a run still going. */
export function progressLine(run: Run, installationName: string, now: Date): string {
  const total = run.total > 0 ? ` of ${run.total}` : '';
  return `run ${run.id.slice(0, 8)} for ${installationName}: ${run.processed}${total} done so far (${formatCounts(run.counts)}), ${formatDuration(now.getTime() - Date.parse(run.startedAt))}`;
}

export function createRunConsole(deps: RunConsoleDeps): RunConsole {
  const clock = deps.clock ?? (() => new Date());
  const every = deps.everyMs ?? 60_000;
  const names = new Map<string, string>();
  /** Installations with invoice events since the last tick. */
  const busy = new Set<string>();

  async function nameOf(installationId: string): Promise<string> {
    const known = names.get(installationId);
    if (known) return known;
    const inst = await deps.store.getInstallation(installationId);
    let name = installationId.slice(0, 8);
    if (inst) {
      let host = inst.hostUrl;
      try {
        host = new URL(inst.hostUrl).host;
      } catch {
        // keep the URL as stored
      }
      name = `${inst.hostDatabase} at ${host}`;
    }
    names.set(installationId, name);
    return name;
  }

  const fail = (err: unknown) => deps.logger.debug({ err }, 'run console line not written');

  async function completed(run: Run): Promise<void> {
    deps.logger.info(
      { run: { id: run.id, installationId: run.installationId, status: run.status, counts: run.counts } },
      runLine(run, await nameOf(run.installationId)),
    );
  }

  let timer: NodeJS.Timeout | null = null;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };

  async function tick(): Promise<void> {
    // Ticks only while runs are busy: nothing is left running once the last run has ended.
    if (busy.size === 0) return stop();
    const ids = [...busy];
    busy.clear();
    const now = clock();
    for (const id of ids) {
      const [run] = await deps.store.listRuns(id, 1);
      if (!run || run.status !== 'running') continue;
      // Still going: looked at again next minute, with or without new events (until run.completed).
      busy.add(id);
      if (now.getTime() - Date.parse(run.startedAt) < every) continue;
      deps.logger.info(
        { run: { id: run.id, installationId: id, status: run.status, processed: run.processed, total: run.total, counts: run.counts } },
        progressLine(run, await nameOf(id), now),
      );
    }
  }

  return {
    observe(event) {
      if (event.type === 'run.completed') {
        busy.delete(event.installationId);
        void completed(event.run).catch(fail);
      } else if (event.type !== 'delivery.auth_failed') {
        busy.add(event.installationId);
        if (!timer) {
          timer = setInterval(() => void tick().catch(fail), every);
          timer.unref();
        }
      }
    },
    stop,
  };
}

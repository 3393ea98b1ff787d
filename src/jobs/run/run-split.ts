/**
 * A run split into page jobs (./pipeline.ts, issue 12 item 6), as its coordinator sees it: the ids after
 * the first page are queued as page jobs of the scheduler that any connector process on the database may
 * take (`PageQueue`), the coordinator waits until every one is done (a failed one is the run's error), and
 * a run that stops removes its waiting pages and waits a while for the running ones. From the moment it
 * splits, the run's counts live in the store, added to by every page (./run-progress.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NewLogEntry } from '../../store/port.ts';
import type { RunProgress } from './run-progress.ts';

/** One page of a split run, as its job carries it (src/jobs/scheduler/port.ts `RunPageJob`). */
export interface RunPage {
  installationId: string;
  runId: string;
  index: number;
  ids: string[];
  parkedAt: string | null;
}

/** The page jobs a split run queues and waits for (the scheduler port's methods of the same names). */
export interface PageQueue {
  enqueuePages(pages: RunPage[]): Promise<void>;
  pagesLeft(runId: string): Promise<{ waiting: number; running: number; failed: { index: number; error: string }[] }>;
  cancelPages(runId: string, options?: { onlyWaiting?: boolean }): Promise<void>;
  /** Resolves when a page job ended, here or in another process, or after `timeoutMs`. */
  pageEnded(timeoutMs: number): Promise<void>;
}

/** How long a stopping run waits for its running pages, at most. */
const END_WAIT_MS = 120_000;

export interface RunSplitOptions {
  pages: PageQueue;
  installationId: string;
  runId: string;
  /** The run's counts: shared through the store once it splits. */
  progress: RunProgress;
  /** How often the coordinator looks whether its pages are done, at most (a page that ends wakes it earlier). */
  pollMs: number;
  /** This run's host session, for the page jobs this process takes (./page-sessions.ts). */
  registerSession: () => void;
  log: (level: NewLogEntry['level'], event: string, message: string, data: Record<string, unknown>) => Promise<void>;
  warn: (err: unknown, message: string) => void;
}

export class RunSplit {
  constructor(private readonly o: RunSplitOptions) {}

  /**
   * Splits the run: its counts so far are written whole and shared from now on (the first page's
   * deliveries go on meanwhile: what settles after the snapshot is added later), then `rest` is queued
   * as page jobs of `pageSize` (indexes from 1; the coordinator's own page is 0).
   */
  async queue(rest: string[], pageSize: number, firstPage: number, parkedAt: string | null): Promise<void> {
    const { installationId, runId } = this.o;
    await this.o.progress.share();
    this.o.registerSession();
    const jobs: RunPage[] = [];
    for (let i = 0; i < rest.length; i += pageSize) {
      jobs.push({ installationId, runId, index: jobs.length + 1, ids: rest.slice(i, i + pageSize), parkedAt });
    }
    await this.o.log('info', 'run.split', `The run was split into ${jobs.length + 1} pages (${rest.length + firstPage} invoices)`, {
      pages: jobs.length + 1,
      invoices: rest.length + firstPage,
      pageSize,
    });
    await this.o.pages.enqueuePages(jobs);
  }

  /** Waits until every page job of the run is done, or `stopped()`; a failed page is the run's error. */
  async wait(stopped: () => boolean): Promise<void> {
    const { pages, runId } = this.o;
    for (;;) {
      if (stopped()) return;
      const left = await pages.pagesLeft(runId);
      const failed = left.failed[0];
      if (failed) throw new Error(`Page ${failed.index + 1} of the run failed: ${failed.error}`);
      if (left.waiting + left.running === 0) return;
      // The last page ending wakes the wait at once; the poll is what a lost notification costs.
      await pages.pageEnded(this.o.pollMs);
    }
  }

  /** A split run that stops: its waiting pages are removed, the running ones are waited for (`END_WAIT_MS` at most), then removed. */
  async end(): Promise<void> {
    const { pages, runId } = this.o;
    const warn = (err: unknown) => this.o.warn(err, 'could not remove the page jobs of a stopped run');
    await pages.cancelPages(runId, { onlyWaiting: true }).catch(warn);
    const until = Date.now() + END_WAIT_MS;
    while (Date.now() < until) {
      const left = await pages.pagesLeft(runId).catch(() => null);
      if (!left || left.running === 0) break;
      await sleep(this.o.pollMs);
    }
    await pages.cancelPages(runId).catch(warn);
  }
}

/**
 * A run's counts and progress as one context of it (./pipeline.ts `RunContext`) keeps them, and how they
 * reach the store. A run that is not split writes them whole (`updateRunProgress`). Once split, the run's
 * counts live in the store: every context of the run (the coordinator's and each page job's, in any
 * process) adds what changed since its last write (`addRunCounts`), and the coordinator reads the sum
 * back when every page is done (`join`), with the outcomes counted from the run's log entries.
 */
import type { RunCounts } from '../../domain.ts';
import { emptyCounts } from '../../domain.ts';
import type { Store } from '../../store/port.ts';

const COUNT_KEYS = Object.keys(emptyCounts()) as (keyof RunCounts)[];

export class RunProgress {
  /** This context's counts: the whole run's, or (a page job) its page's. */
  readonly counts: RunCounts = emptyCounts();
  /** Invoices this context settled or counted as skipped (the logs page's progress). */
  processed = 0;
  /** The last write (`report`), settled or not. */
  private lastWrite: Promise<void> = Promise.resolve();
  private lastReportAt = 0;
  /** True while `share` writes the counts whole, before they live in the store. */
  private sharing = false;
  /**
   * Set while the run's counts live in the store (a split run): what of `counts` and `processed` was
   * already added there; null = this context writes the run's counts whole.
   */
  private added: { counts: RunCounts; processed: number } | null = null;
  /**
   * A page job's page whose counts were not added yet: the next write adds all of them under the page's
   * key (once per page, whichever attempt gets there first), the later ones only what changed.
   */
  private pendingPage: number | null = null;

  constructor(
    private readonly store: Pick<Store, 'updateRunProgress' | 'addRunCounts' | 'getRun' | 'countRunOutcomes'>,
    private readonly runId: string,
    /** Least time between two writes that are not forced (ms). */
    private readonly everyMs: number,
  ) {}

  /**
   * Writes the counts after settled invoices at most once per `everyMs`, and always when `force`d.
   * Rejects with the store's error (the caller decides whether that matters).
   */
  async report(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastReportAt < this.everyMs) return;
    this.lastReportAt = now;
    const write = this.write();
    this.lastWrite = write.catch(() => undefined);
    await write;
  }

  /** The counts in the store now: whole, or (a split run) what changed since the last add. */
  async write(): Promise<void> {
    if (this.sharing) return; // the next write carries it
    const added = this.added;
    if (!added) {
      await this.store.updateRunProgress(this.runId, this.processed, this.counts.due, this.counts);
      return;
    }
    const delta = emptyCounts();
    let changed = false;
    for (const k of COUNT_KEYS) {
      delta[k] = this.counts[k] - added.counts[k];
      if (delta[k] !== 0) changed = true;
    }
    const processed = this.processed - added.processed;
    const page = this.pendingPage;
    if (!changed && processed === 0 && page === null) return;
    // Taken as added before the await, so that a concurrent write adds only what came after. A page's
    // first write counts as added also when an earlier attempt of the page had added its counts.
    for (const k of COUNT_KEYS) added.counts[k] += delta[k];
    added.processed += processed;
    this.pendingPage = null;
    try {
      await this.store.addRunCounts(this.runId, delta, processed, page === null ? {} : { page });
    } catch (e) {
      for (const k of COUNT_KEYS) added.counts[k] -= delta[k];
      added.processed -= processed;
      this.pendingPage = page;
      throw e;
    }
  }

  /**
   * The run is being split: its counts so far are written whole (a snapshot; what settles meanwhile is
   * added later), and from then on they live in the store, added to by every context of the run.
   */
  async share(): Promise<void> {
    this.sharing = true; // no other write crosses this one
    await this.lastWrite; // nor one still on its way
    const counts = { ...this.counts };
    const processed = this.processed;
    try {
      await this.store.updateRunProgress(this.runId, processed, counts.due, counts);
    } finally {
      this.sharing = false;
    }
    this.added = { counts, processed };
  }

  /**
   * A page job's context: what it counts is added to the run's counts in the store. With `page`, its
   * first write adds the page's counts once per page (see `pendingPage`): written once the page is judged
   * and claimed, before its deliveries, a page worked again after its process died counts its due and
   * skipped invoices once.
   */
  addToStored(page?: number): void {
    this.added = { counts: emptyCounts(), processed: 0 };
    this.pendingPage = page ?? null;
  }

  /** Whether the run's counts live in the store (`share`, `addToStored`) and not yet read back. */
  get shared(): boolean {
    return this.added !== null;
  }

  /**
   * A split run's counts back from the store (the sum of every context's) into `counts`; from then on
   * this context writes them whole again. The outcomes (sent, drafted, failed, retry, uncertain) are
   * counted from the run's log entries, each written with its outcome: a process that died after
   * recording some and before adding them (it adds about once a second) is not missing from them.
   * Rejects with the store's error (still shared: it may be tried again).
   */
  async join(): Promise<void> {
    if (!this.added) return;
    await this.write();
    const [stored, recorded] = await Promise.all([this.store.getRun(this.runId), this.store.countRunOutcomes(this.runId)]);
    if (!stored) throw new Error(`Run ${this.runId} is gone from the store`);
    Object.assign(this.counts, stored.counts, recorded);
    this.processed = stored.processed;
    this.added = null;
  }

  /** Gives up reading the sum back: from now on this context writes the counts it has, whole. */
  stopSharing(): void {
    this.added = null;
  }
}

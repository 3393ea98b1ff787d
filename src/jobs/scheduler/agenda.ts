/**
 * The Agenda 6 adapter of the scheduler port (./port.ts). One Agenda job per installation ("installation.run",
 * unique on the installation id) whose next run time is always the next slot of the installation's
 * daily window (src/jobs/rules/schedule.ts). Changing settings re-schedules it in one upsert; disabling or
 * uninstalling removes it. "Run now" is a separate one-off job. After downtime, a slot missed earlier
 * today is caught up once at start.
 *
 * Agenda runs a job at least once (a job outliving its lock may start again elsewhere): exactly-once
 * per invoice comes from the ledger's claim in the pipeline, never from here. Agenda itself does not
 * cross the port: what others need of it (queue depth, its dashboard) are methods of `Scheduler`.
 */
import { Agenda, type Job } from 'agenda';
import pg from 'pg';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { RunTrigger } from '../../domain.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Installation, Installations, Ledger, RunLog } from '../../store/port.ts';
import type { Run } from '../../store/port.ts';
import { missedSlot, nextRunAfter } from '../rules/schedule.ts';
import type { PagesLeft, RunPageJob, RunPageWork, Scheduler } from './port.ts';

export type { JobsByState, Scheduler } from './port.ts';
import { closeDeadRuns, ownerIsGone } from '../run/run-lease.ts';

export interface SchedulerOptions {
  database: { kind: 'postgres'; url: string } | { kind: 'mongodb'; url: string };
  /** Installations (what to schedule), runs (which slot is owed), and the ledger's dead owners (closing a dead process's runs). */
  store: Installations & RunLog & Pick<Ledger, 'releaseDeadOwners'>;
  run: (installationId: string, trigger: RunTrigger) => Promise<unknown>;
  clock: () => Date;
  logger: Logger;
  /** Poll interval in ms (LISTEN/NOTIFY makes new jobs start at once on PostgreSQL). */
  processEvery?: number;
  /** Agenda instance name, shown in its dashboard: the process's ledger owner (`<hostname>:<pid>:<random>`). */
  name: string;
  /** A job's lock: a job whose process died is taken over after this at the latest (running jobs touch it). */
  lockLifetimeMs?: number;
  /** First pause before retrying a failed slot run (doubled per failure, never past the next slot). */
  retryBaseMs?: number;
  /** Works one page job of a split run (`installation.run-page`); without it this process takes none. */
  runPage?: (work: RunPageWork) => Promise<void>;
  /** Page jobs this process works at once (default 2, so one process still overlaps two pages). */
  pageConcurrency?: number;
}

/** Pauses before the n-th retry of a failed slot run: base · 2^(n-1), at most 15 minutes. */
export function retryDelay(failures: number, baseMs: number): number {
  return Math.min(15 * 60_000, baseMs * 2 ** Math.max(0, failures - 1));
}

const SCHEDULED = 'installation.run';
const NOW = 'installation.run-now';
const PAGE = 'installation.run-page';

interface PageJobData extends RunPageJob {
  /** The process that started the job last (an attempt after it means that process stopped mid-page). */
  startedBy?: string;
}

interface JobData {
  installationId: string;
  trigger?: RunTrigger;
}

/** The advisory lock under which one process at a time creates Agenda's tables (not the store's migration lock). */
const AGENDA_SCHEMA_LOCK_KEY = 0x1c0_a6e;

/**
 * Agenda's tables, indexes and trigger on PostgreSQL, created (or found) by one process at a time: the
 * backend's own `CREATE ... IF NOT EXISTS` and `CREATE OR REPLACE` statements, run by two processes that
 * start at the same moment, fail one of them with "tuple concurrently updated" even when everything
 * exists already (a process of test/e2e/concurrency.test.ts exited so). The scheduler's own backend then
 * connects without creating anything.
 */
async function ensureAgendaSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [AGENDA_SCHEMA_LOCK_KEY]);
    try {
      await new PostgresBackend({ pool, tableName: 'agenda_jobs', disableNotifications: true }).connect();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [AGENDA_SCHEMA_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/**
 * The Agenda scheduler on the store's database. The MongoDB backend (and its driver, ~30 MB with bson's
 * buffers) is imported only when the store is MongoDB: a PostgreSQL process never loads it.
 */
export async function createAgendaScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const mongoBackend = options.database.kind === 'mongodb' ? (await import('@agendajs/mongo-backend')).MongoBackend : null;
  const { store, logger, clock } = options;
  const lockLifetime = options.lockLifetimeMs ?? 60_000;
  const retryBase = options.retryBaseMs ?? 30_000;
  // Our own pool for Agenda on PostgreSQL, so that a connection lost while the database restarts is an
  // 'error' we log (pg pools and clients without a listener crash the process), not an exit.
  let stopping = false;
  const pool =
    options.database.kind === 'postgres'
      ? new pg.Pool({ connectionString: options.database.url, max: 5, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 })
      : null;
  const poolError = (what: string) => (err: Error) => (stopping ? logger.debug : logger.warn).call(logger, { err: err.message }, `scheduler: ${what}`);
  pool?.on('error', poolError('idle database connection failed'));
  pool?.on('connect', (client) => client.on('error', poolError('database connection failed')));
  if (pool) await ensureAgendaSchema(pool);
  const backend = pool
    ? new PostgresBackend({ pool, tableName: 'agenda_jobs', ensureSchema: false })
    : new mongoBackend!({ address: options.database.url, collection: 'agendaJobs' });
  // The LISTEN channel reconnects by itself once its 'error' is listened to (57P01 on a restart).
  const channel = (backend as { notificationChannel?: { on(event: 'error', l: (err: unknown) => void): unknown } }).notificationChannel;
  channel?.on('error', (err: unknown) =>
    (stopping ? logger.debug : logger.warn).call(
      logger,
      { err: err instanceof Error ? err.message : String(err) },
      'scheduler: notification channel lost; reconnecting',
    ),
  );
  const agenda = new Agenda({
    backend,
    name: options.name,
    processEvery: options.processEvery ?? 5_000,
    defaultLockLifetime: lockLifetime,
    maxConcurrency: 20,
    defaultConcurrency: 5,
  });
  agenda.on('error', (err: unknown) => logger.error({ err }, 'agenda error'));

  /**
   * The start of the installation's last slot run that completed (manual runs do not use up a slot; a
   * failed or interrupted run leaves its slot owed, so it is retried and caught up after a crash).
   */
  const lastSlotRunAt = async (installationId: string): Promise<Date | null> => {
    const runs = await store.listRuns(installationId, 50);
    const last = runs.find((r) => r.trigger !== 'manual' && r.status === 'completed');
    return last ? new Date(last.startedAt) : null;
  };

  /** Slot runs that did not complete since the last one that did (the retry's exponent). */
  const failuresSinceSuccess = async (installationId: string): Promise<number> => {
    let n = 0;
    for (const r of await store.listRuns(installationId, 50)) {
      if (r.trigger === 'manual' || r.status === 'running') continue;
      if (r.status === 'completed') break;
      n++;
    }
    return n;
  };

  /** A slot run that failed (host down, database gone) is tried again with backoff, before the next slot. */
  const retryLater = async (installationId: string, run: Run | null): Promise<void> => {
    const installation = await store.getInstallation(installationId);
    if (!shouldRun(installation)) return;
    const failures = Math.max(1, await failuresSinceSuccess(installationId));
    const at = new Date(clock().getTime() + retryDelay(failures, retryBase));
    if (at >= nextRunAfter(installation.settings, clock())) return; // the next slot comes first
    logger.info({ installationId, runId: run?.id ?? null, failures, at: at.toISOString() }, 'slot run did not complete; retrying');
    await agenda.schedule<JobData>(at, NOW, { installationId, trigger: 'catch_up' });
  };

  /** Keeps a job's lock while its handler works (Agenda takes a lock older than lockLifetime for dead). */
  const touching = async <T, D>(job: Job<D>, work: () => Promise<T>): Promise<T> => {
    const touch = setInterval(() => void job.touch().catch(() => undefined), Math.max(1_000, Math.floor(lockLifetime / 4)));
    try {
      return await work();
    } finally {
      clearInterval(touch);
    }
  };

  /**
   * Jobs locked by a process of this machine that is gone (SIGKILL, crash) are taken over now instead
   * of after lockLifetime: their lock is moved into the past, so the next poll runs them.
   *
   * The update is conditioned on the lock still being the dead process's, in the same statement: a job
   * another process locked since it was read here (its lock names that process) keeps its lock. Moving
   * that lock into the past would let a third process run the same page at once, and the page would
   * count as done when the first of the two ended, while the other still held claims of it.
   */
  const takeOverDeadLocks = async (): Promise<void> => {
    if (!pool) return;
    const { rows } = await pool.query<{ by: string }>(
      `SELECT DISTINCT last_modified_by AS by FROM agenda_jobs WHERE locked_at > 'epoch' AND last_modified_by IS NOT NULL`,
    );
    const dead = rows.map((r) => r.by).filter((by) => ownerIsGone(by, options.name));
    if (dead.length === 0) return;
    const taken = await pool.query(`UPDATE agenda_jobs SET locked_at = 'epoch' WHERE locked_at > 'epoch' AND last_modified_by = ANY($1::text[])`, [dead]);
    if (taken.rowCount) logger.info({ jobs: taken.rowCount }, 'took over the jobs of a process that stopped');
  };

  /**
   * One run at a time per installation within this process. A slot run (scheduled or catch-up) first
   * checks, inside that serial section, that a slot of today is still owed since the last slot run:
   * a job that fires late after downtime, a catch-up queued at start and the same job picked up
   * again all end in one run for the slot, never one per missed slot or per path.
   */
  const running = new Map<string, Promise<unknown>>();
  const runSerial = (installationId: string, trigger: RunTrigger): Promise<unknown> => {
    const previous = running.get(installationId) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        if (trigger === 'schedule' || trigger === 'catch_up') {
          const installation = await store.getInstallation(installationId);
          if (!shouldRun(installation)) return null;
          const slot = missedSlot(installation.settings, await lastSlotRunAt(installationId), clock());
          if (!slot) {
            logger.debug({ installationId, trigger }, 'no slot owed since the last run; nothing to do');
            return null;
          }
        }
        const slot = trigger === 'schedule' || trigger === 'catch_up';
        let run: Run | null | undefined;
        try {
          run = (await options.run(installationId, trigger)) as Run | null | undefined;
        } catch (e) {
          // The run could not even be recorded (database away): its slot is still owed.
          if (slot)
            await retryLater(installationId, null).catch((err: unknown) =>
              logger.warn({ err, installationId }, 'could not schedule the retry of a failed run'),
            );
          throw e;
        }
        if (run && typeof run === 'object' && slot && run.status !== 'completed') {
          await retryLater(installationId, run).catch((err: unknown) => logger.warn({ err, installationId }, 'could not schedule the retry of a failed run'));
        }
        return run;
      });
    running.set(installationId, next);
    return next.finally(() => {
      if (running.get(installationId) === next) running.delete(installationId);
    });
  };

  const shouldRun = (i: Installation | null): i is Installation => !!i && i.status === 'active' && i.settings.enabled;

  agenda.define<JobData>(
    SCHEDULED,
    async (job: Job<JobData>) => {
      const id = job.attrs.data.installationId;
      // Keep the job alive while the run works, and scheduled if this process dies mid-run.
      const before = await store.getInstallation(id);
      if (shouldRun(before)) {
        job.attrs.nextRunAt = nextRunAfter(before.settings, clock());
        await job.save();
        await touching(job, () => runSerial(id, 'schedule'));
      }
      // Agenda saves this when the handler returns; null (disabled or uninstalled meanwhile) removes the job.
      const after = await store.getInstallation(id);
      job.attrs.nextRunAt = shouldRun(after) ? nextRunAfter(after.settings, clock()) : null;
    },
    { concurrency: 5, removeOnComplete: true },
  );

  agenda.define<JobData>(
    NOW,
    async (job: Job<JobData>) => {
      await touching(job, () => runSerial(job.attrs.data.installationId, job.attrs.data.trigger ?? 'manual'));
    },
    { concurrency: 5, removeOnComplete: true },
  );

  /**
   * Page jobs of split runs (src/jobs/run/pipeline.ts). Bounds, per process: `pageConcurrency` page jobs
   * at once whatever the installation, and at most one more locked waiting (`lockLimit`), so the pages of
   * a run spread over the processes instead of one process locking them all; Agenda's `maxConcurrency`
   * (20) bounds all jobs of the process together. Deliveries have their own process-wide bound
   * (`MAX_IN_FLIGHT`, the pipeline's `deliverySlots`).
   */
  const pageConcurrency = Math.max(1, options.pageConcurrency ?? 2);
  if (options.runPage) {
    const runPage = options.runPage;
    agenda.define<PageJobData>(
      PAGE,
      async (job: Job<PageJobData>) => {
        const { startedBy, ...page } = job.attrs.data;
        // Agenda starts a job again only after its lock expired (or `takeOverDeadLocks`): the process
        // that started it before stopped mid-page, and what it left in the ledger is taken over.
        const previousOwner = startedBy && startedBy !== options.name ? startedBy : null;
        job.attrs.data = { ...page, startedBy: options.name };
        // The save also notifies every process (LISTEN/NOTIFY), which then locks its next pages at once:
        // a page that starts keeps the others' queues filled between their polls.
        await job.save();
        await touching(job, () => runPage({ ...page, previousOwner }));
      },
      { concurrency: pageConcurrency, lockLimit: pageConcurrency + 1, removeOnComplete: true },
    );
  }

  // Who waits for a page job to end (`pageEnded`). Agenda emits `complete:` and `fail:` once the job is
  // saved unlocked, here and, re-emitted from the database's notifications, in every other process.
  const pageEndWaiters = new Set<() => void>();
  const pageEnd = () => {
    for (const wake of [...pageEndWaiters]) wake();
  };
  agenda.on(`complete:${PAGE}`, pageEnd);
  agenda.on(`fail:${PAGE}`, pageEnd);

  /** The installation's scheduled jobs (normally one; more only after a race of two first saves). */
  const scheduledJobs = async (installationId: string): Promise<{ id: string; nextRunAt: Date | null }[]> => {
    const result = await agenda.queryJobs({ name: SCHEDULED, data: { installationId } });
    return result.jobs.map((j) => ({ id: String(j._id), nextRunAt: j.nextRunAt ? new Date(j.nextRunAt) : null }));
  };

  const syncing = new Map<string, Promise<Date | null>>();
  async function syncLatest(installation: Installation): Promise<Date | null> {
    const { id } = installation;
    if (!shouldRun(installation)) {
      await scheduler.remove(id);
      return null;
    }
    const next = nextRunAfter(installation.settings, clock());
    // One statement updates the existing job's next run (or inserts the first one).
    const saved = await agenda
      .create<JobData>(SCHEDULED, { installationId: installation.id })
      .unique({ name: SCHEDULED, 'data.installationId': installation.id })
      .schedule(next)
      .save();
    // The backend's upsert is select-then-insert: two first saves at once (two processes starting)
    // could insert two jobs. Keep the one just saved.
    const keep = String(saved.attrs._id);
    const extra = (await scheduledJobs(installation.id)).filter((j) => j.id !== keep).map((j) => j.id);
    if (extra.length) await agenda.cancel({ ids: extra });
    return next;
  }

  const scheduler: Scheduler = {
    async start() {
      await agenda.start();
      await takeOverDeadLocks().catch((err: unknown) => logger.warn({ err }, 'could not take over the jobs of a stopped process'));
    },
    async stop(timeoutMs = 30_000) {
      stopping = true;
      try {
        await agenda.drain(timeoutMs);
      } finally {
        try {
          await agenda.stop();
        } finally {
          await pool?.end().catch(() => undefined);
        }
      }
    },
    sync(given) {
      // Syncs of one installation run one after another, each with the settings as stored at that
      // moment, so concurrent settings changes cannot leave the job at a slot of older settings.
      const previous = syncing.get(given.id) ?? Promise.resolve(null);
      const next = previous.catch(() => null).then(async () => syncLatest((await store.getInstallation(given.id)) ?? given));
      syncing.set(given.id, next);
      return next.finally(() => {
        if (syncing.get(given.id) === next) syncing.delete(given.id);
      });
    },
    async remove(installationId) {
      await agenda.cancel({ name: SCHEDULED, data: { installationId } });
    },
    async runNow(installationId, trigger = 'manual') {
      await agenda.now<JobData>(NOW, { installationId, trigger });
    },
    async catchUp() {
      for (const installation of await store.listInstallations({ status: 'active' })) {
        // Runs a dead process left `running` are closed, and their claims given back, before anything is owed.
        const recovered = await closeDeadRuns({ store, owner: options.name, clock, logger }, installation.id).catch((err: unknown) => {
          logger.warn({ err, installationId: installation.id }, 'could not close interrupted runs');
          return null;
        });
        // First move the job past the missed slots (a job overdue since yesterday must not fire as well).
        await scheduler.sync(installation);
        if (!shouldRun(installation)) continue;
        // A slot before the installation existed was not missed.
        const lastRun = await lastSlotRunAt(installation.id);
        const created = new Date(installation.createdAt);
        const missed = missedSlot(installation.settings, lastRun && lastRun > created ? lastRun : created, clock());
        // A run its process left unfinished is taken up again at once (its slot's run check still applies).
        const interrupted = (recovered?.runs.length ?? 0) > 0;
        if (missed || interrupted) {
          logger.info(
            { installationId: installation.id, ...(missed ? { slot: missed.toISOString() } : { interruptedRuns: recovered!.runs.map((r) => r.id) }) },
            missed ? 'catching up once on a slot missed earlier today' : 'taking up again a run its process left unfinished',
          );
          await scheduler.runNow(installation.id, 'catch_up');
        }
      }
    },
    async enqueuePages(pages) {
      for (const page of pages) await agenda.now<PageJobData>(PAGE, page);
    },
    async pagesLeft(runId): Promise<PagesLeft> {
      // A page whose process on this machine is gone is taken over now, not after its lock expires.
      await takeOverDeadLocks().catch((err: unknown) => logger.warn({ err }, 'could not take over the jobs of a stopped process'));
      const { jobs } = await agenda.queryJobs({ name: PAGE, data: { runId } });
      const left: PagesLeft = { waiting: 0, running: 0, failed: [] };
      for (const j of jobs) {
        if (j.lockedAt) left.running++;
        else if (j.failedAt) left.failed.push({ index: (j.data as PageJobData).index, error: j.failReason ?? 'the page job failed' });
        // ended and unlocked, not yet removed (`removeOnComplete` removes it right after)
        else if (j.state === 'completed') continue;
        else left.waiting++;
      }
      return left;
    },
    pageEnded(timeoutMs) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          pageEndWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        timer.unref();
        pageEndWaiters.add(done);
      });
    },
    async cancelPages(runId, { onlyWaiting = false } = {}) {
      const { jobs } = await agenda.queryJobs({ name: PAGE, data: { runId } });
      const ids = jobs.filter((j) => !onlyWaiting || !j.lockedAt).map((j) => String(j._id));
      if (ids.length) await agenda.cancel({ ids });
    },
    async nextRunAt(installationId) {
      const jobs = await scheduledJobs(installationId);
      return jobs[0]?.nextRunAt ?? null;
    },
    async jobsOverview() {
      return (await agenda.getJobsOverview()).map((o) => ({ name: o.name, queued: o.queued, running: o.running, scheduled: o.scheduled, failed: o.failed }));
    },
    async dashboard() {
      // Agendash (and express under it) is loaded only when the dashboard is served.
      const { createFastifyPlugin } = await import('agendash');
      return createFastifyPlugin(agenda);
    },
  };
  return scheduler;
}

/**
 * The scheduler port and its Agenda 6 adapter. One Agenda job per installation ("installation.run",
 * unique on the installation id) whose next run time is always the next slot of the installation's
 * daily window (src/jobs/schedule.ts). Changing settings re-schedules it in one upsert; disabling or
 * uninstalling removes it. "Run now" is a separate one-off job. After downtime, a slot missed earlier
 * today is caught up once at start.
 *
 * Agenda runs a job at least once (a job outliving its lock may start again elsewhere): exactly-once
 * per invoice comes from the ledger's claim in the pipeline, never from here.
 */
import { Agenda, type Job } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { RunTrigger } from '../domain.ts';
import type { Logger } from '../logger.ts';
import type { Installation, Store } from '../store/port.ts';
import { missedSlot, nextRunAfter } from './schedule.ts';

export interface Scheduler {
  start(): Promise<void>;
  /** Waits for running jobs (up to `timeoutMs`), then stops polling. */
  stop(timeoutMs?: number): Promise<void>;
  /** (Re)schedules the installation's job at its next slot, or removes it when it should not run. Returns the next run time. */
  sync(installation: Installation): Promise<Date | null>;
  remove(installationId: string): Promise<void>;
  /** Queues a run outside the window (logged with the given trigger). */
  runNow(installationId: string, trigger?: RunTrigger): Promise<void>;
  /** At start: catch up once on a slot missed earlier today, then make sure every job is scheduled. */
  catchUp(): Promise<void>;
  nextRunAt(installationId: string): Promise<Date | null>;
  /** Agenda itself, for its dashboard. */
  readonly agenda: Agenda;
}

export interface SchedulerOptions {
  database: { kind: 'postgres'; url: string } | { kind: 'mongodb'; url: string };
  store: Store;
  run: (installationId: string, trigger: RunTrigger) => Promise<unknown>;
  clock: () => Date;
  logger: Logger;
  /** Poll interval in ms (LISTEN/NOTIFY makes new jobs start at once on PostgreSQL). */
  processEvery?: number;
  /** Agenda instance name, shown in its dashboard (e.g. hostname:pid). */
  name: string;
}

const SCHEDULED = 'installation.run';
const NOW = 'installation.run-now';

interface JobData {
  installationId: string;
  trigger?: RunTrigger;
}

export function createAgendaScheduler(options: SchedulerOptions): Scheduler {
  const { store, logger, clock } = options;
  const backend =
    options.database.kind === 'postgres'
      ? new PostgresBackend({ connectionString: options.database.url, tableName: 'agenda_jobs' })
      : new MongoBackend({ address: options.database.url, collection: 'agendaJobs' });
  const agenda = new Agenda({
    backend,
    name: options.name,
    processEvery: options.processEvery ?? 5_000,
    defaultLockLifetime: 30 * 60_000,
    maxConcurrency: 20,
    defaultConcurrency: 5,
  });
  agenda.on('error', (err: unknown) => logger.error({ err }, 'agenda error'));

  /** The start of the installation's last run that was not manual (manual runs do not use up a slot). */
  const lastSlotRunAt = async (installationId: string): Promise<Date | null> => {
    const runs = await store.listRuns(installationId, 20);
    const last = runs.find((r) => r.trigger !== 'manual');
    return last ? new Date(last.startedAt) : null;
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
        return options.run(installationId, trigger);
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
        const touch = setInterval(() => void job.touch().catch(() => undefined), 60_000);
        try {
          await runSerial(id, 'schedule');
        } finally {
          clearInterval(touch);
        }
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
      await runSerial(job.attrs.data.installationId, job.attrs.data.trigger ?? 'manual');
    },
    { concurrency: 5, removeOnComplete: true },
  );

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
    agenda,
    async start() {
      await agenda.start();
    },
    async stop(timeoutMs = 30_000) {
      try {
        await agenda.drain(timeoutMs);
      } finally {
        await agenda.stop();
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
        // First move the job past the missed slots (a job overdue since yesterday must not fire as well).
        await scheduler.sync(installation);
        if (!shouldRun(installation)) continue;
        const missed = missedSlot(installation.settings, await lastSlotRunAt(installation.id), clock());
        if (missed) {
          logger.info({ installationId: installation.id, slot: missed.toISOString() }, 'catching up once on a slot missed earlier today');
          await scheduler.runNow(installation.id, 'catch_up');
        }
      }
    },
    async nextRunAt(installationId) {
      const jobs = await scheduledJobs(installationId);
      return jobs[0]?.nextRunAt ?? null;
    },
  };
  return scheduler;
}

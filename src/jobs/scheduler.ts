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

  /** One run at a time per installation within this process. */
  const running = new Map<string, Promise<unknown>>();
  const runSerial = (installationId: string, trigger: RunTrigger): Promise<unknown> => {
    const previous = running.get(installationId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => options.run(installationId, trigger));
    running.set(installationId, next);
    return next.finally(() => {
      if (running.get(installationId) === next) running.delete(installationId);
    });
  };

  const shouldRun = (i: Installation | null): i is Installation => !!i && i.status === 'active' && i.settings.enabled;
  const isDue = (i: Installation): boolean => shouldRun(i);

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
    async sync(installation) {
      if (!isDue(installation)) {
        await scheduler.remove(installation.id);
        return null;
      }
      const next = nextRunAfter(installation.settings, clock());
      await agenda
        .create<JobData>(SCHEDULED, { installationId: installation.id })
        .unique({ name: SCHEDULED, 'data.installationId': installation.id })
        .schedule(next)
        .save();
      return next;
    },
    async remove(installationId) {
      await agenda.cancel({ name: SCHEDULED, data: { installationId } });
    },
    async runNow(installationId, trigger = 'manual') {
      await agenda.now<JobData>(NOW, { installationId, trigger });
    },
    async catchUp() {
      const now = clock();
      for (const installation of await store.listInstallations({ status: 'active' })) {
        if (!installation.settings.enabled) {
          await scheduler.remove(installation.id);
          continue;
        }
        const runs = await store.listRuns(installation.id, 20);
        const last = runs.find((r) => r.trigger !== 'manual');
        const missed = missedSlot(installation.settings, last ? new Date(last.startedAt) : null, now);
        if (missed) {
          logger.info({ installationId: installation.id, slot: missed.toISOString() }, 'catching up once on a slot missed earlier today');
          await scheduler.runNow(installation.id, 'catch_up');
        }
        await scheduler.sync(installation);
      }
    },
    async nextRunAt(installationId) {
      const result = await agenda.queryJobs({ name: SCHEDULED, data: { installationId } } as never);
      const job = (result as unknown as { jobs: { nextRunAt?: Date | string | null }[] }).jobs[0];
      return job?.nextRunAt ? new Date(job.nextRunAt) : null;
    },
  };
  return scheduler;
}

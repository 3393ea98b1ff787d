/**
 * The scheduler port: what the rest of the connector may ask of the scheduler (./agenda.ts is its
 * adapter). Agenda's own types never cross it.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { RunTrigger } from '../../domain.ts';
import type { Installation } from '../../store/port.ts';

export interface Scheduler {
  start(): Promise<void>;
  /** Waits for running jobs (up to `timeoutMs`), then stops polling. */
  stop(timeoutMs?: number): Promise<void>;
  /** (Re)schedules the installation's job at its next slot, or removes it when it should not run. Returns the next run time. */
  sync(installation: Installation): Promise<Date | null>;
  remove(installationId: string): Promise<void>;
  /** Queues a run outside the window (logged with the given trigger). */
  runNow(installationId: string, trigger?: RunTrigger): Promise<void>;
  /**
   * At start: close the runs of dead processes, make sure every job is scheduled, and run once now when
   * a slot of today was missed since the last slot run (never one from before the installation existed)
   * or a run was left unfinished by its process.
   */
  catchUp(): Promise<void>;
  nextRunAt(installationId: string): Promise<Date | null>;
  /** The jobs by name and state (the queue depth the metrics report, read when scraped). */
  jobsOverview(): Promise<JobsByState[]>;
  /**
   * Queues the page jobs of a split run (`installation.run-page`): any connector process on the database
   * may take them (src/jobs/run/pipeline.ts, `runPage`). Small data only, never a secret.
   */
  enqueuePages(pages: RunPageJob[]): Promise<void>;
  /** What is left of a run's page jobs: done ones are gone; `failed` are the ones whose handler threw. */
  pagesLeft(runId: string): Promise<PagesLeft>;
  /**
   * Resolves once a page job of any run ended (succeeded or failed) in this process or, told through the
   * database's notifications, in another one; or after `timeoutMs` at the latest. Then `pagesLeft` says
   * what changed: a waiting coordinator learns at once that the last page ended, not at its next poll.
   */
  pageEnded(timeoutMs: number): Promise<void>;
  /** Removes a run's page jobs; `onlyWaiting`: only those no process is running now. */
  cancelPages(runId: string, options?: { onlyWaiting?: boolean }): Promise<void>;
  /**
   * The scheduler's own dashboard (Agendash) as a Fastify plugin for the operators' surface to mount
   * under its prefix; loaded on the first call only (a process without ADMIN_TOKEN never loads it).
   */
  dashboard(): Promise<FastifyPluginCallback>;
}

/** One job name's jobs by state; `queued` = due and waiting for a worker. */
export interface JobsByState {
  name: string;
  queued: number;
  running: number;
  scheduled: number;
  failed: number;
}

/** One page of a split run, as a job carries it (`runId` + ids; the run's parking instant). */
export interface RunPageJob {
  installationId: string;
  runId: string;
  /** 1-based position of the page in the run (the coordinator works page 0 itself). */
  index: number;
  ids: string[];
  /** When the run's parks were known unchanged (its `stillParked`), for the parks its pages make. */
  parkedAt: string | null;
}

/** A page job as a process runs it: `previousOwner` when an earlier attempt's process stopped mid-page. */
export interface RunPageWork extends RunPageJob {
  previousOwner: string | null;
}

export interface PagesLeft {
  /** Page jobs waiting or running. */
  waiting: number;
  running: number;
  failed: { index: number; error: string }[];
}

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

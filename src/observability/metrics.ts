/**
 * Prometheus metrics (prom-client), fed by the run pipeline's events: runs by trigger and status,
 * invoice outcomes by state, run durations, and the scheduler's queue depth (Agenda jobs by state,
 * read when scraped). One registry per connector (no global state, so several connectors in one
 * process — the tests — do not collide).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PipelineEvent } from '../jobs/run/events.ts';

/** Where the queue depth comes from (Agenda's jobs overview). */
export interface QueueSource {
  getJobsOverview(): Promise<{ name: string; queued: number; running: number; scheduled: number; failed: number }[]>;
}

export interface Metrics {
  registry: Registry;
  /** Feed a pipeline event. */
  observe(event: PipelineEvent): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(opts: { queue?: QueueSource } = {}): Metrics {
  const registry = new Registry();
  const runs = new Counter({
    name: 'invoice_courier_runs_total',
    help: 'Finished runs by trigger and status.',
    labelNames: ['trigger', 'status'] as const,
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'invoice_courier_invoice_outcomes_total',
    help: 'Invoice outcomes of finished runs, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'invoice_courier_run_duration_seconds',
    help: 'Wall time of finished runs.',
    labelNames: ['trigger'] as const,
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const events = new Counter({
    name: 'invoice_courier_events_total',
    help: 'Pipeline events by type (invoice.sent, invoice.failed, delivery.auth_failed, ...).',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const queue = opts.queue;
  new Gauge({
    name: 'invoice_courier_queue_jobs',
    help: 'Scheduler jobs by job name and state (queued = due and waiting for a worker).',
    labelNames: ['job', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (!queue) return;
      try {
        for (const o of await queue.getJobsOverview()) {
          for (const state of ['queued', 'running', 'scheduled', 'failed'] as const) this.set({ job: o.name, state }, o[state]);
        }
      } catch {
        // The scheduler's database is unreachable: leave the gauge empty rather than fail the scrape.
      }
    },
  });
  // Every series known from the start (zeros rather than absent series).
  for (const state of ['sent', 'drafted', 'skipped', 'failed', 'retry', 'uncertain']) outcomes.inc({ state }, 0);

  return {
    registry,
    observe(event) {
      events.inc({ type: event.type });
      if (event.type !== 'run.completed') return;
      const run = event.run;
      runs.inc({ trigger: run.trigger, status: run.status });
      for (const [state, n] of Object.entries(run.counts)) if (state !== 'due' && n > 0) outcomes.inc({ state }, n);
      if (run.finishedAt) duration.observe({ trigger: run.trigger }, Math.max(0, (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000));
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

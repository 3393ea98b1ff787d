/**
 * A split run as its coordinator sees it (src/jobs/run/run-split.ts), over the real scheduler (Agenda on
 * the real PostgreSQL, as composed) and the real store: the rest queued as page jobs another process
 * takes, a wait that ends when they are done or fails with the page that failed, a stopped run's pages
 * removed.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunProgress } from '../../src/jobs/run/run-progress.ts';
import { RunSplit } from '../../src/jobs/run/run-split.ts';
import type { Scheduler } from '../../src/jobs/scheduler/agenda.ts';
import type { RunPageWork } from '../../src/jobs/scheduler/port.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { schedulerOn } from '../support/scheduler.ts';

let url = '';
let store: Store;
let coordinator: Scheduler;

beforeAll(async () => {
  url = await freshDatabase();
  store = createPostgresStore({ url });
  await store.migrate();
  coordinator = await schedulerOn(url, store, 'test:1:coordinator');
  await coordinator.start();
}, 60_000);
afterAll(async () => {
  await coordinator?.stop(1_000);
  await store?.close();
});

/** A running run of a fresh installation id, and the coordinator's view of splitting it. */
async function splitRun() {
  const installationId = crypto.randomUUID();
  const run = await store.startRun({ installationId, trigger: 'manual', startedAt: new Date().toISOString() });
  const progress = new RunProgress(store, run.id, 1000);
  const journal: string[] = [];
  const split = new RunSplit({
    pages: coordinator,
    installationId,
    runId: run.id,
    progress,
    pollMs: 100,
    registerSession: () => journal.push(`session registered (counts shared: ${progress.shared})`),
    log: async (level, event, message, data) => {
      journal.push(`${level} ${event}: ${message} ${JSON.stringify(data)}`);
    },
    warn: (_err, message) => journal.push(`warn ${message}`),
  });
  return { run, progress, split, journal };
}

const ids = (n: number, from = 101) => Array.from({ length: n }, (_, i) => String(from + i));

describe('a split run queues its pages, waits for them and ends them', () => {
  it('the rest is queued as pages of pageSize from index 1, with the parks’ instant; another process works them; the wait ends when all are done', async () => {
    const { run, progress, split, journal } = await splitRun();
    progress.counts.sent = 7;
    const worked: Pick<RunPageWork, 'index' | 'ids' | 'parkedAt'>[] = [];
    const worker = await schedulerOn(url, store, 'test:2:pages', {
      runPage: async (work) => {
        worked.push({ index: work.index, ids: work.ids, parkedAt: work.parkedAt });
      },
      processEvery: 100,
    });
    await worker.start();
    try {
      await split.queue(ids(450), 200, 100, '2026-12-04T08:00:00.000Z');
      await split.wait(() => false);
      expect(await coordinator.pagesLeft(run.id)).toEqual({ waiting: 0, running: 0, failed: [] });
    } finally {
      await worker.stop(1_000);
    }
    expect(worked.sort((a, b) => a.index - b.index).map((w) => [w.index, w.ids.length, w.ids[0], w.parkedAt])).toEqual([
      [1, 200, '101', '2026-12-04T08:00:00.000Z'],
      [2, 200, '301', '2026-12-04T08:00:00.000Z'],
      [3, 50, '501', '2026-12-04T08:00:00.000Z'],
    ]);
    // counts written whole and shared before any page could be taken; the split logged with its sizes
    expect(progress.shared).toBe(true);
    expect((await store.getRun(run.id))!.counts.sent).toBe(7);
    expect(journal).toEqual([
      'session registered (counts shared: true)',
      'info run.split: The run was split into 4 pages (550 invoices) {"pages":4,"invoices":550,"pageSize":200}',
    ]);
  });

  it('a page that failed is the run’s error, named by its page number; a run that stopped does not wait', async () => {
    const { split } = await splitRun();
    const worker = await schedulerOn(url, store, 'test:3:pages', {
      runPage: async (work) => {
        if (work.index === 2) throw new Error('the host refused page 3');
      },
      processEvery: 100,
    });
    await worker.start();
    try {
      await split.queue(ids(30), 10, 10, null);
      await expect(split.wait(() => false)).rejects.toThrow('Page 3 of the run failed: the host refused page 3');
    } finally {
      await worker.stop(1_000);
    }
    const at = Date.now();
    await split.wait(() => true);
    expect(Date.now() - at).toBeLessThan(50);
  });

  it('a run that stops removes its pages no process took yet', async () => {
    const { run, split } = await splitRun();
    await split.queue(ids(40), 10, 10, null);
    expect(await coordinator.pagesLeft(run.id)).toEqual({ waiting: 4, running: 0, failed: [] });
    await split.end();
    expect(await coordinator.pagesLeft(run.id)).toEqual({ waiting: 0, running: 0, failed: [] });
  });
});

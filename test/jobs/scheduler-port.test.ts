/**
 * The scheduler port over a real PostgreSQL (the store's database, as composed): Agenda does not cross
 * it. What callers used Agenda for, the queue depth of the metrics and the operators' dashboard, are
 * methods of the port, answering in the port's own shapes.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scheduler } from '../../src/jobs/scheduler/agenda.ts';
import { defaultSettings } from '../../src/settings/schema.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { schedulerOn } from '../support/scheduler.ts';
import { newInstallation } from '../store/contract/fixtures.ts';

let store: Store;
let scheduler: Scheduler;
let workerUrl = '';

beforeAll(async () => {
  const url = await freshDatabase();
  workerUrl = url;
  store = createPostgresStore({ url });
  await store.migrate();
  scheduler = await schedulerOn(url, store, 'test:1:port');
}, 60_000);
afterAll(async () => {
  await scheduler?.stop(1_000);
  await store?.close();
});

describe('the scheduler port', () => {
  it('exposes no Agenda: only the port methods', () => {
    expect('agenda' in scheduler).toBe(false);
    expect(Object.keys(scheduler).sort()).toEqual([
      'cancelPages',
      'catchUp',
      'dashboard',
      'enqueuePages',
      'jobsOverview',
      'nextRunAt',
      'pageEnded',
      'pagesLeft',
      'remove',
      'runNow',
      'start',
      'stop',
      'sync',
    ]);
  });

  it('page jobs of a split run: queued, worked by a process that takes pages, a failed one is reported with its error, the rest cancelled', async () => {
    const page = (index: number) => ({ installationId: 'inst-pages', runId: 'run-pages', index, ids: [String(index)], parkedAt: null });
    // This process takes no pages (no runPage): they wait, and cancelling the waiting ones leaves none.
    await scheduler.enqueuePages([page(1), page(2)]);
    expect(await scheduler.pagesLeft('run-pages')).toEqual({ waiting: 2, running: 0, failed: [] });
    expect(await scheduler.pagesLeft('another-run')).toEqual({ waiting: 0, running: 0, failed: [] });
    await scheduler.cancelPages('run-pages', { onlyWaiting: true });
    expect(await scheduler.pagesLeft('run-pages')).toEqual({ waiting: 0, running: 0, failed: [] });

    // A process that takes pages: a page that succeeds is gone, one that throws stays as failed.
    const worked: { index: number; previousOwner: string | null }[] = [];
    const worker = await schedulerOn(workerUrl, store, 'test:2:pages', {
      runPage: async (work) => {
        worked.push({ index: work.index, previousOwner: work.previousOwner });
        if (work.index === 2) throw new Error('the host refused page 2');
      },
      processEvery: 100,
    });
    await worker.start();
    try {
      await scheduler.enqueuePages([page(1), page(2), page(3)]);
      const until = Date.now() + 20_000;
      let left = await scheduler.pagesLeft('run-pages');
      while (left.waiting + left.running > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        left = await scheduler.pagesLeft('run-pages');
      }
      expect(left).toEqual({ waiting: 0, running: 0, failed: [{ index: 2, error: 'the host refused page 2' }] });
      expect(worked.map((w) => w.index).sort()).toEqual([1, 2, 3]);
      expect(worked.every((w) => w.previousOwner === null)).toBe(true);
      await scheduler.cancelPages('run-pages');
      expect(await scheduler.pagesLeft('run-pages')).toEqual({ waiting: 0, running: 0, failed: [] });
    } finally {
      await worker.stop(1_000);
    }
  });

  it('pageEnded wakes a waiting coordinator as soon as a page job ends in another process, long before its timeout; pagesLeft counts it done', async () => {
    const page = { installationId: 'inst-ended', runId: 'run-ended', index: 1, ids: ['1'], parkedAt: null };
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    let started!: () => void;
    const began = new Promise<void>((r) => (started = r));
    const worker = await schedulerOn(workerUrl, store, 'test:3:pages', {
      runPage: async () => {
        started();
        await finished;
      },
      processEvery: 100,
    });
    await worker.start();
    // The coordinator's process: started (it listens to the database's notifications), takes no pages.
    const coordinator = await schedulerOn(workerUrl, store, 'test:4:coordinator');
    await coordinator.start();
    try {
      await coordinator.enqueuePages([page]);
      await began;
      expect(await coordinator.pagesLeft('run-ended')).toEqual({ waiting: 0, running: 1, failed: [] });
      // Nothing ends: the wait lasts its timeout.
      const quiet = Date.now();
      await coordinator.pageEnded(300);
      expect(Date.now() - quiet).toBeGreaterThanOrEqual(290);
      // The page ends in the other process: the wait ends at once, and the page is no longer left.
      const waiting = coordinator.pageEnded(20_000);
      const at = Date.now();
      finish();
      await waiting;
      expect(Date.now() - at).toBeLessThan(5_000);
      expect(await coordinator.pagesLeft('run-ended')).toEqual({ waiting: 0, running: 0, failed: [] });
    } finally {
      await worker.stop(1_000);
      await coordinator.stop(1_000);
    }
  });

  it('a page job locked by a live process after the take-over read its dead owner keeps its lock (no second process runs the page at once)', async () => {
    // A process of this machine that is gone (its pid exited and was reaped) and one that is alive.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const deadOwner = `${os.hostname()}:${deadPid}:dead`;
    const liveOwner = `${os.hostname()}:${process.pid}:live`;
    const runId = 'run-taken-over';
    await scheduler.enqueuePages([{ installationId: 'inst-taken-over', runId, index: 1, ids: ['1'], parkedAt: null }]);
    const db = new pg.Client({ connectionString: workerUrl });
    const other = new pg.Client({ connectionString: workerUrl });
    await Promise.all([db.connect(), other.connect()]);
    try {
      const { rows } = await db.query<{ id: string }>(
        `UPDATE agenda_jobs SET locked_at = now(), last_modified_by = $1 WHERE data->>'runId' = $2 RETURNING id`,
        [deadOwner, runId],
      );
      const id = rows[0]!.id;
      // Another process is locking the job right now: its row is held until that process commits.
      await other.query('BEGIN');
      await other.query('SELECT id FROM agenda_jobs WHERE id = $1 FOR UPDATE', [id]);
      // The take-over reads the dead owner's lock, and its update waits for the row.
      const left = scheduler.pagesLeft(runId);
      const until = Date.now() + 10_000;
      for (;;) {
        const waiting = await db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE agenda_jobs SET locked_at%'`);
        if (waiting.rowCount) break;
        if (Date.now() > until) throw new Error('the take-over never waited for the locked row');
        await new Promise((r) => setTimeout(r, 20));
      }
      const lockedAt = (
        await other.query<{ at: Date }>(`UPDATE agenda_jobs SET locked_at = now(), last_modified_by = $2 WHERE id = $1 RETURNING locked_at AS at`, [
          id,
          liveOwner,
        ])
      ).rows[0]!.at;
      await other.query('COMMIT');
      expect(await left).toEqual({ waiting: 0, running: 1, failed: [] });
      const after = (await db.query<{ at: Date; by: string }>('SELECT locked_at AS at, last_modified_by AS by FROM agenda_jobs WHERE id = $1', [id])).rows[0]!;
      expect(after.by).toBe(liveOwner);
      expect(after.at.toISOString(), 'the live process’s lock was not moved into the past').toBe(lockedAt.toISOString());

      // A job still locked by the dead process is taken over: its lock is moved into the past.
      await db.query('UPDATE agenda_jobs SET locked_at = now(), last_modified_by = $2 WHERE id = $1', [id, deadOwner]);
      await scheduler.pagesLeft(runId);
      const taken = (await db.query<{ at: Date }>('SELECT locked_at AS at FROM agenda_jobs WHERE id = $1', [id])).rows[0]!;
      expect(taken.at.getTime()).toBe(0);
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await scheduler.cancelPages(runId);
      await Promise.all([db.end(), other.end()]);
    }
  });

  it("several processes starting at the same moment on one database all start: Agenda's schema is made by one at a time, the others find it", async () => {
    for (const url of [await freshDatabase(), workerUrl]) {
      const starting = Array.from({ length: 4 }, (_, i) =>
        schedulerOn(url, store, `test:${10 + i}:start`).then(async (s) => {
          await s.start();
          return s;
        }),
      );
      const started = await Promise.all(starting);
      try {
        for (const s of started) expect(await s.pagesLeft('none')).toEqual({ waiting: 0, running: 0, failed: [] });
      } finally {
        await Promise.all(started.map((s) => s.stop(1_000)));
      }
    }
  });

  it("jobsOverview counts an enabled installation's scheduled job, in the port's shape (name and four counts)", async () => {
    const inst = await store.createInstallation(newInstallation({ settings: { ...defaultSettings(), enabled: true } }));
    expect(await scheduler.sync(inst)).not.toBeNull();
    const overview = await scheduler.jobsOverview();
    const scheduled = overview.find((o) => o.name === 'installation.run');
    expect(scheduled).toEqual({ name: 'installation.run', queued: 0, running: 0, scheduled: 1, failed: 0 });
    for (const o of overview) expect(Object.keys(o).sort()).toEqual(['failed', 'name', 'queued', 'running', 'scheduled']);
    await scheduler.remove(inst.id);
    expect((await scheduler.jobsOverview()).find((o) => o.name === 'installation.run')?.scheduled ?? 0).toBe(0);
  });

  it('dashboard() hands out the scheduler dashboard as a Fastify plugin', async () => {
    expect(typeof (await scheduler.dashboard())).toBe('function');
  });
});

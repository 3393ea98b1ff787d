/** The `RunLog` port's contract: log entries (append, query, paging, log-once checks) and runs (progress, leases, interruption). */
import { beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts } from '../../../src/domain.ts';
import { isConnectorError } from '../../../src/errors.ts';
import { loggedKey } from '../../../src/store/port.ts';
import type { RunLog, Store } from '../../../src/store/port.ts';
import { at, claimReq, log, outcome, uid } from './fixtures.ts';

export function runLogContract(port: () => Store): void {
  describe('RunLog', () => {
    let store: RunLog;
    beforeAll(() => {
      store = port();
    });

    describe('logs', () => {
      const inst = uid();
      const run = uid();
      beforeAll(async () => {
        await store.appendLogs([
          log(inst, { at: at(0), event: 'run.started', runId: run, message: 'start' }),
          log(inst, { at: at(1), event: 'invoice.sent', runId: run, invoiceId: '1', invoiceNumber: 'FV/2026/11/0001', message: 'sent 1' }),
          log(inst, {
            at: at(2),
            level: 'warning',
            event: 'invoice.skipped',
            runId: run,
            invoiceId: '2',
            invoiceNumber: 'FV/2026/11/0002',
            message: 'no e-mail',
            data: { reason: 'no_recipient', nested: { ok: true, list: [1, 'a'] } },
          }),
          log(inst, { at: at(3), level: 'error', event: 'invoice.failed', invoiceId: '3', invoiceNumber: 'KOR/2026/11/0001', message: 'failed 3' }),
          log(inst, { at: at(4), event: 'run.completed', runId: run, message: 'done' }),
        ]);
        await store.appendLogs([log(uid(), { invoiceNumber: 'FV/2026/11/0001' })]);
        await store.appendLogs([]);
      });

      it('entries come back newest first, with their data', async () => {
        const all = await store.listLogs({ installationId: inst, limit: 10 });
        expect(all.map((e) => e.message)).toEqual(['done', 'failed 3', 'no e-mail', 'sent 1', 'start']);
        expect(all[2]).toMatchObject({
          installationId: inst,
          runId: run,
          at: at(2),
          level: 'warning',
          event: 'invoice.skipped',
          invoiceId: '2',
          invoiceNumber: 'FV/2026/11/0002',
          data: { reason: 'no_recipient', nested: { ok: true, list: [1, 'a'] } },
        });
        expect(all[0]?.data).toBeNull();
        expect(typeof all[0]?.id).toBe('string');
      });

      it('paging with `before` continues strictly older, without gaps or repeats', async () => {
        const first = await store.listLogs({ installationId: inst, limit: 2 });
        const second = await store.listLogs({ installationId: inst, limit: 2, before: first[1]!.id });
        const third = await store.listLogs({ installationId: inst, limit: 2, before: second[1]!.id });
        expect([...first, ...second, ...third].map((e) => e.message)).toEqual(['done', 'failed 3', 'no e-mail', 'sent 1', 'start']);
      });

      it('filters: date range (inclusive), level, event, run and invoice number substring', async () => {
        const q = async (extra: Partial<Parameters<Store['listLogs']>[0]>) =>
          (await store.listLogs({ installationId: inst, limit: 10, ...extra })).map((e) => e.message);
        expect(await q({ from: at(1), to: at(3) })).toEqual(['failed 3', 'no e-mail', 'sent 1']);
        expect(await q({ from: at(3) })).toEqual(['done', 'failed 3']);
        expect(await q({ level: 'error' })).toEqual(['failed 3']);
        expect(await q({ event: 'invoice.sent' })).toEqual(['sent 1']);
        expect(await q({ runId: run })).toEqual(['done', 'no e-mail', 'sent 1', 'start']);
        expect(await q({ invoiceNumber: '2026/11/000' })).toEqual(['failed 3', 'no e-mail', 'sent 1']);
        expect(await q({ invoiceNumber: 'kor/' })).toEqual(['failed 3']);
        expect(await q({ invoiceNumber: '%' })).toEqual([]);
        expect(await q({ invoiceNumber: '.*' })).toEqual([]);
        expect(await q({ level: 'info', runId: run, from: at(1) })).toEqual(['done', 'sent 1']);
      });

      it('hasLog tells whether an event was logged for an invoice', async () => {
        expect(await store.hasLog(inst, '2', 'invoice.skipped')).toBe(true);
        expect(await store.hasLog(inst, '2', 'invoice.sent')).toBe(false);
        expect(await store.hasLog(uid(), '2', 'invoice.skipped')).toBe(false);
      });

      it('loggedEvents answers hasLog for many invoices and events in one call', async () => {
        const got = await store.loggedEvents(inst, ['2', '3', '99', '2'], ['invoice.skipped', 'invoice.sent', 'run.started']);
        const expected = new Set<string>();
        for (const id of ['2', '3', '99'])
          for (const ev of ['invoice.skipped', 'invoice.sent', 'run.started']) if (await store.hasLog(inst, id, ev)) expected.add(loggedKey(id, ev));
        expect(got).toEqual(expected);
        expect(got.has(loggedKey('2', 'invoice.skipped'))).toBe(true);
        expect(got.has(loggedKey('99', 'invoice.skipped'))).toBe(false);
        expect(await store.loggedEvents(uid(), ['2'], ['invoice.skipped'])).toEqual(new Set());
        expect(await store.loggedEvents(inst, [], ['invoice.skipped'])).toEqual(new Set());
      });

      it('log ids keep increasing across appends (paging stays stable while runs write)', async () => {
        const own = uid();
        for (let i = 0; i < 5; i++) await store.appendLogs([log(own, { message: `a${i}` }), log(own, { message: `b${i}` })]);
        const all = await store.listLogs({ installationId: own, limit: 100 });
        expect(all.map((e) => e.message)).toEqual(['b4', 'a4', 'b3', 'a3', 'b2', 'a2', 'b1', 'a1', 'b0', 'a0']);
      });
    });

    describe('runs', () => {
      it('a run starts running with empty counts, reports progress and finishes', async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0) });
        expect(run).toMatchObject({
          installationId: inst,
          trigger: 'schedule',
          status: 'running',
          startedAt: at(0),
          finishedAt: null,
          counts: emptyCounts(),
          processed: 0,
          total: 0,
          error: null,
        });
        await store.updateRunProgress(run.id, 3, 10, { ...emptyCounts(), due: 10, sent: 2, skipped: 1 });
        expect(await store.getRun(run.id)).toMatchObject({ processed: 3, total: 10, counts: { due: 10, sent: 2, skipped: 1 } });
        const finished = await store.finishRun(run.id, 'failed', { ...emptyCounts(), due: 10, sent: 4 }, 'host went away', at(2));
        expect(finished).toMatchObject({ status: 'failed', finishedAt: at(2), error: 'host went away', counts: { sent: 4 } });
        expect(await store.getRun(run.id)).toEqual(finished);
      });

      it('addRunCounts adds to a running run atomically (concurrent adds all kept) and leaves a finished run alone', async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0) });
        await store.updateRunProgress(run.id, 2, 3, { ...emptyCounts(), due: 3, skipped: 2 });
        // Twenty adds at once, as page jobs of several processes finish together.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.addRunCounts(run.id, { ...emptyCounts(), due: 2, sent: 1, failed: i % 2, retry: -1 * (i % 2) }, 2)),
        );
        expect(await store.getRun(run.id)).toMatchObject({
          processed: 42,
          total: 43,
          counts: { due: 43, sent: 20, skipped: 2, failed: 10, retry: -10, drafted: 0, uncertain: 0 },
        });
        await store.finishRun(run.id, 'completed', { ...emptyCounts(), due: 43, sent: 20 }, null, at(1));
        await store.addRunCounts(run.id, { ...emptyCounts(), due: 5, sent: 5 }, 5);
        expect(await store.getRun(run.id)).toMatchObject({ counts: { due: 43, sent: 20 } });
      });

      it("addRunCounts with a page adds that page's counts once, whichever of several attempts at once gets there first; other pages still add", async () => {
        const run = await store.startRun({ installationId: uid(), trigger: 'schedule', startedAt: at(0) });
        // Three attempts at page 1 at once (a page worked again while the first attempt's add is on its way).
        const added = await Promise.all([1, 2, 3].map((n) => store.addRunCounts(run.id, { ...emptyCounts(), due: 10 * n, skipped: n }, n, { page: 1 })));
        expect(added.filter(Boolean)).toHaveLength(1);
        const n = added.indexOf(true) + 1;
        expect(await store.getRun(run.id)).toMatchObject({ processed: n, total: 10 * n, counts: { due: 10 * n, skipped: n } });
        expect(await store.addRunCounts(run.id, { ...emptyCounts(), due: 7 }, 0, { page: 2 })).toBe(true);
        // Without a page: added every time (what changed since the last add).
        expect(await store.addRunCounts(run.id, { ...emptyCounts(), sent: 1 }, 1)).toBe(true);
        expect(await store.addRunCounts(run.id, { ...emptyCounts(), sent: 1 }, 1)).toBe(true);
        expect(await store.addRunCounts(run.id, { ...emptyCounts(), due: 100 }, 0, { page: 2 })).toBe(false);
        expect(await store.getRun(run.id)).toMatchObject({ processed: n + 2, total: 10 * n + 7, counts: { due: 10 * n + 7, skipped: n, sent: 2 } });
        await store.finishRun(run.id, 'completed', emptyCounts(), null, at(1));
        expect(await store.addRunCounts(run.id, { ...emptyCounts(), due: 1 }, 0, { page: 3 })).toBe(false);
      });

      it("countRunOutcomes counts a run's outcomes from its log entries: its own, not other runs', not late announcements, not skips or run events", async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0) });
        const other = await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(1) });
        // An outcome recorded with its log entry, as a run's claim settles (the ledger's side of the store).
        const ledger = port();
        await ledger.claim(claimReq(inst, 'o1', 'w:1:a', at(0)));
        expect(await ledger.markSending(inst, 'o1', 'w:1:a', 'h', at(60))).toBe(true);
        expect(
          await ledger.recordOutcome(inst, 'o1', 'w:1:a', outcome('sent'), {
            writeBack: false,
            nextAttemptAt: null,
            log: log(inst, { runId: run.id, event: 'invoice.sent', invoiceId: 'o1' }),
          }),
        ).toBe(true);
        const mine = (event: string, data: Record<string, unknown> | null = null) => log(inst, { runId: run.id, event, invoiceId: uid(), data });
        await store.appendLogs([
          mine('invoice.sent'),
          mine('invoice.drafted'),
          mine('invoice.failed'),
          mine('invoice.retry'),
          mine('invoice.retry'),
          mine('invoice.uncertain'),
          // An earlier run's uncertain outcome, announced late by this run: not this run's.
          mine('invoice.uncertain', { announcedLate: true }),
          mine('invoice.skipped.no_recipient'),
          mine('invoice.skipped'),
          mine('run.started'),
          mine('invoice.bounced'),
          log(inst, { runId: other.id, event: 'invoice.sent', invoiceId: uid() }),
          log(inst, { runId: null, event: 'invoice.sent', invoiceId: uid() }),
        ]);
        expect(await store.countRunOutcomes(run.id)).toEqual({ sent: 2, drafted: 1, failed: 1, retry: 2, uncertain: 1 });
        expect(await store.countRunOutcomes(other.id)).toEqual({ sent: 1, drafted: 0, failed: 0, retry: 0, uncertain: 0 });
        expect(await store.countRunOutcomes(uid())).toEqual({ sent: 0, drafted: 0, failed: 0, retry: 0, uncertain: 0 });
      });

      it('runs are listed newest first, limited, per installation', async () => {
        const inst = uid();
        for (const m of [0, 30, 60]) await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(m) });
        await store.startRun({ installationId: uid(), trigger: 'manual', startedAt: at(90) });
        expect((await store.listRuns(inst, 10)).map((r) => r.startedAt)).toEqual([at(60), at(30), at(0)]);
        expect(await store.listRuns(inst, 2)).toHaveLength(2);
      });

      it('a run carries its owner and lease; heartbeats renew it; interruptRun closes only a running run', async () => {
        const inst = uid();
        const run = await store.startRun({ installationId: inst, trigger: 'schedule', startedAt: at(0), owner: 'host:1:a', leaseUntil: at(1) });
        expect(run).toMatchObject({ owner: 'host:1:a', leaseUntil: at(1), status: 'running' });
        expect(await store.heartbeatRun(run.id, at(2))).toBe(true);
        expect((await store.getRun(run.id))!.leaseUntil).toBe(at(2));
        expect((await store.listRuns(inst, 10, { status: 'running' })).map((r) => r.id)).toEqual([run.id]);
        const closed = await store.interruptRun(run.id, 'process died', at(3));
        expect(closed).toMatchObject({ status: 'interrupted', error: 'process died', finishedAt: at(3) });
        expect(await store.interruptRun(run.id, 'again', at(4))).toBeNull();
        expect(await store.heartbeatRun(run.id, at(5))).toBe(false);
        expect(await store.listRuns(inst, 10, { status: 'running' })).toEqual([]);
        const done = await store.startRun({ installationId: inst, trigger: 'manual', startedAt: at(6) });
        await store.finishRun(done.id, 'completed', emptyCounts(), null, at(7));
        expect(await store.interruptRun(done.id, 'late', at(8))).toBeNull();
      });

      it('an unknown run reads as null, and finishing it is not_found', async () => {
        expect(await store.getRun(uid())).toBeNull();
        const err = await store.finishRun(uid(), 'completed', emptyCounts(), null, at(0)).catch((e: unknown) => e);
        expect(isConnectorError(err, 'not_found')).toBe(true);
      });
    });
  });
}

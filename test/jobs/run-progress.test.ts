/**
 * A run's counts as its contexts write them (src/jobs/run/run-progress.ts), on a real PostgreSQL store:
 * whole while the run is not split; once split, a snapshot written whole and then only what changed,
 * added by every context of the run (the coordinator's and each page job's), and the sum read back, its
 * outcomes counted from the run's log entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunProgress } from '../../src/jobs/run/run-progress.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { newInstallation } from '../store/contract/fixtures.ts';

let store: Store;
let installationId = '';
beforeAll(async () => {
  store = createPostgresStore({ url: await freshDatabase() });
  await store.migrate();
  const inst = await store.createInstallation(newInstallation());
  installationId = inst.id;
}, 60_000);
afterAll(async () => {
  await store?.close();
});

const startRun = () =>
  store.startRun({
    installationId,
    trigger: 'manual',
    startedAt: new Date().toISOString(),
    owner: 'test:1:a',
    leaseUntil: new Date(Date.now() + 60_000).toISOString(),
  });

describe("a run's progress", () => {
  it('is written whole while the run is not split, at most once per period unless forced', async () => {
    const run = await startRun();
    const progress = new RunProgress(store, run.id, 60_000);
    progress.counts.due = 2;
    progress.counts.sent = 1;
    progress.processed = 1;
    await progress.report();
    expect((await store.getRun(run.id))?.counts.sent).toBe(1);
    progress.counts.sent = 2;
    progress.processed = 2;
    await progress.report(); // within the period: not written
    expect((await store.getRun(run.id))?.counts.sent).toBe(1);
    await progress.report(true);
    const stored = await store.getRun(run.id);
    expect(stored?.counts.sent).toBe(2);
    expect(stored?.processed).toBe(2);
  });

  it('of a split run: every context adds only what changed since its last write, and the coordinator reads back the sum', async () => {
    const run = await startRun();
    const coordinator = new RunProgress(store, run.id, 0);
    coordinator.counts.due = 3;
    coordinator.counts.sent = 3;
    coordinator.processed = 3;
    await coordinator.share();
    expect(coordinator.shared).toBe(true);
    expect((await store.getRun(run.id))?.counts.sent).toBe(3);

    // Two page jobs (any process) and the coordinator's own page go on at once.
    const pageA = new RunProgress(store, run.id, 0);
    const pageB = new RunProgress(store, run.id, 0);
    pageA.addToStored();
    pageB.addToStored();
    pageA.counts.due = 4;
    pageA.counts.sent = 3;
    pageA.counts.skipped = 1;
    pageA.processed = 4;
    pageB.counts.due = 2;
    pageB.counts.failed = 2;
    pageB.processed = 2;
    coordinator.counts.due += 1;
    coordinator.counts.sent += 1;
    coordinator.processed += 1;
    await Promise.all([pageA.write(), pageB.write(), coordinator.write()]);
    // Written again with nothing new: nothing is added twice.
    await Promise.all([pageA.write(), pageB.write(), coordinator.write()]);
    pageA.counts.sent += 1;
    pageA.counts.due += 1;
    pageA.processed += 1;
    await pageA.write();
    // Each outcome was recorded with its log entry (as settle does): 8 sent, 2 failed. A third page job
    // recorded one more sent and its process died before adding it to the run's counts.
    const outcomeLog = (event: string) => ({
      installationId,
      runId: run.id,
      at: new Date().toISOString(),
      level: 'info' as const,
      event,
      invoiceId: crypto.randomUUID(),
      invoiceNumber: null,
      message: event,
      data: null,
    });
    await store.appendLogs([...Array.from({ length: 9 }, () => outcomeLog('invoice.sent')), outcomeLog('invoice.failed'), outcomeLog('invoice.failed')]);

    await coordinator.join();
    expect(coordinator.shared).toBe(false);
    // The outcomes as recorded (the dead page's sent among them); due, skipped and progress as added.
    expect(coordinator.counts).toMatchObject({ due: 11, sent: 9, skipped: 1, failed: 2 });
    expect(coordinator.processed).toBe(11);
    // From now on the coordinator writes the run's counts whole again.
    coordinator.counts.sent += 1;
    await coordinator.write();
    expect((await store.getRun(run.id))?.counts).toMatchObject({ due: 11, sent: 10, skipped: 1, failed: 2 });
  });

  it("of a page worked again after its process died: the page's judged counts are added once, what each attempt settled after them is added", async () => {
    const run = await startRun();
    const coordinator = new RunProgress(store, run.id, 0);
    await coordinator.share();
    // An attempt at page 3 of the run that judged `due` invoices, `skipped` of them skipped, and wrote.
    const attempt = async (due: number, skipped: number) => {
      const page = new RunProgress(store, run.id, 0);
      page.addToStored(3);
      page.counts.due = due;
      page.counts.skipped = skipped;
      page.processed = skipped;
      await page.write();
      return page;
    };
    // The first attempt judged the page (10 due, 2 skipped), added that, then settled 1 more and died.
    const first = await attempt(10, 2);
    first.processed += 1;
    await first.write();
    // The next attempt judges the page again (what is left of it) and settles 7.
    const again = await attempt(9, 2);
    expect((await store.getRun(run.id))?.counts).toMatchObject({ due: 10, skipped: 2 });
    again.processed += 7;
    await again.write();
    const stored = await store.getRun(run.id);
    expect(stored?.counts).toMatchObject({ due: 10, skipped: 2 });
    expect(stored?.processed).toBe(2 + 1 + 7);
  });
});

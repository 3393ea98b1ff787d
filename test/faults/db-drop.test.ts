/**
 * Fault scenario (b): every database connection is dropped mid-run (the TCP proxy destroys both sides,
 * like a failover), then new connections are refused for 3 s (the server restarting), then dropped
 * once more. Counted at the SMTP server: every due invoice accepted exactly once, nothing left
 * `uncertain` (the SMTP server answered every message); ledger = SMTP log = host flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let w: FaultWorld;

beforeAll(async () => {
  w = await startFaultWorld({ invoices: 250, leaseSeconds: 10 });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('fault: database connections dropped and refused mid-run', () => {
  // FAILS against af8a8be (issue 11, bug 5): the first drop kills the connector process, an unhandled
  // 'error' event of a pg client without an error handler ("Connection terminated unexpectedly", Agenda's
  // notification channel); its `sending` claims then end `uncertain` at the next start although the
  // SMTP server had answered 250 for some and never saw the data of others.
  // Flip to `it(...)` once every pg client has an error handler and recording failures are retried.
  it('every due invoice is accepted exactly once at the SMTP server; ledger = SMTP log = host flags', async () => {
    const child = w.child!;
    const running = child.runDirect(w.installationId, 180_000).catch((e: unknown) => String(e));
    // Each step waits for 30 more messages, or for the end of the run / of the process, whichever is first.
    const progress = (n: number) => Promise.race([w.smtp.waitForAccepted(n, 30_000).catch(() => undefined), running, w.childDied()]);
    await w.smtp.waitForAccepted(30, 90_000);
    const dropped = [w.pg.dropAll()];
    await progress(w.smtp.accepted.length + 30);
    dropped.push(w.pg.dropAll());
    await w.pg.set('refuse');
    await sleep(3_000);
    await w.pg.set('pass');
    await progress(w.smtp.accepted.length + 30);
    dropped.push(w.pg.dropAll());
    const first = await running;
    const settled = await w.settle({ deadlineMs: 120_000 });
    // A delivery the database stopped before the hand-over could be recorded is a `retry` (sent at its next
    // attempt, after the backoff), never sent blind: allowed here, as long as the server never got it.
    const verdict = await w.verify({ uncertainAllowed: () => false, retryAllowed: true });
    console.info(
      `db drop: dropped ${dropped.join('/')} connections; first run: ${typeof first === 'string' ? first.slice(0, 200) : `${first.status} ${JSON.stringify(first.counts)}`}; ${settled.runs.length} more run(s); ${verdict.summary}`,
    );
    reportProblems('db drop', verdict);
    expect(verdict.duplicates.length, 'Message-IDs received more than once at the SMTP server').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    expect(verdict.sent).toBeGreaterThanOrEqual(150);
  }, 300_000);
});

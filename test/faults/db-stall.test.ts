/**
 * Fault scenario (a), the first one: PostgreSQL stalls for 30 s in the middle of a run (the TCP proxy
 * in front of the real embedded PostgreSQL holds every byte both ways, like `kill -STOP`), then
 * resumes. Counted at the SMTP server: every due invoice accepted exactly once; nothing left
 * `uncertain` (the SMTP server answered every message); ledger = SMTP log = host flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

const STALL_MS = 30_000;
let w: FaultWorld;

beforeAll(async () => {
  // The lease outlasts the stall: a claim is never up for grabs while its owner waits for the database.
  w = await startFaultWorld({ invoices: 250, leaseSeconds: 40 });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('fault: the database stalls 30 s mid-run', () => {
  // FAILS against af8a8be (issue 11, bug 1): with MAX_IN_FLIGHT 16 > the pg pool's 10 connections, workers
  // waiting for a connection time out after 10 s; `recordOutcome` after the server's 250 throws
  // `store_unavailable`, `deliverOne` takes it for a temporary SMTP failure and delivers again: each
  // affected Message-ID is received 3 times, about 10 s apart. Flip to `it(...)` once the delivery core is fixed.
  it('every due invoice is accepted exactly once at the SMTP server; 0 duplicate Message-IDs; ledger = SMTP log = host flags', async () => {
    const child = w.child!;
    const running = child.runDirect(w.installationId, 180_000).catch((e: unknown) => String(e));
    await w.smtp.waitForAccepted(40, 90_000);
    const stalledAt = w.smtp.accepted.length;
    await w.pg.stallFor(STALL_MS);
    const first = await running;
    const settled = await w.settle({ deadlineMs: 120_000 });
    const verdict = await w.verify({ uncertainAllowed: () => false });
    console.info(
      `db stall: stalled after ${stalledAt} accepted; first run: ${typeof first === 'string' ? first.slice(0, 200) : `${first.status} ${JSON.stringify(first.counts)}`}; ${settled.runs.length} more run(s); ${verdict.summary}`,
    );
    reportProblems('db stall', verdict);
    expect(verdict.duplicates.length, 'Message-IDs received more than once at the SMTP server').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    expect(verdict.sent).toBeGreaterThanOrEqual(150);
  }, 300_000);
});

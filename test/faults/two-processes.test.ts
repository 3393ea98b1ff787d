/**
 * Two connector processes on one database run the same installation at the same time, several
 * rounds (issue 11, "Done when": 0 duplicate messages, 0 duplicate notes over several runs). Counted
 * at the SMTP server and on the host (notes read over its JSON-RPC): every due invoice accepted once,
 * one "sent" note each; ledger = SMTP log = host flags. CI (CI=true) or CI_LONG=1 only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorProcess } from '../support/process.ts';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

let w: FaultWorld;
let second: ConnectorProcess | null = null;

describe.runIf(process.env['CI'] || process.env['CI_LONG'])('two connector processes on one database', () => {
  beforeAll(async () => {
    w = await startFaultWorld({ invoices: 250, leaseSeconds: 10, maxInFlight: 8, pageSize: 10 });
    second = await w.spawnChild();
  }, 120_000);
  afterAll(async () => {
    second?.kill('SIGKILL');
    await second?.exited;
    await w?.close();
  });

  // FAILS against af8a8be (issue 11, bug 4 / item 4): both processes flush the same owed write-backs at
  // once (list pending, look for the note, post), so one invoice gets two identical "sent" notes (19-49 of
  // 193 invoices in 5 of 6 local runs with 10 invoices a page). Messages are not duplicated.
  // Flip to `it(...)` once write-backs are claimed like invoices.
  it('0 duplicate messages and 0 duplicate notes over several concurrent runs; ledger = SMTP log = host flags', async () => {
    const rounds: string[] = [];
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all([w.child!, second!].map((c) => c.runDirect(w.installationId, 120_000).catch((e: unknown) => String(e))));
      rounds.push(runs.map((r) => (typeof r === 'string' ? r.slice(0, 80) : `${r.status} sent ${r.counts.sent}`)).join(' + '));
    }
    await w.settle({ deadlineMs: 60_000 });
    const verdict = await w.verify({ uncertainAllowed: () => false });
    console.info(`two processes: ${rounds.join(' | ')}; ${verdict.summary}`);
    reportProblems('two processes', verdict);
    expect(verdict.duplicates.length, 'Message-IDs received more than once at the SMTP server').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    expect(verdict.sent).toBeGreaterThanOrEqual(150);
  }, 240_000);
});

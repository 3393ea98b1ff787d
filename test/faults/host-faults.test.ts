/**
 * Fault scenario (c): the host (sandbox, behind the TCP fault proxy) answers 502 for a while, hangs
 * (holds every byte), and is down (connections refused), while the connector lists invoices, renders
 * templates and writes outcomes back. Counted at the SMTP server and read back from the host over its
 * JSON-RPC: every due invoice accepted exactly once, nothing marked sent on the host that the SMTP
 * server did not accept, every outcome written back once the host is back; ledger = SMTP log = host flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let w: FaultWorld;

beforeAll(async () => {
  w = await startFaultWorld({ invoices: 250, leaseSeconds: 10, maxInFlight: 8, pageSize: 25 });
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('fault: the host answers 502, hangs and is down during listing and write-back', () => {
  it('every due invoice is accepted exactly once; nothing marked sent on the host that SMTP did not accept; ledger = SMTP log = host flags', async () => {
    const phases: string[] = [];
    // Each fault starts at the moment the SMTP server receives a run's k-th message, so it meets the
    // write-back of the page being sent and the listing of the next page (both go to the host).
    type Fault = readonly [k: number, mode: 'http502' | 'stall' | 'refuse', ms: number];
    const plan: (readonly Fault[])[] = [
      [[15, 'http502', 3_000]],
      [
        [15, 'stall', 5_000],
        [60, 'refuse', 3_000],
      ],
    ];
    const runs: string[] = [];
    const describeRun = (r: unknown) =>
      typeof r === 'string' ? r.slice(0, 120) : `${(r as { status: string }).status} ${JSON.stringify((r as { counts: unknown }).counts)}`;
    for (const faults of plan) {
      const pending: Promise<void>[] = [];
      let seen = 0;
      w.smtp.rule = (c) => {
        if (c.phase !== 'data') return null;
        seen += 1;
        for (const [k, mode, ms] of faults) {
          if (seen !== k) continue;
          phases.push(`${mode} ${ms} ms at message ${w.smtp.accepted.length + 1}`);
          pending.push(
            w.host.set(mode).then(async () => {
              if (mode === 'refuse') w.host.dropAll(); // down: open keep-alive connections go too
              await sleep(ms);
              await w.host.set('pass');
            }),
          );
        }
        return null;
      };
      const run = await w.child!.runDirect(w.installationId, 120_000).catch((e: unknown) => String(e));
      runs.push(describeRun(run));
      w.smtp.rule = () => null;
      await Promise.all(pending);
      if (pending.length < faults.length) phases.push(`(run ended after ${seen} messages, before ${faults.length - pending.length} fault(s))`);
    }
    const settled = await w.settle({ deadlineMs: 120_000 });
    const verdict = await w.verify({ uncertainAllowed: () => false });
    const logs = await w.store.listLogs({ installationId: w.installationId, limit: 10_000 });
    const delayed = logs.filter((l) => l.event === 'writeback.delayed').length;
    const failedRuns = logs.filter((l) => l.event === 'run.failed').length;
    console.info(
      `host faults: ${phases.join(', ')}; ${delayed} write-back(s) delayed, ${failedRuns} run(s) failed; runs: ${runs.join(' | ')}; ${settled.runs.length} more run(s); ${verdict.summary}`,
    );
    reportProblems('host faults', verdict);
    expect(verdict.duplicates.length, 'Message-IDs received more than once at the SMTP server').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    expect(verdict.sent).toBeGreaterThanOrEqual(150);
    // The faults hit the connector's calls to the host (a listing or a write-back failed at least once).
    expect(delayed + failedRuns).toBeGreaterThan(0);
  }, 300_000);
});

/**
 * Fault scenario (e): the connector child process is SIGKILLed at seeded random moments during runs
 * (while it lists and claims, while messages go out, exactly while a message is at RCPT, or right
 * after a message's dot arrived), restarted each time, then left to finish. Counted at the SMTP server: every due invoice accepted exactly once, or left `uncertain`
 * only when its complete message data had reached the server (the kill fell between the dot and the
 * reply being read); a claim that never reached the server is retried, not left for a person;
 * ledger = SMTP log = host flags. FAULT_SEED replays a sequence of kill moments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorProcess } from '../support/process.ts';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

const SEED = Number(process.env['FAULT_SEED'] ?? 11_0007);
const KILLS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let w: FaultWorld;
/** The next child, warming up while the current one runs (killed at the end if never used). */
let warm: Promise<ConnectorProcess> | null = null;

// The longest scenario (restarts, lease waits): in CI (CI=true) or with CI_LONG=1, not in a developer's `npm test`.
describe.runIf(process.env['CI'] || process.env['CI_LONG'])('fault: SIGKILL of the connector at seeded random moments, then restart', () => {
  beforeAll(async () => {
    w = await startFaultWorld({ invoices: 250, leaseSeconds: 5, maxInFlight: 8 });
  }, 120_000);
  afterAll(async () => {
    await warm?.then((c) => c.kill('SIGKILL')).catch(() => undefined);
    await w?.close();
  });

  // FAILS against af8a8be (issue 11, bug 3 / item 2): an invoice marked `sending` whose message never
  // reached the SMTP server (killed before or during MAIL/RCPT/DATA) is left `uncertain` for a person at
  // the next start, although nothing left; only an interruption after the dot may be uncertain.
  // Flip to `it(...)` once the SMTP phase is recorded and earlier interruptions are retried.
  it(`every due invoice is accepted exactly once, or uncertain only inside the real window (seed ${SEED}, ${KILLS} kills)`, async () => {
    const random = prng(SEED);
    const kills: string[] = [];
    warm = w.spawnChild();
    for (let i = 0; i < KILLS; i++) {
      const child = w.child ?? (await w.startChild());
      const before = w.smtp.accepted.length;
      const t0 = Date.now();
      const running = child.runDirect(w.installationId).catch(() => null);
      // Where this kill lands: at a random moment (listing and claiming, or mid-delivery), or exactly while
      // a message is at RCPT (nothing handed over yet: must be retried) or right after its dot arrived
      // (the real window: may be uncertain). The first two kills are one of each, the rest random.
      const where = i === 0 ? 'rcpt' : i === 1 ? 'dot' : (['moment', 'rcpt', 'dot'] as const)[Math.floor(random() * 3)]!;
      if (where === 'moment') {
        if (random() < 0.3) await sleep(Math.floor(random() * 1500));
        else {
          await Promise.race([w.smtp.waitForAccepted(before + 1, 60_000).catch(() => undefined), running]);
          await sleep(Math.floor(random() * 1500));
        }
      } else {
        const phase = where === 'rcpt' ? 'rcpt' : 'data';
        const skip = 5 + Math.floor(random() * 30);
        let seen = 0;
        await Promise.race([
          new Promise<void>((resolve) => {
            w.smtp.rule = (c) => {
              if (c.phase === phase && ++seen === skip) {
                void w.killChild(); // SIGKILL now, synchronously, before this command is answered
                resolve();
              }
              return null;
            };
          }),
          running,
        ]);
        w.smtp.rule = () => null;
      }
      await w.killChild();
      kills.push(`${where} ${Date.now() - t0}ms/+${w.smtp.accepted.length - before}`);
      await w.startChild(warm ?? undefined);
      warm = i < KILLS - 1 ? w.spawnChild() : null;
    }
    const settled = await w.settle({ deadlineMs: 120_000 });
    // The real window, as the connector can know it: it records the hand-over once every body byte went
    // to its socket, just before the final "."; a kill then may leave the last bytes in the kernel's send
    // buffer, so the server saw the DATA phase start (complete or cut short). Uncertain is allowed there
    // and nowhere earlier (a kill at RCPT TO or before DATA must be retried automatically).
    const started = w.smtp.dataStarted();
    const verdict = await w.verify({ uncertainAllowed: (mid) => started.has(mid) });
    console.info(`sigkill (seed ${SEED}): kills (run time / accepted) ${kills.join(', ')}; ${settled.runs.length} more run(s); ${verdict.summary}`);
    reportProblems('sigkill', verdict);
    expect(w.smtp.accepted.length, 'kills landed while mail was going out').toBeGreaterThan(0);
    expect(verdict.duplicates.length, 'Message-IDs received more than once at the SMTP server').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    expect(verdict.sent).toBeGreaterThanOrEqual(150);
  }, 300_000);
});

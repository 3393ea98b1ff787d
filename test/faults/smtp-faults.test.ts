/**
 * Fault scenario (d): the SMTP server refuses at every phase and drops the connection after the DATA
 * dot. Faults are chosen by phase: MAIL and RCPT by their running count (temporary 4xx every few
 * commands, a permanent 5xx now and then), DATA by the message's Message-ID (stable over retries):
 *   bucket 0: 451 at the first DATA only          -> retried in the run, accepted once
 *   bucket 1: 554 at DATA, always                 -> failed, never accepted
 *   bucket 2: dropped right after the dot, once   -> uncertain for a person (the real window), never re-sent
 *   bucket 3: 452 at the first three DATAs        -> left `retry` for a later run, never accepted
 * Counted at the SMTP server: nothing accepted twice, nothing possibly-delivered re-sent; `uncertain`
 * only for the dropped-after-dot ones; ledger = SMTP log = host flags.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SmtpFault, SmtpFaultContext } from '../support/faults/fault-smtp.ts';
import { reportProblems, startFaultWorld, type FaultWorld } from '../support/faults/world.ts';

let w: FaultWorld;

const bucket = (messageId: string) => createHash('sha256').update(messageId).digest()[0]! % 16;

function rule(c: SmtpFaultContext): SmtpFault {
  if (c.phase === 'mail') {
    if (c.n % 23 === 7) return { code: 550, message: 'Sender rejected (injected)' };
    if (c.n % 11 === 3) return { code: 451, message: 'Try again later (injected)' };
  }
  if (c.phase === 'rcpt') {
    if (c.n % 29 === 13) return { code: 550, message: 'No such user (injected)' };
    if (c.n % 13 === 5) return { code: 450, message: 'Mailbox busy (injected)' };
  }
  if (c.phase === 'data' && c.messageId) {
    const b = bucket(c.messageId);
    if (b === 0 && c.attempt === 1) return { code: 451, message: 'Local error (injected)' };
    if (b === 1) return { code: 554, message: 'Transaction failed (injected)' };
    if (b === 2 && c.attempt === 1) return 'drop';
    if (b === 3 && c.attempt <= 3) return { code: 452, message: 'Insufficient storage (injected)' };
  }
  return null;
}

beforeAll(async () => {
  w = await startFaultWorld({ invoices: 250, leaseSeconds: 10, maxInFlight: 8 });
  w.smtp.rule = rule;
}, 120_000);
afterAll(async () => {
  await w?.close();
});

describe('fault: SMTP 4xx/5xx at MAIL, RCPT and DATA, and a connection dropped after the DATA dot', () => {
  it('nothing is accepted twice; uncertain only after a drop after the dot; failed/retry never delivered; ledger = SMTP log = host flags', async () => {
    const settled = await w.settle({ deadlineMs: 150_000 });
    const dropped = w.smtp.droppedAfterData();
    const verdict = await w.verify({ uncertainAllowed: (mid) => dropped.has(mid), retryAllowed: true, failedAllowed: true });
    const refusals = w.smtp.log.filter((t) => t.outcome === 'refused');
    const byPhase = ['mail', 'rcpt', 'data'].map((p) => `${p} ${refusals.filter((t) => t.phase === p).length}`).join(', ');
    console.info(
      `smtp faults: refusals ${byPhase}, ${dropped.size} dropped after the dot; ${settled.runs.length} run(s): ${settled.runs.map((r) => (typeof r === 'string' ? r.slice(0, 80) : `${r.status} ${JSON.stringify(r.counts)}`)).join(' | ')}; ${verdict.summary}`,
    );
    reportProblems('smtp faults', verdict);
    expect(verdict.duplicates.length, 'Message-IDs possibly delivered more than once').toBe(0);
    expect(verdict.problems.slice(0, 20).join('\n'), verdict.summary).toBe('');
    // The faults really happened, at every phase, and each kind left its mark in the ledger.
    expect(refusals.some((t) => t.phase === 'mail') && refusals.some((t) => t.phase === 'rcpt') && refusals.some((t) => t.phase === 'data')).toBe(true);
    expect(dropped.size).toBeGreaterThan(0);
    expect(verdict.uncertain).toBe(dropped.size);
    expect(verdict.failed).toBeGreaterThan(0);
    expect(verdict.sent).toBeGreaterThanOrEqual(90);
  }, 240_000);
});

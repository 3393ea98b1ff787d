/**
 * Property test of the ledger's state machine against the REAL PostgreSQL store adapter: random
 * interleavings of claims (also concurrent ones), markSending, outcomes, releases, clock advances past
 * leases, crashes (an owner abandons its claims and never acts again), recovery of interrupted
 * deliveries and re-sends, checked after every step against a reference model
 * (test/support/faults/ledger-model.ts, transition table LEDGER_MODEL_TRANSITIONS):
 *   - the store agrees with the model (state, owner, attempts, lease) after every step;
 *   - every state change is one the transition table allows for that operation, so nothing leaves
 *     sent/drafted/failed except by an allowed transition;
 *   - at most one owner: of concurrent claimers at most one wins, an owner exists only while claimed/sending;
 *   - a `sending` entry is never claimed again (before or after its lease): only evidence resolves it;
 *   - listExpiredSending returns exactly the `sending` entries whose lease passed.
 * FC_SEED replays a failing sequence.
 */
import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import type { LedgerEntry, Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';
import { EMPTY, OUTCOME_STATES, step, transitionAllowed, type LedgerOp, type ModelEntry, type OutcomeState } from '../support/faults/ledger-model.ts';

const INVOICES = ['1', '2', '3'];
const WORKERS = 2;
const LEASE_MS = 10_000;
const MAX_ATTEMPTS = 3;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

type Op =
  | { t: 'claim'; w: number; inv: string }
  | { t: 'race'; inv: string }
  | { t: 'markSending'; w: number; inv: string }
  | { t: 'outcome'; w: number; inv: string; state: OutcomeState; retryInS: number | null }
  | { t: 'release'; w: number; inv: string }
  | { t: 'tick'; s: number }
  | { t: 'crash'; w: number }
  | { t: 'recover'; states: OutcomeState[] }
  | { t: 'resend'; inv: string };

const worker = fc.integer({ min: 0, max: WORKERS - 1 });
/** -1: whichever live worker owns the invoice now (most steps act on one's own claim), else worker 0. */
const actor = fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: worker });
const inv = fc.constantFrom(...INVOICES);
const outcomeState = fc.constantFrom(...OUTCOME_STATES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('claim' as const), w: worker, inv }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('race' as const), inv }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('markSending' as const), w: actor, inv }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('outcome' as const), w: actor, inv, state: outcomeState, retryInS: fc.option(fc.integer({ min: 0, max: 30 })) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), w: actor, inv }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('tick' as const), s: fc.integer({ min: 0, max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), w: worker }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('recover' as const), states: fc.array(outcomeState, { minLength: 3, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('resend' as const), inv }) },
);

let store: Store;
let close: () => Promise<void>;

beforeAll(async () => {
  const opened = await openStore({ kind: 'postgres', url: await freshDatabase() }, { log: () => undefined });
  store = opened.store;
  close = () => opened.close();
}, 120_000);
afterAll(async () => {
  await close?.();
});

const iso = (ms: number) => new Date(ms).toISOString();
const opOf: Record<Op['t'], LedgerOp | null> = {
  claim: 'claim',
  race: 'claim',
  markSending: 'markSending',
  outcome: 'recordOutcome',
  release: 'release',
  tick: null,
  crash: null,
  recover: 'resolveInterrupted',
  resend: 'allowResend',
};

async function runSequence(ops: Op[]): Promise<void> {
  const installationId = `prop-${crypto.randomBytes(6).toString('hex')}`;
  let now = T0;
  const generation = Array.from({ length: WORKERS }, () => 0);
  const ownerOf = (w: number) => `w${w}#${generation[w]}`;
  const model = new Map<string, ModelEntry>(INVOICES.map((i) => [i, { ...EMPTY }]));
  const claimReq = (w: number, invoiceId: string) => ({
    installationId,
    invoiceId,
    invoiceNumber: `FV/${invoiceId}`,
    owner: ownerOf(w),
    leaseUntil: iso(now + LEASE_MS),
    messageId: `<${installationId}-${invoiceId}@t>`,
    now: iso(now),
    maxAttempts: MAX_ATTEMPTS,
  });
  const trail: string[] = [];

  const observe = async (): Promise<Map<string, LedgerEntry>> => new Map((await store.getLedger(installationId, INVOICES)).map((e) => [e.invoiceId, e]));
  let before = await observe();

  for (const original of ops) {
    let op = original;
    if ('w' in op && op.w === -1) {
      const owner = model.get((op as { inv: string }).inv)?.owner;
      const w = Array.from({ length: WORKERS }, (_, k) => k).find((k) => ownerOf(k) === owner) ?? 0;
      op = { ...op, w } as Op;
    }
    trail.push(JSON.stringify(op));
    const where = () => `after ${trail.join(' ')}`;
    switch (op.t) {
      case 'claim': {
        const e = model.get(op.inv)!;
        const got = await store.claim(claimReq(op.w, op.inv));
        const next = step.claim(e, ownerOf(op.w), now, now + LEASE_MS, MAX_ATTEMPTS);
        if (e.state === 'sending') expect(got, `a sending entry was claimed again (lease until ${iso(e.leaseUntil!)}, now ${iso(now)}) ${where()}`).toBeNull();
        expect(got !== null, `claim by ${ownerOf(op.w)} of ${e.state} ${where()}`).toBe(next !== null);
        if (next) model.set(op.inv, next);
        break;
      }
      case 'race': {
        const e = model.get(op.inv)!;
        const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => store.claim(claimReq(w, op.inv))));
        const winners = results.filter((r) => r !== null);
        expect(winners.length, `concurrent claimers that won ${where()}`).toBe(step.claim(e, 'x', now, now + LEASE_MS, MAX_ATTEMPTS) ? 1 : 0);
        if (winners[0]) model.set(op.inv, step.claim(e, winners[0].owner!, now, now + LEASE_MS, MAX_ATTEMPTS)!);
        break;
      }
      case 'markSending': {
        const e = model.get(op.inv)!;
        const ok = await store.markSending(installationId, op.inv, ownerOf(op.w), 'hash', iso(now + LEASE_MS));
        const next = step.markSending(e, ownerOf(op.w), now + LEASE_MS);
        expect(ok, `markSending by ${ownerOf(op.w)} of ${e.state}/${e.owner} ${where()}`).toBe(next !== null);
        if (next) model.set(op.inv, next);
        break;
      }
      case 'outcome': {
        const e = model.get(op.inv)!;
        const nextAttemptAt = op.state === 'retry' && op.retryInS !== null ? now + op.retryInS * 1000 : null;
        const outcome = { state: op.state, reason: null, detail: null, recipients: [] };
        const ok = await store.recordOutcome(installationId, op.inv, ownerOf(op.w), outcome, {
          writeBack: op.state !== 'retry',
          nextAttemptAt: nextAttemptAt === null ? null : iso(nextAttemptAt),
        });
        const next = step.recordOutcome(e, ownerOf(op.w), op.state, nextAttemptAt);
        expect(ok, `recordOutcome ${op.state} by ${ownerOf(op.w)} of ${e.state}/${e.owner} ${where()}`).toBe(next !== null);
        if (next) model.set(op.inv, next);
        break;
      }
      case 'release': {
        const e = model.get(op.inv)!;
        await store.release(installationId, op.inv, ownerOf(op.w));
        const next = step.release(e, ownerOf(op.w));
        if (next) model.set(op.inv, next);
        break;
      }
      case 'tick':
        now += op.s * 1000;
        break;
      case 'crash':
        generation[op.w]! += 1; // the process is gone; its claims stay until their lease expires
        break;
      case 'recover': {
        const expired = await store.listExpiredSending(installationId, iso(now));
        const expected = INVOICES.filter((i) => model.get(i)!.state === 'sending' && model.get(i)!.leaseUntil! < now);
        expect(expired.map((x) => x.invoiceId).sort(), `listExpiredSending ${where()}`).toEqual(expected);
        for (const [k, x] of expired.entries()) {
          const state = op.states[k % op.states.length]!;
          const ok = await store.resolveInterrupted(
            installationId,
            x.invoiceId,
            x.leaseUntil!,
            { state, reason: 'interrupted', detail: null, recipients: [] },
            state === 'sent',
          );
          const next = step.resolveInterrupted(model.get(x.invoiceId)!, Date.parse(x.leaseUntil!), state);
          expect(ok, `resolveInterrupted ${where()}`).toBe(next !== null);
          if (next) model.set(x.invoiceId, next);
        }
        break;
      }
      case 'resend': {
        const e = model.get(op.inv)!;
        const ok = await store.allowResend(installationId, op.inv);
        const next = step.allowResend(e);
        expect(ok, `allowResend of ${e.state} ${where()}`).toBe(next !== null);
        if (next) model.set(op.inv, next);
        break;
      }
    }

    // After every step: the store agrees with the model, and every change is an allowed transition.
    const after = await observe();
    for (const i of INVOICES) {
      const m = model.get(i)!;
      const real = after.get(i);
      const was = before.get(i)?.state ?? 'none';
      const is = real?.state ?? 'none';
      const ledgerOp = opOf[op.t];
      if (was !== is || before.get(i)?.owner !== real?.owner) {
        expect(ledgerOp !== null && transitionAllowed(ledgerOp, was, is), `${i}: ${was} -> ${is} by ${op.t} is not in the transition table ${where()}`).toBe(
          true,
        );
      }
      expect(
        { state: is, owner: real?.owner ?? null, attempts: real?.attempts ?? 0, leaseUntil: real?.leaseUntil ? Date.parse(real.leaseUntil) : null },
        `${i} ${where()}`,
      ).toEqual({ state: m.state, owner: m.owner, attempts: m.attempts, leaseUntil: m.leaseUntil });
      // At most one owner, and only while claimed or sending.
      expect(real?.owner == null || is === 'claimed' || is === 'sending', `${i}: ${is} with owner ${real?.owner} ${where()}`).toBe(true);
    }
    before = after;
  }
}

describe('ledger state machine (real PostgreSQL adapter) under random interleavings, lease expiries and crashes', () => {
  it('agrees with the model and never makes a transition outside the table; at most one owner; sending never re-claimed', async () => {
    const seed = process.env['FC_SEED'] ? Number(process.env['FC_SEED']) : undefined;
    // Known paths first (a release back to `retry`, a crash mid-send resolved by evidence, a re-send), then random ones.
    const examples: [Op[]][] = [
      [
        [
          { t: 'claim', w: 0, inv: '1' },
          { t: 'outcome', w: 0, inv: '1', state: 'retry', retryInS: null },
          { t: 'claim', w: 1, inv: '1' },
          { t: 'release', w: 1, inv: '1' },
          { t: 'claim', w: 0, inv: '1' },
        ],
      ],
      [
        [
          { t: 'claim', w: 0, inv: '2' },
          { t: 'markSending', w: 0, inv: '2' },
          { t: 'crash', w: 0 },
          { t: 'race', inv: '2' },
          { t: 'tick', s: 11 },
          { t: 'race', inv: '2' },
          { t: 'recover', states: ['uncertain', 'sent', 'sent'] },
          { t: 'resend', inv: '2' },
          { t: 'race', inv: '2' },
        ],
      ],
    ];
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 50 }), runSequence), {
      numRuns: 150,
      examples,
      ...(seed !== undefined ? { seed } : {}),
    });
  }, 120_000);
});

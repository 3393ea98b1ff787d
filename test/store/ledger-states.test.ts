/**
 * The transition table (src/store/ledger-states.ts) against the real PostgreSQL adapter: for every
 * state an entry can be in and every operation, the adapter moves the entry exactly when the table
 * allows it (with the guard as the case sets it up), and only to a state the table lists.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerState, Outcome } from '../../src/domain.ts';
import { LEDGER_TRANSITIONS, allows, type LedgerGuard, type LedgerOperation } from '../../src/store/ledger-states.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { LedgerEntry, Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
const OWNER = 'w1';
const STATES: (LedgerState | 'none')[] = ['none', 'claimed', 'sending', 'sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'];
const outcome = (state: Outcome['state']): Outcome => ({ state, reason: null, detail: null, recipients: [] });

let store: Store;
beforeAll(async () => {
  store = createPostgresStore({ url: await freshDatabase() });
  await store.migrate();
});
afterAll(async () => store?.close());

const claimReq = (inst: string, inv: string, owner: string, now: string, leaseUntil = at(10)) => ({
  installationId: inst, invoiceId: inv, invoiceNumber: null, owner, leaseUntil, messageId: `<${inv}@t>`, now, maxAttempts: 5,
});

/** A fresh entry in `state`, owned by OWNER with a lease until at(10) while claimed or sending. */
async function entryIn(state: LedgerState | 'none'): Promise<{ inst: string; inv: string }> {
  const inst = crypto.randomUUID();
  const inv = crypto.randomUUID();
  if (state === 'none') return { inst, inv };
  expect(await store.claim(claimReq(inst, inv, OWNER, at(0)))).not.toBeNull();
  if (state === 'claimed') return { inst, inv };
  if (state === 'skipped' || state === 'retry') {
    expect(await store.recordOutcome(inst, inv, OWNER, outcome(state), { writeBack: false, nextAttemptAt: null })).toBe(true);
    return { inst, inv };
  }
  expect(await store.markSending(inst, inv, OWNER, 'h', at(10))).toBe(true);
  if (state === 'sending') return { inst, inv };
  expect(await store.recordOutcome(inst, inv, OWNER, outcome(state), { writeBack: false, nextAttemptAt: null })).toBe(true);
  return { inst, inv };
}

const read = async (inst: string, inv: string): Promise<LedgerEntry | undefined> => (await store.getLedger(inst, [inv]))[0];
const fingerprint = (e: LedgerEntry | undefined) => (e ? JSON.stringify([e.state, e.owner, e.leaseUntil, e.attempts]) : 'none');

/** Each case: an operation as the caller performs it, and which guards hold for that caller. */
interface Case {
  name: string;
  op: LedgerOperation;
  holds: Partial<Record<LedgerGuard, boolean>>;
  run: (inst: string, inv: string, entry: LedgerEntry | undefined) => Promise<unknown>;
}
const CASES: Case[] = [
  { name: 'claim by another owner while the lease lives', op: 'claim', holds: { always: true, due: true, lease_expired: false }, run: (i, v) => store.claim(claimReq(i, v, 'w2', at(1), at(11))) },
  { name: 'claim by another owner after the lease', op: 'claim', holds: { always: true, due: true, lease_expired: true }, run: (i, v) => store.claim(claimReq(i, v, 'w2', at(20), at(30))) },
  { name: 'markSending by the owner', op: 'markSending', holds: { owner: true }, run: (i, v) => store.markSending(i, v, OWNER, 'h2', at(12)) },
  { name: 'markSending by another', op: 'markSending', holds: { owner: false }, run: (i, v) => store.markSending(i, v, 'w2', 'h2', at(12)) },
  { name: 'recordOutcome by the owner', op: 'recordOutcome', holds: { owner: true }, run: (i, v) => store.recordOutcome(i, v, OWNER, outcome('sent'), { writeBack: false, nextAttemptAt: null }) },
  { name: 'recordOutcome by another', op: 'recordOutcome', holds: { owner: false }, run: (i, v) => store.recordOutcome(i, v, 'w2', outcome('sent'), { writeBack: false, nextAttemptAt: null }) },
  { name: 'release by the owner', op: 'release', holds: { owner: true }, run: (i, v) => store.release(i, v, OWNER) },
  { name: 'release by another', op: 'release', holds: { owner: false }, run: (i, v) => store.release(i, v, 'w2') },
  { name: 'releaseDeadOwners naming the owner (claimed)', op: 'releaseDead', holds: { dead_owner: true }, run: (i) => store.releaseDeadOwners(i, [OWNER], at(1)) },
  { name: 'releaseDeadOwners naming the owner (sending)', op: 'expireDead', holds: { dead_owner: true }, run: (i) => store.releaseDeadOwners(i, [OWNER], at(1)) },
  { name: 'releaseDeadOwners naming another', op: 'releaseDead', holds: { dead_owner: false }, run: (i) => store.releaseDeadOwners(i, ['w2'], at(1)) },
  { name: 'resolveInterrupted with the lease read', op: 'resolveInterrupted', holds: { expected_lease: true }, run: (i, v, e) => store.resolveInterrupted(i, v, e?.leaseUntil ?? at(10), outcome('uncertain'), false) },
  { name: 'resolveInterrupted with another lease', op: 'resolveInterrupted', holds: { expected_lease: false }, run: (i, v) => store.resolveInterrupted(i, v, at(99), outcome('uncertain'), false) },
  { name: 'allowResend', op: 'allowResend', holds: { always: true }, run: (i, v) => store.allowResend(i, v) },
];

describe('the ledger transition table holds on the PostgreSQL adapter', () => {
  for (const c of CASES) {
    it(`${c.name}: moves exactly the states the table allows, to states it lists`, async () => {
      const table: string[] = [];
      const actual: string[] = [];
      for (const state of STATES) {
        // releaseDead and expireDead are one call; each case checks the rows its operation covers.
        if (c.op === 'releaseDead' && state === 'sending') continue;
        if (c.op === 'expireDead' && state !== 'sending') continue;
        const { inst, inv } = await entryIn(state);
        const before = await read(inst, inv);
        await c.run(inst, inv, before);
        const after = await read(inst, inv);
        const moved = fingerprint(before) !== fingerprint(after);
        const allowed = allows(c.op, state === 'none' ? undefined : state, (g) => c.holds[g] ?? false);
        table.push(`${state}:${allowed}`);
        actual.push(`${state}:${moved}`);
        if (moved && after) expect(LEDGER_TRANSITIONS[c.op].to, `${c.name} from ${state}`).toContain(after.state);
      }
      expect(actual).toEqual(table);
    });
  }
});

/**
 * The transition table (src/store/ledger-states.ts) against the real adapters (PostgreSQL always,
 * MongoDB when MONGODB_URL is set): for every state an entry can be in and every operation, the adapter
 * moves the entry exactly when the table allows it (with the guards as the case sets them up), and only
 * to a state the table lists. And the pure selection rules (src/jobs/rules/selection.ts) skip exactly the entries
 * the table's `claim` refuses, so the claim rule a run decides by is the one the store enforces.
 */
import crypto from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerState, Outcome } from '../../src/domain.ts';
import { ruleLedger, ruleRetry } from '../../src/jobs/rules/selection.ts';
import { LEDGER_TRANSITIONS, allows, type LedgerGuard, type LedgerOperation } from '../../src/store/ledger-states.ts';
import { createMongoStore } from '../../src/store/mongodb/index.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { Ledger, LedgerEntry, Store } from '../../src/store/port.ts';
import { freshDatabase } from '../setup/db.ts';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
const OWNER = 'w1';
const STATES: (LedgerState | 'none')[] = ['none', 'claimed', 'sending', 'sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'];
const outcome = (state: Outcome['state']): Outcome => ({ state, reason: null, detail: null, recipients: [] });

const claimReq = (inst: string, inv: string, owner: string, now: string, leaseUntil = at(10), draft = false) => ({
  installationId: inst,
  invoiceId: inv,
  invoiceNumber: null,
  owner,
  leaseUntil,
  messageId: `<${inv}@t>`,
  now,
  maxAttempts: 5,
  draft,
});

/** How a case's entries are made: claimed as a draft, whether their outcome owes a write-back, whether a `sent` one's recipient bounced. */
interface Setup {
  draft?: boolean;
  writeBack?: boolean;
  bounce?: boolean;
}

/** A fresh entry in `state`, owned by OWNER with a lease until at(10) while claimed or sending. */
async function entryIn(store: Ledger, state: LedgerState | 'none', setup: Setup = {}): Promise<{ inst: string; inv: string }> {
  const inst = crypto.randomUUID();
  const inv = crypto.randomUUID();
  if (state === 'none') return { inst, inv };
  expect(await store.claim(claimReq(inst, inv, OWNER, at(0), at(10), setup.draft ?? false))).not.toBeNull();
  if (state === 'claimed') return { inst, inv };
  const settle = { writeBack: setup.writeBack ?? false, nextAttemptAt: null };
  if (state === 'skipped' || state === 'retry') {
    expect(await store.recordOutcome(inst, inv, OWNER, outcome(state), settle)).toBe(true);
    return { inst, inv };
  }
  expect(await store.markSending(inst, inv, OWNER, 'h', at(10))).toBe(true);
  if (state === 'sending') return { inst, inv };
  const recipients = [{ address: 'biuro@example.pl', accepted: true, reply: null }];
  expect(await store.recordOutcome(inst, inv, OWNER, { ...outcome(state), recipients }, settle)).toBe(true);
  if (state === 'sent' && setup.bounce) {
    expect(await store.recordBounces(inst, inv, `<${inv}@t>`, [{ address: 'biuro@example.pl', status: '5.1.1', diagnostic: null, at: at(2) }])).toEqual([
      'biuro@example.pl',
    ]);
  }
  return { inst, inv };
}

const fingerprint = (e: LedgerEntry | undefined) =>
  e ? JSON.stringify([e.state, e.owner, e.leaseUntil, e.attempts, e.handedOver, e.version, e.messageId]) : 'none';

/** Each case: an operation as the caller performs it, and which guards hold for that caller. */
interface Case {
  name: string;
  op: LedgerOperation;
  holds: Partial<Record<LedgerGuard, boolean>>;
  setup?: Setup;
  run: (store: Ledger, inst: string, inv: string, entry: LedgerEntry | undefined) => Promise<unknown>;
}
const CASES: Case[] = [
  {
    name: 'claim by another owner while the lease lives',
    op: 'claim',
    holds: { always: true, due: true, lease_expired: false },
    run: (s, i, v) => s.claim(claimReq(i, v, 'w2', at(1), at(11))),
  },
  {
    name: 'claim by another owner after the lease',
    op: 'claim',
    holds: { always: true, due: true, lease_expired: true },
    run: (s, i, v) => s.claim(claimReq(i, v, 'w2', at(20), at(30))),
  },
  {
    name: 'claimNewVersion of entries claimed as drafts, written back',
    op: 'claimNewVersion',
    holds: { was_draft: true, written_back: true },
    setup: { draft: true },
    run: (s, i, v) => s.claimNewVersion(claimReq(i, v, 'w2', at(20), at(30))),
  },
  {
    name: 'claimNewVersion of entries claimed as drafts, write-back owed',
    op: 'claimNewVersion',
    holds: { was_draft: true, written_back: false },
    setup: { draft: true, writeBack: true },
    run: (s, i, v) => s.claimNewVersion(claimReq(i, v, 'w2', at(20), at(30))),
  },
  {
    name: 'claimNewVersion of entries not claimed as drafts',
    op: 'claimNewVersion',
    holds: { was_draft: false, written_back: true },
    run: (s, i, v) => s.claimNewVersion(claimReq(i, v, 'w2', at(20), at(30))),
  },
  { name: 'markSending by the owner', op: 'markSending', holds: { owner: true }, run: (s, i, v) => s.markSending(i, v, OWNER, 'h2', at(12)) },
  { name: 'markSending by another', op: 'markSending', holds: { owner: false }, run: (s, i, v) => s.markSending(i, v, 'w2', 'h2', at(12)) },
  { name: 'markHandedOver by the owner', op: 'markHandedOver', holds: { owner: true }, run: (s, i, v) => s.markHandedOver(i, v, OWNER) },
  { name: 'markHandedOver by another', op: 'markHandedOver', holds: { owner: false }, run: (s, i, v) => s.markHandedOver(i, v, 'w2') },
  {
    name: 'recordOutcome by the owner',
    op: 'recordOutcome',
    holds: { owner: true },
    run: (s, i, v) => s.recordOutcome(i, v, OWNER, outcome('sent'), { writeBack: false, nextAttemptAt: null }),
  },
  {
    name: 'recordOutcome by another',
    op: 'recordOutcome',
    holds: { owner: false },
    run: (s, i, v) => s.recordOutcome(i, v, 'w2', outcome('sent'), { writeBack: false, nextAttemptAt: null }),
  },
  { name: 'release by the owner', op: 'release', holds: { owner: true }, run: (s, i, v) => s.release(i, v, OWNER) },
  { name: 'release by another', op: 'release', holds: { owner: false }, run: (s, i, v) => s.release(i, v, 'w2') },
  {
    name: 'releaseDeadOwners naming the owner (claimed)',
    op: 'releaseDead',
    holds: { dead_owner: true },
    run: (s, i) => s.releaseDeadOwners(i, [OWNER], at(1)),
  },
  {
    name: 'releaseDeadOwners naming the owner (sending)',
    op: 'expireDead',
    holds: { dead_owner: true },
    run: (s, i) => s.releaseDeadOwners(i, [OWNER], at(1)),
  },
  { name: 'releaseDeadOwners naming another', op: 'releaseDead', holds: { dead_owner: false }, run: (s, i) => s.releaseDeadOwners(i, ['w2'], at(1)) },
  {
    name: 'resolveInterrupted with the lease read',
    op: 'resolveInterrupted',
    holds: { expected_lease: true },
    run: (s, i, v, e) => s.resolveInterrupted(i, v, e?.leaseUntil ?? at(10), outcome('uncertain'), false),
  },
  {
    name: 'resolveInterrupted with another lease',
    op: 'resolveInterrupted',
    holds: { expected_lease: false },
    run: (s, i, v) => s.resolveInterrupted(i, v, at(99), outcome('uncertain'), false),
  },
  { name: 'allowResend', op: 'allowResend', holds: { always: true, bounced: false }, run: (s, i, v) => s.allowResend(i, v) },
  {
    name: 'allowResend after a bounce',
    op: 'allowResend',
    holds: { always: true, bounced: true },
    setup: { bounce: true },
    run: (s, i, v) => s.allowResend(i, v),
  },
];

it('every operation of the table is driven by a case here, with each guard it names', () => {
  for (const op of Object.keys(LEDGER_TRANSITIONS) as LedgerOperation[]) {
    const named = new Set(Object.values(LEDGER_TRANSITIONS[op].from).flat());
    const covered = new Set(CASES.filter((c) => c.op === op).flatMap((c) => Object.keys(c.holds)));
    expect(
      [...named].filter((g) => !covered.has(g)),
      op,
    ).toEqual([]);
  }
});

function transitionTableSuite(name: string, open: () => Promise<Store>, done: () => Promise<void> = async () => undefined): void {
  describe(`the ledger transition table holds on the ${name} adapter`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await done();
    });

    for (const c of CASES) {
      it(`${c.name}: moves exactly the states the table allows, to states it lists`, async () => {
        const table: string[] = [];
        const actual: string[] = [];
        for (const state of STATES) {
          // releaseDead and expireDead are one call; each case checks the rows its operation covers.
          if (c.op === 'releaseDead' && state === 'sending') continue;
          if (c.op === 'expireDead' && state !== 'sending') continue;
          const { inst, inv } = await entryIn(store, state, c.setup);
          const before = (await store.getLedger(inst, [inv]))[0];
          await c.run(store, inst, inv, before);
          const after = (await store.getLedger(inst, [inv]))[0];
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
}

transitionTableSuite('PostgreSQL', async () => createPostgresStore({ url: await freshDatabase() }));

const mongoUrl = process.env['MONGODB_URL'];
const mongoDb = `ic_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
describe.skipIf(!mongoUrl)('mongodb', () => {
  transitionTableSuite(
    'MongoDB',
    async () => createMongoStore({ url: mongoUrl!, dbName: mongoDb }),
    async () => {
      const client = new MongoClient(mongoUrl!, { serverSelectionTimeoutMS: 10_000 });
      try {
        await client.db(mongoDb).dropDatabase();
      } finally {
        await client.close();
      }
    },
  );
});

describe('the pure selection rules and the table agree on what may be claimed', () => {
  const now = new Date(T0);
  const entry = (state: LedgerState, over: Partial<LedgerEntry>): LedgerEntry => ({
    installationId: 'i',
    invoiceId: '1',
    invoiceNumber: null,
    state,
    owner: 'w',
    leaseUntil: null,
    attempts: 0,
    messageId: '<1@t>',
    contentHash: null,
    reason: null,
    detail: null,
    recipients: [],
    writeBackPending: false,
    nextAttemptAt: null,
    updatedAt: at(0),
    ...over,
  });
  const situations: { name: string; over: Partial<LedgerEntry>; leaseExpired: boolean; due: boolean }[] = [
    { name: 'lease live, due', over: { leaseUntil: at(5) }, leaseExpired: false, due: true },
    { name: 'lease expired, due', over: { leaseUntil: at(-5) }, leaseExpired: true, due: true },
    { name: 'attempts used up', over: { leaseUntil: at(-5), attempts: 3 }, leaseExpired: true, due: false },
    { name: 'next attempt later', over: { leaseUntil: at(-5), nextAttemptAt: at(5) }, leaseExpired: true, due: false },
  ];
  for (const state of STATES.filter((s): s is LedgerState => s !== 'none')) {
    it(`${state}: ruleLedger and ruleRetry let an entry through exactly when the table's claim allows it`, () => {
      for (const s of situations) {
        const e = entry(state, s.over);
        const passes = ruleLedger(e, now) === null && ruleRetry(e, { now, maxAttempts: 3 }) === null;
        const claimable = allows('claim', state, (g) => g === 'always' || (g === 'lease_expired' && s.leaseExpired) || (g === 'due' && s.due));
        expect(passes, `${state}, ${s.name}`).toBe(claimable);
      }
    });
  }
  it('no entry yet: the rules let it through and the table allows the claim', () => {
    expect(ruleLedger(null, now)).toBeNull();
    expect(allows('claim', undefined, (g) => g === 'always')).toBe(true);
  });
});

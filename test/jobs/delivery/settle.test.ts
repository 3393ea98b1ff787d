/**
 * settle(): record -> check the claim was still ours -> count, log, announce. Against the real PostgreSQL
 * adapter; store faults are injected by a thin implementation of the store port that delegates to it
 * (the port is the seam, nothing of ours is patched). Time is a fake clock moved by the fake sleep, so
 * "retried for as long as the lease lasts" runs in milliseconds.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts, type Outcome, type RunCounts } from '../../../src/domain.ts';
import { ConnectorError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/observability/logger.ts';
import { classify, type Classified } from '../../../src/jobs/rules/classify.ts';
import { logLineFor, settle, type PipelineEvent, type SettleDeps, type SettleTarget } from '../../../src/jobs/run/settle.ts';
import { createPostgresStore } from '../../../src/store/postgres/index.ts';
import type { Store } from '../../../src/store/port.ts';
import { freshDatabase } from '../../setup/db.ts';

let pgStore: Store;
beforeAll(async () => {
  pgStore = createPostgresStore({ url: await freshDatabase() });
  await pgStore.migrate();
});
afterAll(async () => {
  await pgStore?.close();
});

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const LEASE_MS = 60_000;

interface World {
  inst: string;
  inv: string;
  owner: string;
  leaseUntil: string;
  counts: RunCounts;
  events: PipelineEvent[];
  warnings: string[];
  errors: string[];
  pauses: number[];
  deps: SettleDeps;
  target: SettleTarget;
  /** Calls that reached the store port, by method. */
  calls: Record<string, number>;
}

type Faults = { recordOutcome?: (n: number) => Error | null; appendLogs?: Error };

/** A fresh invoice claimed by `owner` (and marked `sending` unless `sending: false`), with deps around a fault-injecting port. */
async function world(faults: Faults = {}, opts: { sending?: boolean } = {}): Promise<World> {
  const inst = crypto.randomUUID();
  const inv = crypto.randomUUID();
  const owner = 'worker-1';
  let now = T0;
  const leaseUntil = new Date(T0 + LEASE_MS).toISOString();
  const claimed = await pgStore.claim({
    installationId: inst,
    invoiceId: inv,
    invoiceNumber: 'FV/1',
    owner,
    leaseUntil,
    messageId: `<${inv}@t>`,
    now: new Date(T0).toISOString(),
    maxAttempts: 3,
  });
  expect(claimed).not.toBeNull();
  if (opts.sending !== false) expect(await pgStore.markSending(inst, inv, owner, 'hash', leaseUntil)).toBe(true);
  const calls: Record<string, number> = {};
  const count = (m: string) => (calls[m] = (calls[m] ?? 0) + 1);
  const port: SettleDeps['store'] = {
    async recordOutcome(...args) {
      const n = count('recordOutcome');
      const fault = faults.recordOutcome?.(n) ?? null;
      if (fault) throw fault;
      return pgStore.recordOutcome(...args);
    },
    async resolveInterrupted(...args) {
      count('resolveInterrupted');
      return pgStore.resolveInterrupted(...args);
    },
    async appendLogs(entries) {
      count('appendLogs');
      if (faults.appendLogs) throw faults.appendLogs;
      return pgStore.appendLogs(entries);
    },
  };
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = {
    info: () => undefined,
    debug: () => undefined,
    warn: (_o: unknown, msg: string) => void warnings.push(msg),
    error: (_o: unknown, msg: string) => void errors.push(msg),
    child: () => logger,
  } as unknown as Logger;
  const events: PipelineEvent[] = [];
  const pauses: number[] = [];
  const counts = emptyCounts();
  const deps: SettleDeps = {
    store: port,
    clock: () => new Date(now),
    logger,
    events: (e) => events.push(e),
    sleep: async (ms) => {
      pauses.push(ms);
      now += ms;
    },
  };
  const target: SettleTarget = {
    installationId: inst,
    runId: null,
    invoice: { id: inv, number: 'FV/1' },
    via: { kind: 'claim', owner, leaseUntil },
    counts,
    data: { messageId: `<${inv}@t>` },
  };
  return { inst, inv, owner, leaseUntil, counts, events, warnings, errors, pauses, deps, target, calls };
}

const ctx = { mode: 'send_now' as const, attempts: 1, maxAttempts: 3, now: new Date(T0), recipients: ['a@x.example'] };
const sent: Classified = classify(
  { kind: 'delivered', result: { mode: 'send_now', recipients: [{ address: 'a@x.example', accepted: true, reply: null }], response: '250 OK queued' } },
  null,
  ctx,
);
const storeDown = () => new ConnectorError('store_unavailable', 'database stalled');

async function entry(w: World) {
  const [e] = await pgStore.getLedger(w.inst, [w.inv]);
  return e!;
}
async function logs(w: World) {
  return pgStore.listLogs({ installationId: w.inst, limit: 100 });
}

describe('settle', () => {
  it('records, then counts, logs and announces once: sent, written back, one log entry, one event', async () => {
    const w = await world();
    expect(await settle(w.deps, w.target, sent)).toBe('settled');
    expect(await entry(w)).toMatchObject({ state: 'sent', writeBackPending: true, owner: null, detail: '250 OK queued' });
    expect(w.counts).toEqual({ ...emptyCounts(), sent: 1 });
    const entries = await logs(w);
    expect(entries.map((e) => [e.event, e.level, e.message])).toEqual([['invoice.sent', 'info', 'Sent to a@x.example']]);
    expect(entries[0]!.data).toMatchObject({ messageId: `<${w.inv}@t>` });
    expect(w.events).toEqual([{ type: 'invoice.sent', installationId: w.inst, invoiceId: w.inv, invoiceNumber: 'FV/1', detail: 'a@x.example' }]);
  });

  it('a store that fails after the server answered is retried with growing pauses, then recorded once — nothing is delivered again', async () => {
    const w = await world({ recordOutcome: (n) => (n <= 3 ? storeDown() : null) });
    expect(await settle(w.deps, w.target, sent)).toBe('settled');
    expect(w.calls['recordOutcome']).toBe(4);
    expect(w.pauses).toEqual([250, 500, 1000]);
    expect((await entry(w)).state).toBe('sent');
    expect(w.counts.sent).toBe(1);
    expect((await logs(w)).filter((e) => e.event === 'invoice.sent')).toHaveLength(1);
    expect(w.events).toHaveLength(1);
  });

  it('a store that stays down for the whole lease: the entry stays `sending` (for the evidence check), nothing counted, logged or announced', async () => {
    const w = await world({ recordOutcome: () => storeDown() });
    expect(await settle(w.deps, w.target, sent)).toBe('unrecorded');
    const total = w.pauses.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(LEASE_MS);
    expect(Math.max(...w.pauses)).toBe(5000);
    expect(w.calls['recordOutcome']).toBe(w.pauses.length + 1);
    const e = await entry(w);
    expect(e.state).toBe('sending');
    expect(e.owner).toBe(w.owner);
    expect(w.counts).toEqual(emptyCounts());
    expect(w.calls['appendLogs']).toBeUndefined();
    expect(w.events).toEqual([]);
    expect(w.errors).toHaveLength(1);
  });

  it('a store error that is not retryable is not retried: left as it is at once', async () => {
    const w = await world({ recordOutcome: () => new ConnectorError('internal', 'bug') });
    expect(await settle(w.deps, w.target, sent)).toBe('unrecorded');
    expect(w.calls['recordOutcome']).toBe(1);
    expect(w.pauses).toEqual([]);
    expect((await entry(w)).state).toBe('sending');
  });

  it('a claim that is no longer ours (taken over after its lease) is not counted, logged or announced', async () => {
    const w = await world({}, { sending: false });
    // The lease ran out and another worker claimed the invoice.
    const later = new Date(T0 + LEASE_MS + 1000).toISOString();
    expect(
      await pgStore.claim({
        installationId: w.inst,
        invoiceId: w.inv,
        invoiceNumber: 'FV/1',
        owner: 'worker-2',
        leaseUntil: new Date(T0 + 3 * LEASE_MS).toISOString(),
        messageId: `<${w.inv}@t>`,
        now: later,
        maxAttempts: 3,
      }),
    ).not.toBeNull();
    const retry = classify({ kind: 'print', error: new ConnectorError('host_unavailable', 'busy') }, null, ctx);
    expect(await settle(w.deps, w.target, retry)).toBe('lost');
    const e = await entry(w);
    expect(e).toMatchObject({ state: 'claimed', owner: 'worker-2' });
    expect(w.counts).toEqual(emptyCounts());
    expect(w.calls['appendLogs']).toBeUndefined();
    expect(w.events).toEqual([]);
    expect(w.warnings.some((m) => /no longer ours/.test(m))).toBe(true);
  });

  it('a silent outcome (the account stopped the run) is recorded only', async () => {
    const w = await world();
    const skipped = classify({ kind: 'mail', error: new ConnectorError('mail_auth', '535', { detail: { phase: 'connect' } }) }, null, ctx);
    expect(await settle(w.deps, w.target, skipped)).toBe('settled');
    expect(await entry(w)).toMatchObject({ state: 'skipped', reason: 'smtp_auth', writeBackPending: false });
    expect(w.counts).toEqual(emptyCounts());
    expect(w.calls['appendLogs']).toBeUndefined();
    expect(w.events).toEqual([]);
  });

  it("a claim's outcome and its log entry go to the store together (recordOutcome carries the entry): no separate log write that could be lost", async () => {
    const w = await world({ appendLogs: storeDown() });
    expect(await settle(w.deps, w.target, sent)).toBe('settled');
    expect((await entry(w)).state).toBe('sent');
    expect((await logs(w)).map((e) => e.event)).toEqual(['invoice.sent']);
    expect(w.calls['appendLogs'] ?? 0).toBe(0);
    expect(w.counts.sent).toBe(1);
    expect(w.events).toHaveLength(1);
    expect(w.warnings).toEqual([]);
  });

  it("an interrupted delivery's log entry that cannot be written does not undo its resolved outcome: counted and announced, warned", async () => {
    const w = await world({ appendLogs: storeDown() });
    const via = { kind: 'interrupted' as const, expectedLeaseUntil: w.leaseUntil };
    const found = classify({ kind: 'interrupted', recipients: [], handedOver: true }, 'found', ctx);
    expect(await settle(w.deps, { ...w.target, via }, found)).toBe('settled');
    expect((await entry(w)).state).toBe('sent');
    expect(w.counts.sent).toBe(1);
    expect(w.events).toHaveLength(1);
    expect(w.warnings.some((m) => /log entry was not written/.test(m))).toBe(true);
  });

  it('retry and failed and uncertain: counted by state; failed and uncertain announced, retry not; nextAttemptAt and write-back as classified', async () => {
    const retry = classify({ kind: 'mail', error: new ConnectorError('mail_temporary', '451 later', { detail: { phase: 'envelope' } }) }, null, ctx);
    const failed = classify({ kind: 'no_template' }, null, ctx);
    const uncertain = classify(
      { kind: 'mail', error: new ConnectorError('mail_temporary', 'lost', { detail: { phase: 'awaiting_reply', unknownOutcome: true } }) },
      'unknown',
      ctx,
    );
    const results: [Classified, string, string | null][] = [
      [retry, 'retry', null],
      [failed, 'failed', 'invoice.failed'],
      [uncertain, 'uncertain', 'invoice.uncertain'],
    ];
    for (const [verdict, state, event] of results) {
      const w = await world();
      expect(await settle(w.deps, w.target, verdict)).toBe('settled');
      const e = await entry(w);
      expect(e.state).toBe(state);
      expect(e.writeBackPending).toBe(verdict.writeBack);
      expect(e.nextAttemptAt).toBe(verdict.nextAttemptAt);
      expect(w.counts[state as keyof RunCounts]).toBe(1);
      expect(w.events.map((x) => x.type)).toEqual(event ? [event] : []);
      expect((await logs(w)).map((l) => l.event)).toEqual([`invoice.${state}`]);
    }
  });

  it('an interrupted delivery is resolved once: a second resolver of the same entry gets `lost`', async () => {
    const w = await world();
    // The dead process's lease: the entry is `sending` with leaseUntil in the past as far as resolvers go.
    const via = { kind: 'interrupted' as const, expectedLeaseUntil: w.leaseUntil };
    const found = classify({ kind: 'interrupted', recipients: [], handedOver: true }, 'found', ctx);
    const [a, b] = await Promise.all([settle(w.deps, { ...w.target, via }, found), settle(w.deps, { ...w.target, via, counts: emptyCounts() }, found)]);
    expect([a, b].sort()).toEqual(['lost', 'settled']);
    expect((await entry(w)).state).toBe('sent');
    expect(w.events).toHaveLength(1);
  });
});

describe('logLineFor', () => {
  const o = (over: Partial<Outcome>): Outcome => ({ state: 'sent', reason: null, detail: null, recipients: [], ...over });
  it('says who got it, who refused it and why, and what a person should know', () => {
    expect(
      logLineFor(
        o({
          recipients: [
            { address: 'a@x', accepted: true, reply: null },
            { address: 'b@x', accepted: false, reply: '450 busy' },
          ],
        }),
      ),
    ).toEqual({ level: 'warning', event: 'invoice.sent', message: 'Sent to a@x; refused: b@x (450 busy)' });
    expect(logLineFor(o({ recipients: [{ address: 'a@x', accepted: true, reply: null }] }), true).message).toBe('Sent to a@x (confirmed in the mailbox)');
    expect(logLineFor(o({ state: 'drafted', recipients: [{ address: 'a@x', accepted: true, reply: null }] })).message).toBe('Saved in Drafts for a@x');
    expect(logLineFor(o({ state: 'retry', detail: '451 later' }))).toEqual({ level: 'warning', event: 'invoice.retry', message: 'Will retry: 451 later' });
    expect(logLineFor(o({ state: 'failed', detail: '554 spam' }))).toEqual({ level: 'error', event: 'invoice.failed', message: 'Failed: 554 spam' });
    expect(logLineFor(o({ state: 'uncertain', detail: 'lost reply' })).level).toBe('warning');
  });
});

/**
 * Write-backs taken by a flush whose store then fails (a dropped connection, a failover) are not left
 * leased to nobody: clearing or giving them back is retried, and what still cannot be given back is held
 * by the process and given back by its next flush. Against a real PostgreSQL store, with failures
 * injected into chosen store calls.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteBack } from '../../src/connector/port.ts';
import { ConnectorError } from '../../src/errors.ts';
import { HeldWriteBacks, WRITE_BACK_SETTLE_MS, flushWriteBacks } from '../../src/jobs/run/writeback.ts';
import type { Store } from '../../src/store/port.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import { freshDatabase } from '../setup/db.ts';

let store: Store;
beforeAll(async () => {
  store = createPostgresStore({ url: await freshDatabase() });
  await store.migrate();
});
afterAll(async () => {
  await store?.close();
});

const down = () => new ConnectorError('store_unavailable', 'Connection terminated unexpectedly');

/** The real store, whose named calls fail while `failures[name]` is above zero (one failure per call). */
function failing(failures: Partial<Record<keyof Store, number>>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const left = failures[prop as keyof Store] ?? 0;
        if (left > 0) {
          failures[prop as keyof Store] = left - 1;
          return Promise.reject(down());
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An installation with `n` sent invoices whose write-back is owed. */
async function owed(n: number): Promise<string> {
  const inst = crypto.randomUUID();
  const now = new Date().toISOString();
  for (let i = 1; i <= n; i++) {
    const invoiceId = String(i);
    await store.claim({
      installationId: inst,
      invoiceId,
      invoiceNumber: `FV/${i}`,
      owner: 'w',
      leaseUntil: new Date(Date.now() + 60_000).toISOString(),
      messageId: `<${inst}.${i}@ic>`,
      now,
      maxAttempts: 3,
    });
    await store.recordOutcome(
      inst,
      invoiceId,
      'w',
      { state: 'sent', reason: null, detail: null, recipients: [{ address: 'biuro@example.pl', accepted: true, reply: null }] },
      { writeBack: true, nextAttemptAt: null },
    );
  }
  return inst;
}

/** The real store, whose named calls are carried out and then fail as if their answer was lost (one per call). */
function answerLost(failures: Partial<Record<keyof Store, number>>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
        const left = failures[prop as keyof Store] ?? 0;
        if (left > 0) {
          failures[prop as keyof Store] = left - 1;
          throw down();
        }
        return result;
      };
    },
  });
}

function host(opts: { fail?: boolean } = {}) {
  const written: string[] = [];
  return {
    written,
    writeBack: async (items: WriteBack[]) => {
      if (opts.fail) throw new ConnectorError('host_unavailable', 'host down');
      written.push(...items.map((i) => i.invoiceId));
    },
  };
}

const noLog = async () => undefined;
const deps = (s: Store, held = new HeldWriteBacks()) => ({ store: s, owner: 'p1', clock: () => new Date(), heldWriteBacks: held, recordPauseMs: 10 });

describe('write-backs under a failing store', () => {
  it('a store that fails briefly while clearing what was written: cleared once it answers, nothing left owed', async () => {
    const inst = await owed(3);
    const h = host();
    expect(await flushWriteBacks(deps(failing({ markWrittenBack: 2 })), inst, h, noLog)).toBe(3);
    expect(h.written.sort()).toEqual(['1', '2', '3']);
    expect(await store.listPendingWriteBacks(inst, 10)).toEqual([]);
  });

  it('a host that fails and a store that fails while giving back: given back once the store answers, taken again at once', async () => {
    const inst = await owed(2);
    expect(await flushWriteBacks(deps(failing({ releaseWriteBacks: 2 })), inst, host({ fail: true }), noLog)).toBe(0);
    const h = host();
    expect(await flushWriteBacks(deps(store), inst, h, noLog)).toBe(2);
    expect(h.written.sort()).toEqual(['1', '2']);
  });

  it('what cannot be given back within the retry window is held by the process and given back by its next flush', async () => {
    const inst = await owed(2);
    const held = new HeldWriteBacks();
    // The store stays down for the whole retry window: each reading of the clock is one window later.
    let windows = 0;
    const jumping = () => new Date(Date.now() + windows++ * WRITE_BACK_SETTLE_MS);
    const first = host();
    await expect(flushWriteBacks({ ...deps(failing({ markWrittenBack: 1_000 }), held), clock: jumping }, inst, first, noLog)).rejects.toThrow(
      /Connection terminated/,
    );
    expect(first.written.sort()).toEqual(['1', '2']);
    expect(held.count(inst)).toBe(2);
    // Still leased to this process: another process cannot take them before the lease ends.
    expect(
      await store.claimWriteBacks(inst, { owner: 'p2', now: new Date().toISOString(), leaseUntil: new Date(Date.now() + 60_000).toISOString(), limit: 10 }),
    ).toEqual([]);
    // The next flush of this process gives them back first, then writes them (the host finds its note).
    const second = host();
    expect(await flushWriteBacks(deps(store, held), inst, second, noLog)).toBe(2);
    expect(held.count(inst)).toBe(0);
    expect(second.written.sort()).toEqual(['1', '2']);
    expect(await store.listPendingWriteBacks(inst, 10)).toEqual([]);
  });

  it('a take whose answer was lost (the store committed it) is given back at once by its stamp: the next flush writes them, not after the lease', async () => {
    const inst = await owed(3);
    const h = host();
    await expect(flushWriteBacks(deps(answerLost({ claimWriteBacks: 1 })), inst, h, noLog)).rejects.toThrow(/Connection terminated/);
    expect(h.written).toEqual([]);
    expect(await flushWriteBacks(deps(store), inst, h, noLog)).toBe(3);
    expect(h.written.sort()).toEqual(['1', '2', '3']);
    expect(await store.listPendingWriteBacks(inst, 10)).toEqual([]);
  });

  it('a lost take the store cannot give back within the retry window is held by its stamp and given back by the next flush', async () => {
    const inst = await owed(2);
    const held = new HeldWriteBacks();
    let windows = 0;
    const jumping = () => new Date(Date.now() + windows++ * WRITE_BACK_SETTLE_MS);
    const s = answerLost({ claimWriteBacks: 1 });
    const failingRelease = new Proxy(s, {
      get: (t, prop, r) => (prop === 'releaseWriteBacks' ? () => Promise.reject(down()) : (Reflect.get(t, prop, r) as unknown)),
    });
    await expect(flushWriteBacks({ ...deps(failingRelease, held), clock: jumping }, inst, host(), noLog)).rejects.toThrow(/Connection terminated/);
    expect(held.count(inst)).toBe(1);
    const h = host();
    expect(await flushWriteBacks(deps(store, held), inst, h, noLog)).toBe(2);
    expect(held.count(inst)).toBe(0);
    expect(h.written.sort()).toEqual(['1', '2']);
  });

  it('a held write-back that the store still cannot give back keeps being held (the flush takes nothing)', async () => {
    const inst = await owed(1);
    const held = new HeldWriteBacks();
    await store.claimWriteBacks(inst, { owner: 'p1', now: new Date().toISOString(), leaseUntil: new Date(Date.now() + 60_000).toISOString(), limit: 10 });
    held.add(inst, ['1']);
    const h = host();
    await expect(flushWriteBacks(deps(failing({ releaseWriteBacks: 1 }), held), inst, h, noLog)).rejects.toThrow(/Connection terminated/);
    expect(h.written).toEqual([]);
    expect(held.count(inst)).toBe(1);
    expect(await flushWriteBacks(deps(store, held), inst, h, noLog)).toBe(1);
  });
});

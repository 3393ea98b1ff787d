/**
 * What a run context claims and answers for (src/jobs/run/run-claims.ts), against a real PostgreSQL
 * store: a claim noted before it is asked for stays noted when its answer is lost; one another owner won
 * is not this context's to check.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.ts';
import { RunClaims } from '../../src/jobs/run/run-claims.ts';
import type { Store } from '../../src/store/port.ts';
import { usePostgresStore } from '../setup/db.ts';

const realStore = usePostgresStore();

/** The real store, whose `claimMany` commits and then loses its answer (a connection dropped after the commit). */
function answerLost(): Store {
  return new Proxy(realStore(), {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'claimMany' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        throw new ConnectorError('store_unavailable', 'Connection terminated unexpectedly');
      };
    },
  });
}

function claimsOf(s: Store, installationId: string, owner: string): RunClaims {
  return new RunClaims({
    store: s,
    installationId,
    owner,
    leaseSeconds: 300,
    maxAttempts: 3,
    messageIdOf: (id) => `<ic-${installationId}.${id}@spike.example>`,
  });
}

const invoices = (...ids: string[]) => ids.map((id) => ({ id, number: `FV/${id}`, state: 'posted' as const }));

describe('a run context claims in the ledger and answers for what it may have won', () => {
  it('a page claimed in one statement: the entries won, each open until settled, checked by the run and by a page job', async () => {
    const inst = crypto.randomUUID();
    const claims = claimsOf(realStore(), inst, 'p1');
    const now = new Date();
    const won = await claims.many(invoices('1', '2', '3'), now, claims.leaseFrom(now));
    expect([...won.keys()].sort()).toEqual(['1', '2', '3']);
    expect(won.get('1')).toMatchObject({ state: 'claimed', owner: 'p1', messageId: `<ic-${inst}.1@spike.example>` });
    expect((await claims.unsettled()).map((e) => e.invoiceId).sort()).toEqual(['1', '2', '3']);
    expect((await claims.unsettledOfPage()).map((e) => e.invoiceId).sort()).toEqual(['1', '2', '3']);
    await realStore().release(inst, '2', 'p1');
    expect((await claims.unsettledOfPage()).map((e) => e.invoiceId).sort()).toEqual(['1', '3']);
  });

  it('a claim whose answer was lost is still one the context answers for (its settled-check sees it open)', async () => {
    const inst = crypto.randomUUID();
    const claims = claimsOf(answerLost(), inst, 'p1');
    const now = new Date();
    await expect(claims.many(invoices('7'), now, claims.leaseFrom(now))).rejects.toThrow('Connection terminated');
    expect(claims.ids()).toEqual(['7']);
    expect((await claims.unsettled()).map((e) => [e.invoiceId, e.state, e.owner])).toEqual([['7', 'claimed', 'p1']]);
  });

  it("an invoice another owner won is not this context's to check, even when that owner is this process", async () => {
    const inst = crypto.randomUUID();
    const now = new Date();
    const first = claimsOf(realStore(), inst, 'p1');
    await first.many(invoices('1'), now, first.leaseFrom(now));
    // another run or page job of the same process (the same owner) asks for the same invoice and loses
    const second = claimsOf(realStore(), inst, 'p1');
    expect((await second.many(invoices('1', '2'), now, second.leaseFrom(now))).has('1')).toBe(false);
    expect(await second.one(invoices('1')[0]!, now)).toBeNull();
    expect(second.ids()).toEqual(['2']);
    expect((await second.unsettled()).map((e) => e.invoiceId)).toEqual(['2']);
    expect((await first.unsettled()).map((e) => e.invoiceId)).toEqual(['1']);
  });
});

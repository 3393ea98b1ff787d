/** The `WebhookOutbox` port's contract: outgoing deliveries (persisted, leased, retried) and the incoming event ids seen. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { NewWebhookDelivery, Store, WebhookAttempt, WebhookOutbox } from '../../../src/store/port.ts';
import { at, uid } from './fixtures.ts';

export function webhookOutboxContract(port: () => Store): void {
  describe('WebhookOutbox', () => {
    let store: WebhookOutbox;
    beforeAll(() => {
      store = port();
    });

    describe('webhook deliveries', () => {
      const delivery = (installationId: string, over: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery => ({
        id: uid(),
        installationId,
        eventType: 'run.completed',
        url: 'https://erp.example.pl/hook',
        payload: '{"id":"x","type":"run.completed"}',
        nextAttemptAt: at(0),
        expiresAt: at(24 * 60),
        createdAt: at(0),
        ...over,
      });
      const attempt = (statusCode: number | null, over: Partial<WebhookAttempt> = {}): WebhookAttempt => ({
        at: at(1),
        durationMs: 12,
        statusCode,
        error: statusCode === 200 ? null : `HTTP ${statusCode}`,
        manual: false,
        ...over,
      });

      it('a created delivery is pending with no attempts and reads back; other installations do not see it', async () => {
        const inst = uid();
        const input = delivery(inst);
        const created = await store.createWebhookDelivery(input);
        expect(created).toEqual({ ...input, status: 'pending', attempts: [], owner: null, leaseUntil: null, updatedAt: at(0) });
        expect(await store.getWebhookDelivery(inst, input.id)).toEqual(created);
        expect(await store.getWebhookDelivery(uid(), input.id)).toBeNull();
        expect(await store.listWebhookDeliveries(uid(), { limit: 10 })).toEqual([]);
      });

      it('deliveries are listed newest first, limited, filtered by status', async () => {
        const inst = uid();
        for (const m of [0, 1, 2]) await store.createWebhookDelivery(delivery(inst, { createdAt: at(m), eventType: `e${m}`, nextAttemptAt: null }));
        expect((await store.listWebhookDeliveries(inst, { limit: 10 })).map((d) => d.eventType)).toEqual(['e2', 'e1', 'e0']);
        expect(await store.listWebhookDeliveries(inst, { limit: 2 })).toHaveLength(2);
        expect(await store.listWebhookDeliveries(inst, { status: 'delivered', limit: 10 })).toEqual([]);
        expect(await store.listWebhookDeliveries(inst, { status: 'pending', limit: 10 })).toHaveLength(3);
      });

      it('only due pending deliveries with a free lease are claimed, and not again until the lease expires', async () => {
        const inst = uid();
        // Far in the future of every other test's deliveries, so that only these are due at `now`.
        const base = 100_000;
        const due = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }));
        await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base + 5) }));
        const first = await store.claimDueWebhookDeliveries({ now: at(base + 1), owner: 'd1', leaseUntil: at(base + 2), limit: 10 });
        expect(first.map((d) => d.id)).toContain(due.id);
        expect(first.find((d) => d.id === due.id)).toMatchObject({ owner: 'd1', leaseUntil: at(base + 2) });
        const again = await store.claimDueWebhookDeliveries({ now: at(base + 1), owner: 'd2', leaseUntil: at(base + 3), limit: 10 });
        expect(again.map((d) => d.id)).not.toContain(due.id);
        const afterLease = await store.claimDueWebhookDeliveries({ now: at(base + 2.5), owner: 'd2', leaseUntil: at(base + 4), limit: 10 });
        expect(afterLease.find((d) => d.id === due.id)?.owner).toBe('d2');
      });

      it('concurrent dispatchers never claim the same delivery', async () => {
        const inst = uid();
        const base = 200_000;
        const ids = new Set<string>();
        for (let i = 0; i < 12; i++) ids.add((await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }))).id);
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.claimDueWebhookDeliveries({ now: at(base + 1), owner: `d${i}`, leaseUntil: at(base + 2), limit: 4 })),
        );
        const taken = results
          .flat()
          .filter((d) => ids.has(d.id))
          .map((d) => d.id);
        expect(new Set(taken).size).toBe(taken.length);
        expect(taken.length).toBe(12);
        // Each dispatcher took at most its limit.
        expect(Math.max(...results.map((r) => r.length))).toBeLessThanOrEqual(4);
      });

      it('an attempt is appended by the owner only, sets the status and releases the lease', async () => {
        const inst = uid();
        const base = 300_000;
        const d = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: at(base) }));
        await store.claimWebhookDelivery(inst, d.id, { now: at(base), owner: 'd1', leaseUntil: at(base + 1) });
        expect(await store.recordWebhookAttempt(d.id, 'intruder', attempt(500), { status: 'pending', nextAttemptAt: at(base + 2) })).toBeNull();
        const one = await store.recordWebhookAttempt(d.id, 'd1', attempt(500), { status: 'pending', nextAttemptAt: at(base + 2) });
        expect(one).toMatchObject({ status: 'pending', nextAttemptAt: at(base + 2), owner: null, leaseUntil: null, attempts: [attempt(500)] });
        await store.claimWebhookDelivery(inst, d.id, { now: at(base), owner: 'd1', leaseUntil: at(base + 1) });
        const two = await store.recordWebhookAttempt(d.id, 'd1', attempt(200, { durationMs: 7 }), { status: 'delivered', nextAttemptAt: null });
        expect(two?.attempts).toEqual([attempt(500), attempt(200, { durationMs: 7 })]);
        expect(two).toMatchObject({ status: 'delivered', nextAttemptAt: null });
        expect(await store.getWebhookDelivery(inst, d.id)).toEqual(two);
        // A delivered one is not due any more.
        const due = await store.claimDueWebhookDeliveries({ now: at(base + 10), owner: 'd3', leaseUntil: at(base + 11), limit: 100 });
        expect(due.map((x) => x.id)).not.toContain(d.id);
      });

      it('a manual claim takes a delivery in any status while its lease is free, and only for its installation', async () => {
        const inst = uid();
        const d = await store.createWebhookDelivery(delivery(inst, { nextAttemptAt: null }));
        expect(await store.claimWebhookDelivery(uid(), d.id, { now: at(0), owner: 'm', leaseUntil: at(1) })).toBeNull();
        expect((await store.claimWebhookDelivery(inst, d.id, { now: at(0), owner: 'm', leaseUntil: at(1) }))?.owner).toBe('m');
        expect(await store.claimWebhookDelivery(inst, d.id, { now: at(0.5), owner: 'n', leaseUntil: at(2) })).toBeNull();
        await store.recordWebhookAttempt(d.id, 'm', attempt(410, { manual: true }), { status: 'failed', nextAttemptAt: null });
        expect((await store.claimWebhookDelivery(inst, d.id, { now: at(0.5), owner: 'n', leaseUntil: at(2) }))?.status).toBe('failed');
      });
    });

    describe('incoming webhook event ids', () => {
      it('an event id is accepted once per installation until it is forgotten after keepUntil', async () => {
        const inst = uid();
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(0), at(5))).toBe(true);
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(1), at(6))).toBe(false);
        expect(await store.rememberIncomingEvent(uid(), 'evt_1', at(1), at(6))).toBe(true);
        expect(await store.rememberIncomingEvent(inst, 'evt_1', at(10), at(15))).toBe(true);
        const [a, b] = await Promise.all([store.rememberIncomingEvent(inst, 'evt_2', at(0), at(5)), store.rememberIncomingEvent(inst, 'evt_2', at(0), at(5))]);
        expect([a, b].sort()).toEqual([false, true]);
      });
    });
  });
}

/**
 * When a run may start one more delivery (src/jobs/run/run-deliveries.ts): a slow start from
 * FIRST_IN_FLIGHT, one more for each that settled, and a slot of the process's (or the run's own bound).
 * Deliveries here are promises the test settles by hand.
 */
import { describe, expect, it } from 'vitest';
import { DeliverySlots } from '../../src/jobs/run/delivery-slots.ts';
import { FIRST_IN_FLIGHT, RunDeliveries } from '../../src/jobs/run/run-deliveries.ts';

const tick = () => new Promise((r) => setImmediate(r));

/** A producer that offers `n` deliveries one after another (as a page does) and counts what runs. */
function producer(deliveries: RunDeliveries, n: number, wanted = () => true) {
  const open: (() => void)[] = [];
  const state = { started: 0, refused: 0, running: 0, most: 0, open };
  const done = (async () => {
    for (let i = 0; i < n; i++) {
      const ok = await deliveries.start(
        () =>
          new Promise<void>((resolve) => {
            state.running++;
            state.most = Math.max(state.most, state.running);
            open.push(() => {
              state.running--;
              resolve();
            });
          }),
        wanted,
      );
      if (ok) state.started++;
      else state.refused++;
    }
  })();
  return { state, done, settleOne: async () => (open.shift()?.(), tick()) };
}

describe('a run’s deliveries at once', () => {
  it('start 2 at once, then one more for each that settled, up to the bound', async () => {
    expect(FIRST_IN_FLIGHT).toBe(2);
    const deliveries = new RunDeliveries({ maxInFlight: 6 }, () => 0);
    const p = producer(deliveries, 20);
    await tick();
    expect(p.state.running).toBe(2);
    await p.settleOne();
    expect(p.state.running).toBe(3); // 1 settled: 2 + 1 may run
    await p.settleOne();
    expect(p.state.running).toBe(4);
    for (let i = 0; i < 6; i++) await p.settleOne();
    expect(p.state.running).toBe(6); // the bound
    while (p.state.started < 20 || p.state.running > 0) await p.settleOne();
    await p.done;
    expect(p.state.most).toBe(6);
    await deliveries.allSettled();
  });

  it('two runs on the process’s slots stay within its size together', async () => {
    const slots = new DeliverySlots(5);
    const a = producer(new RunDeliveries(slots, () => 0), 30);
    const b = producer(new RunDeliveries(slots, () => 1), 30);
    let most = 0;
    for (let i = 0; i < 200 && (a.state.started + b.state.started < 60 || a.state.running + b.state.running > 0); i++) {
      await tick();
      most = Math.max(most, a.state.running + b.state.running);
      await (i % 2 ? a : b).settleOne();
    }
    await Promise.all([a.done, b.done]);
    expect(a.state.started + b.state.started).toBe(60);
    expect(most).toBe(5);
  });

  it('a delivery no longer wanted when its turn comes is not started, and its slot stays free', async () => {
    const slots = new DeliverySlots(1);
    let stopped = false;
    const deliveries = new RunDeliveries(slots, () => 0);
    const p = producer(deliveries, 3, () => !stopped);
    await tick();
    expect(p.state.started).toBe(1);
    stopped = true;
    await p.settleOne();
    await p.done;
    expect([p.state.started, p.state.refused]).toEqual([1, 2]);
    // The slot was given back each time: another run takes it at once.
    let ran = false;
    expect(
      await new RunDeliveries(slots, () => 0).start(
        async () => {
          ran = true;
        },
        () => true,
      ),
    ).toBe(true);
    expect(ran).toBe(true);
  });
});

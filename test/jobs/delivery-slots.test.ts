/** The process-wide bound of deliveries (`DeliverySlots`): its size holds, and waiters are served by page, then by arrival. */
import { describe, expect, it } from 'vitest';
import { DeliverySlots } from '../../src/jobs/run/delivery-slots.ts';

describe('DeliverySlots', () => {
  it('never has more holders than its size', async () => {
    const slots = new DeliverySlots(3);
    let held = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await slots.acquire(i % 4);
        held++;
        most = Math.max(most, held);
        await new Promise((r) => setTimeout(r, 2));
        held--;
        slots.release();
      }),
    );
    expect(most).toBe(3);
  });

  it("serves the earlier page's waiters first, and waiters of one page in the order they came", async () => {
    const slots = new DeliverySlots(1);
    await slots.acquire(0);
    const served: string[] = [];
    const wait = (page: number, name: string) =>
      slots.acquire(page).then(() => {
        served.push(name);
        slots.release();
      });
    const all = [wait(2, 'page 2, first'), wait(1, 'page 1, first'), wait(2, 'page 2, second'), wait(0, 'page 0'), wait(1, 'page 1, second')];
    slots.release();
    await Promise.all(all);
    expect(served).toEqual(['page 0', 'page 1, first', 'page 1, second', 'page 2, first', 'page 2, second']);
  });
});

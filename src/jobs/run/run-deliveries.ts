/**
 * The deliveries one run or page job has running (./pipeline.ts `RunContext`), and when it may start one
 * more. Two rules, stated here only:
 *
 * - **A slow start.** A context starts `FIRST_IN_FLIGHT` deliveries at once and may run one more for each
 *   of its deliveries that settled. With renders in the connector's thread (`RENDER_WORKERS=0`), 16 first
 *   deliveries were 16 cold renders back to back (about 1 s on the benchmark's machine) before any SMTP
 *   reply was read; with 2 the first e-mail waits for two, and the renders never come in one burst again
 *   (docs/decisions.md, "A run starts its deliveries 2 at once").
 * - **Back-pressure.** Every delivery holds a slot: the process's (`MAX_IN_FLIGHT`, shared by every run and
 *   page job of every installation, ./delivery-slots.ts), or without them a bound of the context's own.
 *   A producer that finds none free waits: nothing is rendered ahead of the slots.
 */
import { DeliverySlots } from './delivery-slots.ts';

/** Deliveries a context runs at once before any of them settled. */
export const FIRST_IN_FLIGHT = 2;

export class RunDeliveries {
  private readonly running = new Set<Promise<void>>();
  private settled = 0;
  private rampWaiters: (() => void)[] = [];
  private readonly slots: DeliverySlots;

  /**
   * `slots`: the process's delivery slots, or a bound of this context's own (`maxInFlight`). `priority`: of
   * this context's deliveries at the process's slots (the page's index in its run: lower goes first).
   */
  constructor(
    slots: DeliverySlots | { maxInFlight: number },
    private readonly priority: () => number,
  ) {
    this.slots = slots instanceof DeliverySlots ? slots : new DeliverySlots(slots.maxInFlight);
  }

  /**
   * Waits until the context may start one more, then starts `deliver` beside the others, unless `wanted()`
   * says no by then (false: nothing started, the caller gives its claim back). `deliver` must not reject.
   */
  async start(deliver: () => Promise<void>, wanted: () => boolean): Promise<boolean> {
    while (this.running.size >= FIRST_IN_FLIGHT + this.settled) await new Promise<void>((wake) => this.rampWaiters.push(wake));
    await this.slots.acquire(this.priority());
    if (!wanted()) {
      this.slots.release();
      return false;
    }
    const task: Promise<void> = deliver().finally(() => {
      this.settled++;
      this.running.delete(task);
      this.slots.release();
      for (const wake of this.rampWaiters.splice(0)) wake();
    });
    this.running.add(task);
    return true;
  }

  /** Resolves once every delivery started so far settled. */
  async allSettled(): Promise<void> {
    await Promise.all([...this.running]);
  }
}

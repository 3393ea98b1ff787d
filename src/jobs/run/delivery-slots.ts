/** The process-wide bound of deliveries at once (`MAX_IN_FLIGHT`), shared by every run and page job (./pipeline.ts). */

/**
 * A counting semaphore: at most `size` holders at once. Waiters are served by `priority` (lower first; the
 * page's index in its run), in order of arrival within one priority. So of two pages a process works at
 * once, the earlier one's deliveries go first and it ends first: its job gives way to the next page,
 * whose host reads then overlap the later page's deliveries, instead of both pages draining together and
 * both next pages reading together while no e-mail leaves.
 */
export class DeliverySlots {
  private used = 0;
  private readonly waiters: { priority: number; wake: () => void }[] = [];
  constructor(readonly size: number) {}
  async acquire(priority = 0): Promise<void> {
    while (this.used >= Math.max(1, this.size)) {
      await new Promise<void>((wake) => {
        const at = this.waiters.findIndex((w) => w.priority > priority);
        this.waiters.splice(at < 0 ? this.waiters.length : at, 0, { priority, wake });
      });
    }
    this.used++;
  }
  release(): void {
    this.used--;
    this.waiters.shift()?.wake();
  }
}

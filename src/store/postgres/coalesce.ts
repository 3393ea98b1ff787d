/**
 * Group commit for the ledger's per-invoice statements (issue 12): a call made while the same kind of
 * statement is already on its way to the database waits for it and then goes out together with every
 * other call that waited, as one statement. A call made when none is on its way goes out at once, so no
 * call is ever delayed on purpose, and each caller still learns its own answer only once the statement
 * that carried it committed. With a run's deliveries settling in bursts this turns 16 round trips (and
 * 16 times the main thread's query building, socket writes and row parsing) into one or two.
 *
 * Two calls for the same key (the same invoice) never share one statement: the later one waits for the
 * next, so they apply in the order they were made. A failing statement fails every call it carried.
 */
export class Coalescer<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  /**
   * @param run executes one batch; returns one answer per item, in the items' order.
   * @param key items with the same key are never in the same batch.
   * @param max the largest batch (parameter arrays stay a reasonable size).
   */
  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly key: (item: I) => string,
    private readonly max = 200,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch: typeof this.queue = [];
        const rest: typeof this.queue = [];
        const keys = new Set<string>();
        for (const q of this.queue) {
          const k = this.key(q.item);
          if (batch.length >= this.max || keys.has(k)) rest.push(q);
          else {
            keys.add(k);
            batch.push(q);
          }
        }
        this.queue = rest;
        try {
          const answers = await this.run(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(answers[i]!));
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

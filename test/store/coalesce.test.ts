import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/store/postgres/coalesce.ts';

describe('Coalescer (group commit of the ledger statements)', () => {
  it('sends a call at once when none is on its way, and the calls that waited together as one batch, in order', async () => {
    const batches: number[][] = [];
    let open!: () => void;
    let gate: Promise<void> | null = new Promise<void>((r) => (open = r));
    const c = new Coalescer<number, number>(
      async (items) => {
        batches.push(items);
        if (gate) await gate;
        return items.map((i) => i * 10);
      },
      (i) => String(i),
    );
    const first = c.submit(1);
    await Promise.resolve();
    expect(batches).toEqual([[1]]);
    const rest = [c.submit(2), c.submit(3), c.submit(4)];
    gate = null;
    open();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('never puts two calls with the same key in one batch: the later one goes in the next, after it', async () => {
    const batches: string[][] = [];
    const c = new Coalescer<{ k: string; v: string }, string>(
      async (items) => {
        batches.push(items.map((i) => i.v));
        await new Promise((r) => setTimeout(r, 5));
        return items.map((i) => i.v);
      },
      (i) => i.k,
    );
    const all = [c.submit({ k: 'a', v: 'a1' }), c.submit({ k: 'a', v: 'a2' }), c.submit({ k: 'b', v: 'b1' }), c.submit({ k: 'a', v: 'a3' })];
    expect(await Promise.all(all)).toEqual(['a1', 'a2', 'b1', 'a3']);
    for (const b of batches) expect(b.filter((v) => v.startsWith('a')).length).toBeLessThanOrEqual(1);
    expect(batches.flat().filter((v) => v.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
  });

  it('fails every call a failing batch carried, and keeps serving the calls after it', async () => {
    const c = new Coalescer<number, number>(
      async (items) => {
        await new Promise((r) => setTimeout(r, 1));
        if (items.includes(2)) throw new Error('store down');
        return items;
      },
      (i) => String(i),
    );
    const first = c.submit(1);
    const carried = [c.submit(2), c.submit(3)].map((p) =>
      p.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    await expect(first).resolves.toBe(1);
    expect(await Promise.all(carried)).toEqual(['store down', 'store down']);
    await expect(c.submit(4)).resolves.toBe(4);
  });

  it('splits a queue longer than its largest batch', async () => {
    const sizes: number[] = [];
    const c = new Coalescer<number, number>(
      async (items) => {
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 1));
        return items;
      },
      (i) => String(i),
      3,
    );
    const all = Array.from({ length: 8 }, (_, i) => c.submit(i));
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sizes).toEqual([1, 3, 3, 1]);
  });
});

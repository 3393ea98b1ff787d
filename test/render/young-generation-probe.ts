/**
 * Run by young-generation.test.ts in a fresh process (the V8 flags involved are process-wide). Starts as
 * src/main.ts does when argv[2] is 'held' (the hold first, the product's modules after it), or without
 * the hold ('default'); then allocates on this thread, starts a renderer with two workers, renders, and
 * allocates again. Prints one JSON line: this thread's largest new space before and after the workers
 * started, and each worker's new space as it reports it (MB).
 */
import v8 from 'node:v8';
import { startHoldingYoungGeneration } from '../../src/render/young-generation.ts';

const held = process.argv[2] === 'held';
if (held) startHoldingYoungGeneration();
const { tuneHeap } = await import('../../src/boot.ts');
const { createPdfRenderer, sampleRenderWorkers } = await import('../../src/render/pool.ts');
const { PLN_INVOICE } = await import('../fixtures/invoices.ts');
if (held) tuneHeap();

const MB = 2 ** 20;
const newSpace = () => (v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / MB;

/** Allocates short-lived objects with some survivors (a ring of recent ones), yielding to the loop now and then. */
let ring: unknown[] = new Array<unknown>(50_000);
async function churn(n: number): Promise<number> {
  let max = 0;
  for (let i = 0; i < n; i++) {
    ring[i % ring.length] = { i, s: `x${i}`, a: [i, i + 1] };
    if (i % 20_000 === 0) {
      max = Math.max(max, newSpace());
      await new Promise(setImmediate);
    }
  }
  return Math.max(max, newSpace());
}

const before = await churn(3_000_000);
const pool = createPdfRenderer({ workers: 2, maxInFlight: 4 });
const alive = setInterval(() => undefined, 1_000); // idle workers are unref'd: keep this process up for their answers
try {
  const renders = Promise.all(Array.from({ length: 8 }, () => pool.render(PLN_INVOICE, 'invoice')));
  const during = await churn(3_000_000);
  await renders;
  const workers = (await sampleRenderWorkers()).map((w) => w.newSpace / MB);
  const after = await churn(2_000_000);
  ring = [];
  process.stdout.write(JSON.stringify({ before, after: Math.max(during, after), workers }) + '\n');
} finally {
  clearInterval(alive);
  await pool.close();
}

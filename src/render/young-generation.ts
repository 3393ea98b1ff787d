/**
 * Holds the main thread's young generation at 8 MB semi-spaces (16 MB resident) instead of V8's 16 MB
 * (32 MB resident), without a node flag: production runs `node dist/main.js` (docs/performance.md,
 * "Memory with 2 render workers, session 5"). V8 fixes the largest semi-space when it creates a heap, so
 * the main thread's cannot be lowered; but it grows the semi-spaces a step at a time, by
 * `--semi-space-growth-factor`, which it reads at each step. So:
 *
 *  1. `startHoldingYoungGeneration()`, first thing in src/main.ts, before the product's modules load:
 *     factor 1, the semi-spaces stay at V8's initial 1 MB while the modules load (loading them would grow
 *     them to 16 MB at once);
 *  2. `releaseYoungGeneration()` (src/boot.ts `tuneHeap`): factor 8 (from 1 MB; 4 from 2 MB), so the next
 *     step reaches 8 MB in one; after each collection from then on, once they are at 8 MB, factor 1 again.
 *
 * Two more details of V8 (11.3, Node 20), measured: creating a heap (a render worker's isolate) puts a
 * factor below 2 back to 2, so the pool calls `afterIsolateCreated()` as soon as a worker's isolate exists
 * (this thread waits for it, so that it does not collect in between); and `--min-semi-space-size` is read
 * when a heap is created, so render workers (8 MB semi-spaces at most, WORKER_YOUNG_GENERATION_MB in
 * pool.ts) start at their largest and the factor of 1 never holds them smaller. If any step is missed
 * (a process that loaded its modules before step 1), V8 grows the semi-spaces as it
 * always did: nothing is held, nothing is worse. This module imports nothing of the product.
 */
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

/** The semi-space size the main thread is held at, in MB (two of them are resident). */
export const HELD_SEMI_SPACE_MB = 8;

let starting = false;
let holding = false;

function newSpaceMb(): number {
  return (v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20;
}

function factor(f: number): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${f}`);
}

/** Step 1: called before the product's modules load (src/main.ts). */
export function startHoldingYoungGeneration(): void {
  v8.setFlagsFromString(`--min-semi-space-size=${HELD_SEMI_SPACE_MB}`);
  // only if the semi-spaces are still below the size to hold (V8 starts them at 1 MB; under tsx, 2 MB)
  if (newSpaceMb() >= 2 * HELD_SEMI_SPACE_MB) return;
  starting = true;
  factor(1);
}

/** Step 2: called once the modules have loaded (src/boot.ts `tuneHeap`). Does nothing without step 1. */
export function releaseYoungGeneration(): void {
  if (!starting || holding) return;
  holding = true;
  // new space is both semi-spaces once this thread has scavenged (loading the modules did): one step to 8 MB
  const semi = Math.max(1, newSpaceMb() / 2);
  factor(Math.max(2, Math.floor(HELD_SEMI_SPACE_MB / semi)));
  const observer = new PerformanceObserver(() => {
    // at 8 MB semi-spaces (both committed: 16 MB) or more, no further step
    if (newSpaceMb() >= 2 * HELD_SEMI_SPACE_MB) factor(1);
  });
  observer.observe({ entryTypes: ['gc'] });
}

/** True once step 2 ran after step 1: this thread's young generation is being held. */
export function holdingYoungGeneration(): boolean {
  return holding;
}

/** A render worker's isolate was just created, which put the factor back to 2: hold again at once. */
export function afterIsolateCreated(): void {
  if (holding && newSpaceMb() >= 2 * HELD_SEMI_SPACE_MB) factor(1);
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface Probe {
  before: number;
  after: number;
  workers: number[];
}

async function probe(mode: 'held' | 'default'): Promise<Probe> {
  const { stdout } = await run('node_modules/.bin/tsx', ['test/render/young-generation-probe.ts', mode], { timeout: 90_000 });
  return JSON.parse(stdout.trim()) as Probe;
}

describe("the main thread's young generation (src/render/young-generation.ts)", () => {
  it('is held at 8 MB semi-spaces (16 MB) when the hold starts before the modules load, also after render workers start, whose own young generation is not held smaller', async () => {
    const held = await probe('held');
    const plain = await probe('default');
    // without the hold the same allocation grows it to V8's largest (2 × 16 MB): the probe can tell them apart
    expect(plain.before).toBe(32);
    expect(held.before).toBe(16);
    // creating the workers' isolates resets V8's growth factor; the pool holds it again before this thread collects
    expect(held.after).toBe(16);
    // the workers start at their own largest (WORKER_YOUNG_GENERATION_MB: 8 MB semi-spaces), as without the hold
    expect(held.workers).toEqual([16, 16]);
    expect(plain.workers).toEqual([16, 16]);
  });
});

/**
 * Claim throughput of the PostgreSQL store: 1,000 fresh invoices claimed one after another, then
 * 1,000 more with 16 in flight (the pipeline's default MAX_IN_FLIGHT). Prints one line.
 * Uses BENCH_DATABASE_URL when set, else a throwaway embedded PostgreSQL (fsync on, as in production).
 *   npx tsx bench/store.ts
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/store/embedded.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import type { Store } from '../src/store/port.ts';
import { freePort } from '../test/support/ports.ts';

const N = 1000;
const IN_FLIGHT = 16;

async function claimAll(store: Store, installationId: string, concurrency: number): Promise<number> {
  const now = new Date().toISOString();
  const leaseUntil = new Date(Date.now() + 600_000).toISOString();
  let next = 0;
  let won = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < N) {
        const i = next++;
        const entry = await store.claim({
          installationId,
          invoiceId: String(i),
          invoiceNumber: `FV/2026/11/${String(i).padStart(4, '0')}`,
          owner: 'bench:1',
          leaseUntil,
          messageId: `<${installationId}.${i}@bench>`,
          now,
          maxAttempts: 5,
        });
        if (entry) won++;
      }
    }),
  );
  if (won !== N) throw new Error(`expected ${N} claims, got ${won}`);
  return N / ((performance.now() - started) / 1000);
}

const given = process.env['BENCH_DATABASE_URL'];
let dir: string | null = null;
let stop: (() => Promise<void>) | null = null;
let url: string;
if (given) {
  url = given;
} else {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ic-bench-pg-'));
  await fs.chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), log: () => undefined, database: 'bench' });
  url = pg.url;
  stop = pg.stop;
}
const store = createPostgresStore({ url, maxConnections: IN_FLIGHT });
try {
  await store.migrate();
  await claimAll(store, crypto.randomUUID(), IN_FLIGHT); // warm-up
  const sequential = await claimAll(store, crypto.randomUUID(), 1);
  const parallel = await claimAll(store, crypto.randomUUID(), IN_FLIGHT);
  console.log(
    `store claim (postgres${given ? '' : ', embedded'}): ${N} invoices, ${Math.round(sequential)} claims/s sequential, ` +
      `${Math.round(parallel)} claims/s with ${IN_FLIGHT} in flight`,
  );
} finally {
  await store.close();
  await stop?.();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}

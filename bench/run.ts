/**
 * `npm run bench` — runs every benchmark in one go and prints their tables: the whole product end to
 * end (bench/e2e.ts: host → ledger → PDF → SMTP → write-back, beside its render+send ceiling), one run split over 1 and 2
 * connector processes (bench/split.ts), PDF rendering (single thread, two workers, Helvetica lower bound), SMTP (pooled vs one connection
 * per message), the store's claim throughput, and where the resident memory goes (bench/memory.ts). Pass `--quick` for short runs.
 * Speed targets live here, never in tests.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const benches = ['e2e.ts', 'split.ts', 'render.ts', 'smtp.ts', 'store.ts', 'memory.ts'];
let failed = 0;
for (const bench of benches) {
  const file = fileURLToPath(new URL(`./${bench}`, import.meta.url));
  console.log(`\n=== ${bench} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

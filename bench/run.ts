/**
 * `npm run bench` — runs every benchmark in one go and prints their tables:
 * PDF rendering (single thread, two workers, Helvetica lower bound), SMTP (pooled vs one connection
 * per message), and the store's claim throughput. Pass `--quick` for short runs.
 * Speed targets live here, never in tests.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const benches = ['render.ts', 'smtp.ts', 'store.ts'];
let failed = 0;
for (const bench of benches) {
  const file = fileURLToPath(new URL(`./${bench}`, import.meta.url));
  console.log(`\n=== ${bench} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

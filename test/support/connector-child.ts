/**
 * The connector as a child process for crash and concurrency tests (run by test/support/process.ts
 * with `node --import tsx`). Composed exactly as `src/main.ts` composes it, from the environment
 * (DATABASE_URL, PORT=0, DEMO=false, SECRET_KEYS, LEASE_SECONDS, ...; PAGE_SIZE: the pipeline's page
 * size), without the demo.
 *
 * stdout carries one JSON object per line:
 *   {"ready":"http://127.0.0.1:PORT"}          once the API listens and the scheduler runs
 *   {"event":{...PipelineEvent}}                every event the pipeline announces
 *   {"run":{...Run},"tag":"..."}                answer to a `run <installationId> <tag>` line on stdin
 * stdin: `run <installationId> <tag>` runs that installation now in this process (bypassing Agenda,
 * so that several processes really run it at the same time).
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config.ts';
import { composeConnector } from '../../src/compose.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { runInstallation } from '../../src/jobs/run/pipeline.ts';
import { createSecretBox } from '../../src/secrets/secret-box.ts';

const write = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const config = loadConfig(process.env);
if (!config.secretKeys) throw new Error('connector-child needs SECRET_KEYS (the parent and every child must share them)');
const logger = createLogger(config.logLevel);
const connector = await composeConnector({
  config,
  logger,
  secrets: createSecretBox(config.secretKeys),
  version: 'child',
  processEvery: 250,
  events: (event) => write({ event }),
  pipeline: { retryDelayMs: 20, ...(process.env['PAGE_SIZE'] ? { pageSize: Number(process.env['PAGE_SIZE']) } : {}) },
});
write({ ready: connector.url, pid: process.pid });

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id, tag] = line.trim().split(/\s+/);
  if (cmd === 'run' && id) {
    runInstallation(connector.pipeline, id, 'manual').then(
      (run) => write({ run, tag: tag ?? null }),
      (err: unknown) => write({ runError: String(err), tag: tag ?? null }),
    );
  }
});

const stop = async () => {
  await connector.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

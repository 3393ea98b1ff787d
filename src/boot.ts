/**
 * The connector as a process: config -> secret keys -> composition -> signals -> catch-up, and the one
 * line a failed start prints. Two entries call it: src/main.ts (the connector as built and shipped) and
 * sandbox/demo.ts (`npm start`: the same connector with the demo world started around it).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import { loadConfig, ConfigError, type Config, type SecretKey } from './config.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createSecretBox, generateSecretKey } from './secrets/secret-box.ts';
import { composeConnector } from './compose.ts';
import { releaseYoungGeneration } from './render/young-generation.ts';
import type { InstallationService } from './installations/service.ts';
import type { Store } from './store/port.ts';

/** What a demo world (sandbox/demo.ts) hands back once it runs beside the connector. */
export interface DemoWorld {
  /** Lines printed once everything is up (URLs, installation, token). */
  banner: string[];
  stop(): Promise<void>;
}

/** Starts the demo world against the composed connector; called only when `DEMO` is on. */
export type DemoStarter = (opts: { config: Config; service: InstallationService; store: Store; logger: Logger }) => Promise<DemoWorld>;

/**
 * V8's heap growing factor for this process and its render workers: after each full collection the
 * old generation may grow to 1.3 × what survived before the next one, instead of V8's own factor (up
 * to 4 × when collections are cheap, which they are here: the connector keeps ~40–60 MB live and makes
 * the rest garbage). Measured end to end (`bench/e2e.ts --runtime compiled`; docs/performance.md,
 * issue 12): at 1,000 invoices 50 % took the peak from 268 to 212 MB with no workers and from 375 to
 * 319 MB with 2; at 5,000 invoices with 2 workers 30 % took it from 316–325 to 298–307 MB, render CPU
 * per invoice unchanged (`bench/render.ts`). A tuning flag V8 reads when it sets the next limit; called
 * once, first thing, by the process entries.
 */
export const HEAP_GROWING_PERCENT = 30;

export function tuneHeap(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  releaseYoungGeneration();
}

async function secretKeysFor(config: Config, log: (m: string) => void): Promise<SecretKey[]> {
  if (config.secretKeys) return config.secretKeys;
  // No SECRET_KEYS: keep a generated key next to the data (fine for the embedded default; set SECRET_KEYS in production).
  const file = path.join(config.dataDir, 'secret-keys.json');
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as { id: string; key: string }[];
    return stored.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }));
  } catch {
    const key = generateSecretKey('local1');
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(file, JSON.stringify([{ id: key.id, key: key.key.toString('base64') }]), { mode: 0o600 });
    log(`generated a secret key in ${file} (set SECRET_KEYS to manage keys yourself)`);
    return [key];
  }
}

async function run(demo: DemoStarter | undefined): Promise<void> {
  tuneHeap();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  if (config.demo.enabled && !demo) {
    // The demo world (sandbox/) is not part of the built connector: `npm start` runs it (sandbox/demo.ts).
    console.error('DEMO is on, but this entry runs the connector without the demo world: start the demo with `npm start`, or set DEMO=false.');
    process.exit(2);
  }
  const version = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const logger = createLogger(config.logLevel);
  const closers: (() => Promise<unknown>)[] = [];
  // Ctrl-C / SIGTERM: one line, then the connector drains (runs finish their in-flight invoices, the
  // API closes) and the demo and the embedded database stop last. A second signal exits at once.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write(`Invoice Courier: stopping (${signal})…\n`);
    for (const close of closers.reverse())
      await close().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'error while closing'));
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const secrets = createSecretBox(await secretKeysFor(config, (m) => logger.info(m)));
  const connector = await composeConnector({ config, logger, secrets, version });
  closers.push(() => connector.close());
  const { service, store, scheduler } = connector;

  if (config.demo.enabled && demo) {
    const world = await demo({ config, service, store, logger });
    closers.unshift(() => world.stop()); // after the connector has drained
    await scheduler.catchUp();
    console.log(world.banner.join('\n'));
  } else {
    await scheduler.catchUp();
    logger.info({ url: config.http.publicUrl }, 'Invoice Courier is running');
  }
}

/** Runs the connector process (with the demo world when given and `DEMO` is on); a failed start says why in one line. */
export function boot(opts: { demo?: DemoStarter } = {}): void {
  run(opts.demo).catch((err: unknown) => {
    // A start that fails says why in one line (the cause's stack is noise for a person at a terminal).
    console.error(`Invoice Courier could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

/**
 * Composition root: config -> store -> (demo: SMTP sink + sandbox host) -> mail, prints, scheduler ->
 * HTTP. The only place that reads the environment (through loadConfig) and wires adapters to ports.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, ConfigError, type Config, type SecretKey } from './config.ts';
import { createLogger } from './logger.ts';
import { createSecretBox, generateSecretKey } from './secrets.ts';
import { startDemo } from './demo.ts';
import { composeConnector } from './compose.ts';

const VERSION = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version as string;

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

async function main(): Promise<void> {
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
  const logger = createLogger(config.logLevel);
  const closers: (() => Promise<unknown>)[] = [];
  // Ctrl-C / SIGTERM: one line, then the connector drains (runs finish their in-flight invoices, the
  // API closes) and the demo and the embedded database stop last. A second signal exits at once.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write(`Invoice Courier: stopping (${signal})…\n`);
    for (const close of closers.reverse()) await close().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'error while closing'));
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const secrets = createSecretBox(await secretKeysFor(config, (m) => logger.info(m)));
  const connector = await composeConnector({ config, logger, secrets, version: VERSION });
  closers.push(() => connector.close());
  const { service, store, scheduler } = connector;

  if (config.demo.enabled) {
    const demo = await startDemo({ config, service, store, logger });
    closers.unshift(() => demo.stop()); // after the connector has drained
    await scheduler.catchUp();
    console.log(
      [
        '',
        'Invoice Courier is running (demo: embedded database, sandbox host, local SMTP sink).',
        `  Connector API     ${config.http.publicUrl}   (OpenAPI: ${config.http.publicUrl}/docs)`,
        `  Sandbox host      ${demo.sandboxUrl}   (database "sandbox", login admin / admin)`,
        `  Extensions screen ${demo.extensionsUrl}   (the connector's settings and logs pages, embedded as in the host)`,
        `  Mail sink (SMTP)  127.0.0.1:${demo.smtpPort}; messages: ${demo.mailWebUrl}  (files in ${config.demo.mailDir})`,
        `  Installation      ${demo.installationId}`,
        `  API token         ${demo.apiToken}   (new at every start)`,
        `  Logs              curl -H "Authorization: Bearer ${demo.apiToken}" ${config.http.publicUrl}/api/installations/${demo.installationId}/logs`,
        '',
      ].join('\n'),
    );
  } else {
    await scheduler.catchUp();
    logger.info({ url: config.http.publicUrl }, 'Invoice Courier is running');
  }
}

main().catch((err: unknown) => {
  // A start that fails says why in one line (the cause's stack is noise for a person at a terminal).
  console.error(`Invoice Courier could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

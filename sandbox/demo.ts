/**
 * The demo that `npm start` runs with no configuration (sandbox/start.ts boots the connector with it,
 * exactly as src/main.ts boots it, src/boot.ts): a local SMTP sink that keeps every
 * message as an .eml file, the sandbox host (Odoo-compatible, Polish seed data) on 127.0.0.1:8069, and
 * an installation for it (kind `odoo`: the sandbox speaks Odoo's protocol) with demo settings enabled,
 * so every due sandbox invoice is e-mailed once.
 */
import path from 'node:path';
import { DateTime } from 'luxon';
import type { DemoStarter, DemoWorld } from '../src/boot.ts';
import { startSandboxHost } from './host/index.ts';
import { startSmtpSink } from './mail-sink/index.ts';

export interface Demo extends DemoWorld {
  sandboxUrl: string;
  smtpPort: number;
  mailWebUrl: string;
  /** The sandbox's Extensions screen: the connector's settings and logs pages as the host embeds them. */
  extensionsUrl: string;
  installationId: string;
  apiToken: string;
  stop(): Promise<void>;
}

export const DEMO_DATABASE = 'sandbox';

export async function startDemo(opts: Parameters<DemoStarter>[0]): Promise<Demo> {
  const { config, service, store, logger } = opts;
  const sink = await startSmtpSink({ host: '127.0.0.1', port: config.demo.smtpSinkPort, webPort: config.demo.smtpSinkWebPort, dir: config.demo.mailDir });
  const sandbox = await startSandboxHost({
    host: '127.0.0.1',
    port: config.demo.sandboxPort,
    database: DEMO_DATABASE,
    smtp: { host: '127.0.0.1', port: sink.port },
    stateFile: path.join(config.dataDir, 'sandbox-state.json'),
    extensions: { connectorUrl: config.http.publicUrl },
  });

  const existing = (await store.listInstallations({ status: 'active' })).find((i) => i.hostUrl === sandbox.url && i.hostDatabase === DEMO_DATABASE);
  let installationId: string;
  let apiToken: string;
  if (existing) {
    installationId = existing.id;
    apiToken = await service.rotateApiToken(existing.id);
  } else {
    const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 30 }).toISODate()!;
    const installed = await service.install({
      hostKind: 'odoo',
      hostUrl: sandbox.url,
      database: DEMO_DATABASE,
      integration: { login: 'admin', secret: 'admin' },
      settings: {
        enabled: true,
        delivery: 'send_now',
        documents: 'confirmed_only',
        dateBasis: 'issue_date',
        fromDate,
        attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' },
        schedule: { startAt: '00:00', repeatEvery: '30m', until: '23:59' },
        timezone: 'Europe/Warsaw',
      },
    });
    installationId = installed.installation.id;
    apiToken = installed.apiToken;
    logger.info({ installationId }, 'registered the sandbox host as a demo installation');
    // A new installation waits for its next slot (nothing was missed before it existed): the demo asks
    // for its first run now, as a person would with "run now".
    await service.runNow(installationId);
  }
  // The Extensions screen shows the demo installation as enabled, with its pages embedded.
  sandbox.extensions?.adopt({ id: installationId, apiToken, webhookSecret: null });
  return {
    sandboxUrl: sandbox.url,
    extensionsUrl: `${sandbox.url}/extensions`,
    smtpPort: sink.port,
    mailWebUrl: `http://127.0.0.1:${sink.webPort}/`,
    installationId,
    apiToken,
    banner: [
      '',
      'Invoice Courier is running (demo: embedded database, sandbox host, local SMTP sink).',
      `  Connector API     ${config.http.publicUrl}   (OpenAPI: ${config.http.publicUrl}/docs)`,
      `  Sandbox host      ${sandbox.url}   (database "${DEMO_DATABASE}", login admin / admin)`,
      `  Extensions screen ${sandbox.url}/extensions   (the connector's settings and logs pages, embedded as in the host)`,
      `  Mail sink (SMTP)  127.0.0.1:${sink.port}; messages: http://127.0.0.1:${sink.webPort}/  (files in ${config.demo.mailDir})`,
      `  Installation      ${installationId}`,
      `  API token         ${apiToken}   (new at every start)`,
      `  Logs              curl -H "Authorization: Bearer ${apiToken}" ${config.http.publicUrl}/api/installations/${installationId}/logs`,
      '',
    ],
    async stop() {
      await sandbox.stop();
      await sink.stop();
    },
  };
}

/**
 * The demo that `npm start` runs with no configuration: a local SMTP sink that keeps every message as
 * an .eml file, the sandbox host (Odoo-compatible, Polish seed data) on 127.0.0.1:8069, and an
 * installation for it with demo settings enabled, so every due sandbox invoice is e-mailed once.
 */
import path from 'node:path';
import { DateTime } from 'luxon';
import type { Config } from './config.ts';
import type { InstallationService } from './installations/service.ts';
import type { Logger } from './logger.ts';
import type { Store } from './store/port.ts';
import { startSandboxHost } from './connector/sandbox/index.ts';
import { startSmtpSink } from './mail/sink/index.ts';

export interface Demo {
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

export async function startDemo(opts: { config: Config; service: InstallationService; store: Store; logger: Logger }): Promise<Demo> {
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
      hostKind: 'sandbox',
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
    async stop() {
      await sandbox.stop();
      await sink.stop();
    },
  };
}

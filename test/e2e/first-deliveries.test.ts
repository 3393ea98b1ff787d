/**
 * A run's first deliveries (issue 12, the no-e-mail share at a run's start): a run starts with 2
 * deliveries at once and may run one more for each that settled, up to MAX_IN_FLIGHT (a slow start).
 * With renders in the connector's own thread, 16 first deliveries meant 16 cold renders back to back
 * before any SMTP reply was read (about 1 s on the benchmark's machine); 2 let the first e-mail leave
 * after two.
 * The SMTP server here holds every message 300 ms before its 250 and counts how many messages reached
 * it before its first 250, and how many it held at once later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, unmarkSent, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';
import { startHoldingSmtpServer, type HoldingSmtpServer } from '../support/holding-smtp.ts';

const MAX_IN_FLIGHT = 8;

let smtp: HoldingSmtpServer;
let host: SandboxHost;
let connector: TestConnector;

beforeAll(async () => {
  smtp = await startHoldingSmtpServer(300);
  const port = smtp.port;
  host = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port }, invoiceCount: 60 });
  unmarkSent(host);
  connector = await startTestConnector({ env: { MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), SMTP_POOL_SIZE: String(MAX_IN_FLIGHT) } });
}, 120_000);

afterAll(async () => {
  await connector?.close();
  await host?.stop();
  await smtp?.close();
});

describe("a run's first deliveries", () => {
  it('a run starts with 2 deliveries at once (2 messages reach the server before its first 250), then grows to MAX_IN_FLIGHT', async () => {
    const { id, token } = await installSandbox(connector.api, host, {
      enabled: false,
      fromDate: dayBeforeFirstInvoice(host),
      attachments: { pln: 'none', foreign: 'none' },
    });
    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent as number).toBeGreaterThan(MAX_IN_FLIGHT * 3);
    expect(smtp.counts.accepted).toBe(run.counts.sent);
    expect(smtp.counts.beforeFirstAccept).toBe(2);
    expect(smtp.counts.mostAtOnce).toBe(MAX_IN_FLIGHT);
  }, 180_000);
});

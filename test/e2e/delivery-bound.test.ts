/**
 * One bound of deliveries for the whole process (issue 12 item 6: several installations run concurrently
 * under a global bound): two installations running at the same moment in one connector never have more
 * than MAX_IN_FLIGHT messages in the SMTP server's hands together, though each alone may use all of them.
 * The SMTP server here (test/support/holding-smtp.ts) holds every message 150 ms before its 250 and
 * counts how many it holds at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, unmarkSent, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';
import { startHoldingSmtpServer, type HoldingSmtpServer } from '../support/holding-smtp.ts';

const MAX_IN_FLIGHT = 3;

let smtp: HoldingSmtpServer;
const hosts: SandboxHost[] = [];
let connector: TestConnector;

beforeAll(async () => {
  smtp = await startHoldingSmtpServer(150);
  const port = smtp.port;
  for (let i = 0; i < 2; i++) {
    const host = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port }, invoiceCount: 60 });
    unmarkSent(host);
    hosts.push(host);
  }
  connector = await startTestConnector({ env: { MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), SMTP_POOL_SIZE: '5' } });
}, 120_000);

afterAll(async () => {
  await connector?.close();
  for (const h of hosts) await h.stop();
  await smtp?.close();
});

describe('deliveries of one process', () => {
  it('two installations at once stay under one MAX_IN_FLIGHT together (each account could take more)', async () => {
    const installed = [];
    for (const host of hosts) {
      installed.push(
        await installSandbox(connector.api, host, {
          enabled: false,
          fromDate: dayBeforeFirstInvoice(host),
          attachments: { pln: 'none', foreign: 'none' },
        }),
      );
    }
    const since = Date.now();
    for (const { id, token } of installed) expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const runs = await Promise.all(installed.map(({ id, token }) => connector.waitForRun(id, token, { trigger: 'manual', since, timeoutMs: 120_000 })));
    for (const run of runs) expect(run.status, JSON.stringify(run)).toBe('completed');
    const sent = runs.map((r) => r.counts.sent as number);
    for (const n of sent) expect(n).toBeGreaterThan(MAX_IN_FLIGHT * 3);
    expect(smtp.counts.accepted).toBe(sent[0]! + sent[1]!);
    // Both ran at once for most of their time (each has more messages than the bound)...
    const [a, b] = runs.map((r) => ({ from: Date.parse(r.startedAt), to: Date.parse(r.finishedAt) })) as [
      { from: number; to: number },
      { from: number; to: number },
    ];
    const overlap = Math.min(a.to, b.to) - Math.max(a.from, b.from);
    expect(overlap, JSON.stringify(runs)).toBeGreaterThan(0.5 * Math.min(a.to - a.from, b.to - b.from));
    // ...yet the server never held more than the bound.
    expect(smtp.counts.mostAtOnce).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(smtp.counts.mostAtOnce).toBe(MAX_IN_FLIGHT);
  }, 180_000);
});

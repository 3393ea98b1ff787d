/**
 * A split run completes only when nothing of it is still open, in any process. Every page job checks its
 * own page as it ends; the run's coordinator checks too, once every page job has ended, whoever claimed
 * its pages' invoices. Here (one connector process, real PostgreSQL, sandbox host over HTTP, real SMTP
 * server) another live process holds the claim of one invoice of a queued page, as a process that still
 * works a page counted as done would: the run ends failed, naming the invoice, and nothing is sent twice.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { runInstallation } from '../../src/jobs/run/pipeline.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, sandboxMessageId, unmarkSent, dayBeforeFirstInvoice } from '../support/sandbox-installation.ts';

let smtp: TestSmtpServer;
let host: SandboxHost;
let connector: TestConnector;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  host = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 150 });
  unmarkSent(host);
  connector = await startTestConnector({ env: { MAX_IN_FLIGHT: '4' }, pipeline: { retryDelayMs: 20, pageSize: 20 } });
}, 120_000);

afterAll(async () => {
  await connector?.close();
  await host?.stop();
  await smtp?.stop();
});

describe('the settled check of a split run', () => {
  it('a split run whose page invoice is still claimed by another live process when every page job has ended fails as unsettled, naming it', async () => {
    const { id } = await installSandbox(connector.api, host, {
      enabled: false,
      fromDate: dayBeforeFirstInvoice(host),
      attachments: { pln: 'none', foreign: 'none' },
    });
    const pipeline = connector.pipeline;
    const pages = pipeline.pages!;
    // Another process of this machine, alive (pid 1), holds the claim of the last page's first invoice.
    const other = `${os.hostname()}:1:other`;
    let held: string | null = null;
    const run = await runInstallation(
      {
        ...pipeline,
        pages: {
          ...pages,
          enqueuePages: async (jobs) => {
            const invoiceId = jobs.at(-1)!.ids[0]!;
            const now = new Date();
            const won = await connector.store.claimMany(
              { installationId: id, owner: other, leaseUntil: new Date(now.getTime() + 600_000).toISOString(), now: now.toISOString(), maxAttempts: 3 },
              [{ invoiceId, invoiceNumber: null, messageId: sandboxMessageId(id, invoiceId) }],
            );
            expect(won).toHaveLength(1);
            held = invoiceId;
            return pages.enqueuePages(jobs);
          },
        },
      },
      id,
      'manual',
    );
    expect(held, 'the run was split').not.toBeNull();
    expect(run?.status).toBe('failed');
    expect(run?.error).toBe('1 claimed invoice(s) were not settled by the run');
    const logs = await connector.store.listLogs({ installationId: id, limit: 10_000 });
    const unsettled = logs.find((l) => l.event === 'run.unsettled' && l.runId === run!.id);
    expect(unsettled?.data?.['invoiceIds']).toEqual([held]);
    // The others' pages were sent, each once; the held invoice was left to its holder.
    const arrived = smtp.messages.map((m) => m.parsed.messageId ?? '');
    expect(new Set(arrived).size).toBe(arrived.length);
    expect(arrived).not.toContain(sandboxMessageId(id, held!));
    expect(run!.counts.sent).toBe(arrived.length);
    expect(arrived.length).toBeGreaterThan(40);
  }, 120_000);
});

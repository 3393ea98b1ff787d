/**
 * A run of 200 due invoices, end to end (sandbox host over HTTP, real SMTP server, PostgreSQL): each page
 * (the first of 50, the rest read by id) is claimed in one statement, the first e-mail leaves within seconds of the run's start, and the run's progress moves while it goes (the logs
 * page polls it), written at most about once per second.
 *
 * `FIRST_EMAIL_REPORT=1` prints the measured time to the first e-mail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { runInstallation } from '../../src/jobs/run/pipeline.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

const DUE = 200;
let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let id: string;

beforeAll(async () => {
  // A server that takes 150 ms per message: with the pool's 5 connections the run lasts several seconds
  // on any machine, long enough for progress recorded about once a second to be seen moving.
  smtp = await startTestSmtpServer({ faults: { replyDelayMs: 150 } });
  sandbox = await startSandboxHost({ port: 0, smtp: { host: smtp.host, port: smtp.port }, invoiceCount: 450 });
  // Exactly DUE posted invoices with a plain address are still unsent; the rest count as sent by hand.
  const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'], p]));
  let due = 0;
  for (const m of sandbox.records('account.move')) {
    const partner = partners.get((m['partner_id'] as [number, string])[0]);
    const customer = partners.get((m['commercial_partner_id'] as [number, string])[0]);
    const email = partner?.['email'];
    const method = customer?.['invoice_sending_method'];
    const ok =
      m['state'] === 'posted' &&
      m['move_type'] === 'out_invoice' &&
      !m['sending_data'] &&
      !m['l10n_pl_edi_status'] &&
      (method === false || method === undefined || method === null || method === 'email') &&
      typeof email === 'string' &&
      /^[^,; ]+@[^,; ]+\.example$/.test(email);
    if (ok && due < DUE && m['is_move_sent'] === false) due += 1;
    else if (m['is_move_sent'] === false) sandbox.write('account.move', m['id'] as number, { is_move_sent: true });
  }
  expect(due).toBe(DUE);
  connector = await startTestConnector({ env: { MAX_IN_FLIGHT: '4', SMTP_POOL_SIZE: '2' } });
  const installed = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(installed.status, JSON.stringify(installed.body)).toBe(201);
  id = installed.body.id;
  const token = installed.body.apiToken;
  const accounts = await connector.api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, { token });
  const saved = await connector.api('PUT', `/api/installations/${id}/settings`, {
    token,
    body: {
      enabled: false,
      operator: 'ksiegowa',
      operatorPassword: 'ksiegowa',
      emailAccount: accounts.body.options[0].value,
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      fromDate: DateTime.now().minus({ years: 5 }).toISODate(),
      attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' },
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
}, 120_000);

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('a run of 200 invoices', () => {
  it('sends its first e-mail within a few seconds of its start and shows progress that moves while it goes, at most about once a second', async () => {
    const progress: { at: number; processed: number }[] = [];
    const started = Date.now();
    // The real store behind the port, counting the progress writes.
    let progressWrites = 0;
    const claims: number[] = [];
    let singleClaims = 0;
    const store = new Proxy(connector.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop === 'updateRunProgress') progressWrites += 1;
          if (prop === 'claimMany') claims.push(Date.now());
          if (prop === 'claim') singleClaims += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const running = runInstallation({ ...connector.pipeline, store }, id, 'manual');
    let runId: string | null = null;
    const poll = (async () => {
      for (;;) {
        const [run] = await connector.store.listRuns(id, 1);
        if (run && Date.parse(run.startedAt) >= started - 1000) {
          runId = run.id;
          if (progress.at(-1)?.processed !== run.processed) progress.push({ at: Date.now(), processed: run.processed });
          if (run.status !== 'running') return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await smtp.waitForMessages(1, 60_000);
    const firstEmailMs = Date.now() - started;
    const run = await running;
    const runMs = Date.now() - started;
    await poll;
    if (process.env['FIRST_EMAIL_REPORT'])
      console.log(
        `time to first e-mail: ${firstEmailMs} ms; run: ${runMs} ms; progress writes: ${progressWrites}; progress values: ${progress.map((p) => p.processed).join(',')}`,
      );

    expect(run?.id).toBe(runId);
    expect(run?.counts.sent).toBe(DUE);
    expect(smtp.messages).toHaveLength(DUE);
    // Each page is claimed in one statement (a first page of 100, then the other 100 read by id: two), none
    // invoice by invoice; the first e-mail does not wait for the page's templates and prints: it left in
    // the first half of the run, within seconds on this shared machine.
    expect(claims).toHaveLength(2);
    expect(singleClaims).toBe(0);
    expect(firstEmailMs).toBeLessThan(runMs / 2);
    expect(firstEmailMs).toBeLessThan(10_000);
    // The bar moved at least 5 times before the end (the last value is the final one).
    const during = progress.filter((p) => p.processed > 0 && p.processed < DUE);
    expect(during.length, JSON.stringify(progress)).toBeGreaterThanOrEqual(5);
    expect(progress.at(-1)?.processed).toBe(DUE);
    // About once a second, plus one at the end of each page (two).
    expect(progressWrites).toBeLessThanOrEqual(Math.ceil(runMs / 1000) + 3);
    const values = progress.map((p) => p.processed);
    expect([...values].sort((a, b) => a - b)).toEqual(values); // never backwards
  }, 180_000);
});

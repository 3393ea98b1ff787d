/**
 * Bounces come back to the invoice, end to end through the HTTP API: the sandbox host over JSON-RPC, a
 * real SMTP server, a real Dovecot as the e-mail account's IMAP, a real PostgreSQL, a webhook receiver.
 * A run sends three invoices; "the provider" then files delivery reports of the Postfix, Exchange and
 * Gmail shapes for two of them, a delayed notice for the third, a report about a message we never sent
 * and an auto-reply in the INBOX. The next run records exactly the failed recipients, notes them on the
 * host invoices, logs and announces them, and passes the rest over; reading again records nothing
 * twice. After the customer's address is corrected in the host, a person's re-send sends the invoice
 * once more, to the new address, under a new Message-ID. Skipped (with the install command) without Dovecot.
 */
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/host/index.ts';
import { DOVECOT_INSTALL_HINT, startDovecot, type TestDovecot } from '../support/dovecot.ts';
import { dsnFixture } from '../support/dsn.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { consentToEmail, sandboxMessageId, waitsForKsef } from '../support/sandbox-installation.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../webhooks/receiver.ts';

const MAILBOX = { user: 'faktury', password: 'Tajne-Haslo-1' };
// The addresses the fixtures' reports name as failed (test/fixtures/dsn/*.eml).
const POSTFIX_RCPT = 'jan.kowalski@nabywca.example';
const EXCHANGE_RCPT = 'biuro@klient.example';
const GMAIL_RCPT = 'ksiegowosc.nabywca@gmail.com';
const DELAYED_RCPT = 'wolny@nabywca.example';
const CORRECTED = 'jan.kowalski@nowy-adres.example';

const dovecot: TestDovecot | null = await startDovecot();
if (!dovecot) console.warn(`[skipped] bounce end-to-end tests: ${DOVECOT_INSTALL_HINT}`);

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let rx: WebhookReceiver;
let id: string;
let token: string;
let accountId: string;
/** Invoice ids: A bounces (Postfix), B bounces twice (Exchange, Gmail), C is only delayed. */
let A: string, B: string, C: string;

beforeAll(async () => {
  if (!dovecot) return;
  smtp = await startTestSmtpServer({ auth: MAILBOX });
  sandbox = await startSandboxHost({
    port: 0,
    smtp: { host: smtp.host, port: smtp.port, user: MAILBOX.user, password: MAILBOX.password },
    imap: { host: dovecot.host, port: dovecot.port, user: dovecot.user, password: dovecot.password, ssl: false },
    invoiceCount: 30,
  });
  rx = await startWebhookReceiver();
  connector = await startTestConnector({ webhooks: { baseDelayMs: 200, pollMs: 100 } });

  // Three posted, unsent invoices of three different customers; everything else is marked sent already.
  const moves = sandbox.records('account.move');
  const usedPartners = new Set<number>();
  const targets = moves.filter((m) => {
    const partner = (m['partner_id'] as [number, string])[0];
    if (m['state'] !== 'posted' || m['move_type'] !== 'out_invoice' || m['is_move_sent'] !== false || usedPartners.has(partner)) return false;
    if (m['sending_data'] || waitsForKsef(m)) return false; // Odoo is sending it, or KSeF holds it
    usedPartners.add(partner);
    return true;
  });
  expect(targets.length).toBeGreaterThanOrEqual(3);
  [A, B, C] = targets.slice(0, 3).map((m) => String(m['id'])) as [string, string, string];
  for (const m of moves)
    if (![A, B, C].includes(String(m['id'])) && m['is_move_sent'] === false) sandbox.write('account.move', m['id'] as number, { is_move_sent: true });
  for (const inv of [A, B, C]) consentToEmail(sandbox, moveOf(inv));
  setCustomerEmail(A, POSTFIX_RCPT);
  setCustomerEmail(B, `${EXCHANGE_RCPT}, ${GMAIL_RCPT}`);
  setCustomerEmail(C, DELAYED_RCPT);

  const installed = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' }, callbackUrl: rx.url },
  });
  expect(installed.status, JSON.stringify(installed.body)).toBe(201);
  ({ id, apiToken: token } = installed.body);
  rx.secret = installed.body.webhookSecret;
  const accounts = await connector.api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, { token });
  const account = accounts.body.options.find((a: any) => a.label === 'Sandbox SMTP');
  expect(account?.imap, JSON.stringify(accounts.body)).toBe(true);
  accountId = account.value;
  const saved = await connector.api('PUT', `/api/installations/${id}/settings`, {
    token,
    body: {
      enabled: false,
      operator: 'ksiegowa',
      operatorPassword: 'ksiegowa',
      emailAccount: account.value,
      delivery: 'send_now',
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      fromDate: DateTime.fromISO(String(moves[0]!['invoice_date'])).minus({ years: 1 }).toISODate(),
      attachments: { pln: 'none', foreign: 'none' },
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
}, 120_000);

afterAll(async () => {
  await connector?.close();
  await rx?.stop();
  await sandbox?.stop();
  await smtp?.stop();
  await dovecot?.stop();
});

function moveOf(invoiceId: string) {
  return sandbox.records('account.move').find((m) => String(m['id']) === invoiceId)!;
}

function setCustomerEmail(invoiceId: string, email: string) {
  sandbox.write('res.partner', (moveOf(invoiceId)['partner_id'] as [number, string])[0], { email });
}

/** The host's notes on an invoice (mail.message bodies, as text). */
function hostNotes(invoiceId: string): string[] {
  return sandbox
    .records('mail.message')
    .filter((m) => m['model'] === 'account.move' && String(m['res_id']) === invoiceId)
    .map((m) => String(m['body'] ?? '').replace(/<[^>]+>/g, ''));
}

/** Run now through the API and wait for that run (a new one, not an earlier) to finish. */
async function runNow(): Promise<any> {
  const known = new Set(((await connector.api('GET', `/api/installations/${id}/runs`, { token })).body.runs as any[]).map((r) => r.id));
  expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const runs = (await connector.api('GET', `/api/installations/${id}/runs`, { token })).body.runs as any[];
    const run = runs.find((r) => !known.has(r.id) && r.status !== 'running');
    if (run) {
      expect(run.status, JSON.stringify(run)).toBe('completed');
      return run;
    }
    if (Date.now() > deadline) throw new Error(`no new finished run: ${JSON.stringify(runs)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ledger(): Promise<Map<string, any>> {
  const res = await connector.api('GET', `/api/installations/${id}/ledger?limit=100`, { token });
  expect(res.status).toBe(200);
  return new Map((res.body.entries as any[]).map((e) => [e.invoiceId, e]));
}

async function logs(event: string): Promise<any[]> {
  const res = await connector.api('GET', `/api/installations/${id}/logs?limit=1000&event=${encodeURIComponent(event)}`, { token });
  expect(res.status).toBe(200);
  return res.body.entries as any[];
}

async function fileInInbox(raws: Buffer[]): Promise<void> {
  const client = new ImapFlow({
    host: dovecot!.host,
    port: dovecot!.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: dovecot!.user, pass: dovecot!.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const raw of raws) await client.append('INBOX', raw, [], new Date());
  } finally {
    await client.logout();
  }
}

const bounceRecords = (entry: any) => (entry.recipients as any[]).filter((r) => r.bounce).map((r) => [r.address, r.bounce.status]);

describe.skipIf(!dovecot)('bounces come back to the invoice', () => {
  it('records exactly the failed recipients of our own messages, notes, logs and announces each once, and re-sends a corrected invoice under a new Message-ID', async () => {
    // 1. A run sends the three invoices.
    await runNow();
    const sent = await ledger();
    for (const inv of [A, B, C]) expect(sent.get(inv)?.state, inv).toBe('sent');
    const mid = (inv: string) => sandboxMessageId(id, inv);
    expect(sent.get(A).messageId).toBe(mid(A));
    expect(smtp.messages.filter((m) => m.parsed.messageId === mid(A))).toHaveLength(1);
    const notesBefore = { A: hostNotes(A).length, B: hostNotes(B).length, C: hostNotes(C).length };

    // 2. The provider files its reports: Postfix for A, Exchange and Gmail for B's two addresses, a delay
    //    for C, a report about a message we never sent (same shape, someone else's Message-ID), an auto-reply.
    await fileInInbox([
      dsnFixture('postfix', mid(A)),
      dsnFixture('autoreply', mid(A)),
      dsnFixture('exchange', mid(B)),
      dsnFixture('postfix', '<not-ours.4711@elsewhere.example>'),
      dsnFixture('gmail', mid(B)),
      dsnFixture('delayed', mid(C)),
    ]);

    // 3. The next run (its bounce check) records them; the auto-reply is not even read as a report.
    const check = await runNow();
    expect((await logs('run.bounces_checked')).filter((l) => l.runId === check.id).map((l) => l.data)).toEqual([
      { read: 5, bounced: 3, ignored: 1, account: accountId },
    ]);
    const after = await ledger();
    expect(bounceRecords(after.get(A))).toEqual([[POSTFIX_RCPT, '5.1.1']]);
    expect(bounceRecords(after.get(B)).sort()).toEqual([
      [EXCHANGE_RCPT, '5.1.10'],
      [GMAIL_RCPT, '5.1.1'],
    ]);
    expect(bounceRecords(after.get(C))).toEqual([]);
    for (const inv of [A, B, C]) expect(after.get(inv).state, `${inv} stays sent: the server accepted it`).toBe('sent');
    const aBounce = (after.get(A).recipients as any[])[0].bounce;
    expect(aBounce.diagnostic).toContain('550 5.1.1');
    expect(Number.isNaN(Date.parse(aBounce.at))).toBe(false);

    const bouncedLogs = await logs('invoice.bounced');
    expect(bouncedLogs.map((l) => [l.invoiceId, l.data.address, l.data.status]).sort()).toEqual(
      [
        [A, POSTFIX_RCPT, '5.1.1'],
        [B, EXCHANGE_RCPT, '5.1.10'],
        [B, GMAIL_RCPT, '5.1.1'],
      ].sort(),
    );
    const aLog = bouncedLogs.find((l) => l.invoiceId === A);
    expect(aLog.level).toBe('warning');
    expect(aLog.text).toContain(POSTFIX_RCPT);
    expect(aLog.text).toContain('5.1.1');
    expect((await logs('invoice.delivery_delayed')).map((l) => [l.invoiceId, l.data.address])).toEqual([[C, DELAYED_RCPT]]);

    // The host: one note per bounced address, naming it and why; the invoices stay marked sent.
    expect(hostNotes(A).length).toBe(notesBefore.A + 1);
    expect(hostNotes(B).length).toBe(notesBefore.B + 2);
    expect(hostNotes(C).length).toBe(notesBefore.C);
    const aNote = hostNotes(A).find((n) => n.includes('bounced'))!;
    expect(aNote).toContain(POSTFIX_RCPT);
    expect(aNote).toContain('5.1.1');
    for (const inv of [A, B, C]) expect(moveOf(inv)['is_move_sent']).toBe(true);

    // The webhook receiver: one signed invoice.bounced per bounced address.
    const hooks = await rx.waitFor((r) => r.event.type === 'invoice.bounced', { count: 3, timeoutMs: 15_000 });
    expect(hooks.every((h) => h.verified.ok)).toBe(true);
    expect(hooks.map((h) => [h.event.data.invoiceId, h.event.data.address, h.event.data.status]).sort()).toEqual(
      [
        [A, POSTFIX_RCPT, '5.1.1'],
        [B, EXCHANGE_RCPT, '5.1.10'],
        [B, GMAIL_RCPT, '5.1.1'],
      ].sort(),
    );

    // 4. Reading again (another run, same INBOX) records nothing twice.
    await runNow();
    expect((await logs('invoice.bounced')).length).toBe(3);
    expect(hostNotes(A).length).toBe(notesBefore.A + 1);
    expect(bounceRecords((await ledger()).get(B)).length).toBe(2);
    // Even when the whole INBOX is read again (the mailbox reports a new UIDVALIDITY: UIDs start over).
    const cursor = await connector.store.getMailboxCursor(id, accountId);
    expect(cursor?.lastUid).toBeGreaterThanOrEqual(6);
    await connector.store.putMailboxCursor(id, accountId, { uidValidity: `${cursor!.uidValidity}0`, lastUid: cursor!.lastUid });
    const reread = await runNow();
    expect((await logs('run.bounces_checked')).filter((l) => l.runId === reread.id).map((l) => l.data)).toEqual([
      { read: 5, bounced: 0, ignored: 1, account: accountId },
    ]);
    expect((await logs('invoice.bounced')).length).toBe(3);
    expect((await logs('invoice.delivery_delayed')).length).toBe(1);
    expect(hostNotes(B).length).toBe(notesBefore.B + 2);
    expect(await connector.store.getMailboxCursor(id, accountId)).toEqual(cursor);

    // 5. Only a bounced (or failed/uncertain) invoice may be re-sent: C was delivered and is refused.
    const refused = await connector.api('POST', `/api/installations/${id}/invoices/${C}/resend`, { token });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', field: 'invoiceId' });

    // 6. The customer's address is corrected in the host, a person re-sends A: it goes out once more,
    //    to the new address only, under its next Message-ID; nothing else is sent again.
    setCustomerEmail(A, CORRECTED);
    const before = smtp.messages.length;
    expect((await connector.api('POST', `/api/installations/${id}/invoices/${A}/resend`, { token })).status).toBe(202);
    await runNow();
    const resent = smtp.messages.slice(before);
    expect(resent).toHaveLength(1);
    const v2 = mid(A).replace('@', '.v2@');
    expect(resent[0]!.parsed.messageId).toBe(v2);
    expect(resent[0]!.envelope.to).toEqual([CORRECTED]);
    const finalA = (await ledger()).get(A);
    expect(finalA).toMatchObject({ state: 'sent', version: 2, messageId: v2 });
    expect(finalA.recipients).toEqual([{ address: CORRECTED, accepted: true, reply: null }]);
    expect(moveOf(A)['is_move_sent']).toBe(true);
    expect(hostNotes(A).some((n) => n.includes(CORRECTED))).toBe(true);

    // A late report about the first version is not taken for the new one.
    await fileInInbox([dsnFixture('postfix', mid(A))]);
    await runNow();
    expect((await logs('invoice.bounced')).length).toBe(3);
    expect(bounceRecords((await ledger()).get(A))).toEqual([]);
    expect(smtp.messages.length).toBe(before + 1);
  }, 180_000);
});

describe.skipIf(!dovecot)('a mailbox that cannot be read', () => {
  it('leaves the run completed and its deliveries recorded, with one warning in the log', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const host = await startSandboxHost({
      port: 0,
      smtp: { host: smtp.host, port: smtp.port, user: MAILBOX.user, password: MAILBOX.password },
      imap: { host: '127.0.0.1', port: closedPort, user: MAILBOX.user, password: MAILBOX.password, ssl: false },
      invoiceCount: 5,
    });
    try {
      const moves = host.records('account.move');
      const installed = await connector.api('POST', '/api/installations', {
        body: { hostKind: 'odoo', hostUrl: host.url, database: host.database, integration: { login: 'admin', secret: 'admin' } },
      });
      const otherId: string = installed.body.id;
      const otherToken: string = installed.body.apiToken;
      const accounts = await connector.api('GET', `/api/installations/${otherId}/options/email-accounts?operator=ksiegowa`, { token: otherToken });
      const account = accounts.body.options.find((a: any) => a.label === 'Sandbox SMTP');
      const saved = await connector.api('PUT', `/api/installations/${otherId}/settings`, {
        token: otherToken,
        body: {
          enabled: false,
          operator: 'ksiegowa',
          operatorPassword: 'ksiegowa',
          emailAccount: account.value,
          delivery: 'send_now',
          documents: 'confirmed_only',
          dateBasis: 'issue_date',
          fromDate: DateTime.fromISO(String(moves[0]!['invoice_date'])).minus({ years: 1 }).toISODate(),
          attachments: { pln: 'none', foreign: 'none' },
        },
      });
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
      const since = Date.now();
      expect((await connector.api('POST', `/api/installations/${otherId}/runs`, { token: otherToken })).status).toBe(202);
      const run = await connector.waitForRun(otherId, otherToken, { trigger: 'manual', since });
      expect(run.status, JSON.stringify(run)).toBe('completed');
      expect(run.counts.sent).toBeGreaterThan(0);
      const sentEntries = ((await connector.api('GET', `/api/installations/${otherId}/ledger?limit=100`, { token: otherToken })).body.entries as any[]).filter(
        (e) => e.state === 'sent',
      );
      expect(sentEntries).toHaveLength(run.counts.sent);
      const warnings = (await connector.api('GET', `/api/installations/${otherId}/logs?limit=100&event=run.bounce_check_failed`, { token: otherToken })).body
        .entries as any[];
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warning', runId: run.id });
      expect(await connector.store.getMailboxCursor(otherId, account.value)).toBeNull();
    } finally {
      await host.stop();
    }
  }, 120_000);
});

/**
 * End to end with a real Tryton 6.0 (Debian's trytond, seeded by test/services/tryton-seed.py): the whole
 * connector composed as `npm start` composes it, a real SMTP server and a real PostgreSQL. Tryton has no
 * SMTP account model, so the run sends through a connector-managed account created over the API.
 * Ground truth about Tryton is read with a raw JSON-RPC caller, never through the adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RECEIPT_NAME, parseReceipt } from '../../src/connector/tryton/index.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTryton, trytonInstalled, trytonRaw, TRYTON_INSTALL, type RunningTryton, type TrytonRawCall } from '../support/tryton.ts';

if (!trytonInstalled()) console.warn(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`);

const SMTP_AUTH = { user: 'faktury', password: 'smtp-secret-7' };

function pdfText(pdf: Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ic-e2e-tryton-'));
  try {
    const file = path.join(dir, 'a.pdf');
    writeFileSync(file, pdf);
    // Thousands are separated by a (no-break) space; compare with plain spaces.
    return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }).replace(/[\u00a0\u202f]/g, ' ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** "1895.00" -> "1 895,00" as the standard print writes amounts (read back with plain spaces). */
function plAmount(decimal: string): string {
  const [int, frac] = decimal.replace('-', '').split('.');
  return `${decimal.startsWith('-') ? '-' : ''}${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ' ')},${frac ?? '00'}`;
}

describe.skipIf(!trytonInstalled())('end to end on a real Tryton: install, managed account, run, deliver, write back', () => {
  let t: RunningTryton;
  let raw: TrytonRawCall;
  let smtp: TestSmtpServer;
  let connector: TestConnector;
  let installationId: string;
  let token: string;
  let accountId: string;

  beforeAll(async () => {
    [t, smtp, connector] = await Promise.all([startTryton().then((x) => x!), startTestSmtpServer({ auth: SMTP_AUTH }), startTestConnector()]);
    raw = await trytonRaw(t);
  }, 240_000);

  afterAll(async () => {
    await connector?.close();
    await smtp?.stop();
    await t?.stop();
  });

  it('installs Tryton with the integration credential (admin)', async () => {
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'tryton', hostUrl: t.url, database: t.database, integration: { login: t.admin.login, secret: t.admin.password } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    installationId = res.body.id;
    token = res.body.apiToken;
    // Tryton has no e-mail accounts of its own: nothing to offer until the connector keeps one.
    const accounts = await connector.api('GET', `/api/installations/${installationId}/options/email-accounts?operator=ksiegowa`, { token });
    expect(accounts.status).toBe(200);
    expect(accounts.body.options).toEqual([]);
  });

  it('keeps a connector-managed e-mail account: validation names the field, the password is write-only', async () => {
    const bad = await connector.api('POST', `/api/installations/${installationId}/managed/email-accounts`, {
      token,
      body: { name: 'Faktury', fromAddress: 'not an address', smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('fromAddress');

    const created = await connector.api('POST', `/api/installations/${installationId}/managed/email-accounts`, {
      token,
      body: {
        name: 'Faktury (Invoice Courier)',
        fromAddress: 'faktury@spike.example',
        smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none', ...SMTP_AUTH },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    accountId = created.body.id;
    expect(accountId).toMatch(/^managed:[0-9a-f-]{36}$/);
    expect(created.body.smtp).toEqual({ host: '127.0.0.1', port: smtp.port, tls: 'none', user: SMTP_AUTH.user, password: { set: true } });
    const listed = await connector.api('GET', `/api/installations/${installationId}/managed/email-accounts`, { token });
    expect(JSON.stringify(listed.body)).not.toContain(SMTP_AUTH.password);
    expect(JSON.stringify(await connector.store.getManaged(installationId, 'email_account', accountId))).not.toContain(SMTP_AUTH.password);

    // Offered in the settings' option list like a host account.
    const options = await connector.api('GET', `/api/installations/${installationId}/options/email-accounts?operator=ksiegowa`, { token });
    expect(options.body.options).toEqual([{ value: accountId, label: 'Faktury (Invoice Courier)', from: 'faktury@spike.example', imap: false }]);
  });

  it('sends every posted Tryton invoice once with its PDF and writes the outcome back into Tryton', async () => {
    const seed = t.seed.invoices;
    const fromDate = Object.values(seed)
      .map((i) => i.date)
      .sort()[0]!;
    const saved = await connector.api('PUT', `/api/installations/${installationId}/settings`, {
      token,
      // Not enabled: only the manual run below runs (no scheduled run races it).
      body: {
        operator: t.ksiegowa.login,
        operatorPassword: t.ksiegowa.password,
        emailAccount: accountId,
        emailTemplate: 'connector:invoice',
        delivery: 'send_now',
        documents: 'confirmed_only',
        dateBasis: 'issue_date',
        fromDate,
        attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' },
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);

    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${installationId}/runs`, { token })).status).toBe(202);
    const run = await connector.waitForRun(installationId, token, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');

    // Posted and paid invoices with an address go out; the customer without e-mail is skipped; draft,
    // validated and cancelled ones stay home.
    const expected = [seed.posted_pln, seed.paid_pln, seed.posted_eur, seed.credit_note];
    expect(run.counts).toMatchObject({ sent: expected.length, skipped: 1, failed: 0, retry: 0, uncertain: 0 });
    const sentIds = smtp.messages.map((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')));
    expect(sentIds.sort((a, b) => a - b)).toEqual(expected.map((i) => i.id).sort((a, b) => a - b));
    for (const notSent of [seed.posted_mixed_vat, seed.draft_pln, seed.validated_pln, seed.cancelled_pln]) expect(sentIds).not.toContain(notSent.id);

    // Delivered through the managed account, authenticated with its decrypted password.
    for (const m of smtp.messages) {
      expect(m.envelope.from).toBe('faktury@spike.example');
      expect(m.user).toBe(SMTP_AUTH.user);
      expect(m.parsed.attachments).toHaveLength(1);
      expect(m.parsed.attachments[0]!.contentType).toBe('application/pdf');
    }

    // The first posted invoice read back in full: recipient, subject, the PDF's number, NIPs and total.
    const msg = smtp.messages.find((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === seed.posted_pln.id)!;
    expect(msg.envelope.to).toEqual(['billing@acme.example']);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o.: faktura ${seed.posted_pln.number}`);
    const text = pdfText(msg.parsed.attachments[0]!.content);
    expect(text).toContain(seed.posted_pln.number!);
    expect(text).toContain('5260250274'); // seller NIP
    expect(text).toContain('8567346215'); // buyer NIP
    expect(text).toContain(plAmount(seed.posted_pln.total)); // 1 895,00
    // The English customer gets the English template.
    const eur = smtp.messages.find((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === seed.posted_eur.id)!;
    expect(eur.parsed.subject).toBe(`Spike Sp. z o.o.: invoice ${seed.posted_eur.number}`);
    expect(pdfText(eur.parsed.attachments[0]!.content)).toContain(plAmount(seed.posted_eur.total));

    // Write-back visible in Tryton: a note and a receipt saying "sent" with the Message-ID.
    const resource = `account.invoice,${seed.posted_pln.id}`;
    const notes = await raw('model.ir.note.search_read', [[['resource', '=', resource]], 0, null, null, ['message'], {}]);
    expect(notes.some((n: { message: string }) => /Invoice Courier/.test(n.message) && n.message.includes('billing@acme.example'))).toBe(true);
    const [attachment] = await raw('model.ir.attachment.search_read', [
      [
        ['resource', '=', resource],
        ['name', '=', RECEIPT_NAME],
      ],
      0,
      null,
      null,
      ['data'],
      {},
    ]);
    const receipt = parseReceipt(Buffer.from(attachment.data.base64, 'base64'));
    expect(receipt).toMatchObject({ state: 'sent', markedSent: true, messageId: msg.parsed.messageId });
    // Nothing was written on invoices that were not sent.
    const onDraft = await raw('model.ir.attachment.search_count', [[['resource', '=', `account.invoice,${seed.draft_pln.id}`]], {}]);
    expect(onDraft).toBe(0);
  }, 180_000);

  it('sends nothing twice when run again', async () => {
    const before = smtp.messages.length;
    const since = Date.now();
    await connector.api('POST', `/api/installations/${installationId}/runs`, { token });
    const again = await connector.waitForRun(installationId, token, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(again.status).toBe('completed');
    expect(again.counts.sent).toBe(0);
    expect(smtp.messages.length).toBe(before);
  }, 180_000);
});

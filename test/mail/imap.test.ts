import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EmailAccount } from '../../src/domain.ts';
import { isConnectorError, type ConnectorError } from '../../src/errors.ts';
import { createMailDelivery } from '../../src/mail/delivery.ts';
import type { MailDelivery, OutgoingMessage } from '../../src/mail/port.ts';
import { DOVECOT_INSTALL_HINT, startDovecot, type TestDovecot } from '../support/dovecot.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const dovecotProbe = await startDovecot();
if (!dovecotProbe) console.warn(`[skipped] IMAP tests: ${DOVECOT_INSTALL_HINT}`);
await dovecotProbe?.stop();

function message(id: string, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    messageId: `<ic.inst1.${id}@invoice-courier>`,
    from: { name: 'Sprzedawca', address: 'faktury@sprzedawca.test' },
    replyTo: null,
    to: ['klient@nabywca.test'],
    cc: [],
    bcc: ['archiwum@sprzedawca.test'],
    subject: `Faktura ${id}`,
    html: '<p>W załączeniu faktura.</p>',
    text: 'W załączeniu faktura.',
    attachments: [{ filename: `${id}.pdf`, contentType: 'application/pdf', content: new TextEncoder().encode('%PDF-1.4\n%%EOF\n') }],
    headers: { 'X-Invoice-Courier-Invoice': id },
    ...overrides,
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    if (isConnectorError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

/** Reads a mailbox straight from Dovecot with a separate client (not our adapter). */
async function mailbox(dovecot: TestDovecot, path: string): Promise<{ flags: Set<string>; raw: Buffer; specialUse: string | undefined }[]> {
  const client = new ImapFlow({
    host: dovecot.host,
    port: dovecot.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: dovecot.user, pass: dovecot.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const list = await client.list();
    const box = list.find((m) => m.path === path);
    if (!box) return [];
    const lock = await client.getMailboxLock(path, { readOnly: true });
    try {
      const out: { flags: Set<string>; raw: Buffer; specialUse: string | undefined }[] = [];
      for await (const msg of client.fetch('1:*', { flags: true, source: true })) {
        out.push({ flags: msg.flags ?? new Set(), raw: msg.source ?? Buffer.alloc(0), specialUse: box.specialUse });
      }
      return out;
    } catch {
      return [];
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe.skipIf(!dovecotProbe)('IMAP delivery (save_draft, copy to Sent, evidence) against a real Dovecot', () => {
  let dovecot: TestDovecot;
  let smtp: TestSmtpServer;
  let delivery: MailDelivery | null = null;
  let account: EmailAccount;

  beforeAll(async () => {
    dovecot = (await startDovecot())!;
    smtp = await startTestSmtpServer();
    account = smtp.account({ id: 'acc-imap', imap: dovecot.imap('none') });
  });
  afterAll(async () => {
    await smtp.stop();
    await dovecot.stop();
  });
  afterEach(async () => {
    await delivery?.close();
    delivery = null;
  });

  it('save_draft stores the message in Drafts with the \\Draft flag and the same Message-ID, without sending it', async () => {
    delivery = createMailDelivery({ poolSize: 1 });
    const result = await delivery.deliver(account, message('draft1'), 'save_draft');
    expect(result.mode).toBe('save_draft');
    expect(result.response).toMatch(/^Drafts UID \d+$/);
    expect(result.recipients.map((r) => r.accepted)).toEqual([true, true]);
    const drafts = await mailbox(dovecot, 'Drafts');
    expect(drafts).toHaveLength(1);
    expect(drafts[0]!.flags.has('\\Draft')).toBe(true);
    const parsed = await simpleParser(drafts[0]!.raw);
    expect(parsed.messageId).toBe('<ic.inst1.draft1@invoice-courier>');
    expect(parsed.attachments[0]!.filename).toBe('draft1.pdf');
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(smtp.messages).toHaveLength(0);
  });

  it('findByMessageId finds a drafted message and reports not_found for another', async () => {
    delivery = createMailDelivery({ poolSize: 1 });
    await delivery.deliver(account, message('draft2'), 'save_draft');
    expect(await delivery.findByMessageId(account, '<ic.inst1.draft2@invoice-courier>')).toBe('found');
    expect(await delivery.findByMessageId(account, 'ic.inst1.draft2@invoice-courier')).toBe('found');
    // a prefix of an existing id is not a match
    expect(await delivery.findByMessageId(account, '<ic.inst1.draft@invoice-courier>')).toBe('not_found');
    expect(await delivery.findByMessageId(account, '<ic.inst1.never@invoice-courier>')).toBe('not_found');
  });

  it('copyToSent sends over SMTP and stores the same message in Sent, where the evidence search finds it', async () => {
    delivery = createMailDelivery({ poolSize: 1, copyToSent: true });
    const result = await delivery.deliver(account, message('sent1'), 'send_now');
    expect(result.response).toMatch(/copy in Sent UID \d+/);
    await smtp.waitForMessages(1);
    const sent = await mailbox(dovecot, 'Sent');
    const parsed = await Promise.all(sent.map((m) => simpleParser(m.raw)));
    expect(parsed.map((p) => p.messageId)).toContain('<ic.inst1.sent1@invoice-courier>');
    const smtpCopy = smtp.messages.find((m) => m.parsed.messageId === '<ic.inst1.sent1@invoice-courier>');
    expect(smtpCopy).toBeDefined();
    expect(await delivery.findByMessageId(account, '<ic.inst1.sent1@invoice-courier>')).toBe('found');
  });

  it('without copyToSent nothing is stored in Sent', async () => {
    delivery = createMailDelivery({ poolSize: 1 });
    await delivery.deliver(account, message('sent2'), 'send_now');
    expect(await delivery.findByMessageId(account, '<ic.inst1.sent2@invoice-courier>')).toBe('not_found');
  });

  it('an IMAP server that cannot be reached is mail_temporary', async () => {
    delivery = createMailDelivery({ poolSize: 1, timeoutMs: 3000 });
    // a port nothing listens on (a server that was just stopped)
    const probe = await startTestSmtpServer();
    await probe.stop();
    const closed = { ...account, id: 'acc-closed', imap: dovecot.imap('none', { port: probe.port }) };
    const err = await failure(delivery.deliver(closed, message('down1'), 'save_draft'));
    expect(err.code).toBe('mail_temporary');
    expect(err.retryable).toBe(true);
  });

  it('STARTTLS and implicit TLS work with the server certificate as CA', async () => {
    delivery = createMailDelivery({ poolSize: 1, tls: { ca: dovecot.ca } });
    await delivery.deliver({ ...account, id: 'acc-starttls', imap: dovecot.imap('starttls') }, message('tls1'), 'save_draft');
    await delivery.deliver({ ...account, id: 'acc-tls', imap: dovecot.imap('tls') }, message('tls2'), 'save_draft');
    expect(await delivery.findByMessageId({ ...account, id: 'acc-tls', imap: dovecot.imap('tls') }, '<ic.inst1.tls1@invoice-courier>')).toBe('found');
  });

  it('many drafts for one account are stored one after another on one connection', async () => {
    delivery = createMailDelivery({ poolSize: 1 });
    const ids = Array.from({ length: 20 }, (_, i) => `bulk${i}`);
    const results = await Promise.all(ids.map((id) => delivery!.deliver(account, message(id), 'save_draft')));
    const uids = results.map((r) => Number(/UID (\d+)/.exec(r.response)![1]));
    expect(new Set(uids).size).toBe(20);
    for (const id of ['bulk0', 'bulk19']) expect(await delivery.findByMessageId(account, `<ic.inst1.${id}@invoice-courier>`)).toBe('found');
  });
  // last: Dovecot delays logins from an address after failed ones (auth penalty)
  it('a wrong IMAP password is mail_auth, for drafts and for the evidence search', async () => {
    delivery = createMailDelivery({ poolSize: 1, timeoutMs: 5000 });
    const bad = { ...account, id: 'acc-bad', imap: dovecot.imap('none', { password: 'nope' }) };
    const err = await failure(delivery.deliver(bad, message('bad1'), 'save_draft'));
    expect(err.code).toBe('mail_auth');
    expect(err.retryable).toBe(false);
    expect(JSON.stringify(err.detail)).not.toContain('nope');
    expect((await failure(delivery.findByMessageId(bad, '<x@y>'))).code).toBe('mail_auth');
  });
});

describe.skipIf(!dovecotProbe)('IMAP Drafts folder missing', () => {
  it('is created (as "Drafts", special-use \\Drafts) and the draft stored in it', async () => {
    const dovecot = (await startDovecot({ autoFolders: false }))!;
    const delivery = createMailDelivery({ poolSize: 1 });
    try {
      const account: EmailAccount = {
        id: 'acc-bare',
        name: 'Bare mailbox',
        active: true,
        fromAddress: null,
        fromFilter: null,
        smtp: { host: '127.0.0.1', port: 1, tls: 'none', user: null, password: null },
        imap: dovecot.imap('none'),
      };
      expect(await mailbox(dovecot, 'Drafts')).toEqual([]);
      expect(await delivery.findByMessageId(account, '<ic.inst1.new1@invoice-courier>')).toBe('not_found');
      const result = await delivery.deliver(account, message('new1'), 'save_draft');
      expect(result.response).toMatch(/^Drafts UID \d+$/);
      const drafts = await mailbox(dovecot, 'Drafts');
      expect(drafts).toHaveLength(1);
      expect(drafts[0]!.specialUse).toBe('\\Drafts');
      expect(drafts[0]!.flags.has('\\Draft')).toBe(true);
      expect(await delivery.findByMessageId(account, '<ic.inst1.new1@invoice-courier>')).toBe('found');
    } finally {
      await delivery.close();
      await dovecot.stop();
    }
  });
});

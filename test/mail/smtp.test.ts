import { afterEach, describe, expect, it } from 'vitest';
import { isConnectorError, type ConnectorError } from '../../src/errors.ts';
import { createMailDelivery } from '../../src/mail/delivery.ts';
import { deliveryPhaseOf, type MailDelivery, type OutgoingMessage, type SmtpPhase } from '../../src/mail/port.ts';
import { classify } from '../../src/jobs/rules/classify.ts';
import { startTestSmtpServer, type TestSmtpFaults, type TestSmtpServer } from '../support/smtp.ts';

const PDF = new TextEncoder().encode('%PDF-1.4\n% zażółć\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    messageId: '<ic.inst1.inv42@invoice-courier>',
    from: { name: 'Sprzedawca Sp. z o.o.', address: 'faktury@sprzedawca.test' },
    replyTo: 'ksiegowosc@sprzedawca.test',
    to: ['klient@nabywca.test'],
    cc: ['kopia@nabywca.test'],
    bcc: ['archiwum@sprzedawca.test'],
    subject: 'Faktura FV/2026/11/0042 — Żółta Łódź',
    html: '<p>Dzień dobry, w załączeniu <b>faktura</b>.</p>',
    text: 'Dzień dobry, w załączeniu faktura.',
    attachments: [{ filename: 'FV_2026_11_0042.pdf', contentType: 'application/pdf', content: PDF }],
    headers: { 'X-Invoice-Courier-Invoice': 'inv42', 'X-Invoice-Courier-Installation': 'inst1' },
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
  throw new Error('expected the delivery to fail');
}

let smtp: TestSmtpServer | null = null;
let delivery: MailDelivery | null = null;
afterEach(async () => {
  await delivery?.close();
  await smtp?.stop();
  delivery = null;
  smtp = null;
});

describe('SMTP delivery (send_now)', () => {
  it('delivers the exact Message-ID, headers, text, html and attachment, bcc only in the envelope', async () => {
    smtp = await startTestSmtpServer();
    delivery = createMailDelivery({ poolSize: 2 });
    const result = await delivery.deliver(smtp.account(), message(), 'send_now');

    expect(result.mode).toBe('send_now');
    expect(result.recipients).toEqual([
      { address: 'klient@nabywca.test', accepted: true, reply: null },
      { address: 'kopia@nabywca.test', accepted: true, reply: null },
      { address: 'archiwum@sprzedawca.test', accepted: true, reply: null },
    ]);
    expect(result.response).toMatch(/^250/);
    await smtp.waitForMessages(1);
    const got = smtp.messages[0]!;
    expect(got.envelope).toEqual({ from: 'faktury@sprzedawca.test', to: ['klient@nabywca.test', 'kopia@nabywca.test', 'archiwum@sprzedawca.test'] });
    expect(got.parsed.messageId).toBe('<ic.inst1.inv42@invoice-courier>');
    expect(got.parsed.subject).toBe('Faktura FV/2026/11/0042 — Żółta Łódź');
    expect(got.parsed.from?.value).toEqual([{ name: 'Sprzedawca Sp. z o.o.', address: 'faktury@sprzedawca.test' }]);
    expect(got.parsed.replyTo?.text).toBe('ksiegowosc@sprzedawca.test');
    expect(got.parsed.headers.get('x-invoice-courier-invoice')).toBe('inv42');
    expect(got.parsed.text?.trim()).toBe('Dzień dobry, w załączeniu faktura.');
    expect(got.parsed.html).toContain('<b>faktura</b>');
    expect(got.parsed.headers.has('bcc')).toBe(false);
    expect(got.raw.toString('latin1')).not.toMatch(/archiwum@sprzedawca\.test/);
    expect(got.parsed.attachments).toHaveLength(1);
    expect(got.parsed.attachments[0]!.filename).toBe('FV_2026_11_0042.pdf');
    expect(got.parsed.attachments[0]!.contentType).toBe('application/pdf');
    expect(Buffer.compare(got.parsed.attachments[0]!.content, Buffer.from(PDF))).toBe(0);
  });

  it('reuses pooled connections: 50 messages over a pool of 2 open at most 2 connections', async () => {
    smtp = await startTestSmtpServer();
    delivery = createMailDelivery({ poolSize: 2 });
    const account = smtp.account();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        delivery!.deliver(account, message({ messageId: `<ic.inst1.inv${i}@invoice-courier>`, cc: [], bcc: [] }), 'send_now'),
      ),
    );
    expect(smtp.messages).toHaveLength(50);
    expect(new Set(smtp.messages.map((m) => m.parsed.messageId)).size).toBe(50);
    expect(smtp.connectionCount).toBeLessThanOrEqual(2);
    expect(new Set(smtp.messages.map((m) => m.sessionId)).size).toBeLessThanOrEqual(2);
  });

  it('changed SMTP settings of an account get a new pool', async () => {
    smtp = await startTestSmtpServer();
    const other = await startTestSmtpServer();
    try {
      delivery = createMailDelivery({ poolSize: 1 });
      await delivery.deliver(smtp.account(), message({ cc: [], bcc: [] }), 'send_now');
      const moved = smtp.account({ smtp: { ...smtp.account().smtp, port: other.port } });
      await delivery.deliver(moved, message({ cc: [], bcc: [] }), 'send_now');
      expect(smtp.messages).toHaveLength(1);
      expect(other.messages).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('a 4xx for one of two recipients still delivers, recording the refused recipient with the reply', async () => {
    smtp = await startTestSmtpServer({ faults: { rcpt: { 'kopia@nabywca.test': { code: 450, message: 'Mailbox busy, try later' } } } });
    delivery = createMailDelivery({ poolSize: 1 });
    const result = await delivery.deliver(smtp.account(), message({ bcc: [] }), 'send_now');
    expect(result.recipients[0]).toEqual({ address: 'klient@nabywca.test', accepted: true, reply: null });
    expect(result.recipients[1]!.address).toBe('kopia@nabywca.test');
    expect(result.recipients[1]!.accepted).toBe(false);
    expect(result.recipients[1]!.reply).toMatch(/^450 .*Mailbox busy/);
    await smtp.waitForMessages(1);
    expect(smtp.messages[0]!.envelope.to).toEqual(['klient@nabywca.test']);
  });

  it('a 4xx for every recipient is mail_temporary (retryable)', async () => {
    smtp = await startTestSmtpServer({
      faults: { rcpt: { 'klient@nabywca.test': { code: 451, message: 'Greylisted' }, 'kopia@nabywca.test': { code: 451, message: 'Greylisted' } } },
    });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message({ bcc: [] }), 'send_now'));
    expect(err.code).toBe('mail_temporary');
    expect(err.retryable).toBe(true);
    expect(err.detail?.['unknownOutcome']).toBeUndefined();
    expect(smtp.messages).toHaveLength(0);
  });

  it('a 5xx for every recipient is mail_permanent with the reply', async () => {
    smtp = await startTestSmtpServer({ faults: { rcpt: { 'klient@nabywca.test': { code: 550, message: 'No such user here' } } } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message({ cc: [], bcc: [] }), 'send_now'));
    expect(err.code).toBe('mail_permanent');
    expect(err.retryable).toBe(false);
    expect(String(err.detail?.['reply'])).toMatch(/^550 .*No such user here/);
  });

  it('a 5xx after DATA is mail_permanent with the server reply in detail', async () => {
    smtp = await startTestSmtpServer({ faults: { data: { code: 554, message: 'Message rejected as spam' } } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'send_now'));
    expect(err.code).toBe('mail_permanent');
    expect(String(err.detail?.['reply'])).toMatch(/^554 .*Message rejected as spam/);
    expect(err.detail?.['unknownOutcome']).toBeUndefined();
  });

  it('a 4xx after DATA is mail_temporary with a known outcome', async () => {
    smtp = await startTestSmtpServer({ faults: { data: { code: 452, message: 'Insufficient storage' } } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'send_now'));
    expect(err.code).toBe('mail_temporary');
    expect(err.detail?.['unknownOutcome']).toBeUndefined();
  });

  it('a connection dropped after the message data, before the reply, is mail_temporary with unknownOutcome, sent once', async () => {
    smtp = await startTestSmtpServer({ faults: { dropAfterData: true } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'send_now'));
    expect(err.code).toBe('mail_temporary');
    expect(err.retryable).toBe(true);
    expect(err.detail?.['unknownOutcome']).toBe(true);
    // the server did receive it: no silent re-send by the pool
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages).toHaveLength(1);
    // the account keeps working on a fresh connection
    smtp.faults.dropAfterData = false;
    await delivery.deliver(smtp.account(), message(), 'send_now');
    expect(smtp.messages).toHaveLength(2);
  });

  it('a server that cannot be reached is mail_temporary without unknownOutcome', async () => {
    smtp = await startTestSmtpServer();
    const account = smtp.account();
    await smtp.stop();
    smtp = null;
    delivery = createMailDelivery({ poolSize: 1, timeoutMs: 2000 });
    const err = await failure(delivery.deliver(account, message(), 'send_now'));
    expect(err.code).toBe('mail_temporary');
    expect(err.detail?.['unknownOutcome']).toBeUndefined();
  });

  it('refused credentials are mail_auth', async () => {
    smtp = await startTestSmtpServer({ auth: { user: 'jan', password: 'tajne' } });
    delivery = createMailDelivery({ poolSize: 1 });
    const account = smtp.account();
    const err = await failure(delivery.deliver({ ...account, smtp: { ...account.smtp, password: 'wrong' } }, message(), 'send_now'));
    expect(err.code).toBe('mail_auth');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('wrong');
  });

  it('STARTTLS with AUTH delivers over an encrypted, authenticated session', async () => {
    smtp = await startTestSmtpServer({ tls: 'starttls', auth: { user: 'jan', password: 'tajne' } });
    delivery = createMailDelivery({ poolSize: 1, tls: { ca: smtp.ca! } });
    await delivery.deliver(smtp.account(), message(), 'send_now');
    await smtp.waitForMessages(1);
    expect(smtp.messages[0]!.secure).toBe(true);
    expect(smtp.messages[0]!.user).toBe('jan');
  });

  it('implicit TLS delivers; an untrusted certificate is mail_config', async () => {
    smtp = await startTestSmtpServer({ tls: 'tls' });
    delivery = createMailDelivery({ poolSize: 1, tls: { ca: smtp.ca! } });
    await delivery.deliver(smtp.account(), message(), 'send_now');
    expect(smtp.messages[0]!.secure).toBe(true);
    const untrusting = createMailDelivery({ poolSize: 1 });
    try {
      const err = await failure(untrusting.deliver(smtp.account(), message(), 'send_now'));
      expect(err.code).toBe('mail_config');
    } finally {
      await untrusting.close();
    }
  });

  it('starttls mode refuses to send in clear text to a server without STARTTLS', async () => {
    smtp = await startTestSmtpServer({ tls: 'none' });
    delivery = createMailDelivery({ poolSize: 1 });
    const account = smtp.account();
    const err = await failure(delivery.deliver({ ...account, smtp: { ...account.smtp, tls: 'starttls' } }, message(), 'send_now'));
    expect(err.code).toBe('mail_config');
    expect(smtp.messages).toHaveLength(0);
  });

  it('save_draft without IMAP is mail_config; evidence without IMAP is unknown', async () => {
    smtp = await startTestSmtpServer();
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'save_draft'));
    expect(err.code).toBe('mail_config');
    expect(await delivery.findByMessageId(smtp.account(), '<ic.inst1.inv42@invoice-courier>')).toBe('unknown');
  });
});

describe('SMTP phases: only a connection lost after the final "." of DATA can have delivered the message', () => {
  // A message big enough that the client is still writing its body when the server drops mid-data.
  const BIG = new Uint8Array(12 * 1024 * 1024).fill(0x41);
  const cases: { dropAt: NonNullable<TestSmtpFaults['dropAt']>; phase: SmtpPhase; auth?: boolean; big?: boolean }[] = [
    { dropAt: 'connect', phase: 'connect' },
    { dropAt: 'auth', phase: 'connect', auth: true },
    { dropAt: 'mail_from', phase: 'envelope' },
    { dropAt: 'rcpt_to', phase: 'envelope' },
    { dropAt: 'data_start', phase: 'envelope' },
    { dropAt: 'data', phase: 'data', big: true },
  ];
  for (const c of cases) {
    it(`a connection dropped at ${c.dropAt} is mail_temporary in phase ${c.phase}, nothing stored, and classified as an automatic retry`, async () => {
      smtp = await startTestSmtpServer({ faults: { dropAt: c.dropAt }, ...(c.auth ? { auth: { user: 'jan', password: 'tajne' } } : {}) });
      delivery = createMailDelivery({ poolSize: 1, timeoutMs: 5000 });
      const msg = message(c.big ? { attachments: [{ filename: 'big.pdf', contentType: 'application/pdf', content: BIG }] } : {});
      const err = await failure(delivery.deliver(smtp.account(), msg, 'send_now'));
      expect(err.code).toBe('mail_temporary');
      expect(deliveryPhaseOf(err)).toBe(c.phase);
      expect(err.detail?.['unknownOutcome']).toBeUndefined();
      expect(smtp.messages).toHaveLength(0);
      const verdict = classify({ kind: 'mail', error: err }, null, { mode: 'send_now', attempts: 1, maxAttempts: 5, now: new Date(), recipients: msg.to });
      expect(verdict.outcome.state).toBe('retry');
      expect(verdict.needsEvidence).toBe(false);
      // The account works again once the server does.
      smtp.faults.dropAt = null;
      await delivery.deliver(smtp.account(), message(), 'send_now');
      expect(smtp.messages).toHaveLength(1);
    }, 30_000);
  }

  it('a connection dropped after the final "." (before the reply) is phase awaiting_reply with unknownOutcome, never re-sent by the adapter, and classified as needing evidence', async () => {
    smtp = await startTestSmtpServer({ faults: { dropAfterData: true } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'send_now'));
    expect(deliveryPhaseOf(err)).toBe('awaiting_reply');
    expect(err.detail?.['unknownOutcome']).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.messages).toHaveLength(1);
    const ctx = { mode: 'send_now' as const, attempts: 1, maxAttempts: 5, now: new Date(), recipients: ['klient@nabywca.test'] };
    expect(classify({ kind: 'mail', error: err }, null, ctx).needsEvidence).toBe(true);
    expect(classify({ kind: 'mail', error: err }, 'unknown', ctx).outcome.state).toBe('uncertain');
  });

  it('beforeHandover is awaited with the message at the server but before its final ".": the server has nothing until it resolves', async () => {
    smtp = await startTestSmtpServer();
    delivery = createMailDelivery({ poolSize: 1 });
    const seen: number[] = [];
    const result = await delivery.deliver(smtp.account(), message(), 'send_now', {
      beforeHandover: async () => {
        seen.push(smtp!.messages.length);
        await new Promise((r) => setTimeout(r, 150));
        seen.push(smtp!.messages.length);
      },
    });
    expect(result.response).toMatch(/^250/);
    expect(seen).toEqual([0, 0]);
    await smtp.waitForMessages(1);
    expect(smtp.messages).toHaveLength(1);
  });

  it('a beforeHandover that rejects stops the delivery before the final ".": nothing stored, mail_temporary (handover refused, phase data), no retry by the adapter', async () => {
    smtp = await startTestSmtpServer();
    delivery = createMailDelivery({ poolSize: 1 });
    let calls = 0;
    const err = await failure(
      delivery.deliver(smtp.account(), message(), 'send_now', {
        beforeHandover: async () => {
          calls += 1;
          throw new Error('the claim is no longer ours');
        },
      }),
    );
    expect(err.code).toBe('mail_temporary');
    expect(err.detail).toMatchObject({ phase: 'data', handover: 'refused' });
    expect(err.message).toContain('the claim is no longer ours');
    expect(calls).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.messages).toHaveLength(0);
    await delivery.deliver(smtp.account(), message(), 'send_now');
    expect(smtp.messages).toHaveLength(1);
  });

  it('a reply refusing the message after the final "." is phase final_reply: a known outcome', async () => {
    smtp = await startTestSmtpServer({ faults: { data: { code: 554, message: 'rejected' } } });
    delivery = createMailDelivery({ poolSize: 1 });
    const err = await failure(delivery.deliver(smtp.account(), message(), 'send_now'));
    expect(deliveryPhaseOf(err)).toBe('final_reply');
    expect(err.detail?.['unknownOutcome']).toBeUndefined();
  });
});

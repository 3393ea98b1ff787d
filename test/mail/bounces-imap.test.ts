/**
 * Bounces read from a real Dovecot INBOX: delivery reports of the usual shapes (Postfix, Exchange,
 * Gmail) appended by "the provider" next to an auto-reply are listed by the IMAP adapter, oldest
 * first, after a UID; each parses to the message it is about. Skipped (with the install command)
 * when Dovecot is not installed.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmailAccount } from '../../src/domain.ts';
import { parseDeliveryReport } from '../../src/mail/bounces.ts';
import { createImapAccess, type ImapAccess } from '../../src/mail/imap.ts';
import { DOVECOT_INSTALL_HINT, startDovecot, type TestDovecot } from '../support/dovecot.ts';
import { dsnFixture } from '../support/dsn.ts';

const dovecot: TestDovecot | null = await startDovecot();
if (!dovecot) console.warn(`[skipped] bounce IMAP tests: ${DOVECOT_INSTALL_HINT}`);

let imap: ImapAccess;
let account: EmailAccount;

async function deliverToInbox(raws: Buffer[]): Promise<void> {
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

beforeAll(() => {
  if (!dovecot) return;
  imap = createImapAccess({ idleCloseMs: 200 });
  account = {
    id: 'acc1',
    name: 'Faktury',
    active: true,
    fromAddress: 'faktury@spike.example',
    fromFilter: null,
    smtp: { host: '127.0.0.1', port: 1, tls: 'none', user: null, password: null },
    imap: dovecot.imap('none'),
  };
});

afterAll(async () => {
  await imap?.close();
  await dovecot?.stop();
});

describe.skipIf(!dovecot)('bounces in the account INBOX', () => {
  it('lists the delivery reports after a UID, leaves auto-replies out, and each names its message', async () => {
    const ids = ['<ic-a.1@spike.example>', '<ic-a.2@spike.example>', '<ic-a.3@spike.example>', '<ic-a.4@spike.example>'] as const;
    await deliverToInbox([
      dsnFixture('postfix', ids[0]),
      dsnFixture('autoreply', ids[1]),
      dsnFixture('exchange', ids[1]),
      dsnFixture('gmail', ids[2]),
      dsnFixture('delayed', ids[3]),
    ]);
    const first = await imap.listDeliveryReports(account, 0, 100);
    expect(first.uidValidity).toMatch(/^\d+$/);
    expect(first.reports).toHaveLength(4);
    const parsed = await Promise.all(first.reports.map((r) => parseDeliveryReport(r.raw)));
    expect(parsed.map((p) => [p!.originalMessageId, p!.recipients[0]!.action])).toEqual([
      [ids[0], 'failed'],
      [ids[1], 'failed'],
      [ids[2], 'failed'],
      [ids[3], 'delayed'],
    ]);
    // Paging: nothing new after the last UID; a later report is found after it.
    const last = first.reports.at(-1)!.uid;
    expect((await imap.listDeliveryReports(account, last, 100)).reports).toEqual([]);
    await deliverToInbox([dsnFixture('postfix', '<ic-a.5@spike.example>')]);
    const next = await imap.listDeliveryReports(account, last, 100);
    expect(next.reports).toHaveLength(1);
    expect(next.reports[0]!.uid).toBeGreaterThan(last);
    expect((await parseDeliveryReport(next.reports[0]!.raw))!.originalMessageId).toBe('<ic-a.5@spike.example>');
  });
});

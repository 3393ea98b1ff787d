/**
 * Delivery status notifications of the usual shapes (test/fixtures/dsn: Postfix, Exchange / Microsoft
 * 365, Gmail; `{MID}` stands for the Message-ID of the message that bounced) read back by
 * parseDeliveryReport: the original Message-ID, each recipient's action, status and diagnostic.
 */
import { describe, expect, it } from 'vitest';
import { parseDeliveryReport, parseDeliveryStatus } from '../../src/mail/bounces.ts';
import { DSN_FIXTURES, dsnFixture as fixture } from '../support/dsn.ts';

const MID = '<ic-5b0e2f0a.42@spike.example>';
const dsnFixture = (name: (typeof DSN_FIXTURES)[number]) => fixture(name, MID);

describe('delivery reports', () => {
  it.each([
    [
      'postfix',
      'jan.kowalski@nabywca.example',
      '5.1.1',
      /^550 5\.1\.1 <jan\.kowalski@nabywca\.example>: Recipient address rejected: User unknown in virtual mailbox table$/,
      'mail.spike.example',
    ],
    ['exchange', 'biuro@klient.example', '5.1.10', /RESOLVER\.ADR\.RecipientNotFound/, 'AM0PR01MB1234.eurprd01.prod.exchangelabs.com'],
    [
      'gmail',
      'ksiegowosc.nabywca@gmail.com',
      '5.1.1',
      /^550-5\.1\.1 The email account that you tried to reach does not exist\..*NoSuchUser$/,
      'googlemail.com',
    ],
  ] as const)('a %s bounce names the message, the recipient, the status and the diagnostic', async (name, address, status, diagnostic, mta) => {
    const report = await parseDeliveryReport(dsnFixture(name));
    expect(report).not.toBeNull();
    expect(report!.originalMessageId).toBe(MID);
    expect(report!.reportingMta).toBe(mta);
    expect(report!.recipients).toHaveLength(1);
    const r = report!.recipients[0]!;
    expect(r).toMatchObject({ address, action: 'failed', status });
    expect(r.diagnostic).toMatch(diagnostic);
  });

  it('a delay notice is a report with action delayed, not a failure', async () => {
    const report = await parseDeliveryReport(dsnFixture('delayed'));
    expect(report!.recipients).toEqual([expect.objectContaining({ address: 'wolny@nabywca.example', action: 'delayed', status: '4.4.1' })]);
  });

  it('an auto-reply is no delivery report', async () => {
    expect(await parseDeliveryReport(dsnFixture('autoreply'))).toBeNull();
  });

  it('a report whose original message cannot be named is ignored', async () => {
    const raw = dsnFixture('postfix').toString('latin1').replace(`Message-ID: ${MID}\r\n`, '');
    expect(raw).not.toContain(MID);
    expect(await parseDeliveryReport(Buffer.from(raw, 'latin1'))).toBeNull();
  });

  it('delivery-status blocks unfold continued lines and split per recipient', () => {
    const blocks = parseDeliveryStatus(
      'Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\nDiagnostic-Code: smtp; 550\r\n  still 550\r\n\r\nFinal-Recipient: rfc822; z@y.example\r\nAction: failed\r\n',
    );
    expect(blocks).toEqual([
      { 'reporting-mta': 'dns; a' },
      { 'final-recipient': 'rfc822; x@y.example', 'diagnostic-code': 'smtp; 550 still 550' },
      { 'final-recipient': 'rfc822; z@y.example', action: 'failed' },
    ]);
  });
});

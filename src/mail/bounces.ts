/**
 * Delivery status notifications (RFC 3464) read back from a mailbox: which of our messages bounced,
 * for which recipient, with the status code and the remote server's diagnostic.
 *
 * A report is a `multipart/report; report-type=delivery-status` message (Postfix, Exim, Exchange,
 * Gmail and Microsoft 365 all send this shape): a human-readable part, a `message/delivery-status`
 * part (one per-message block, then one block per recipient) and the original message or its headers
 * (`message/rfc822` or `text/rfc822-headers`), whose Message-ID names the message that bounced.
 * Parsing is done with mailparser (keeping the delivery-status part as data, not as text). Messages
 * that are not delivery reports, and reports for messages we cannot name, give null.
 */
import type { Attachment, ParsedMail } from 'mailparser';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface BouncedRecipient {
  /** The final recipient's address, lower-case. */
  address: string;
  action: DsnAction;
  /** Enhanced status code, e.g. "5.1.1". */
  status: string | null;
  /** The remote server's reply, e.g. "smtp; 550 5.1.1 User unknown". */
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface DeliveryReport {
  /** Message-ID of the message the report is about, with angle brackets. */
  originalMessageId: string;
  reportingMta: string | null;
  recipients: BouncedRecipient[];
}

const ACTIONS: readonly DsnAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

/** Field blocks of a message/delivery-status body: blank-line separated, headers with folding. */
export function parseDeliveryStatus(body: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  for (const chunk of body.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | null = null;
    for (const line of chunk.split('\n')) {
      if (/^\s/.test(line) && last) {
        fields[last] += ` ${line.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields[last] = m[2]!.trim();
    }
    if (Object.keys(fields).length) blocks.push(fields);
  }
  return blocks;
}

/** "rfc822; Jan@Example.com" -> "jan@example.com" */
function addressOf(typed: string | undefined): string | null {
  if (!typed) return null;
  const value = typed.includes(';') ? typed.slice(typed.indexOf(';') + 1) : typed;
  const a = value.trim().replace(/^<|>$/g, '').toLowerCase();
  return a.includes('@') ? a : null;
}

function afterType(typed: string | undefined): string | null {
  if (!typed) return null;
  return (typed.includes(';') ? typed.slice(typed.indexOf(';') + 1) : typed).trim() || null;
}

function messageIdIn(headers: string): string | null {
  const m = /^message-id:\s*(<[^>\s]+>)/im.exec(headers.replace(/\r?\n[ \t]+/g, ' '));
  return m ? m[1]! : null;
}

function isReport(mail: ParsedMail): boolean {
  const ct = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  return ct?.value?.toLowerCase() === 'multipart/report' && (ct.params?.['report-type'] ?? '').toLowerCase() === 'delivery-status';
}

/** The delivery report in a raw message, or null when it is none or names no message. */
export async function parseDeliveryReport(raw: Buffer): Promise<DeliveryReport | null> {
  // keepDeliveryStatus: the report part stays an attachment instead of being folded into the text.
  // mailparser is loaded on the first report, not at start: only bounce checks read mail (issue 12)
  const { simpleParser } = await import('mailparser');
  const mail = await simpleParser(raw, { keepDeliveryStatus: true } as Parameters<typeof simpleParser>[1]);
  if (!isReport(mail)) return null;
  const part = (type: string): Attachment | undefined => mail.attachments.find((a) => a.contentType.toLowerCase() === type);
  const status = part('message/delivery-status');
  if (!status) return null;
  const original = part('message/rfc822') ?? part('text/rfc822-headers') ?? part('message/rfc822-headers');
  const originalHeaders = original ? original.content.toString('utf8').split(/\r?\n\r?\n/)[0]! : '';
  const [perMessage, ...perRecipient] = parseDeliveryStatus(status.content.toString('utf8'));
  // Gmail also names it in the per-message block (X-Original-Message-ID).
  const originalMessageId = messageIdIn(originalHeaders) ?? /<[^>\s]+>/.exec(perMessage?.['x-original-message-id'] ?? '')?.[0] ?? null;
  if (!originalMessageId) return null;
  const recipients: BouncedRecipient[] = [];
  for (const f of perRecipient) {
    const address = addressOf(f['final-recipient']) ?? addressOf(f['original-recipient']);
    const action = (f['action'] ?? '').toLowerCase() as DsnAction;
    if (!address || !ACTIONS.includes(action)) continue;
    recipients.push({
      address,
      action,
      status: /^\d\.\d{1,3}\.\d{1,3}/.exec(f['status'] ?? '')?.[0] ?? null,
      diagnostic: afterType(f['diagnostic-code']),
      remoteMta: afterType(f['remote-mta']),
    });
  }
  return { originalMessageId, reportingMta: afterType(perMessage?.['reporting-mta']), recipients };
}

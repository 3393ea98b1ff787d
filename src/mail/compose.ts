/**
 * Builds the one raw RFC 5322 message (MIME) for an `OutgoingMessage` with nodemailer's MailComposer.
 * SMTP sends these bytes and IMAP stores the same bytes (Drafts, Sent), so both carry the same
 * Message-ID and content. Bcc never appears in the headers; it is only in the SMTP envelope.
 *
 * Headers as nodemailer writes them: the Message-ID verbatim inside its angle brackets (it encodes
 * nothing there, so `messageIdFor` keeps to characters that need no escaping), a `Date` given in
 * `message.headers` as it is (nodemailer adds a UTC one only when there is none).
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { OutgoingMessage } from './port.ts';

export interface Envelope {
  from: string;
  /** Every recipient (to, cc, bcc), each once, in that order. */
  to: string[];
}

export function envelopeOf(message: OutgoingMessage): Envelope {
  const seen = new Set<string>();
  const to: string[] = [];
  for (const address of [...message.to, ...message.cc, ...message.bcc]) {
    const key = address.trim().toLowerCase();
    if (key === '' || seen.has(key)) continue;
    seen.add(key);
    to.push(address.trim());
  }
  return { from: message.from.address, to };
}

/** The raw message as CRLF-terminated bytes. */
export async function composeMime(message: OutgoingMessage): Promise<Buffer> {
  const composer = new MailComposer({
    messageId: message.messageId,
    from: message.from.name ? { name: message.from.name, address: message.from.address } : message.from.address,
    replyTo: message.replyTo ?? undefined,
    to: message.to,
    cc: message.cc.length ? message.cc : undefined,
    // bcc is deliberately not given: it lives in the envelope only
    subject: message.subject.replace(/[\r\n]+/g, ' '),
    text: message.text,
    html: message.html,
    headers: message.headers,
    attachments: message.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength),
    })),
    newline: '\r\n',
  });
  return composer.compile().build();
}

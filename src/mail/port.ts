/**
 * The mail delivery port: hand one finished message to an e-mail account, either over SMTP
 * (`send_now`) or into the account's IMAP Drafts folder (`save_draft`), and look for a message by its
 * Message-ID afterwards (evidence for interrupted deliveries).
 *
 * Adapters throw only `ConnectorError`: `mail_auth` (credentials refused: stop using this account for
 * the run), `mail_temporary` (4xx reply, connection lost: retry later), `mail_permanent` (5xx for every
 * recipient), `mail_config` (the account cannot do what is asked, e.g. no IMAP for drafts).
 *
 * Every SMTP error carries `detail.phase` (`SmtpPhase`): where the transaction stood when it failed.
 * Only `awaiting_reply` (the final "." of DATA was handed to the server, its reply never came) can
 * have delivered the message; such an error also has `detail.unknownOutcome = true`.
 */
import type { DeliveryMode, EmailAccount, RecipientResult } from '../domain.ts';
import { isConnectorError } from '../errors.ts';
import type { DeliveryReport } from './bounces.ts';

/**
 * Where an SMTP transaction stood when it failed:
 * - `connect`: connecting, greeting, EHLO, STARTTLS, AUTH — no transaction yet;
 * - `envelope`: MAIL FROM, RCPT TO or the DATA command, before the server's 354;
 * - `data`: the message body was being transferred, its final "." not yet handed over;
 * - `awaiting_reply`: the whole message and its final "." were handed over; no reply came back;
 * - `final_reply`: the server answered the message with a refusal (4xx/5xx after the final ".");
 * - `unknown`: the adapter cannot tell.
 */
export type SmtpPhase = 'connect' | 'envelope' | 'data' | 'awaiting_reply' | 'final_reply' | 'unknown';

export const SMTP_PHASES: readonly SmtpPhase[] = ['connect', 'envelope', 'data', 'awaiting_reply', 'final_reply', 'unknown'];

/** The phase a delivery error carries (`detail.phase`), or null when it carries none. */
export function deliveryPhaseOf(e: unknown): SmtpPhase | null {
  if (!isConnectorError(e)) return null;
  const phase = e.detail?.['phase'];
  return typeof phase === 'string' && (SMTP_PHASES as readonly string[]).includes(phase) ? (phase as SmtpPhase) : null;
}

export interface Attachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

export interface OutgoingMessage {
  /** Deterministic per installation, invoice and sender domain: `<ic-<installation>.<invoice>@<sender domain>>` (`messageIdFor`). */
  messageId: string;
  from: { name: string | null; address: string };
  replyTo: string | null;
  to: string[];
  cc: string[];
  bcc: string[];
  /** One line; the builder strips CR/LF. */
  subject: string;
  html: string;
  text: string;
  attachments: Attachment[];
  /** Extra headers identifying the invoice for support (X-Invoice-Courier-*); never secrets. */
  headers: Record<string, string>;
}

export interface DeliveryResult {
  mode: DeliveryMode;
  /** Per recipient: accepted or refused with the server's reply (SMTP); all accepted for drafts. */
  recipients: RecipientResult[];
  /** The server's final reply (SMTP) or the APPEND result ("Drafts UID 42"). */
  response: string;
}

export type Evidence = 'found' | 'not_found' | 'unknown';

export interface DeliverOptions {
  /**
   * Awaited just before the message is handed over: before the final "." of DATA (the rest of the message
   * is already with the server, which cannot accept it without the "."), before the IMAP APPEND. A
   * rejection stops the delivery there, before anything could be accepted: the error is `mail_temporary`
   * with `detail.handover = 'refused'` (SMTP phase `data`). Called again for an adapter's own retry.
   */
  beforeHandover?: () => Promise<void>;
}

export interface MailDelivery {
  deliver(account: EmailAccount, message: OutgoingMessage, mode: DeliveryMode, options?: DeliverOptions): Promise<DeliveryResult>;
  /** Searches Sent and Drafts for the Message-ID; `unknown` when the account has no IMAP. */
  findByMessageId(account: EmailAccount, messageId: string): Promise<Evidence>;
  /**
   * Delivery reports (RFC 3464) in the account's INBOX after `afterUid`, oldest first, at most `limit`, each
   * parsed (null: a report that names no message of ours to look up, e.g. another report type), with the
   * INBOX's UIDVALIDITY (a new one means the UIDs start over). `mail_config` when the account has no IMAP.
   * Optional: deliveries that cannot read a mailbox leave it out (then no bounces are read).
   */
  listDeliveryReports?(
    account: EmailAccount,
    afterUid: number,
    limit: number,
  ): Promise<{ uidValidity: string; reports: { uid: number; report: DeliveryReport | null }[] }>;
  /** Closes pooled connections of every account. */
  close(): Promise<void>;
}

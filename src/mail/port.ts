/**
 * The mail delivery port: hand one finished message to an e-mail account, either over SMTP
 * (`send_now`) or into the account's IMAP Drafts folder (`save_draft`), and look for a message by its
 * Message-ID afterwards (evidence for interrupted deliveries).
 *
 * Adapters throw only `ConnectorError`: `mail_auth` (credentials refused: stop using this account for
 * the run), `mail_temporary` (4xx reply, connection lost: retry later), `mail_permanent` (5xx for every
 * recipient), `mail_config` (the account cannot do what is asked, e.g. no IMAP for drafts).
 */
import type { DeliveryMode, EmailAccount, RecipientResult } from '../domain.ts';

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

export interface MailDelivery {
  deliver(account: EmailAccount, message: OutgoingMessage, mode: DeliveryMode): Promise<DeliveryResult>;
  /** Searches Sent and Drafts for the Message-ID; `unknown` when the account has no IMAP. */
  findByMessageId(account: EmailAccount, messageId: string): Promise<Evidence>;
  /** Closes pooled connections of every account. */
  close(): Promise<void>;
}

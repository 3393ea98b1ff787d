/**
 * The mail delivery adapter (implements `MailDelivery` from ./port.ts).
 *
 * The raw message is built once (./compose.ts) and the same bytes go to SMTP and to IMAP, so the
 * Drafts/Sent copy carries the Message-ID the evidence search looks for.
 *
 * - send_now: pooled SMTP (./smtp.ts); with `copyToSent` and an account that has IMAP, a copy is
 *   appended to Sent afterwards. A failed copy does not fail the delivery (the message has left);
 *   it is reported in `response`.
 * - save_draft: IMAP APPEND to Drafts with \Draft (./imap.ts); `mail_config` without IMAP.
 * - findByMessageId: SEARCH Sent + Drafts; `unknown` without IMAP.
 */
import type { DeliveryMode, EmailAccount } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import { composeMime, envelopeOf } from './compose.ts';
import { createImapAccess } from './imap.ts';
import { parseDeliveryReport } from './bounces.ts';
import type { DeliverOptions, DeliveryResult, Evidence, MailDelivery, OutgoingMessage } from './port.ts';
import { createSmtpSender } from './smtp.ts';

export interface MailDeliveryOptions {
  /** SMTP connections per account (config `delivery.smtpPoolSize`). */
  poolSize: number;
  /** SMTP messages per second per account; null = unlimited. */
  rateLimitPerSecond?: number | null;
  /** Connect/greeting timeout for SMTP and IMAP (socket inactivity: twice this). Default 30 s. */
  timeoutMs?: number;
  /** After send_now, also APPEND the message to the account's Sent folder (when it has IMAP). */
  copyToSent?: boolean;
  /** Extra CA / verification switch, for tests against self-signed servers. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
}

/** The raw message; a message that cannot be built never reached any server (phase `connect`). */
async function build(message: OutgoingMessage): Promise<Buffer> {
  try {
    return await composeMime(message);
  } catch (e) {
    throw new ConnectorError('render_failed', `The message could not be built: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      detail: { phase: 'connect' },
    });
  }
}

export function createMailDelivery(options: MailDeliveryOptions): MailDelivery {
  if (!Number.isInteger(options.poolSize) || options.poolSize < 1)
    throw new ConnectorError('validation', `poolSize must be a whole number ≥ 1, got ${options.poolSize}`, { field: 'poolSize' });
  const smtp = createSmtpSender({
    poolSize: options.poolSize,
    rateLimitPerSecond: options.rateLimitPerSecond ?? null,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });
  const imap = createImapAccess({
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
  });

  return {
    async deliver(account: EmailAccount, message: OutgoingMessage, mode: DeliveryMode, deliverOptions: DeliverOptions = {}): Promise<DeliveryResult> {
      const envelope = envelopeOf(message);
      if (mode === 'save_draft') {
        if (!account.imap)
          throw new ConnectorError('mail_config', `E-mail account "${account.name}" has no IMAP server, so drafts cannot be saved`, {
            detail: { accountId: account.id },
          });
        const raw = await build(message);
        if (deliverOptions.beforeHandover) {
          try {
            await deliverOptions.beforeHandover();
          } catch (e) {
            throw new ConnectorError(
              'mail_temporary',
              `The draft was not stored: stopped before it was handed over (${e instanceof Error ? e.message : String(e)})`,
              { cause: e, detail: { phase: 'connect', handover: 'refused' } },
            );
          }
        }
        const stored = await imap.appendDraft(account, raw);
        return {
          mode,
          recipients: envelope.to.map((address) => ({ address, accepted: true, reply: null })),
          response: `${stored.mailbox} UID ${stored.uid ?? '?'}`,
        };
      }
      const raw = await build(message);
      const result = await smtp.send(account, raw, envelope, message.messageId, deliverOptions.beforeHandover);
      if (options.copyToSent && account.imap) {
        try {
          const stored = await imap.appendSent(account, raw);
          result.response = `${result.response}; copy in ${stored.mailbox} UID ${stored.uid ?? '?'}`;
        } catch (e) {
          const code = e instanceof ConnectorError ? e.code : 'error';
          result.response = `${result.response}; copy to Sent failed (${code})`;
        }
      }
      return result;
    },

    async findByMessageId(account: EmailAccount, messageId: string): Promise<Evidence> {
      if (!account.imap) return 'unknown';
      return imap.searchMessageId(account, messageId);
    },

    async listDeliveryReports(account: EmailAccount, afterUid: number, limit: number) {
      const found = await imap.listDeliveryReports(account, afterUid, limit);
      const reports = [];
      for (const r of found.reports) {
        // A message that cannot be parsed is no report we can act on (and must not stop the others).
        reports.push({ uid: r.uid, report: await parseDeliveryReport(r.raw).catch(() => null) });
      }
      return { uidValidity: found.uidValidity, reports };
    },

    async close(): Promise<void> {
      await Promise.all([smtp.close(), imap.close()]);
    },
  };
}

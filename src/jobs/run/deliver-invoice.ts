/**
 * One claimed invoice's delivery (./pipeline.ts `RunContext` starts it, ./run-deliveries.ts bounds how
 * many run at once), in three steps with separate fault handling: prepare (the attachment, the message,
 * mark `sending`), deliver (the only step that talks to the mail server), settle (./settle.ts: record,
 * count, log, announce). What keeps it at most once: nothing is handed over for a claim that is no longer
 * this process's (`markSending`, then `markHandedOver` just before the final "."), and only a fault that
 * proves nothing was handed over is tried again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostErp } from '../../connector/port.ts';
import type { EmailAccount, Invoice, Operator, RenderedTemplate, Settings } from '../../domain.ts';
import { parsePrintChoice } from '../../domain.ts';
import { isConnectorError, type ConnectorError } from '../../errors.ts';
import { render as sentence, type PrintWarning } from '../../messages/catalogue.ts';
import type { MailDelivery } from '../../mail/port.ts';
import type { Logger } from '../../observability/logger.ts';
import { attachesKsefXml, stripsProductCodes } from '../../settings/schema.ts';
import type { NewLogEntry, Store } from '../../store/port.ts';
import { classify, type Classified, type ClassifyContext, type Fault } from '../rules/classify.ts';
import { contentHash } from '../rules/selection.ts';
import { composeMessage } from './message.ts';
import type { Claimed } from './run-claims.ts';
import type { Settled } from './settle.ts';

/** The installation's print options a standard print follows (from its settings). */
export interface PrintOptions {
  /** Leave out host product codes ("[CATER] …") at the start of line names. */
  stripProductCodes?: boolean;
}

/** What draws the connector's standard prints (src/render). */
export interface PrintRenderer {
  render(invoice: Invoice, printId: string, options?: PrintOptions): Promise<{ pdf: Uint8Array; warnings: PrintWarning[] }>;
  /** Gets ready for renders about to come (modules, fonts, workers); called while the first page is read. Never rejects. */
  warm?(): Promise<void>;
}

/** What one delivery needs of its run: the run's host, account and operator, and how it logs and settles. */
export interface InvoiceDeliveryContext {
  installationId: string;
  settings: Settings;
  host: HostErp;
  account: EmailAccount;
  operator: Operator;
  prints: PrintRenderer;
  mail: MailDelivery;
  store: Pick<Store, 'markSending' | 'markHandedOver'>;
  /** This process in ledger claims. */
  owner: string;
  clock: () => Date;
  logger: Logger;
  /** The lease a claim gets from `now` (./run-claims.ts `RunClaims.leaseFrom`). */
  leaseFrom(now: Date): string;
  /** In-run retries of a temporary SMTP failure, and the first pause between them (ms, doubled each time). */
  inRunRetries: number;
  retryDelayMs: number;
  log(
    level: NewLogEntry['level'],
    event: string,
    message: string,
    invoice: Pick<Invoice, 'id' | 'number'> | null,
    data?: Record<string, unknown> | null,
  ): Promise<void>;
  /** Settles the run's own claim of the invoice (./settle.ts). */
  settle(invoice: Pick<Invoice, 'id' | 'number'>, leaseUntil: string, verdict: Classified, data?: Record<string, unknown>): Promise<Settled>;
  classifyContext(attempts: number, recipients: string[]): ClassifyContext;
}

/**
 * One invoice, in three separate steps with separate fault handling: prepare (print, message, mark
 * `sending`), deliver (the only step that talks to the mail server), settle (record, count, log,
 * announce). Returns the account error that stops the run, if any; throws only before anything left.
 */
export async function deliverInvoice(c: InvoiceDeliveryContext, item: Claimed, template: RenderedTemplate | null): Promise<ConnectorError | null> {
  const { settings } = c;
  const { invoice } = item;
  const attempts = item.entry.attempts + 1; // markSending counts this attempt
  if (!template) {
    await c.settle(invoice, item.leaseUntil, classify({ kind: 'no_template' }, null, c.classifyContext(attempts, item.recipients)));
    return null;
  }

  // Attachment.
  const choice = parsePrintChoice(item.printId) ?? { kind: 'none' as const };
  let attachment: Uint8Array | null = null;
  try {
    if (choice.kind === 'standard') {
      const { pdf, warnings } = await c.prints.render(invoice, choice.id, { stripProductCodes: stripsProductCodes(settings) });
      attachment = pdf;
      // The stored message is the English sentence; the log view says it in the reader's language (data).
      for (const w of warnings)
        await c.log('warning', 'invoice.print_warning', sentence('en', w.code, w.params), invoice, { warning: w.code, params: w.params });
    } else if (choice.kind === 'user') {
      attachment = await c.host.getUserPrint(choice.id, invoice.id);
    }
  } catch (e) {
    await c.settle(invoice, item.leaseUntil, classify({ kind: 'print', error: e }, null, c.classifyContext(attempts, item.recipients)));
    return null;
  }

  const composed = composeMessage({
    installationId: c.installationId,
    invoice,
    template,
    recipients: item.recipients,
    account: c.account,
    operator: c.operator,
    attachment,
    ksefXml: attachesKsefXml(settings) ? (invoice.ksef?.xml ?? null) : null,
    timeZone: settings.timezone,
    date: c.clock(),
  });
  // A later version carries its own Message-ID (the one its claim recorded for the evidence search).
  const message = item.newVersion || (item.entry.version ?? 1) > 1 ? { ...composed, messageId: item.entry.messageId } : composed;
  const leaseUntil = c.leaseFrom(c.clock());
  if (!(await c.store.markSending(c.installationId, invoice.id, c.owner, contentHash(invoice), leaseUntil))) {
    c.logger.warn({ installationId: c.installationId, invoiceId: invoice.id }, 'lost the claim before sending; left to its new owner');
    return null;
  }

  // Deliver. Nothing but the mail server is called inside this `try`: a fault here is a mail fault,
  // and only one that proves nothing was handed over is tried again.
  let fault: Fault;
  let verdict: Classified;
  // The ledger learns that the message is being handed over just before the final "." (or the APPEND),
  // so a process that dies earlier leaves an entry that is retried, not one for a person; and nothing is
  // handed over for a claim that is no longer ours.
  const beforeHandover = async () => {
    if (!(await c.store.markHandedOver(c.installationId, invoice.id, c.owner))) throw new Error("the claim is no longer this worker's");
  };
  for (let attempt = 0; ; attempt++) {
    try {
      fault = { kind: 'delivered', result: await c.mail.deliver(c.account, message, settings.delivery, { beforeHandover }) };
    } catch (e) {
      fault = { kind: 'mail', error: e };
    }
    const ctx = c.classifyContext(attempts, item.recipients);
    verdict = classify(fault, null, ctx);
    if (verdict.needsEvidence) {
      const evidence = await c.mail.findByMessageId(c.account, message.messageId).catch(() => 'unknown' as const);
      verdict = classify(fault, evidence, ctx);
    }
    if (verdict.retryNow && attempt < c.inRunRetries) {
      await sleep(c.retryDelayMs * 2 ** attempt);
      continue;
    }
    break;
  }

  // Settle: a store that fails now is retried within the lease, never taken for a mail failure.
  await c.settle(invoice, leaseUntil, verdict, {
    messageId: message.messageId,
    attachment: attachment ? (message.attachments[0]?.filename ?? null) : null,
  });
  return verdict.stopRun && fault.kind === 'mail' && isConnectorError(fault.error) ? fault.error : null;
}

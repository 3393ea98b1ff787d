/**
 * Turns a rendered template, an attachment and the account/operator into the one outgoing message the
 * mail port delivers. Subject is one line (no header injection), a plain-text alternative is derived
 * from the HTML, From follows the account (or the operator), Reply-To the operator, the Message-ID is
 * on the sender's domain (`messageIdFor`), and the Date header is the local time of the installation's
 * time zone ("Tue, 01 Dec 2026 22:30:00 +0100"; the mail composer would otherwise write +0000).
 */
import { DateTime } from 'luxon';
import type { EmailAccount, Invoice, Operator, RenderedTemplate } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import type { OutgoingMessage } from '../../mail/port.ts';
import { attachmentFileName } from '../../render/filename.ts';
import { customerLang, defaultInvoiceTemplate, oneLineSubject, renderConnectorTemplate, toPlainText } from '../../render/template.ts';
import { messageIdFor } from '../rules/selection.ts';

export const CONNECTOR_TEMPLATE_PREFIX = 'connector:';

export function isConnectorTemplate(id: string): boolean {
  return id.startsWith(CONNECTOR_TEMPLATE_PREFIX);
}

/** Texts of a stored connector-managed template (src/connector-managed); `en` null = Polish for everyone. */
export interface ConnectorTemplateTexts {
  subject: { pl: string; en: string | null };
  html: { pl: string; en: string | null };
}

/**
 * Connector-managed templates: `connector:invoice` is the default "Faktura dla klienta" (pl/en by customer);
 * any other `connector:` id needs its stored texts (`managedTemplateSource` in src/connector-managed).
 */
export function renderConnectorTemplateFor(templateId: string, invoice: Invoice, stored: ConnectorTemplateTexts | null = null): RenderedTemplate {
  const lang = customerLang(invoice);
  let template: { subject: string; html: string };
  if (templateId === `${CONNECTOR_TEMPLATE_PREFIX}invoice`) template = defaultInvoiceTemplate(lang, invoice);
  else if (stored) {
    template =
      lang === 'en' && stored.subject.en !== null && stored.html.en !== null
        ? { subject: stored.subject.en, html: stored.html.en }
        : { subject: stored.subject.pl, html: stored.html.pl };
  } else {
    throw new ConnectorError('not_found', `Unknown connector template "${templateId}"`, { field: 'emailTemplate' });
  }
  const r = renderConnectorTemplate(template, invoice, lang);
  return { subject: r.subject, html: r.html, lang: invoice.customer.lang };
}

export interface ComposeInput {
  installationId: string;
  invoice: Invoice;
  template: RenderedTemplate;
  recipients: string[];
  account: EmailAccount;
  operator: Operator;
  attachment: Uint8Array | null;
  /** The host's KSeF FA(3) XML, attached unchanged after the PDF (setting `attachKsefXml`); absent/null = none. */
  ksefXml?: { filename: string; content: Uint8Array } | null;
  /** The installation's IANA time zone (settings `timezone`): the Date header is local time there. */
  timeZone: string;
  /** When the message is composed (the run's clock). */
  date: Date;
}

/** RFC 5322 date-time in the zone ("Tue, 01 Dec 2026 22:30:00 +0100"); UTC when the zone is unknown. */
export function mailDate(date: Date, timeZone: string): string {
  // The header has whole seconds: messages composed within one second share it (luxon's zone
  // conversion cost about half a millisecond of the main thread per message).
  const key = `${Math.floor(date.getTime() / 1000)} ${timeZone}`;
  if (key === lastMailDate.key) return lastMailDate.value;
  const value = mailDateOf(date, timeZone);
  lastMailDate = { key, value };
  return value;
}
let lastMailDate = { key: '', value: '' };

function mailDateOf(date: Date, timeZone: string): string {
  const local = DateTime.fromJSDate(date).setZone(timeZone);
  return (local.isValid ? local : DateTime.fromJSDate(date, { zone: 'utc' })).toRFC2822()!;
}

export function senderAddress(account: EmailAccount, operator: Operator): string | null {
  return account.fromAddress ?? operator.email ?? account.smtp.user ?? null;
}

export function composeMessage(input: ComposeInput): OutgoingMessage {
  const { invoice, template, account, operator } = input;
  const from = senderAddress(account, operator);
  if (!from) {
    throw new ConnectorError('mail_config', `Neither the e-mail account "${account.name}" nor the operator has a sender address`, { field: 'emailAccount' });
  }
  const replyTo = operator.email && operator.email.toLowerCase() !== from.toLowerCase() ? operator.email : null;
  return {
    messageId: messageIdFor(input.installationId, invoice.id, from),
    from: { name: invoice.seller.name, address: from },
    replyTo,
    to: input.recipients,
    cc: [],
    bcc: [],
    subject: oneLineSubject(template.subject),
    html: template.html,
    text: toPlainText(template.html),
    attachments: [
      ...(input.attachment ? [{ filename: attachmentFileName(invoice), contentType: 'application/pdf', content: input.attachment }] : []),
      ...(input.ksefXml ? [{ filename: input.ksefXml.filename, contentType: 'application/xml', content: input.ksefXml.content }] : []),
    ],
    headers: {
      // composeMime keeps a Date given here (nodemailer only adds one, in UTC, when there is none).
      Date: mailDate(input.date, input.timeZone),
      'X-Invoice-Courier-Installation': input.installationId,
      'X-Invoice-Courier-Invoice': invoice.id,
      ...(invoice.number ? { 'X-Invoice-Courier-Number': oneLineSubject(invoice.number) } : {}),
    },
  };
}

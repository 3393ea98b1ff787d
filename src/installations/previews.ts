/**
 * Previews: exactly the PDF and the message a run would send for one invoice, without claiming,
 * sending, recording or logging anything.
 *
 * It walks the same public steps as the run pipeline (src/jobs/run/pipeline.ts) and calls the same
 * functions: `requireCompleteSettings()` and `resolveSender()` for the sender, `planDelivery()` and
 * `printFor()` for the rules and the print, the bound `prints.render()` or
 * `host.getUserPrint()` for the attachment, the connector template or `host.renderTemplate()` for the
 * content, and `composeMessage()` for the message. The renderer is deterministic, so the preview's PDF
 * is byte for byte the one a run sends. The only writes are the host's own: rendering a host template
 * creates and deletes a send wizard in the host, as a run does.
 */
import type { Config } from '../config.ts';
import type { HostErp, InvoiceMatch } from '../connector/port.ts';
import type { InstallationHostFactory } from '../connector/registry.ts';
import type { EmailAccount, Invoice, Operator, PrintChoice, RenderedTemplate } from '../domain.ts';
import { planDelivery, printLabel, requireCompleteSettings, resolveSender, type DeliveryPlan } from '../jobs/rules/plan.ts';
import { ConnectorError, isConnectorError } from '../errors.ts';
import type { PrintWarning } from '../messages/catalogue.ts';
import { hostConnectionFor } from '../jobs/run/installation-host.ts';
import { composeMessage } from '../jobs/run/message.ts';
import { renderTemplates } from '../jobs/run/templates.ts';
import type { PrintRenderer } from '../jobs/run/pipeline.ts';
import { printFor, resolveRecipients, type SkipReason } from '../jobs/rules/selection.ts';
import type { OutgoingMessage } from '../mail/port.ts';
import { attachmentFileName } from '../render/filename.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { attachesKsefXml, stripsProductCodes } from '../settings/schema.ts';
import type { Installation, Installations, Ledger, ManagedRecords } from '../store/port.ts';

export interface PreviewDeps {
  store: Installations & Ledger & ManagedRecords;
  /** The host adapter for an installation (with its connector-managed accounts/templates), as the pipeline gets it. */
  createHost: InstallationHostFactory;
  /** The same bound renderer the pipeline uses (KSeF environment applied). */
  prints: PrintRenderer;
  secrets: SecretBox;
  clock: () => Date;
  delivery: Pick<Config['delivery'], 'maxAttempts'>;
}

export interface PreviewDecision {
  send: boolean;
  /** Why a run would not send it now (absent when it would). */
  reason?: SkipReason;
  detail?: string;
}

export interface PreviewAttachment {
  filename: string;
  pdf: Uint8Array;
  /** Render warnings (totals that do not add up, missing rate or KSeF data); a run logs them. */
  warnings: PrintWarning[];
}

export interface InvoicePreview {
  decision: PreviewDecision;
  /** `standard:<id>`, `user:<id>` or `none`, as chosen by the invoice's currency. */
  print: string;
  message: OutgoingMessage;
  attachment: PreviewAttachment | null;
}

function printField(invoice: Invoice): string {
  return invoice.currency.trim().toUpperCase() === 'PLN' ? 'attachments.pln' : 'attachments.foreign';
}

export class InvoicePreviews {
  constructor(private readonly deps: PreviewDeps) {}

  /** The message (headers, HTML, text, attachment) a run would send for the invoice now. */
  async previewInvoice(installationId: string, invoiceId: string): Promise<InvoicePreview> {
    return this.withHost(installationId, async (host, installation) => {
      const invoice = await this.invoice(host, invoiceId);
      const { operator, account } = await this.sender(host, installation);
      const plan = await this.plan(installation, invoice);
      const print = plan.kind === 'send' ? plan.print : printFor(invoice, installation.settings);
      const [template, attachment] = await Promise.all([this.template(host, installation, invoice), this.attachment(host, installation, invoice, print)]);
      const recipients = plan.kind === 'send' ? plan.recipients : resolveRecipients(invoice).valid;
      const message = composeMessage({
        installationId: installation.id,
        invoice,
        template,
        recipients,
        account,
        operator,
        attachment: attachment?.pdf ?? null,
        ksefXml: attachesKsefXml(installation.settings) ? (invoice.ksef?.xml ?? null) : null,
        timeZone: installation.settings.timezone,
        date: this.deps.clock(),
      });
      return {
        decision: previewDecision(plan),
        print: printLabel(print),
        message,
        attachment,
      };
    });
  }

  /**
   * Only the attachment a run would send. `print_unavailable` (422) when the chosen print is `none`
   * or the print cannot be produced; `not_found` when the host has no such invoice.
   */
  async previewAttachment(installationId: string, invoiceId: string): Promise<PreviewAttachment> {
    return this.withHost(installationId, async (host, installation) => {
      const invoice = await this.invoice(host, invoiceId);
      const print = printFor(invoice, installation.settings);
      const attachment = await this.attachment(host, installation, invoice, print);
      if (!attachment) {
        throw new ConnectorError(
          'print_unavailable',
          `The print for ${invoice.currency} invoices (${printField(invoice)}) is "none": a run sends invoice ${invoice.number ?? invoice.id} without a PDF`,
          { field: printField(invoice), say: { code: 'preview.print_none', params: { currency: invoice.currency } } },
        );
      }
      return attachment;
    });
  }

  /**
   * Invoices whose number contains `text`, for a person to pick one to preview. A host without a search
   * (the port's optional `searchInvoices`) still finds an invoice by its id.
   */
  async searchInvoices(installationId: string, text: string, limit = 10): Promise<InvoiceMatch[]> {
    const q = text.trim();
    if (!q) return [];
    return this.withHost(installationId, async (host) => {
      if (host.searchInvoices) return host.searchInvoices(q, limit);
      if (!/^[0-9]{1,18}$/.test(q)) return [];
      return (await host.getInvoices([q])).map((i) => ({ id: i.id, number: i.number, customer: i.customer?.name ?? null, date: i.issueDate }));
    });
  }

  private async withHost<T>(installationId: string, fn: (host: HostErp, installation: Installation) => Promise<T>): Promise<T> {
    const installation = await this.deps.store.getInstallation(installationId);
    if (!installation || installation.status !== 'active') throw new ConnectorError('not_found', `Installation ${installationId} not found`);
    const host = this.deps.createHost(hostConnectionFor(installation, this.deps.secrets), installation.id);
    try {
      return await fn(host, installation);
    } finally {
      await host.close?.();
    }
  }

  private async invoice(host: HostErp, invoiceId: string): Promise<Invoice> {
    const [invoice] = await host.getInvoices([invoiceId]);
    if (!invoice)
      throw new ConnectorError('not_found', `The host has no invoice ${invoiceId}`, {
        field: 'invoiceId',
        detail: { invoiceId },
        say: { code: 'error.invoice_not_found', params: { invoice: invoiceId } },
      });
    return invoice;
  }

  /** Operator and e-mail account as a run resolves them (same refusals). */
  private async sender(host: HostErp, installation: Installation): Promise<{ operator: Operator; account: EmailAccount }> {
    requireCompleteSettings(installation.settings, { fromDate: false });
    return resolveSender(host, installation.settings);
  }

  private async plan(installation: Installation, invoice: Invoice): Promise<DeliveryPlan> {
    const [entry] = await this.deps.store.getLedger(installation.id, [invoice.id]);
    return planDelivery(invoice, installation.settings, entry ?? null, { maxAttempts: this.deps.delivery.maxAttempts, now: this.deps.clock() });
  }

  /** The pipeline's template step for one invoice. */
  private async template(host: HostErp, installation: Installation, invoice: Invoice): Promise<RenderedTemplate> {
    const rendered = (await renderTemplates(host, this.deps.store, installation.id, installation.settings.emailTemplate, [invoice])).get(invoice.id);
    if (!rendered) {
      throw new ConnectorError('host_not_found', `The host did not render the e-mail template for invoice ${invoice.number ?? invoice.id}`, {
        field: 'emailTemplate',
        say: { code: 'preview.template_not_rendered', params: { invoice: invoice.number ?? invoice.id } },
      });
    }
    return rendered;
  }

  /** The attachment step of a run; a print that cannot be produced is `print_unavailable`. */
  private async attachment(host: HostErp, installation: Installation, invoice: Invoice, print: PrintChoice): Promise<PreviewAttachment | null> {
    if (print.kind === 'none') return null;
    const filename = attachmentFileName(invoice);
    try {
      if (print.kind === 'standard') {
        const { pdf, warnings } = await this.deps.prints.render(invoice, print.id, { stripProductCodes: stripsProductCodes(installation.settings) });
        return { filename, pdf, warnings };
      }
      return { filename, pdf: await host.getUserPrint(print.id, invoice.id), warnings: [] };
    } catch (e) {
      if (isConnectorError(e) && (e.retryable || e.code === 'print_unavailable')) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      throw new ConnectorError('print_unavailable', `The print ${printLabel(print)} of invoice ${invoice.number ?? invoice.id} cannot be produced: ${reason}`, {
        field: printField(invoice),
        cause: e,
        say: { code: 'preview.print_failed', params: { invoice: invoice.number ?? invoice.id, detail: reason } },
      });
    }
  }
}

/** What a run would do now, as the preview says it. */
function previewDecision(plan: DeliveryPlan): PreviewDecision {
  switch (plan.kind) {
    case 'send':
      return { send: true };
    case 'skip':
      return { send: false, reason: plan.reason, detail: plan.detail };
    case 'exhausted':
      return { send: false, reason: 'attempts_exhausted', detail: `${plan.entry.attempts} attempts used; the next run closes it as failed` };
    case 'hold':
      return { send: false, reason: 'host_read_failed', detail: `the host could not give ${plan.error.what}: ${plan.error.detail}` };
  }
}

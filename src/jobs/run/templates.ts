/** The template step of a run (and of a preview), for a page of invoices. */
import type { HostErp } from '../../connector/port.ts';
import { managedTemplateSource } from '../../connector-managed/index.ts';
import type { Invoice, RenderedTemplate } from '../../domain.ts';
import type { ManagedRecords } from '../../store/port.ts';
import { isConnectorTemplate, renderConnectorTemplateFor } from './message.ts';

/**
 * Subject and body of the installation's template for each invoice: a connector template (the default or a
 * stored one) is rendered here, a host template by the host in one call for all the invoices. Runs and
 * previews both go through this, so a preview shows exactly what a run sends.
 */
export async function renderTemplates(
  host: HostErp,
  store: ManagedRecords,
  installationId: string,
  templateId: string,
  invoices: Invoice[],
): Promise<Map<string, RenderedTemplate>> {
  if (isConnectorTemplate(templateId)) {
    const stored = await managedTemplateSource(store, installationId, templateId);
    return new Map(invoices.map((i) => [i.id, renderConnectorTemplateFor(templateId, i, stored)]));
  }
  return host.renderTemplate(
    templateId,
    invoices.map((i) => i.id),
  );
}

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

/** Invoices claimed and rendered before the first delivery; later batches grow fourfold to `MAX_BATCH`. */
export const FIRST_BATCH = 1;
export const MAX_BATCH = 64;

/** Splits a page's claimed invoices into template batches of 1, 4, 16, 64, 64, … */
export function templateBatches<T>(items: T[]): T[][] {
  const batches: T[][] = [];
  for (let start = 0, size = FIRST_BATCH; start < items.length; start += size, size = Math.min(size * 4, MAX_BATCH)) {
    batches.push(items.slice(start, start + size));
  }
  return batches;
}

/** What `launchWithTemplates` did not hand over: a run that stopped, or a batch whose templates failed. */
export type NotLaunched<T> = { stopped: T[] } | { failed: unknown; rest: T[] };

/**
 * Hands a page's claimed invoices to `launch` with their templates, rendered in growing batches (a host
 * template: one host call per batch), the next batch rendered while the current one is handed over, so the
 * first e-mail of a run leaves at once. Stops handing over when `stopped()` says so, or at a batch that
 * failed to render; what was not handed over is returned (the batch being rendered has settled by then).
 */
export async function launchWithTemplates<T extends { invoice: Invoice }>(
  items: T[],
  render: (batch: T[]) => Promise<Map<string, RenderedTemplate>>,
  launch: (item: T, template: RenderedTemplate | null) => Promise<void>,
  stopped: () => boolean,
): Promise<NotLaunched<T> | null> {
  const batches = templateBatches(items);
  const settle = (batch: T[]) =>
    render(batch).then(
      (rendered) => ({ rendered }),
      (error: unknown) => ({ error }),
    );
  let rendering = batches.length ? settle(batches[0]!) : null;
  for (let i = 0; i < batches.length; i++) {
    const ready = await rendering!;
    rendering = i + 1 < batches.length ? settle(batches[i + 1]!) : null;
    if ('error' in ready) {
      if (rendering) await rendering;
      return { failed: ready.error, rest: batches.slice(i).flat() };
    }
    const batch = batches[i]!;
    for (let j = 0; j < batch.length; j++) {
      if (stopped()) {
        if (rendering) await rendering;
        return { stopped: [...batch.slice(j), ...batches.slice(i + 1).flat()] };
      }
      await launch(batch[j]!, ready.rendered.get(batch[j]!.invoice.id) ?? null);
    }
  }
  return null;
}

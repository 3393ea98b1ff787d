/**
 * The standard prints' ids and names, without the renderer: what the settings, the API and the
 * composition need to list and check prints. Kept apart from print.ts so that loading it does not load
 * pdfkit, fontkit and qrcode (with render workers the main thread never renders; docs/performance.md,
 * issue 12). print.ts re-exports all of it.
 */
import type { PrintRef } from '../domain.ts';

export type StandardPrintId = 'invoice' | 'invoice-pl' | 'invoice-bilingual';

export const STANDARD_PRINT_IDS: readonly StandardPrintId[] = ['invoice', 'invoice-pl', 'invoice-bilingual'];

export function listStandardPrints(): PrintRef[] {
  return [
    { choice: 'standard:invoice', name: 'Faktura VAT (układ automatyczny: PL, a dla klientów zagranicznych PL/EN)' },
    { choice: 'standard:invoice-pl', name: 'Faktura VAT — wydruk polski' },
    { choice: 'standard:invoice-bilingual', name: 'Faktura VAT — wydruk dwujęzyczny PL/EN' },
  ];
}

export function isStandardPrintId(id: string): id is StandardPrintId {
  return (STANDARD_PRINT_IDS as readonly string[]).includes(id);
}

/**
 * Rendering: the standard invoice prints (PDF), the worker pool, Polish amounts and words, KSeF QR,
 * attachment names and connector-managed e-mail templates.
 */
export { loadFonts, fontDirectory, FONT_BOLD, FONT_REGULAR, type PrintFonts } from './fonts.ts';
export {
  NBSP,
  currencyDigits,
  formatAmount,
  formatDecimal,
  roundDecimal,
  vatOf,
  convertToPln,
  vatSummary,
  reconcileTotals,
  type VatRateSummary,
  type Totals,
  type Reconciled,
} from './money.ts';
export { amountInWordsPl, numberInWordsPl, pluralPl } from './words.ts';
export { ksefVerificationUrl, normalizeNip, qrMatrix, drawQr, type KsefEnvironment, type QrMatrix } from './ksef.ts';
export {
  renderStandardPrint,
  listStandardPrints,
  isStandardPrintId,
  isBilingual,
  stripProductCode,
  STANDARD_PRINT_IDS,
  type StandardPrintId,
  type RenderOptions,
  type RenderResult,
} from './print.ts';
export { createPdfRenderer, type PdfRenderer, type PdfRendererOptions } from './pool.ts';
export { attachmentFileName, safeFileStem } from './filename.ts';
export {
  PLACEHOLDERS,
  validateTemplate,
  renderConnectorTemplate,
  defaultInvoiceTemplate,
  toPlainText,
  oneLineSubject,
  escapeHtml,
  type ConnectorTemplate,
} from './template.ts';

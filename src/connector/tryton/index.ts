/** The Tryton 6.0 host adapter: public surface (see adapter.ts for what it does and how). */
export { TrytonHost, createTrytonHost, TRYTON_INVOICE_MODEL, type TrytonHostOptions } from './adapter.ts';
export { TrytonClient, LoginGuard, defaultLoginGuard, decodeValue, type TrytonClientOptions } from './client.ts';
export { RECEIPT_NAME, parseReceipt, type Receipt } from './mapping.ts';

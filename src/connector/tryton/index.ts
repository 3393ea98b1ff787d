/** The Tryton 6.0 host adapter: its descriptor and public surface (see adapter.ts for what it does and how). */
import { STANDARD_CONNECTION, type HostDescriptor } from '../descriptor.ts';
import { TRYTON_INVOICE_MODEL, createTrytonHost } from './adapter.ts';

export { TrytonHost, createTrytonHost, TRYTON_INVOICE_MODEL, type TrytonHostOptions } from './adapter.ts';
export { TrytonClient, LoginGuard, defaultLoginGuard, decodeValue, type TrytonClientOptions } from './client.ts';
export { RECEIPT_NAME, parseReceipt, type Receipt } from './mapping.ts';

export const trytonHost = {
  kind: 'tryton',
  label: 'Tryton 6.0',
  create: (connection) => createTrytonHost(connection),
  connection: STANDARD_CONNECTION,
  // Tryton keeps no outgoing mail accounts or message templates: the connector keeps them (src/connector-managed/).
  capabilities: { ownMailAccounts: false, ownTemplates: false, userPrints: true, menuRegistration: false },
  permissions: [],
  invoiceModel: TRYTON_INVOICE_MODEL,
  invoiceUrlBase: () => null,
} as const satisfies HostDescriptor<'tryton'>;

/** The Odoo adapter (Odoo 17/18 JSON-RPC, 19 JSON-2; the sandbox host of `npm start` speaks the same protocol): its descriptor and public surface. */
import { STANDARD_CONNECTION, type HostDescriptor } from '../descriptor.ts';
import type { HostConnection, HostErp } from '../port.ts';
import { OdooAdapter, type OdooAdapterOptions } from './adapter.ts';
import { ODOO_PERMISSIONS } from './permissions.ts';

export { OdooAdapter, type OdooAdapterOptions, dueDomain, fromFilterAllows, smtpTls } from './adapter.ts';
export { OdooClient, OdooSession, type OdooClientOptions, type OdooVersion } from './client.ts';
export { codeForOdooClass, translateFault } from './errors.ts';
export { toMinor, toDecimal } from './mapping.ts';

/** The adapter for one Odoo connection. */
export function createOdooHost(connection: HostConnection, options: OdooAdapterOptions = {}): HostErp {
  return new OdooAdapter(connection, options);
}

export const odooHost = {
  kind: 'odoo',
  label: 'Odoo 17, 18 and 19',
  create: (connection) => createOdooHost(connection),
  connection: STANDARD_CONNECTION,
  capabilities: { ownMailAccounts: true, ownTemplates: true, userPrints: true, menuRegistration: true },
  permissions: ODOO_PERMISSIONS,
  invoiceModel: 'account.move',
  // Odoo 17+ URLs: the customer-invoice action.
  invoiceUrlBase: (hostUrl) => `${hostUrl.replace(/\/+$/, '')}/odoo/action-account.action_move_out_invoice_type/`,
  minMajorVersion: 17,
} as const satisfies HostDescriptor<'odoo'>;

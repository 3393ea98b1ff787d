/** The Odoo adapter (also serves the sandbox host, which speaks Odoo's JSON-RPC). */
import type { HostConnection, HostErp } from '../port.ts';
import { OdooAdapter, type OdooAdapterOptions } from './adapter.ts';

export { OdooAdapter, type OdooAdapterOptions, dueDomain, fromFilterAllows, smtpTls } from './adapter.ts';
export { OdooClient, OdooSession, type OdooClientOptions, type OdooVersion } from './client.ts';
export { codeForOdooClass, translateFault } from './errors.ts';
export { toMinor, toDecimal } from './mapping.ts';

/** `HostFactory` for kinds 'odoo' and 'sandbox'. */
export function createOdooHost(connection: HostConnection, options: OdooAdapterOptions = {}): HostErp {
  return new OdooAdapter(connection, options);
}

/**
 * Host adapters by kind. Adding a host = one line in `FACTORIES` (and its folder under src/connector/).
 * The registry only picks the factory; each adapter validates its own connection.
 */
import type { HostKind } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import { createOdooHost } from './odoo/index.ts';
import type { HostConnection, HostErp, HostFactory } from './port.ts';
import { createTrytonHost } from './tryton/index.ts';

const FACTORIES: Partial<Record<HostKind, HostFactory>> = {
  odoo: createOdooHost,
  sandbox: createOdooHost, // the sandbox host speaks Odoo's JSON-RPC
  tryton: (connection) => createTrytonHost(connection), // connector-managed accounts/templates: see TrytonHostOptions
};

/** The adapter for `connection.kind`; `validation` error for a kind no adapter serves (yet). */
export function createHost(connection: HostConnection): HostErp {
  const factory = FACTORIES[connection.kind];
  if (!factory) {
    throw new ConnectorError('validation', `No host adapter for kind "${String(connection.kind)}"`, {
      field: 'kind',
      detail: { supported: supportedHostKinds() },
    });
  }
  return factory(connection);
}

/** Kinds with a registered adapter. */
export function supportedHostKinds(): HostKind[] {
  return Object.keys(FACTORIES) as HostKind[];
}

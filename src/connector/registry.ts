/**
 * The host adapters, by their descriptors (src/connector/descriptor.ts). Adding a host = its folder
 * `src/connector/<kind>/` exporting a `HostDescriptor` from index.ts, one line in `HOSTS`, and the shared
 * conformance suite (test/connector/conformance.ts) run against it. The `HostKind` type, the install
 * schema's kind enum, the manifest's hosts and permissions and the invoice links all derive from `HOSTS`.
 *
 * Connector-managed e-mail accounts and templates (docs/design.md §6) reach every adapter through
 * `connectorKept` (the composition root binds them per installation, src/compose.ts).
 */
import { ConnectorError } from '../errors.ts';
import { connectorKept, type ConnectorManaged, type HostDescriptor } from './descriptor.ts';
import { odooHost } from './odoo/index.ts';
import type { HostConnection, HostErp } from './port.ts';
import { trytonHost } from './tryton/index.ts';

export type { ConnectorManaged } from './descriptor.ts';

/** Every host kind the connector serves, one line each. */
export const HOSTS = [odooHost, trytonHost] as const satisfies readonly HostDescriptor[];

export type HostKind = (typeof HOSTS)[number]['kind'];

export interface HostExtras {
  managed?: ConnectorManaged;
}

/** What the pipeline, the settings service and previews call: the registry bound to the installation's extras. */
export type InstallationHostFactory = (connection: HostConnection, installationId?: string) => HostErp;

/** The descriptor of a kind; null for a kind no adapter serves. */
export function findHostDescriptor(kind: string): HostDescriptor | null {
  return HOSTS.find((h) => h.kind === kind) ?? null;
}

/** The adapter for `connection.kind`, with the connector-kept lists its capabilities call for; `validation` error for a kind no adapter serves (yet). */
export function createHost(connection: HostConnection, extras: HostExtras = {}): HostErp {
  const descriptor = findHostDescriptor(connection.kind);
  if (!descriptor) {
    throw new ConnectorError('validation', `No host adapter for kind "${String(connection.kind)}"`, {
      field: 'kind',
      detail: { supported: supportedHostKinds() },
    });
  }
  return connectorKept(descriptor.create(connection), descriptor, extras.managed);
}

/** Kinds with a registered adapter. */
export function supportedHostKinds(): HostKind[] {
  return HOSTS.map((h) => h.kind);
}

/** Where an invoice of a host of this kind opens (the invoice id, URI-encoded, is appended); null when the host has no such page. */
export function invoiceUrlBase(kind: string, hostUrl: string): string | null {
  return findHostDescriptor(kind)?.invoiceUrlBase(hostUrl) ?? null;
}

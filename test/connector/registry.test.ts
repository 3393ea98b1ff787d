import { describe, it, expect } from 'vitest';
import { HOSTS, createHost, findHostDescriptor, invoiceUrlBase, supportedHostKinds } from '../../src/connector/registry.ts';
import { STANDARD_CONNECTION, connectorKept } from '../../src/connector/descriptor.ts';
import { OdooAdapter, odooHost } from '../../src/connector/odoo/index.ts';
import { TrytonHost, trytonHost } from '../../src/connector/tryton/index.ts';
import type { HostConnection, HostErp } from '../../src/connector/port.ts';
import type { EmailAccount, Operator } from '../../src/domain.ts';
import { ConnectorError } from '../../src/errors.ts';
import { InstallBody } from '../../src/http/schemas/installations.ts';
import { buildManifest } from '../../src/manifest/host-manifest.ts';

const connection = (kind: string): HostConnection => ({
  kind,
  baseUrl: 'http://127.0.0.1:1',
  database: 'db',
  companyId: null,
  integration: { login: 'admin', secret: 'admin' },
  operator: null,
});

const operator: Operator = { id: '6', login: 'ksiegowa', name: 'Anna', email: 'anna@example.com', lang: 'pl_PL' } as Operator;
const account = (id: string): EmailAccount =>
  ({
    id,
    name: id,
    active: true,
    fromAddress: `${id}@example.com`,
    fromFilter: null,
    smtp: { host: 'smtp.example.com', port: 465, tls: 'tls', user: null, password: null },
    imap: null,
  }) as EmailAccount;
const managed = {
  accounts: async () => [account('managed:1')],
  templates: async () => [{ id: 'connector:invoice', name: 'Faktura', model: 'anything', renderedByHost: false }],
};
/** A host that answers its own lists, for the wrapper's rules (all else unused). */
const ownLists = (kind: string) =>
  ({
    kind,
    listEmailAccounts: async () => [account('host-1')],
    listEmailTemplates: async () => [{ id: '7', name: 'Invoice', model: 'account.move', renderedByHost: true }],
  }) as unknown as HostErp;

describe('host registry', () => {
  it('serves odoo connections with the Odoo adapter itself and tryton connections with the Tryton adapter inside the connector-kept wrapper, keeping the kind', () => {
    const odoo = createHost(connection('odoo'));
    expect(odoo).toBeInstanceOf(OdooAdapter);
    expect(odoo.kind).toBe('odoo');
    (odoo as OdooAdapter).close();
    // Tryton has no mail accounts or templates of its own: its adapter comes inside the connector-kept wrapper.
    const tryton = createHost(connection('tryton'));
    expect(tryton).not.toBeInstanceOf(TrytonHost);
    expect(tryton.kind).toBe('tryton');
    expect(supportedHostKinds()).toEqual(['odoo', 'tryton']);
  });

  it("refuses 'sandbox' (no longer a kind: the sandbox speaks Odoo's protocol) and any kind without an adapter, naming the kind", () => {
    for (const kind of ['sandbox', 'nonsense']) {
      try {
        createHost(connection(kind));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ConnectorError);
        expect((e as ConnectorError).code).toBe('validation');
        expect((e as ConnectorError).field).toBe('kind');
      }
    }
  });

  it('validates the company id when the adapter is created', () => {
    expect(() => createHost({ ...connection('odoo'), companyId: 'abc' })).toThrow(ConnectorError);
  });

  it('derives the install schema, the manifest hosts and permissions and the invoice links from the descriptors', () => {
    const kinds = HOSTS.map((h) => h.kind);
    expect((InstallBody.properties.hostKind as unknown as { anyOf: { const: string }[] }).anyOf.map((k) => k.const)).toEqual(kinds);
    for (const h of HOSTS) expect(h.connection, `${h.kind}: the install body carries one set of connection fields`).toBe(STANDARD_CONNECTION);
    for (const key of Object.keys(STANDARD_CONNECTION.properties)) expect(InstallBody.properties).toHaveProperty(key);
    const manifest = buildManifest({ version: '1.0.0' }) as { hosts: string[]; permissions: { models: { host: string; model: string }[] } };
    expect(manifest.hosts).toEqual(kinds);
    expect(manifest.permissions.models.filter((p) => p.host === 'odoo').map((p) => p.model)).toEqual(odooHost.permissions.map((p) => p.model));
    expect(manifest.permissions.models.filter((p) => p.host === 'tryton')).toEqual([]);
    expect(invoiceUrlBase('odoo', 'https://erp.example.com/')).toBe('https://erp.example.com/odoo/action-account.action_move_out_invoice_type/');
    expect(invoiceUrlBase('tryton', 'https://erp.example.com')).toBeNull();
    expect(invoiceUrlBase('nonsense', 'https://erp.example.com')).toBeNull();
    expect(findHostDescriptor('sandbox')).toBeNull();
  });

  it("offers a host's own accounts and templates first and the connector-kept ones after, when the host has its own", async () => {
    const host = connectorKept(ownLists('odoo'), odooHost, managed);
    expect((await host.listEmailAccounts(operator)).map((a) => a.id)).toEqual(['host-1', 'managed:1']);
    expect(await host.listEmailTemplates()).toEqual([
      { id: '7', name: 'Invoice', model: 'account.move', renderedByHost: true },
      { id: 'connector:invoice', name: 'Faktura', model: 'account.move', renderedByHost: false },
    ]);
  });

  it('offers exactly the connector-kept accounts and templates (rendered by the connector) to a host without its own, and none without them', async () => {
    const host = connectorKept(ownLists('tryton'), trytonHost, managed);
    expect((await host.listEmailAccounts(operator)).map((a) => a.id)).toEqual(['managed:1']);
    expect(await host.listEmailTemplates()).toEqual([{ id: 'connector:invoice', name: 'Faktura', model: 'account.invoice', renderedByHost: false }]);
    const bare = connectorKept(ownLists('tryton'), trytonHost, undefined);
    expect(await bare.listEmailAccounts(operator)).toEqual([]);
    expect(await bare.listEmailTemplates()).toEqual([]);
  });
});

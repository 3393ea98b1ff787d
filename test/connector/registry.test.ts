import { describe, it, expect } from 'vitest';
import { createHost, supportedHostKinds } from '../../src/connector/registry.ts';
import { OdooAdapter } from '../../src/connector/odoo/index.ts';
import { TrytonHost } from '../../src/connector/tryton/index.ts';
import type { HostConnection } from '../../src/connector/port.ts';
import { ConnectorError } from '../../src/errors.ts';

const connection = (kind: HostConnection['kind']): HostConnection => ({
  kind,
  baseUrl: 'http://127.0.0.1:1',
  database: 'db',
  companyId: null,
  integration: { login: 'admin', secret: 'admin' },
  operator: null,
});

describe('host registry', () => {
  it('serves odoo and sandbox connections with the Odoo adapter, keeping the kind', () => {
    for (const kind of ['odoo', 'sandbox'] as const) {
      const host = createHost(connection(kind));
      expect(host).toBeInstanceOf(OdooAdapter);
      expect(host.kind).toBe(kind);
      (host as OdooAdapter).close();
    }
    expect(supportedHostKinds()).toEqual(expect.arrayContaining(['odoo', 'sandbox']));
  });

  it('refuses a kind without an adapter with a validation error naming the kind', () => {
    try {
      createHost({ ...connection('odoo'), kind: 'nonsense' as HostConnection['kind'] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).code).toBe('validation');
      expect((e as ConnectorError).field).toBe('kind');
    }
  });

  it('serves tryton connections with the Tryton adapter', () => {
    const host = createHost(connection('tryton'));
    expect(host).toBeInstanceOf(TrytonHost);
    expect(host.kind).toBe('tryton');
    expect(supportedHostKinds()).toContain('tryton');
  });

  it('validates the company id when the adapter is created', () => {
    expect(() => createHost({ ...connection('odoo'), companyId: 'abc' })).toThrow(ConnectorError);
  });
});

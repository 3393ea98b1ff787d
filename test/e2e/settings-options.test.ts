/**
 * The live option lists of the settings form, through the HTTP API, against the sandbox host:
 * operators, the e-mail accounts a given operator may use (read with the integration credential,
 * since an ordinary Odoo user cannot read mail servers), invoice templates, prints.
 * Expectations are computed from the sandbox's own records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { listStandardPrints } from '../../src/render/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let id: string;
let token: string;

type Option = { value: string; label: string };
async function options(list: string, query = ''): Promise<Option[]> {
  const res = await connector.api('GET', `/api/installations/${id}/options/${list}${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.options as Option[];
}

/** Odoo's rule, stated plainly: active servers whose from_filter is empty, or equal to the user's address or its domain. */
function accountsFor(login: string): string[] {
  const user = sandbox.records('res.users').find((u) => u['login'] === login)!;
  const email = String(user['email']).toLowerCase();
  const domain = email.split('@')[1];
  return sandbox
    .records('ir.mail_server')
    .filter((s) => s['active'] === true)
    .filter(
      (s) =>
        !s['from_filter'] ||
        String(s['from_filter'])
          .split(',')
          .map((f) => f.trim().toLowerCase())
          .some((f) => f === email || f === domain),
    )
    .map((s) => String(s['id']))
    .sort();
}

async function rpcAs(login: string, password: string, model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}) {
  const call = async (service: string, m: string, a: unknown[]) => {
    const res = await fetch(`${sandbox.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'call', params: { service, method: m, args: a } }),
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as { result?: unknown; error?: { data?: { name?: string } } };
  };
  const uid = (await call('common', 'login', [sandbox.database, login, password])).result;
  return call('object', 'execute_kw', [sandbox.database, uid, password, model, method, args, kwargs]);
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  connector = await startTestConnector();
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  id = res.body.id;
  token = res.body.apiToken;
  const saved = await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { operator: 'ksiegowa', operatorPassword: 'ksiegowa' } });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('option lists of the settings form', () => {
  it("operators are the host's active internal users", async () => {
    const got = (await options('operators')).map((o) => o.value).sort();
    const expected = sandbox
      .records('res.users')
      .filter((u) => u['active'] !== false)
      .map((u) => String(u['login']))
      .sort();
    expect(got).toEqual(expected);
    expect(got).toEqual(['admin', 'handlowiec', 'ksiegowa']);
  });

  it('e-mail accounts are read with the integration credential, although the operator may not read mail servers', async () => {
    const direct = await rpcAs('ksiegowa', 'ksiegowa', 'ir.mail_server', 'search_read', [[]], { fields: ['id'] });
    expect(direct.error?.data?.name).toMatch(/AccessError/);
    // No ?operator: the installation's operator (ksiegowa) is used.
    const got = (await options('email-accounts')).map((o) => o.value).sort();
    expect(got).toEqual(accountsFor('ksiegowa'));
  });

  it("e-mail accounts follow the operator's address: from_filter of another domain only for the user of that domain; inactive never", async () => {
    const ksiegowa = (await options('email-accounts', '?operator=ksiegowa')).map((o) => o.value).sort();
    const handlowiec = (await options('email-accounts', '?operator=handlowiec')).map((o) => o.value).sort();
    expect(ksiegowa).toEqual(accountsFor('ksiegowa'));
    expect(handlowiec).toEqual(accountsFor('handlowiec'));
    const other = String(sandbox.records('ir.mail_server').find((s) => s['from_filter'] === 'inny-dostawca.example')!['id']);
    const inactive = String(sandbox.records('ir.mail_server').find((s) => s['active'] === false)!['id']);
    expect(handlowiec).toContain(other);
    expect(ksiegowa).not.toContain(other);
    expect([...ksiegowa, ...handlowiec]).not.toContain(inactive);
  });

  it('an unknown operator is refused naming the field', async () => {
    const res = await connector.api('GET', `/api/installations/${id}/options/email-accounts?operator=nobody`, { token });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error.field).toBe('operator');
  });

  it("templates are the invoice-form templates, the host's invoice template first, never another form's", async () => {
    const got = await options('templates');
    const templates = sandbox.records('mail.template');
    const invoiceTemplate = String(templates.find((t) => t['name'] === 'Faktura dla klienta')!['id']);
    expect(got[0]!.value).toBe(invoiceTemplate);
    const hostOnes = got
      .filter((o) => /^\d+$/.test(o.value))
      .map((o) => o.value)
      .sort();
    expect(hostOnes).toEqual(
      templates
        .filter((t) => t['model'] === 'account.move')
        .map((t) => String(t['id']))
        .sort(),
    );
    const saleTemplate = String(templates.find((t) => t['model'] === 'sale.order')!['id']);
    expect(got.map((o) => o.value)).not.toContain(saleTemplate);
  });

  it('prints are the standard ones, the host\'s own invoice reports and "none"', async () => {
    const got = (await options('prints')).map((o) => o.value);
    const reports = sandbox.records('ir.actions.report');
    const hostOwn = reports.filter((r) => r['model'] === 'account.move').map((r) => `user:${r['id']}`);
    const standard = listStandardPrints().map((p) => p.choice);
    expect(got.slice(0, standard.length)).toEqual(standard);
    expect(got.slice(standard.length, -1).sort()).toEqual(hostOwn.sort());
    expect(got.at(-1)).toBe('none');
    const sale = reports.find((r) => r['model'] === 'sale.order')!;
    expect(got).not.toContain(`user:${sale['id']}`);
  });
});

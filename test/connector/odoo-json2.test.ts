/**
 * Odoo 19's JSON-2 API (`POST /json/2/<model>/<method>`, `Authorization: bearer <api key>`,
 * `X-Odoo-Database`, named arguments, errors as HTTP statuses with `{name, message, arguments}`), as
 * Odoo 19's published external-API documentation describes it: no Odoo 19 was recorded, so a small fake follows that
 * description. The adapter must pick JSON-2 by itself on 19 (never execute_kw there), send only named
 * arguments, and translate the statuses into the same ConnectorError codes as JSON-RPC faults.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OdooAdapter, OdooClient } from '../../src/connector/odoo/index.ts';
import { json2Body } from '../../src/connector/odoo/client.ts';
import { ConnectorError } from '../../src/errors.ts';

interface Seen {
  path: string;
  auth: string | undefined;
  db: string | undefined;
  body: Record<string, unknown>;
}

const KEYS: Record<string, number> = { 'admin-key': 2, 'billing-key': 6 };

async function fake19(opts: { jsonrpc?: boolean } = {}): Promise<{ url: string; seen: Seen[]; rpc: string[]; stop(): Promise<void> }> {
  const seen: Seen[] = [];
  const rpc: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const path = req.url ?? '';
      if (path === '/jsonrpc') {
        if (opts.jsonrpc === false) {
          res.writeHead(404).end('Not Found');
          return;
        }
        const body = JSON.parse(raw) as { id: number; params: { service: string; method: string } };
        rpc.push(`${body.params.service}.${body.params.method}`);
        if (body.params.service === 'common' && body.params.method === 'version') {
          return json(200, {
            jsonrpc: '2.0',
            id: body.id,
            result: { server_version: '19.0', server_version_info: [19, 0, 0, 'final', 0, ''], server_serie: '19.0', protocol_version: 1 },
          });
        }
        return json(200, {
          jsonrpc: '2.0',
          id: body.id,
          error: { code: 200, message: 'Odoo Server Error', data: { name: 'werkzeug.exceptions.BadRequest', message: 'use JSON-2' } },
        });
      }
      if (path === '/web/version') return json(200, { version_info: [19, 0, 0, 'final', 0, ''], version: '19.0' });
      const m = /^\/json\/2\/([^/]+)\/([^/?]+)$/.exec(path);
      if (!m || req.method !== 'POST') return json(404, { name: 'werkzeug.exceptions.NotFound', message: 'Not Found' });
      const [, model, method] = m as unknown as [string, string, string];
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const auth = req.headers.authorization;
      seen.push({ path, auth, db: req.headers['x-odoo-database'] as string | undefined, body });
      const uid = KEYS[String(auth).replace(/^bearer /i, '')];
      if (!uid) return json(401, { name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey', arguments: ['Invalid apikey'] });
      if (req.headers['x-odoo-database'] !== 'odoo19') return json(404, { name: 'werkzeug.exceptions.NotFound', message: 'database not found' });
      if ('ids' in body && !Array.isArray(body.ids)) return json(422, { name: 'odoo.exceptions.UserError', message: 'ids must be a list' });
      const key = `${model}/${method}`;
      switch (key) {
        case 'res.users/context_get':
          return json(200, { uid, lang: 'pl_PL', tz: 'Europe/Warsaw' });
        case 'res.users/read':
          return json(200, [{ id: uid, login: uid === 2 ? 'admin' : 'billing', name: uid === 2 ? 'Administrator' : 'Anna', email: 'a@b.pl', lang: 'pl_PL' }]);
        case 'mail.template/search_read':
          return json(200, [
            { id: 3, name: 'Other', model: 'account.move' },
            { id: 7, name: 'Faktura: wysłanie', model: 'account.move' },
          ]);
        case 'ir.model.data/search_read':
          if (uid !== 2) return json(403, { name: 'odoo.exceptions.AccessError', message: 'Nie masz dostępu do rekordów (ir.model.data)', arguments: [] });
          return json(200, [
            { id: 1, module: 'account', name: 'email_template_edi_invoice', model: 'mail.template', res_id: 7 },
            { id: 2, module: 'mail', name: 'mt_note', model: 'mail.message.subtype', res_id: 2 },
          ]);
        case 'account.move/write':
          return json(200, true);
        case 'mail.message/search_read':
          return json(200, []);
        case 'mail.message/create':
          return json(
            200,
            (body.vals_list as unknown[]).map((_, i) => 100 + i),
          );
        case 'account.move/read':
          return json(404, { name: 'odoo.exceptions.MissingError', message: 'Record does not exist or has been deleted.', arguments: [] });
        case 'res.partner/read':
          return json(500, { name: 'psycopg2.OperationalError', message: 'server closed the connection', arguments: [] });
        default:
          return json(422, { name: 'odoo.exceptions.UserError', message: `no fake for ${key}`, arguments: [] });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    rpc,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function setup(over: { operatorKey?: string; jsonrpc?: boolean } = {}) {
  const f = await fake19(over.jsonrpc === false ? { jsonrpc: false } : {});
  const host = new OdooAdapter(
    {
      kind: 'odoo',
      baseUrl: f.url,
      database: 'odoo19',
      companyId: null,
      integration: { login: 'admin', secret: 'admin-key' },
      operator: { login: 'billing', secret: over.operatorKey ?? 'billing-key' },
      timeoutMs: 5000,
    },
    { readAttempts: 1, backoffMs: 1 },
  );
  stops.push(f.stop, () => host.close());
  return { f, host };
}

describe('Odoo 19: the JSON-2 API, chosen automatically', () => {
  it('speaks JSON-2 on 19 (bearer API key, X-Odoo-Database, named arguments) and never execute_kw', async () => {
    const { f, host } = await setup();
    const op = await host.checkOperator();
    expect(op).toMatchObject({ id: '6', login: 'billing' });
    const templates = await host.listEmailTemplates();
    expect(templates.map((t) => t.id)).toEqual(['7', '3']);
    await host.writeBack(
      [1, 2].map((id) => ({
        invoiceId: String(id),
        outcome: { state: 'sent' as const, reason: null, detail: null, recipients: [] },
        messageId: `<m${id}@x>`,
        note: `sent <m${id}@x>`,
        markSent: true,
      })),
    );
    expect(f.rpc).toEqual(['common.version']);
    expect(f.seen.every((s) => s.db === 'odoo19' && /^bearer (admin|billing)-key$/.test(String(s.auth)))).toBe(true);
    const byPath = (p: string) => f.seen.filter((s) => s.path === p);
    expect(byPath('/json/2/res.users/read')[0]!.body).toMatchObject({ ids: [6], fields: ['id', 'login', 'name', 'email', 'lang', 'company_id'] });
    expect(byPath('/json/2/account.move/write')[0]!.body).toMatchObject({ ids: [1, 2], vals: { is_move_sent: true } });
    expect(byPath('/json/2/mail.template/search_read')[0]!.body).toMatchObject({ domain: [['model', '=', 'account.move']], fields: ['id', 'name', 'model'] });
    const created = byPath('/json/2/mail.message/create')[0]!.body;
    expect(created.vals_list).toHaveLength(2);
    expect(created.context).toMatchObject({ lang: 'pl_PL', tz: 'Europe/Warsaw' });
    // ir.model.data with the integration key only.
    expect(byPath('/json/2/ir.model.data/search_read').every((s) => s.auth === 'bearer admin-key')).toBe(true);
  });

  it('a wrong API key (401 Invalid apikey) is host_auth; 403 AccessError host_access; 404 MissingError host_not_found; 500 OperationalError host_unavailable', async () => {
    const bad = await setup({ operatorKey: 'nope' });
    expect((await rejection(bad.host.checkOperator())).code).toBe('host_auth');
    const { f } = await setup();
    const client = new OdooClient({ baseUrl: f.url, database: 'odoo19', readAttempts: 1, backoffMs: 1 });
    stops.push(() => client.close());
    const billing = client.session({ login: 'billing', secret: 'billing-key' });
    expect((await rejection(billing.searchRead('ir.model.data', [], ['id']))).code).toBe('host_access');
    expect((await rejection(billing.read('account.move', [1], ['id']))).code).toBe('host_not_found');
    const down = await rejection(billing.read('res.partner', [1], ['id']));
    expect(down.code).toBe('host_unavailable');
    expect(down.retryable).toBe(true);
    expect((await rejection(billing.executeKw('res.partner', 'no_such_method', [[1]]))).code).toBe('host_validation');
  });

  it('where /jsonrpc is gone, the version comes from GET /web/version and JSON-2 is still chosen', async () => {
    const { f, host } = await setup({ jsonrpc: false });
    await host.checkOperator();
    expect(f.rpc).toEqual([]);
    expect(f.seen.length).toBeGreaterThan(0);
  });

  it('execute_kw arguments map to JSON-2 names', () => {
    expect(json2Body('read', [[1, 2], ['name']], { context: {} })).toEqual({ ids: [1, 2], fields: ['name'], context: {} });
    expect(json2Body('create', [[{ a: 1 }]], {})).toEqual({ vals_list: [{ a: 1 }] });
    expect(json2Body('message_post', [[5]], { body: 'x' })).toEqual({ ids: [5], body: 'x' });
    expect(json2Body('has_access', ['read'], {})).toEqual({ operation: 'read' });
    expect(json2Body('context_get', [], {})).toEqual({});
    expect(() => json2Body('unlink', [[1], 'extra'], {})).toThrow(ConnectorError);
  });
});

async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorError);
    return e as ConnectorError;
  }
  throw new Error('expected a rejection');
}

/**
 * The install handshake (POST /api/installations, the whole connector over HTTP on a real PostgreSQL)
 * against the replayed real Odoo 18.0 answers: a non-admin integration user is refused with each
 * missing right named and nothing stored; a wrong database, password or URL is a 4xx naming the field
 * with Odoo's own message; an admin integration user installs and the menu entry under Invoicing is
 * made with its credential, and removed at uninstall.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { startRecordedOdoo, type Modelled, type RecordedOdoo } from '../support/odoo-recorded-server.ts';

const PASS = { admin: 'admin-pass', billing: 'billing-pass' };
const USERS = {
  admin: { uid: 2, password: PASS.admin, lang: 'en_US' },
  billing: { uid: 6, password: PASS.billing, lang: 'pl_PL' },
  viewer: { uid: 7, password: 'v', lang: 'en_US' },
};
const FILES = [
  'common.version.json',
  'search_read.res.users.json',
  'search_read.res.company.json',
  'fields_get.account.move.json',
  'fields_get.res.partner.json',
  'fields_get.account.tax.json',
  'read.res.users.self.json',
  'search_read.account.move.json',
  'search_read.account.move.line.json',
  'search_read.account.tax.json',
  'search_read.res.partner.json',
  'search_read.res.currency.json',
  'search_read.mail.template.json',
  'search_read.ir.actions.report.json',
  'search_read.ir.model.data.json',
  'search_read.ir.mail_server.json',
  'search_read.fetchmail.server.json',
  'search_read.ir.ui.menu.json',
  'search_read.ir.actions.act_url.json',
  'access.billing.account.move.json',
  'access.billing.res.users.json',
  'access.billing.res.currency.rate.json',
  'access.billing.ir.attachment.json',
  'access.billing.ir.model.data.json',
  'access.billing.ir.mail_server.json',
  'access.billing.fetchmail.server.json',
  'access.billing.mail.template.json',
  'access.billing.ir.actions.report.json',
  'writeback.is_move_sent.json',
  'writeback.message_post.json',
  'wizard.create-read.json',
];

let connector: TestConnector;
let servers: RecordedOdoo[] = [];
beforeAll(async () => {
  connector = await startTestConnector();
});
afterAll(async () => {
  await connector?.close();
});
afterEach(async () => {
  const unknown = servers.flatMap((s) => s.unknown);
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
  expect(unknown, 'requests the recordings do not answer').toEqual([]);
});

async function replay(modelled?: Modelled): Promise<RecordedOdoo> {
  const s = await startRecordedOdoo({ version: '18.0', files: FILES, users: USERS, ...(modelled ? { modelled } : {}) });
  servers.push(s);
  return s;
}

const install = (s: RecordedOdoo, over: Record<string, unknown> = {}) =>
  connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: s.url, database: s.database, integration: { login: 'billing', secret: PASS.billing }, ...over },
  });

describe('install against real Odoo 18.0 answers', () => {
  it('a non-admin (billing) integration user is refused with 422 naming each missing right, and nothing is stored', async () => {
    const s = await replay();
    const before = (await connector.store.listInstallations()).length;
    const res = await install(s);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('host_access');
    const fields = res.body.error.fields as { field: string; message: string }[];
    expect(fields.every((f) => f.field === 'integration.login')).toBe(true);
    const named = fields.map((f) => /may not (\w+) ([\w.]+)/.exec(f.message)!.slice(1).join(' ')).sort();
    expect(named).toEqual(['read fetchmail.server', 'read ir.mail_server', 'read ir.model.data']);
    expect((await connector.store.listInstallations()).length).toBe(before);
    expect(s.calls.some((c) => c.method === 'create' || c.method === 'write')).toBe(false);
  });

  it('a wrong database is a 422 naming "database" with Odoo\'s own message', async () => {
    const s = await replay();
    const res = await install(s, { database: 'no_such_db' });
    expect(res.status).toBe(422);
    expect(res.body.error.field).toBe('database');
    expect(res.body.error.message).toContain('database "no_such_db" does not exist');
  });

  it('a wrong password is a 422 naming integration.secret', async () => {
    const s = await replay();
    const res = await install(s, { integration: { login: 'billing', secret: 'wrong' } });
    expect(res.status).toBe(422);
    expect(res.body.error.field).toBe('integration.secret');
  });

  it('an Odoo older than 17 is a 422 naming hostUrl, and nothing is stored', async () => {
    // Not a recording: a minimal JSON-RPC server that says it is Odoo 16 (common.version) and lets admin in.
    const http = await import('node:http');
    const old = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        const body = JSON.parse(raw) as { id: number; params: { service: string; method: string } };
        const result =
          body.params.method === 'version'
            ? { server_version: '16.0', server_version_info: [16, 0, 0, 'final', 0, ''], protocol_version: 1 }
            : body.params.method === 'authenticate'
              ? 2
              : body.params.method === 'execute_kw'
                ? [{ id: 1, name: 'Old Co', partner_id: [1, 'Old Co'], currency_id: [1, 'PLN'], company_id: [1, 'Old Co'] }]
                : null;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result }));
      });
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    try {
      const before = (await connector.store.listInstallations()).length;
      const port = (old.address() as { port: number }).port;
      const res = await connector.api('POST', '/api/installations', {
        body: { hostKind: 'odoo', hostUrl: `http://127.0.0.1:${port}`, database: 'db', integration: { login: 'admin', secret: 'x' } },
      });
      expect(res.status).toBe(422);
      expect(res.body.error.field).toBe('hostUrl');
      expect(res.body.error.message).toContain('16.0');
      expect((await connector.store.listInstallations()).length).toBe(before);
    } finally {
      await new Promise((r) => old.close(r));
    }
  });

  it('a URL where nothing answers is a 400 naming hostUrl, never a 5xx', async () => {
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: 'http://127.0.0.1:9', database: 'courier', integration: { login: 'admin', secret: 'x' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('hostUrl');
  });

  it('an admin integration user installs; the menu entries under Invoicing are made with its credential and removed at uninstall', async () => {
    const made: { model: string; vals: Record<string, unknown> }[] = [];
    const removed: string[] = [];
    const s = await replay({
      call: (c) => {
        // Not recorded: the probes never exercised these as admin. Admin holds Administration/Settings + Access Rights and Invoicing/Administrator (fixtures README).
        if (c.uid === 2 && c.method === 'check_access_rights') return { result: true };
        if (
          c.uid === 2 &&
          c.method === 'search_read' &&
          c.kwargs.limit === 1 &&
          ['res.currency.rate', 'ir.attachment', 'account.move.send.wizard', 'mail.message'].includes(c.model)
        )
          return { result: [] };
        // Menu creation as recorded in menu.create.admin.json (ids from the replay).
        if (c.uid === 2 && c.method === 'create' && (c.model === 'ir.actions.act_url' || c.model === 'ir.ui.menu')) {
          made.push({ model: c.model, vals: (c.args[0] as Record<string, unknown>[])[0]! });
          return { result: [800 + made.length] };
        }
        if (c.uid === 2 && c.method === 'search_read' && c.model === 'ir.actions.act_url' && made.length) {
          return { result: made.filter((m) => m.model === 'ir.actions.act_url').map((m, i) => ({ id: 801 + i * 2, url: m.vals.url })) };
        }
        if (c.uid === 2 && c.method === 'search_read' && c.model === 'ir.ui.menu' && made.length && JSON.stringify(c.kwargs.domain).includes('act_url')) {
          return { result: made.filter((m) => m.model === 'ir.ui.menu').map((m, i) => ({ id: 802 + i * 2, action: m.vals.action })) };
        }
        if (c.uid === 2 && c.method === 'unlink') {
          removed.push(c.model);
          return { result: true };
        }
        return undefined;
      },
    });
    const res = await install(s, { integration: { login: 'admin', secret: PASS.admin } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    const menus = made.filter((m) => m.model === 'ir.ui.menu');
    expect(menus.map((m) => m.vals.parent_id)).toEqual([119, 119]);
    const urls = made.filter((m) => m.model === 'ir.actions.act_url').map((m) => m.vals.url);
    expect(urls).toEqual([`${connector.url}/ui/installations/${id}/settings`, `${connector.url}/ui/installations/${id}/logs`]);
    expect(s.calls.filter((c) => c.model === 'ir.ui.menu' || c.model === 'ir.actions.act_url').every((c) => c.uid === 2)).toBe(true);
    const del = await connector.api('DELETE', `/api/installations/${id}`, { token: res.body.apiToken });
    expect(del.status).toBeLessThan(300);
    expect(removed).toEqual(['ir.ui.menu', 'ir.actions.act_url']);
  });
});

/**
 * Bad input, on every route of both surfaces: a 4xx whose body is `{error:{code,message,field}}` naming
 * the field, never a 500, and nothing done. Through `app.inject` on the real app, the sandbox installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Built } from './build.ts';
import { registeredRoutes } from './routes.ts';

let b: Built;
let inst: { id: string; token: string; webhookSecret: string };
let session: string;
const credential = (route: string) => (route.includes(' /ui/api/') ? session : inst.token);

/** Installation routes of both surfaces but uninstall (which would end the installation for the tests after it), params filled in. */
function routes(fill: (name: string) => string = () => 'x1'): { method: string; url: string; route: string }[] {
  return registeredRoutes(b.app.printRoutes({ commonPrefix: false }))
    .filter((r) => /^[A-Z]+ \/(ui\/)?api\/installations\/:id/.test(r) && r !== 'DELETE /api/installations/:id')
    .map((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return { method, route: r, url: path.replace(':id', inst.id).replace(/:([A-Za-z]+)/g, (_m, name: string) => fill(name)) };
    });
}

function expectFieldError(what: string, res: { status: number; body: any }, status: number | 'any4xx', field: string) {
  const got = { what, status: res.status, code: typeof res.body?.error?.code, message: typeof res.body?.error?.message, field: res.body?.error?.field };
  expect(got).toEqual({ what, status: status === 'any4xx' ? got.status : status, code: 'string', message: 'string', field });
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.status, what).toBeLessThan(500);
}

beforeAll(async () => {
  b = await build(null, { sandbox: true });
  inst = await b.install();
  const links = await b.call('POST', `/api/installations/${inst.id}/page-links`, { token: inst.token, body: {} });
  const url = new URL(links.body.settingsUrl);
  const page = await b.call('GET', url.pathname + url.search);
  session = JSON.parse(/id="page-data"[^>]*>(.*?)<\/script>/s.exec(String(page.body))![1]!).session;
});
afterAll(async () => b?.close());

describe('bad input on every installation route', () => {
  it('a NUL character in the query is refused with 400 naming the parameter, before the handler runs', async () => {
    for (const r of routes((name) => (name === 'deliveryId' ? '00000000-0000-4000-8000-000000000000' : name === 'list' ? 'operators' : 'x1'))) {
      const res = await b.call(r.method as never, `${r.url}?x=a%00b`, {
        token: credential(r.route),
        ...(r.method === 'POST' || r.method === 'PUT' ? { body: {} } : {}),
      });
      if (r.route === 'POST /api/installations/:id/webhooks') {
        expectFieldError(r.route, res, 401, 'Invoice-Courier-Signature'); // unsigned: refused before anything else
        continue;
      }
      expectFieldError(r.route, res, 400, 'x');
    }
    expect((await b.store.listRuns(inst.id, 5)).length, 'no run was started').toBe(0);
  });

  it('a body that is not JSON is refused with 400 naming the body on every route that takes one', async () => {
    const withBody = routes().filter((r) => r.method === 'POST' || r.method === 'PUT');
    expect(withBody.length).toBeGreaterThan(8);
    for (const r of withBody) {
      const res = await b.app.inject({
        method: r.method as never,
        url: r.url,
        headers: { authorization: `Bearer ${credential(r.route)}`, 'content-type': 'application/json' },
        payload: '{"a":',
      });
      if (r.route === 'POST /api/installations/:id/webhooks') continue; // covered by the webhook tests: its parser keeps the raw body
      expectFieldError(r.route, { status: res.statusCode, body: res.json() }, 400, 'body');
    }
  });

  it('path parameters that are too long or not ids are refused naming the parameter (past 100 characters, Fastify itself refuses the URL)', async () => {
    const bad: Record<string, [string, number, string]> = {
      invoiceId: ['9'.repeat(65), 400, 'invoiceId'],
      deliveryId: ['not-a-uuid', 400, 'deliveryId'],
      accountId: ['a'.repeat(101), 414, 'url'],
      templateId: ['t'.repeat(101), 414, 'url'],
    };
    const checked = new Set<string>();
    for (const [param, [value, status, field]] of Object.entries(bad)) {
      for (const r of routes((name) => (name === param ? value : 'x1'))) {
        if (!r.route.includes(`:${param}`)) continue;
        const res = await b.call(r.method as never, r.url, { token: credential(r.route), ...(r.method === 'PUT' || r.method === 'POST' ? { body: {} } : {}) });
        expectFieldError(r.route, res, status, field);
        checked.add(param);
      }
    }
    expect([...checked].sort()).toEqual(['accountId', 'deliveryId', 'invoiceId', 'templateId']);
  });

  it('with fake ids and no body, no route answers 500: unknown invoices, accounts, templates and deliveries are 4xx naming the field', async () => {
    for (const r of routes()) {
      if (r.route.endsWith('/runs') && r.method === 'POST') continue; // valid: queues a run
      const res = await b.call(r.method as never, r.url, { token: credential(r.route) });
      expect([r.route, res.status < 500]).toEqual([r.route, true]);
      if (res.status >= 400) expect([r.route, typeof res.body.error?.field]).toEqual([r.route, 'string']);
    }
  });

  for (const surface of ['/api', '/ui/api'] as const) {
    it(`query and body values out of their schema are refused naming the field (${surface})`, async () => {
      const base = `${surface}/installations/${inst.id}`;
      const token = surface === '/api' ? inst.token : session;
      const cases: [string, string, unknown, string][] = [
        ['GET', '/runs?limit=0', undefined, 'limit'],
        ['GET', '/runs?limit=ten', undefined, 'limit'],
        ['GET', '/runs?colour=blue', undefined, 'colour'],
        ['GET', '/logs?level=loud', undefined, 'level'],
        ['GET', '/logs?from=yesterday', undefined, 'from'],
        ['GET', '/logs?from=0000-01-01T00:00:00Z', undefined, 'from'],
        ['GET', '/logs?fromDate=2026-02-30', undefined, 'fromDate'],
        ['GET', '/logs?fromDate=2026-05-02&toDate=2026-05-01', undefined, 'fromDate'],
        ['GET', '/logs?limit=100000', undefined, 'limit'],
        ['GET', '/options/colours', undefined, 'list'],
        ['GET', '/options/email-accounts?operator=nobody', undefined, 'operator'],
        ['GET', `/invoices/search?q=${'9'.repeat(65)}`, undefined, 'q'],
        ['PUT', '/settings', { colour: 'blue' }, 'colour'],
        ['PUT', '/settings', { schedule: { startAt: '25:00' } }, 'schedule.startAt'],
        ['PUT', '/settings', [], 'body'],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await b.call(method as never, `${base}${path}`, { token, ...(body !== undefined ? { body } : {}) });
        expectFieldError(`${method} ${surface}${path}`, res, 'any4xx', field);
      }
    });
  }

  it('the host-only routes refuse values out of their schema naming the field', async () => {
    const base = `/api/installations/${inst.id}`;
    const cases: [string, string, unknown, string][] = [
      ['GET', '/ledger?state=lost', undefined, 'state'],
      ['GET', '/ledger?limit=0', undefined, 'limit'],
      ['GET', '/webhooks/deliveries?status=maybe', undefined, 'status'],
      ['POST', '/managed/email-accounts', { name: { first: 'x' } }, 'name'],
      ['POST', '/managed/email-accounts', { smtp: { port: 70000 } }, 'smtp.port'],
      ['POST', '/managed/templates', { subject: { de: 'Rechnung' } }, 'subject.de'],
      ['POST', '/page-links', { lang: 'de' }, 'lang'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await b.call(method as never, `${base}${path}`, { token: inst.token, ...(body !== undefined ? { body } : {}) });
      expectFieldError(`${method} ${path}`, res, 'any4xx', field);
    }
  });
});

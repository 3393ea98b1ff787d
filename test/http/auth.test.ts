/**
 * One auth plugin for every installation route: the installation API token under /api, a page session
 * under /ui/api, refused with 401/403 before the route's own validation; the same route handlers answer
 * both. Through `app.inject` on the real app (build.ts), with the sandbox host installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageKey, signPageToken } from '../../src/http/pages/links.ts';
import { build, type Built } from './build.ts';
import { registeredRoutes } from './routes.ts';

let b: Built;
let mine: { id: string; token: string; webhookSecret: string };
let other: { id: string; token: string; webhookSecret: string };

/** A page session as the settings page gets it: open the page with a signed link, read the session from its data block. */
async function pageSession(i: { id: string; token: string }, lang: 'pl' | 'en' = 'pl'): Promise<string> {
  const links = await b.call('POST', `/api/installations/${i.id}/page-links`, { token: i.token, body: { lang } });
  expect(links.status, JSON.stringify(links.body)).toBe(200);
  const page = await b.call('GET', new URL(links.body.settingsUrl).pathname + new URL(links.body.settingsUrl).search);
  expect(page.status).toBe(200);
  const m = /<script type="application\/json" id="page-data"[^>]*>(.*?)<\/script>/s.exec(String(page.body));
  return (JSON.parse(m![1]!) as { session: string }).session;
}

/** Every installation-scoped route of one surface, with its path parameters filled in for this installation. */
function scopedRoutes(prefix: string, id: string): { method: string; url: string; route: string }[] {
  return registeredRoutes(b.app.printRoutes({ commonPrefix: false }))
    .filter((r) => r.split(' ')[1]!.startsWith(`${prefix}/installations/:id`))
    .map((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return { method, route: r, url: path.replace(':id', id).replace(/:[A-Za-z]+/g, 'x1') };
    });
}

beforeAll(async () => {
  b = await build(null, { sandbox: true });
  mine = await b.install();
  other = await b.install();
});
afterAll(async () => b?.close());

describe('the installation API (/api): the installation token', () => {
  it("every installation route but the signed webhook and the admin purge answers 401 without a token and 403 with another installation's, naming the authorization field", async () => {
    const routes = scopedRoutes('/api', mine.id).filter(
      (r) => r.route !== 'POST /api/installations/:id/webhooks' && r.route !== 'DELETE /api/installations/:id/data',
    );
    expect(routes.length).toBeGreaterThan(20);
    for (const r of routes) {
      // A body the route would refuse: the credential is checked before validation.
      const none = await b.call(r.method as never, r.url, { body: { nonsense: true } });
      expect([r.route, none.status, none.body.error?.code, none.body.error?.field]).toEqual([r.route, 401, 'unauthorized', 'authorization']);
      const theirs = await b.call(r.method as never, r.url, { token: other.token, body: { nonsense: true } });
      expect([r.route, theirs.status, theirs.body.error?.code, theirs.body.error?.field]).toEqual([r.route, 403, 'forbidden', 'authorization']);
    }
  });

  it('a page session is not an API token', async () => {
    const session = await pageSession(mine);
    const r = await b.call('GET', `/api/installations/${mine.id}/settings`, { token: session });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
  });
});

describe('the page API (/ui/api): the page session', () => {
  it("every page route answers 401 without a session, with the API token, with another installation's session, and with a forged or expired one", async () => {
    const routes = scopedRoutes('/ui/api', mine.id);
    expect(routes.map((r) => r.route)).toEqual(
      expect.arrayContaining([
        'GET /ui/api/installations/:id/settings',
        'PUT /ui/api/installations/:id/settings',
        'GET /ui/api/installations/:id/runs/current',
        'GET /ui/api/installations/:id/invoices/search',
      ]),
    );
    const theirs = await pageSession(other);
    const key = pageKey(mine.webhookSecret);
    const expired = signPageToken(key, { i: mine.id, lang: 'pl', kind: 'session', exp: Math.floor(Date.now() / 1000) - 1 });
    const link = signPageToken(key, { i: mine.id, lang: 'pl', kind: 'link', exp: Math.floor(Date.now() / 1000) + 300 });
    const forged = signPageToken(pageKey('not the secret'), { i: mine.id, lang: 'pl', kind: 'session', exp: Math.floor(Date.now() / 1000) + 300 });
    for (const r of routes) {
      for (const token of [undefined, mine.token, theirs, expired, link, forged]) {
        const res = await b.call(r.method as never, r.url, { ...(token ? { token } : {}), body: { nonsense: true } });
        expect([r.route, res.status, res.body.error?.code, res.body.error?.field]).toEqual([r.route, 401, 'unauthorized', 'authorization']);
      }
    }
  });

  it('refuses in the language of the page the session was for', async () => {
    const key = pageKey(mine.webhookSecret);
    const expired = signPageToken(key, { i: mine.id, lang: 'pl', kind: 'session', exp: Math.floor(Date.now() / 1000) - 1 });
    const r = await b.call('GET', `/ui/api/installations/${mine.id}/runs?limit=0`, { token: expired });
    expect(r.status).toBe(401);
    const valid = await pageSession(mine, 'pl');
    const bad = await b.call('GET', `/ui/api/installations/${mine.id}/runs?limit=0`, { token: valid, headers: { 'accept-language': 'en' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('limit');
    const english = await b.call('GET', `/api/installations/${mine.id}/runs?limit=0`, { token: mine.token, headers: { 'accept-language': 'en' } });
    expect(english.body.error.field).toBe('limit');
    // The same refusal, worded in the page's language (pl) on the page API, in Accept-Language's (en) on the API.
    expect(bad.body.error.message).not.toBe(english.body.error.message);
    expect(bad.body.error.fields[0].code).toBe(english.body.error.fields[0].code);
  });

  it('has only the routes the pages call: uninstall, the ledger, resend, webhooks and changing managed records are for hosts', async () => {
    const session = await pageSession(mine);
    for (const [method, path] of [
      ['DELETE', ''],
      ['GET', '/ledger'],
      ['POST', '/invoices/1/resend'],
      ['GET', '/webhooks/deliveries'],
      ['POST', '/managed/email-accounts'],
      ['GET', '/managed/templates'],
      ['POST', '/page-links'],
    ] as const) {
      const r = await b.call(method, `/ui/api/installations/${mine.id}${path}`, { token: session, body: {} });
      expect([path, r.status, r.body.error?.code]).toEqual([path, 404, 'not_found']);
    }
  });

  it('answers with the same handlers as the API: the same settings, runs, schedule, options and accounts', async () => {
    const session = await pageSession(mine, 'en');
    // A run going and its log, written through the real store as a run writes them.
    const run = await b.store.startRun({ installationId: mine.id, trigger: 'manual', startedAt: new Date(Date.now() - 60_000).toISOString() });
    await b.store.updateRunProgress(run.id, 3, 9, { ...run.counts, sent: 3 });
    await b.store.appendLogs([
      {
        installationId: mine.id,
        runId: run.id,
        at: new Date().toISOString(),
        level: 'info',
        event: 'invoice.sent',
        invoiceId: '7',
        invoiceNumber: 'FV/7',
        message: 'sent',
        data: null,
      },
    ]);
    expect((await b.call('POST', `/ui/api/installations/${mine.id}/runs`, { token: session })).status).toBe(202);
    for (const path of [
      '/settings',
      '/schedule',
      '/options/operators',
      '/options/prints',
      '/managed/email-accounts',
      '/runs?limit=5',
      '/runs/current',
      '/logs?limit=5',
      '/invoices/search?q=FV',
    ]) {
      const api = await b.call('GET', `/api/installations/${mine.id}${path}`, { token: mine.token, headers: { 'accept-language': 'en' } });
      const page = await b.call('GET', `/ui/api/installations/${mine.id}${path}`, { token: session });
      expect(api.status, `${path}: ${JSON.stringify(api.body)}`).toBe(200);
      // The running run's clock moves between the two calls.
      const still = (body: unknown) => JSON.parse(JSON.stringify(body, (k, v: unknown) => (k === 'elapsedMs' || k === 'remainingMs' ? typeof v : v)));
      expect([path, page.status, still(page.body)]).toEqual([path, 200, still(api.body)]);
    }
    const current = await b.call('GET', `/ui/api/installations/${mine.id}/runs/current`, { token: session });
    expect(current.body.run).toMatchObject({ id: run.id, status: 'running', processed: 3, total: 9, statusCode: 'run.status.running' });
    expect(current.body.run.remainingMs).toBeGreaterThan(0);
    const logs = await b.call('GET', `/ui/api/installations/${mine.id}/logs`, { token: session });
    expect(logs.body.entries).toEqual([
      expect.objectContaining({ event: 'invoice.sent', invoiceNumber: 'FV/7', levelText: expect.any(String), text: expect.any(String) }),
    ]);
  });
});

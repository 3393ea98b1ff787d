/**
 * Token isolation between two installations. Every route of the app whose path names an installation
 * (`:id`) is found by walking the app's own route table (hidden routes included), so a route added
 * later is covered without touching this test. Installation A's token, no token, and a made-up token
 * are each refused (401/403) on every one of B's routes, and B's data is unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../webhooks/receiver.ts';

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let rx: WebhookReceiver;
let connector: TestConnector;
let a: { id: string; apiToken: string };
let b: { id: string; apiToken: string; webhookSecret: string };

interface Route {
  method: string;
  path: string;
}

/** Parses `app.printRoutes({ commonPrefix: false })` (a tree) into method + full path pairs. */
export function routesOf(tree: string): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = stack.join('') + m[2]!;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (method !== 'HEAD') routes.push({ method, path });
    }
  }
  return routes;
}

async function install(callbackUrl: string | null) {
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' }, callbackUrl },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Everything of B a route could read or change, as B's own token sees it (and the store). */
async function snapshotB() {
  const get = async (path: string) => (await connector.api('GET', `/api/installations/${b.id}${path}`, { token: b.apiToken })).body;
  const installation = (await connector.store.getInstallation(b.id))!;
  return {
    settings: await get('/settings'),
    runs: await get('/runs'),
    logs: await get('/logs?limit=1000'),
    ledger: await get('/ledger'),
    deliveries: (await connector.store.listWebhookDeliveries(b.id, { limit: 1000 })).map((d) => ({ ...d, updatedAt: null, attempts: d.attempts.length })),
    managedAccounts: await connector.store.listManaged(b.id, 'email_account'),
    managedTemplates: await connector.store.listManaged(b.id, 'template'),
    installation: { ...installation, updatedAt: null },
    nextRunAt: await connector.scheduler.nextRunAt(b.id),
  };
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ host: '127.0.0.1', port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  rx = await startWebhookReceiver();
  connector = await startTestConnector({ env: { ADMIN_TOKEN: 'operators-admin-token-0123456789' } });
  a = await install(null);
  b = await install(rx.url);
  rx.secret = b.webhookSecret;
  // B has data of every kind: settings, a run, log entries, ledger entries, webhook deliveries.
  const accounts = await connector.api('GET', `/api/installations/${b.id}/options/email-accounts?operator=ksiegowa`, { token: b.apiToken });
  const account = accounts.body.options.find((o: any) => /Sandbox SMTP/.test(o.label));
  const far = DateTime.now().setZone('Europe/Warsaw').plus({ hours: 12 }).toFormat('HH:00');
  const saved = await connector.api('PUT', `/api/installations/${b.id}/settings`, {
    token: b.apiToken,
    body: {
      enabled: true,
      operator: 'ksiegowa',
      operatorPassword: 'ksiegowa',
      emailAccount: account.value,
      delivery: 'send_now',
      dateBasis: 'issue_date',
      fromDate: DateTime.now().setZone('Europe/Warsaw').minus({ days: 30 }).toISODate(),
      schedule: { startAt: far, until: far, repeatEvery: '1h' },
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  const since = Date.now();
  await connector.api('POST', `/api/installations/${b.id}/runs`, { token: b.apiToken });
  const run = await connector.waitForRun(b.id, b.apiToken, { trigger: 'manual', since });
  expect(run.counts.sent).toBeGreaterThan(0);
  await rx.waitFor((r) => r.event?.type === 'run.completed');
});

afterAll(async () => {
  await connector?.close();
  await rx?.stop();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('token isolation between installations', () => {
  it('the route table parser finds the routes it must (so the sweep below cannot pass empty)', () => {
    const routes = routesOf(connector.app.printRoutes({ commonPrefix: false }));
    const scoped = routes.filter((r) => r.path.includes(':id'));
    for (const expected of [
      'GET /api/installations/:id/settings',
      'PUT /api/installations/:id/settings',
      'GET /api/installations/:id/logs',
      'GET /api/installations/:id/runs',
      'POST /api/installations/:id/runs',
      'GET /api/installations/:id/ledger',
      'GET /api/installations/:id/options/:list',
      'POST /api/installations/:id/invoices/:invoiceId/resend',
      'DELETE /api/installations/:id',
      'DELETE /api/installations/:id/data',
      'POST /api/installations/:id/webhooks',
      'GET /api/installations/:id/webhooks/deliveries',
      'GET /api/installations/:id/webhooks/deliveries/:deliveryId',
      'POST /api/installations/:id/webhooks/deliveries/:deliveryId/redeliver',
    ]) {
      expect(scoped.map((r) => `${r.method} ${r.path}`)).toContain(expected);
    }
  });

  it("A's token, no token and a made-up token are refused on every one of B's routes, and B's data stays as it was", async () => {
    const before = await snapshotB();
    const invoiceId = before.ledger.entries[0].invoiceId as string;
    const deliveryId = before.deliveries[0]!.id;
    const params: Record<string, string> = { id: b.id, invoiceId, deliveryId, list: 'operators' };
    const routes = routesOf(connector.app.printRoutes({ commonPrefix: false })).filter((r) => r.path.includes(':id'));
    // A's token is a working token (its own settings answer), so refusals below are isolation, not a bad token.
    expect((await connector.api('GET', `/api/installations/${a.id}/settings`, { token: a.apiToken })).status).toBe(200);

    const wrong: string[] = [];
    for (const route of routes) {
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => params[name] ?? crypto.randomUUID());
      const body =
        route.method === 'POST' || route.method === 'PUT' ? (path.endsWith('/webhooks') ? { type: 'extension.disabled' } : { enabled: false }) : undefined;
      for (const [who, token] of [
        ["A's token", a.apiToken],
        ['no token', undefined],
        ['a made-up token', 'not-a-token-of-anyone-0123456789'],
      ] as const) {
        const res = await fetch(`${connector.url}${path}`, {
          method: route.method,
          headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        await res.arrayBuffer();
        if (res.status !== 401 && res.status !== 403) wrong.push(`${route.method} ${route.path} with ${who}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(routes.length).toBeGreaterThan(14);

    const after = await snapshotB();
    expect(after).toEqual(before);
    expect(after.installation.status).toBe('active');
    expect((await connector.api('GET', `/api/installations/${b.id}/settings`, { token: b.apiToken })).status).toBe(200);
  });
});

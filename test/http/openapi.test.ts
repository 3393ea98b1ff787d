/**
 * The OpenAPI document (/docs/json) describes both surfaces: every installation route under /api with
 * the installation token, every page-API route under /ui/api with the page session and the same
 * response schemas as its /api twin, and every route's success and error answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Built } from './build.ts';
import { registeredRoutes } from './routes.ts';

type Operation = { security?: Record<string, string[]>[]; tags?: string[]; responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
let b: Built;
let doc: { paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };

/** `/api/installations/:id/x` as OpenAPI writes it: `/api/installations/{id}/x`. */
const openapiPath = (path: string) => path.replace(/:([A-Za-z]+)/g, '{$1}');

beforeAll(async () => {
  b = await build(null);
  const res = await b.call('GET', '/docs/json');
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(async () => b?.close());

describe('the OpenAPI document', () => {
  it('declares the three credentials', () => {
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'installationToken', 'pageSession']);
  });

  it('documents every page-API route with the page session, the pages tag and the response schemas of its /api twin', () => {
    const pageRoutes = registeredRoutes(b.app.printRoutes({ commonPrefix: false })).filter((r) => r.includes(' /ui/api/'));
    expect(pageRoutes.length).toBeGreaterThanOrEqual(11);
    for (const r of pageRoutes) {
      const [method, path] = r.split(' ') as [string, string];
      const op = doc.paths[openapiPath(path)]?.[method.toLowerCase()];
      expect(op, `${r} is in the document`).toBeDefined();
      expect([r, op!.security, op!.tags]).toEqual([r, [{ pageSession: [] }], ['pages']]);
      const twin = doc.paths[openapiPath(path.replace(/^\/ui\/api\//, '/api/'))]?.[method.toLowerCase()];
      expect(twin, `${r} has an /api twin`).toBeDefined();
      expect(twin!.security).toEqual([{ installationToken: [] }]);
      expect([r, op!.responses]).toEqual([r, twin!.responses]);
    }
  });

  it('gives every installation route a success answer with a schema and the error body for 400, 401 and 403', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!/^\/(ui\/)?api\/installations\/\{id\}/.test(path)) continue;
      for (const [method, op] of Object.entries(ops)) {
        const what = `${method.toUpperCase()} ${path}`;
        const responses = op.responses ?? {};
        const success = Object.keys(responses).find((s) => /^2/.test(s));
        expect(success, `${what} has a success answer`).toBeDefined();
        if (success !== '204') expect(Object.values(responses[success!]!.content ?? {})[0]?.schema, `${what} ${success} has a schema`).toBeDefined();
        for (const status of ['400', '401', '403']) {
          const schema = JSON.stringify(responses[status]?.content?.['application/json']?.schema ?? null);
          expect(schema, `${what} ${status}`).toContain('"error"');
          expect(schema, `${what} ${status}`).toContain('"field"');
        }
      }
    }
  });

  it('keeps the hidden page routes (the HTML pages, their assets) out of it', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/ui/') && !p.startsWith('/ui/api/'))).toEqual([]);
  });
});

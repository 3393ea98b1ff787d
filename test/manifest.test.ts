import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { buildManifest, manifestJson, settingsFields } from '../src/manifest/host-manifest.ts';
import { SettingsInputSchema, defaultSettings } from '../src/settings/schema.ts';
import { build } from './http/build.ts';
import { registeredRoutes, routeMatcher } from './http/routes.ts';

const root = new URL('../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
const { version } = JSON.parse(read('package.json')) as { version: string };
const manifestSchema = JSON.parse(read('manifests/manifest.schema.json')) as object;
const UI_KEYWORDS = ['x-label', 'x-help', 'x-order', 'x-group', 'x-options'];

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv.compile(manifestSchema);
}

type Node = Record<string, unknown>;

/**
 * Registered routes hosts may call (the installation API, health, the manifest) that the manifest does not
 * list, and listed endpoints no route serves. Not for hosts: the OpenAPI UI (/docs), the embeddable pages'
 * assets and their page API (/ui/), the operators' endpoints (only with ADMIN_TOKEN).
 */
function endpointProblems(routes: string[], endpoints: string[]): { unlisted: string[]; unserved: string[] } {
  const api = routes.filter((r) => /^[A-Z]+ \/(api\/|health$|manifest$)/.test(r));
  return {
    unlisted: api.filter((r) => !endpoints.some((e) => routeMatcher(r).test(e))),
    unserved: endpoints.filter((e) => !api.some((r) => routeMatcher(r).test(e))),
  };
}

describe('the extension manifest', () => {
  it('the committed manifest is what buildManifest generates', () => {
    const expected = manifestJson(buildManifest({ version }));
    const committed = read('manifests/invoice-courier.json');
    expect(committed, 'manifests/invoice-courier.json is stale: run npm run manifest').toBe(expected);
  });

  it('validates against manifests/manifest.schema.json', () => {
    const validate = validator();
    const ok = validate(JSON.parse(read('manifests/invoice-courier.json')));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(validate(buildManifest({ version, baseUrl: 'https://courier.example.com/' }))).toBe(true);
  });

  it('the manifest schema refuses a broken manifest', () => {
    const validate = validator();
    const broken = buildManifest({ version }) as Node;
    delete broken['id'];
    (broken['permissions'] as { models: Node[] }).models[0]!['access'] = ['delete'];
    (broken['endpoints'] as Record<string, Node>)['install']!['path'] = 'api/installations';
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
    expect(paths.join('\n')).toMatch(/must have required property 'id'/);
    expect(paths.join('\n')).toMatch(/\/permissions\/models\/0\/access\/0/);
    expect(paths.join('\n')).toMatch(/\/endpoints\/install/);
  });

  it('carries the settings schema the API validates with, unchanged but for the defaults', () => {
    const manifest = buildManifest({ version }) as { settings: { schema: unknown } };
    const withoutDefaults = JSON.parse(JSON.stringify(manifest.settings.schema, (k, v: unknown) => (k === 'default' ? undefined : v)));
    expect(withoutDefaults).toEqual(JSON.parse(JSON.stringify(SettingsInputSchema)));
    // The API's own schema has no defaults: a change is merged over stored settings, never over defaults.
    expect(JSON.stringify(SettingsInputSchema)).not.toContain('"default"');
  });

  it("carries every setting's default, so a form the host renders starts filled in", () => {
    const manifest = buildManifest({ version }) as { settings: { schema: Node; defaults: unknown } };
    const defaults = defaultSettings() as unknown as Node;
    const found: Record<string, unknown> = {};
    for (const { path } of settingsFields()) {
      let node = manifest.settings.schema;
      for (const key of path.split('.')) node = (node['properties'] as Record<string, Node>)[key]!;
      if ('default' in node) found[path] = node['default'];
    }
    const expected: Record<string, unknown> = {};
    for (const { path } of settingsFields()) {
      const value = path.split('.').reduce<unknown>((o, k) => (o as Node | undefined)?.[k], defaults);
      if (value !== undefined) expected[path] = value;
    }
    expect(found).toEqual(expected);
    expect(found['timezone']).toBe('Europe/Warsaw');
    expect(found['schedule.startAt']).toBe('08:00');
    expect(Object.keys(found)).toHaveLength(settingsFields().length - 1); // all but the write-only password
    expect(manifest.settings.defaults).toEqual(defaultSettings());
  });

  it('every settings property, nested ones and enumerated choices included, has pl and en labels', () => {
    const missing: string[] = [];
    const i18n = (v: unknown) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Node)['pl'] === 'string' &&
      typeof (v as Node)['en'] === 'string' &&
      (v as Node)['pl'] !== '' &&
      (v as Node)['en'] !== '';
    const walk = (node: Node, path: string) => {
      for (const [key, prop] of Object.entries((node['properties'] ?? {}) as Record<string, Node>)) {
        const p = path ? `${path}.${key}` : key;
        if (!i18n(prop['x-label'])) missing.push(`${p}: x-label`);
        if (!i18n(prop['x-help'])) missing.push(`${p}: x-help`);
        if (typeof prop['x-order'] !== 'number') missing.push(`${p}: x-order`);
        if (typeof prop['x-group'] !== 'string') missing.push(`${p}: x-group`);
        for (const c of (prop['anyOf'] ?? []) as Node[]) {
          if ('const' in c && !i18n(c['x-label'])) missing.push(`${p}=${String(c['const'])}: x-label`);
        }
        if (prop['type'] === 'object') walk(prop, p);
      }
    };
    const schema = (buildManifest({ version }) as { settings: { schema: Node } }).settings.schema;
    walk(schema, '');
    expect(missing).toEqual([]);
  });

  it('lists every setting once in the UI order, each in a declared group', () => {
    const manifest = buildManifest({ version }) as { settings: { ui: { groups: { id: string }[]; fields: { path: string; group: string; order: number }[] } } };
    const { groups, fields } = manifest.settings.ui;
    expect(fields.map((f) => f.path)).toEqual([
      'enabled',
      'operator',
      'operatorPassword',
      'emailAccount',
      'emailTemplate',
      'alertEmail',
      'delivery',
      'documents',
      'dateBasis',
      'fromDate',
      'attachments.pln',
      'attachments.foreign',
      'stripProductCodes',
      'attachKsefXml',
      'schedule.startAt',
      'schedule.repeatEvery',
      'schedule.until',
      'schedule.days',
      'timezone',
    ]);
    const ids = new Set(groups.map((g) => g.id));
    for (const f of fields) expect(ids.has(f.group), `${f.path} is in a declared group`).toBe(true);
    expect(new Set(fields.map((f) => f.order)).size).toBe(fields.length);
    expect(settingsFields()).toEqual(fields);
  });

  it('its settings schema validates settings the way the API does', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, keywords: UI_KEYWORDS });
    const schema = (buildManifest({ version }) as { settings: { schema: object } }).settings.schema;
    const validate = ajv.compile(schema);
    expect(validate(defaultSettings())).toBe(true);
    expect(validate({ schedule: { repeatEvery: '1h' } })).toBe(true);
    expect(validate({ schedule: { repeatEvery: '3h' } })).toBe(false);
    expect(validate({ schedule: { every: '1h' } })).toBe(false);
    expect(validate({ attachments: { pln: 'pdf' } })).toBe(false);
    expect(validate({ colour: 'blue' })).toBe(false);
  });

  it('asks for the host permissions the connector uses, admin-only models with the integration credential', () => {
    const models = (buildManifest({ version }) as { permissions: { models: { model: string; access: string[]; credential: string }[] } }).permissions.models;
    const by = new Map(models.map((m) => [m.model, m]));
    expect(by.get('account.move')?.access).toEqual(['read', 'write']);
    expect(by.get('account.move.send.wizard')?.access).toEqual(['create', 'read', 'unlink']);
    expect(by.get('mail.message')?.access).toEqual(['create']);
    for (const m of [
      'account.move.line',
      'account.tax',
      'res.partner',
      'res.users',
      'res.company',
      'res.currency',
      'res.currency.rate',
      'mail.template',
      'ir.actions.report',
      'ir.attachment',
    ]) {
      expect(by.get(m)?.access, m).toEqual(['read']);
    }
    expect(by.get('ir.mail_server')?.credential).toBe('integration');
    expect(by.get('fetchmail.server')?.credential).toBe('integration');
  });

  it('names its endpoints, pages and webhooks', () => {
    const m = buildManifest({ version }) as {
      endpoints: Record<string, { method: string; path: string } | { method: string; path: string }[]>;
      pages: Record<string, string>;
      webhooks: { emitted: { event: string }[]; accepted: { event: string }[] };
    };
    const flat = Object.values(m.endpoints)
      .flat()
      .map((e) => `${e.method} ${e.path}`);
    expect(flat).toEqual(
      expect.arrayContaining([
        'POST /api/installations',
        'DELETE /api/installations/{id}',
        'GET /api/installations/{id}/settings',
        'PUT /api/installations/{id}/settings',
        'GET /api/installations/{id}/options/operators',
        'GET /api/installations/{id}/options/email-accounts',
        'GET /api/installations/{id}/options/templates',
        'GET /api/installations/{id}/options/prints',
        'POST /api/installations/{id}/runs',
        'GET /api/installations/{id}/runs',
        'GET /api/installations/{id}/logs',
        'GET /health',
        'GET /manifest',
      ]),
    );
    expect(m.pages).toMatchObject({ settings: '/ui/installations/{id}/settings', logs: '/ui/installations/{id}/logs' });
    expect(m.webhooks.emitted.map((w) => w.event)).toEqual([
      'run.completed',
      'invoice.sent',
      'invoice.failed',
      'invoice.uncertain',
      'invoice.bounced',
      'delivery.auth_failed',
    ]);
    expect(m.webhooks.accepted.map((w) => w.event)).toEqual(['settings.changed', 'extension.disabled', 'extension.enabled', 'invoice.posted']);
  });

  it("lists exactly the app's registered API routes as endpoints (a route missing from the manifest, or an endpoint no route serves, fails), and its pages are served", async (t) => {
    const { app } = await build(t);
    const routes = registeredRoutes(app.printRoutes({ commonPrefix: false }));
    expect(routes).toContain('POST /api/installations'); // the tree was read
    expect(routes).toContain('GET /api/installations/:id/invoices/:invoiceId/preview.pdf'); // nested segments too
    const m = buildManifest({ version }) as { endpoints: Record<string, Node | Node[]>; pages: Record<string, string> };
    const endpoints = Object.values(m.endpoints)
      .flat()
      .map((e) => `${String(e['method'])} ${String(e['path'])}`);
    expect(endpointProblems(routes, endpoints)).toEqual({ unlisted: [], unserved: [] });
    for (const page of Object.values(m.pages)) {
      expect(
        routes.some((r) => routeMatcher(r).test(`GET ${page}`)),
        `page ${page} is served`,
      ).toBe(true);
    }
    // The comparison fails both ways: an endpoint taken out of the list, a route the app no longer has.
    expect(
      endpointProblems(
        routes,
        endpoints.filter((e) => e !== 'GET /api/installations/{id}/runs/current'),
      ).unlisted,
    ).toEqual(['GET /api/installations/:id/runs/current']);
    expect(
      endpointProblems(
        routes.filter((r) => r !== 'GET /api/installations/:id/ledger'),
        endpoints,
      ).unserved,
    ).toEqual(['GET /api/installations/{id}/ledger']);
  });

  it('carries the given version and base URL (without a trailing slash), and nothing else varies', () => {
    const a = buildManifest({ version: '9.8.7', baseUrl: 'https://courier.example.com/' });
    expect(a).toMatchObject({ id: 'invoice-courier', version: '9.8.7', baseUrl: 'https://courier.example.com' });
    expect(buildManifest({ version: '1.0.0' })).not.toHaveProperty('baseUrl');
    expect(manifestJson(buildManifest({ version }))).toBe(manifestJson(buildManifest({ version })));
  });

  it('is written with sorted keys, two-space indentation and a trailing newline', () => {
    const text = manifestJson({ b: 1, a: { d: 1, c: [{ z: 1, y: 2 }] } });
    expect(text).toBe('{\n  "a": {\n    "c": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ],\n    "d": 1\n  },\n  "b": 1\n}\n');
  });
});

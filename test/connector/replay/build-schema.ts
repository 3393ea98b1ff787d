/**
 * Builds the sandbox's model schema (sandbox/host/schema/odoo-<version>.json) from the recorded
 * real-Odoo `fields_get` answers in test/fixtures/odoo-real/<version>/fields_get.*.json:
 * per model and field the type, relation, selection, required/readonly flags and the Polish label
 * (the recordings were made with context lang pl_PL), and which fields non-admin users do not see.
 *
 *   npx tsx test/connector/replay/build-schema.ts        (writes both versions)
 *
 * test/connector/odoo-replay.test.ts checks that the committed files equal what this builds.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures/odoo-real');
export const SCHEMA_DIR = path.join(ROOT, 'sandbox/host/schema');

interface Exchange {
  why: string;
  request: { body?: { params?: { args?: unknown[] } } };
  response: { body?: { result?: unknown } };
}
type Desc = { type: string; string: string; relation?: string; selection?: [string, string][]; required?: boolean; readonly?: boolean };

/** `adminOnly`: only Administration/Settings sees it; `invoicingOnly`: users without an invoicing group do not see it. */
export interface SchemaField {
  t: string;
  s: string;
  r?: string;
  sel?: [string, string][];
  req?: 1;
  ro?: 1;
  adminOnly?: 1;
  invoicingOnly?: 1;
}
export type Schema = Record<string, Record<string, SchemaField>>;

export function buildSchema(version: string): Schema {
  const dir = path.join(FIXTURES, version);
  const out: Schema = {};
  for (const file of readdirSync(dir).sort()) {
    const m = /^fields_get\.(.+)\.json$/.exec(file);
    if (!m || m[1] === 'adapter-form') continue;
    const model = m[1] as string;
    const exchanges = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Exchange[];
    const byUid = new Map<number, Record<string, Desc>>();
    for (const e of exchanges) {
      const uid = e.request.body?.params?.args?.[1];
      const result = e.response.body?.result;
      if (typeof uid === 'number' && result && typeof result === 'object' && !Array.isArray(result)) byUid.set(uid, result as Record<string, Desc>);
    }
    const admin = byUid.get(2);
    if (!admin) continue;
    const billing = byUid.get(6) ?? admin;
    const viewer = byUid.get(7) ?? billing;
    const fields: Record<string, SchemaField> = {};
    for (const name of Object.keys(admin).sort()) {
      const d = admin[name] as Desc;
      const f: SchemaField = { t: d.type, s: d.string };
      if (d.relation) f.r = d.relation;
      if (d.selection) f.sel = d.selection;
      if (d.required) f.req = 1;
      if (d.readonly) f.ro = 1;
      if (!(name in billing)) f.adminOnly = 1;
      else if (!(name in viewer)) f.invoicingOnly = 1;
      fields[name] = f;
    }
    out[model] = fields;
  }
  return out;
}

export function schemaText(version: string): string {
  return JSON.stringify(buildSchema(version)) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const v of ['17.0', '18.0']) {
    writeFileSync(path.join(SCHEMA_DIR, `odoo-${v}.json`), schemaText(v));
    console.log(`wrote odoo-${v}.json`);
  }
}

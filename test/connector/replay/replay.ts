/**
 * Replays the recorded real-Odoo exchanges (test/fixtures/odoo-real/<version>/*.json) against a sandbox
 * host started as that version and compares the SHAPE of each answer: success vs error, the error's
 * `name`, field names and value kinds of records, `fields_get` names and types, HTTP status and redirect
 * target. Ids are mapped from the recording's records to the sandbox's (IdMap, built by the test).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxHost } from '../../../sandbox/index.ts';

export const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../fixtures/odoo-real');

export interface Exchange {
  why: string;
  request: { method: string; path: string; headers: Record<string, unknown>; body?: unknown };
  response: { status: number; headers: Record<string, string | undefined>; body?: unknown };
}

export function exchangeFiles(version: string): string[] {
  return readdirSync(path.join(FIXTURES, version))
    .filter((f) => f.endsWith('.json') && !f.startsWith('_'))
    .sort();
}

export function loadExchanges(version: string, file: string): Exchange[] {
  return JSON.parse(readFileSync(path.join(FIXTURES, version, file), 'utf8')) as Exchange[];
}

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Real id -> sandbox id, per model. Unmapped ids pass unchanged (e.g. 999999 stays missing). */
export class IdMap {
  private maps = new Map<string, Map<number, number>>();
  set(model: string, real: number, sandbox: number): void {
    let m = this.maps.get(model);
    if (!m) this.maps.set(model, (m = new Map()));
    m.set(real, sandbox);
  }
  get(model: string | null | undefined, real: number): number {
    if (!model) return real;
    return this.maps.get(model)?.get(real) ?? real;
  }
  entries(): [string, [number, number][]][] {
    return [...this.maps].map(([k, v]) => [k, [...v]]);
  }
}

export interface Credentials {
  /** Recorded login -> sandbox login. */
  logins: Record<string, string>;
  /** uid -> password / API key in the sandbox. */
  passwords: Record<number, string>;
  apiKeys: Record<number, string>;
  uidOfLogin: Record<string, number>;
}

/** Relation of a model's field, from the sandbox's own fields_get (as superuser). */
export type Relations = (model: string, field: string) => string | null;

export class Replayer {
  /** Per file: the current web session cookie. */
  cookie: string | null = null;
  constructor(
    readonly sb: SandboxHost,
    readonly ids: IdMap,
    readonly creds: Credentials,
    readonly relation: Relations,
    readonly realDb: string,
  ) {}

  private secretFor(why: string, uid: number | null, login: string | null): string {
    if (/wrong password|wrong web password|bad password/i.test(why)) return 'not-the-password';
    const u = uid ?? (login ? this.creds.uidOfLogin[login] : undefined) ?? null;
    if (u === null || u === undefined) return 'not-the-password';
    if (/API key/i.test(why)) return this.creds.apiKeys[u] ?? 'no-key';
    return this.creds.passwords[u] ?? 'no-password';
  }

  private mapValue(model: string | null, value: unknown): unknown {
    if (typeof value === 'number' && Number.isInteger(value)) return this.ids.get(model, value);
    if (Array.isArray(value)) {
      // x2many commands [[6, 0, ids]] / [[4, id]] or plain id lists
      if (value.every((v) => Array.isArray(v)))
        return value.map((c) =>
          Array.isArray(c)
            ? [c[0], typeof c[1] === 'number' ? this.ids.get(model, c[1]) : c[1], Array.isArray(c[2]) ? c[2].map((x) => this.mapValue(model, x)) : c[2]]
            : c,
        );
      return value.map((v) => this.mapValue(model, v));
    }
    if (typeof value === 'string') {
      const m = /^([a-z_.]+),(\d+)$/.exec(value);
      if (m) return `${m[1]},${this.ids.get(m[1], Number(m[2]))}`;
    }
    return value;
  }

  private mapDomain(model: string, domain: unknown): unknown {
    if (!Array.isArray(domain)) return domain;
    const modelLeaf = domain.find((l) => Array.isArray(l) && (l[0] === 'model' || l[0] === 'res_model') && l[1] === '=') as unknown[] | undefined;
    return domain.map((leaf) => {
      if (!Array.isArray(leaf) || leaf.length !== 3 || typeof leaf[0] !== 'string') return leaf;
      const [f, op, v] = leaf as [string, string, unknown];
      if (op === '>' || op === '<' || op === '>=' || op === '<=') return leaf;
      const rel = f === 'id' ? model : f === 'res_id' && modelLeaf ? String(modelLeaf[2]) : this.relation(model, f.split('.')[0] as string);
      return [f, op, rel ? this.mapValue(rel, v) : v];
    });
  }

  private mapVals(model: string, vals: unknown): unknown {
    if (!isObj(vals)) return vals;
    const out: Rec = {};
    for (const [k, v] of Object.entries(vals)) out[k] = this.mapValue(this.relation(model, k), v);
    return out;
  }

  private mapContext(ctx: unknown): unknown {
    if (!isObj(ctx)) return ctx;
    const out: Rec = { ...ctx };
    const m = typeof ctx.active_model === 'string' ? ctx.active_model : null;
    if (Array.isArray(ctx.active_ids)) out.active_ids = ctx.active_ids.map((x) => this.mapValue(m, x));
    if (typeof ctx.active_id === 'number') out.active_id = this.ids.get(m, ctx.active_id);
    return out;
  }

  /** The request as the sandbox gets it. */
  mapJsonRpc(ex: Exchange): { body: Rec; model: string | null; method: string | null } {
    const body = structuredClone(ex.request.body) as Rec;
    const params = body.params as Rec;
    const args = [...(params.args as unknown[])];
    let model: string | null = null;
    let method: string | null = null;
    const db = (v: unknown): unknown => (v === this.realDb ? this.sb.database : v);
    if (params.service === 'common' && (params.method === 'authenticate' || params.method === 'login')) {
      const login = String(args[1]);
      args[0] = db(args[0]);
      args[1] = this.creds.logins[login] ?? login;
      args[2] = this.secretFor(ex.why, null, login);
    } else if (params.service === 'object' && params.method === 'execute_kw') {
      const uid = args[1] as number;
      model = String(args[3]);
      method = String(args[4]);
      args[0] = db(args[0]);
      args[2] = this.secretFor(ex.why, uid, null);
      const pos = [...((args[5] as unknown[] | undefined) ?? [])];
      const kw = { ...((args[6] as Rec | undefined) ?? {}) };
      if (['read', 'write', 'unlink', 'message_post'].includes(method) && pos.length > 0) pos[0] = this.mapValue(model, pos[0]);
      if (['search_read', 'search', 'search_count'].includes(method) && pos.length > 0) pos[0] = this.mapDomain(model, pos[0]);
      if (method === 'write' && pos.length > 1) pos[1] = this.mapVals(model, pos[1]);
      if (method === 'create' && pos.length > 0)
        pos[0] = Array.isArray(pos[0]) ? pos[0].map((v) => this.mapVals(model as string, v)) : this.mapVals(model, pos[0]);
      if ('domain' in kw) kw.domain = this.mapDomain(model, kw.domain);
      if ('context' in kw) kw.context = this.mapContext(kw.context);
      for (const k of ['res_id', 'subtype_id', 'author_id'] as const) if (typeof kw[k] === 'number') kw[k] = this.mapValue(this.relation(model, k), kw[k]);
      args[5] = pos;
      args[6] = kw;
    }
    params.args = args;
    return { body, model, method };
  }

  mapPath(p: string): string {
    return p.replace(/\/(report\/(?:pdf|html)\/[^/]+)\/(\d+)/, (_m, pre: string, id: string) => `/${pre}/${this.ids.get('account.move', Number(id))}`);
  }

  async send(ex: Exchange): Promise<{ status: number; headers: Headers; json: unknown; text: string; model: string | null; method: string | null }> {
    const req = ex.request;
    const headers: Record<string, string> = {};
    if (typeof req.headers['content-type'] === 'string') headers['content-type'] = req.headers['content-type'];
    const cookieNames = (req.headers['cookie-names'] as string[] | undefined) ?? [];
    if (cookieNames.includes('session_id')) {
      if (/stale/i.test(ex.why)) headers.cookie = 'session_id=stale0000000000000000000000000000000000';
      else {
        // a session the recording opened in an earlier file: the recorder's last web login was admin's
        if (!this.cookie) await this.webLogin('admin');
        headers.cookie = this.cookie as string;
      }
    }
    let body: string | undefined;
    let model: string | null = null;
    let method: string | null = null;
    if (req.path === '/jsonrpc') {
      const m = this.mapJsonRpc(ex);
      body = JSON.stringify(m.body);
      model = m.model;
      method = m.method;
    } else if (req.path === '/web/session/authenticate') {
      const b = structuredClone(req.body) as Rec;
      const params = b.params as Rec;
      const login = String(params.login);
      params.db = params.db === this.realDb ? this.sb.database : params.db;
      params.login = this.creds.logins[login] ?? login;
      params.password = this.secretFor(ex.why, null, login);
      body = JSON.stringify(b);
    } else if (req.body !== undefined && req.body !== null && req.method === 'POST') {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    } else if (req.method === 'POST') body = '{}';
    const res = await fetch(`${this.sb.url}${this.mapPath(req.path)}`, {
      method: req.method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
    });
    const text = Buffer.from(await res.arrayBuffer()).toString('latin1');
    let json: unknown = null;
    if ((res.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(Buffer.from(text, 'latin1').toString('utf8'));
    if (req.path === '/web/session/authenticate') {
      const sc = res.headers.get('set-cookie');
      if (sc && isObj(json) && 'result' in json) this.cookie = sc.split(';')[0] as string;
    }
    return { status: res.status, headers: res.headers, json, text, model, method };
  }

  async webLogin(recordedLogin: string): Promise<void> {
    const login = this.creds.logins[recordedLogin] ?? recordedLogin;
    const uid = this.creds.uidOfLogin[recordedLogin] as number;
    const res = await fetch(`${this.sb.url}/web/session/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: { db: this.sb.database, login, password: this.creds.passwords[uid] } }),
    });
    await res.arrayBuffer();
    this.cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? null;
  }
}

// ---- shape comparison -----------------------------------------------------------------------

export function kind(v: unknown): string {
  if (v === false) return 'false';
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) {
    if (v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return 'm2o';
    if (v.length === 0) return 'empty';
    if (v.every((x) => typeof x === 'number')) return 'ids';
    return 'array';
  }
  return 'object';
}

/** Kinds that may stand for the same field (an empty value of any type is `false` or `[]`). */
function compatible(a: string, b: string): boolean {
  if (a === b) return true;
  // `false` is both a boolean and every other type's empty value
  const empty = (k: string): boolean => k === 'false' || k === 'empty' || k === 'null';
  if (empty(a) && (b !== 'bool' || a === 'false')) return true;
  if (empty(b) && (a !== 'bool' || b === 'false')) return true;
  if ((a === 'ids' && b === 'm2o') || (a === 'm2o' && b === 'ids')) return true; // a 2-id list looks like a pair
  if ((a === 'ids' || a === 'array') && (b === 'ids' || b === 'array')) return true;
  return false;
}

export interface Compared {
  same: boolean;
  differences: string[];
}

export function compareRecords(real: Rec[], sandbox: Rec[]): string[] {
  const out: string[] = [];
  const keys = (rows: Rec[]): Set<string> => new Set(rows.flatMap((r) => Object.keys(r)));
  const rk = keys(real);
  const sk = keys(sandbox);
  const missing = [...rk].filter((k) => !sk.has(k));
  const extra = [...sk].filter((k) => !rk.has(k));
  if (missing.length) out.push(`fields missing in the sandbox: ${missing.join(', ')}`);
  if (extra.length) out.push(`fields only the sandbox answers: ${extra.join(', ')}`);
  for (const k of rk) {
    if (!sk.has(k)) continue;
    const rKinds = new Set(real.map((r) => kind(r[k])));
    const sKinds = new Set(sandbox.map((r) => kind(r[k])));
    const bad = [...sKinds].filter((s) => ![...rKinds].some((r) => compatible(r, s)));
    if (bad.length) out.push(`${k}: real ${[...rKinds].join('|')}, sandbox ${[...sKinds].join('|')}`);
  }
  return out;
}

export function compareFieldsGet(real: Rec, sandbox: Rec): string[] {
  const out: string[] = [];
  const missing = Object.keys(real).filter((k) => !(k in sandbox));
  const extra = Object.keys(sandbox).filter((k) => !(k in real));
  if (missing.length) out.push(`fields_get: missing ${missing.join(', ')}`);
  if (extra.length) out.push(`fields_get: extra ${extra.join(', ')}`);
  for (const [k, d] of Object.entries(real)) {
    const s = sandbox[k];
    if (!isObj(d) || !isObj(s)) continue;
    if (d.type !== s.type) out.push(`fields_get ${k}: type real ${String(d.type)}, sandbox ${String(s.type)}`);
    if (d.relation !== undefined && d.relation !== s.relation) out.push(`fields_get ${k}: relation real ${String(d.relation)}, sandbox ${String(s.relation)}`);
  }
  return out;
}

export function comparePayload(real: unknown, sandbox: unknown, method: string | null, opts: { emptiness?: boolean } = {}): string[] {
  if (method === 'fields_get' && isObj(real) && isObj(sandbox)) return compareFieldsGet(real, sandbox);
  if (Array.isArray(real) && Array.isArray(sandbox)) {
    const rr = real.filter(isObj);
    const sr = sandbox.filter(isObj);
    if (rr.length && sr.length) return compareRecords(rr, sr);
    if (opts.emptiness && (real.length === 0) !== (sandbox.length === 0)) return [`real answered ${real.length} rows, the sandbox ${sandbox.length}`];
    if (rr.length === 0 && real.length && sandbox.length && kind(real) !== kind(sandbox) && !compatible(kind(real), kind(sandbox)))
      return [`result kind real ${kind(real)}, sandbox ${kind(sandbox)}`];
    return [];
  }
  if (isObj(real) && isObj(sandbox)) {
    const missing = Object.keys(real).filter((k) => !(k in sandbox));
    return missing.length ? [`keys missing in the sandbox: ${missing.join(', ')}`] : [];
  }
  const rk = kind(real);
  const sk = kind(sandbox);
  if (rk === sk || (rk === 'number' && sk === 'number')) return [];
  if ((rk === 'ids' || rk === 'empty') && (sk === 'ids' || sk === 'empty')) return [];
  return [`result real ${rk} ${JSON.stringify(real)?.slice(0, 60)}, sandbox ${sk} ${JSON.stringify(sandbox)?.slice(0, 60)}`];
}

/** A redirect target with the host dropped and every number replaced, so ids do not count. */
export function locationShape(loc: string | null | undefined): string {
  if (!loc) return '';
  return loc.replace(/^https?:\/\/[^/]+/, '').replace(/\d+/g, 'N');
}

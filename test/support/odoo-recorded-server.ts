/**
 * A replay server for the real Odoo 17/18 recordings in test/fixtures/odoo-real: it answers JSON-RPC
 * (`/jsonrpc`) and the web routes the adapter uses (`/web/session/authenticate`, `/report/pdf/...`) from
 * the recorded exchanges, so the adapter's real HTTP client runs against real Odoo's answers.
 *
 * How an `execute_kw` is answered, in this order (after what a test states explicitly, `modelled.call`):
 * 1. an exchange recorded with the same user, model, method and arguments (context ignored): its answer;
 * 2. a recorded error of that user on that model and method, when the same user has no recorded
 *    success of it: that error (AccessError, field-level AccessError, UserError...);
 * 3. by record: every row of a successful recorded `read`/`search_read`/`fields_get` forms a record
 *    index; `read` and `search_read` (the domain evaluated on the recorded rows) answer from it, `fields_get`
 *    from the recorded answer for that user; `create`/`write`/`unlink`/`message_post` succeed when the
 *    same user's call of the same shape (model, method, value keys) was recorded as a success;
 *    `check_access_rights` answers from the user's recorded successes and AccessErrors on the model.
 * Anything else — an unknown record, a field never recorded for it, a request of a shape never
 * recorded — answers HTTP 599 with "NOT RECORDED: ..." and is kept in `unknown`, so a test fails loudly.
 *
 * Behaviour the recordings do not hold must be given explicitly (`modelled`), named by the test.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type OdooVersionDir = '17.0' | '18.0';

interface Exchange {
  why: string;
  request: { method: string; path: string; headers?: Record<string, unknown>; body: unknown };
  response: { status: number; headers?: Record<string, unknown>; body: unknown };
}

export interface RecordedUser {
  uid: number;
  /** The password the test uses; `apiKey` is accepted by execute_kw and refused by the web login (as recorded). */
  password: string;
  apiKey?: string;
  lang: string;
}

/** Answers for calls the recordings do not hold, each named by the test that needs it. */
export interface Modelled {
  /** Extra records (model -> rows) added to the index, e.g. an xmlid the probes did not read. */
  records?: Record<string, Record<string, unknown>[]>;
  /** Custom handler tried before the loud failure; return undefined to fall through. */
  call?: (c: {
    uid: number;
    model: string;
    method: string;
    args: unknown[];
    kwargs: Record<string, unknown>;
  }) => { result: unknown } | { error: unknown } | undefined;
}

export interface RecordedCall {
  uid: number | null;
  model: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export interface RecordedOdoo {
  url: string;
  database: string;
  version: OdooVersionDir;
  calls: RecordedCall[];
  webCalls: { path: string; status: number }[];
  /** Web logins per login, and the most that were in flight at once per login. */
  webLogins: Map<string, { total: number; maxConcurrent: number }>;
  unknown: string[];
  /** Makes every open web session stale (the next /report answers 303 -> /web/login). */
  expireWebSessions(): void;
  /** While true, no web session is honoured (every /report answers 303 -> /web/login, as for a stale cookie). */
  refuseWebSessions(on: boolean): void;
  stop(): Promise<void>;
}

const FIXTURES = new URL('../fixtures/odoo-real/', import.meta.url);

export function loadExchanges(version: OdooVersionDir, file: string): Exchange[] {
  return JSON.parse(readFileSync(new URL(`${version}/${file}`, FIXTURES), 'utf8')) as Exchange[];
}

type Row = Record<string, unknown> & { id: number };

interface Rpc {
  uid: number;
  model: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

function rpcOf(x: Exchange): Rpc | null {
  const body = x.request.body as { params?: { service?: string; method?: string; args?: unknown[] } } | null;
  if (x.request.path !== '/jsonrpc' || body?.params?.service !== 'object' || body.params.method !== 'execute_kw') return null;
  const a = body.params.args ?? [];
  return { uid: Number(a[1]), model: String(a[3]), method: String(a[4]), args: (a[5] as unknown[]) ?? [], kwargs: (a[6] as Record<string, unknown>) ?? {} };
}

function sansContext(kw: Record<string, unknown>): Record<string, unknown> {
  const { context: _c, ...rest } = kw;
  return rest;
}

const canon = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val as object).sort(([a], [b]) => (a < b ? -1 : 1))) : val,
  );

/** Odoo domain on recorded rows: '&', '|', '!' prefixes and the operators the adapter uses. */
function evalDomain(domain: unknown[], row: Row, fail: (why: string) => never): boolean {
  let i = 0;
  const term = (): boolean => {
    const t = domain[i++];
    if (t === '&') return term() && term();
    if (t === '|') {
      const a = term();
      const b = term();
      return a || b;
    }
    if (t === '!') return !term();
    if (!Array.isArray(t) || t.length !== 3) fail(`domain term ${JSON.stringify(t)}`);
    const [field, op, value] = t as [string, string, unknown];
    if (!(field in row)) fail(`field "${field}" of ${row.id} in a domain`);
    let v = row[field];
    if (Array.isArray(v) && typeof v[0] === 'number' && field !== 'id' && !Array.isArray(value)) v = v[0]; // many2one
    if (Array.isArray(v) && typeof v[0] === 'number' && op === 'in') v = v[0];
    switch (op) {
      case '=':
        return v === value || (value === false && (v === false || v === null));
      case '!=':
        return v !== value;
      case 'in':
        return Array.isArray(value) && (Array.isArray(v) ? v.some((x) => value.includes(x)) : value.includes(v));
      case 'not in':
        return Array.isArray(value) && !value.includes(v);
      case '>':
        return v !== false && (v as number | string) > (value as number | string);
      case '>=':
        return v !== false && (v as number | string) >= (value as number | string);
      case '<':
        return v !== false && (v as number | string) < (value as number | string);
      case '<=':
        return v !== false && (v as number | string) <= (value as number | string);
      case '=like':
        return (
          typeof v === 'string' &&
          new RegExp(
            `^${String(value)
              .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
              .replace(/%/g, '.*')
              .replace(/_/g, '.')}$`,
          ).test(v)
        );
      default:
        return fail(`domain operator ${op}`);
    }
  };
  let ok = true;
  while (i < domain.length) ok = term() && ok;
  return ok;
}

class NotRecorded extends Error {}

export async function startRecordedOdoo(options: {
  version: OdooVersionDir;
  files: string[];
  users: Record<string, RecordedUser>;
  database?: string;
  /** The database default language (18: en_US, 17: pl_PL as recorded). */
  defaultLang?: string;
  modelled?: Modelled;
}): Promise<RecordedOdoo> {
  const version = options.version;
  const database = options.database ?? (version === '18.0' ? 'courier' : 'courier17');
  const defaultLang = options.defaultLang ?? (version === '18.0' ? 'en_US' : 'pl_PL');
  const exchanges = options.files.flatMap((f) => loadExchanges(version, f));
  const versionAnswer = loadExchanges(version, 'common.version.json').find(
    (x) => (x.request.body as { params?: { method?: string } })?.params?.method === 'version',
  )!;
  const authBad = loadExchanges(version, 'authenticate.bad.json');
  const webBad = loadExchanges(version, 'web.session.authenticate.bad.json')[0]!;
  const reportErrors = loadExchanges(version, 'report.errors.json');
  const loginAnswers = [...loadExchanges(version, 'report.redirect.json'), ...loadExchanges(version, 'report.no-redirect.json'), ...reportErrors].filter(
    (x) => x.request.path === '/web/session/authenticate',
  );

  // Users whose recorded /report request (after their own web login) was refused, with the recorded answer.
  const reportRefusals = new Map<number, Exchange>();
  let loggedIn: number | null = null;
  for (const x of [...loadExchanges(version, 'report.redirect.json'), ...loadExchanges(version, 'report.no-redirect.json'), ...reportErrors]) {
    if (x.request.path === '/web/session/authenticate') loggedIn = (x.response.body as { result?: { uid?: number } }).result?.uid ?? null;
    else if (loggedIn !== null && /^\/report\/pdf\//.test(x.request.path) && x.response.status === 403) reportRefusals.set(loggedIn, x);
  }

  const exact = new Map<string, unknown>();
  const successes = new Set<string>(); // uid model method
  const shapes = new Set<string>(); // uid model method keys
  const errors = new Map<string, unknown>(); // uid model method -> error body
  const index = new Map<string, Map<number, Row>>();
  const fieldsGet = new Map<string, Record<string, Record<string, unknown>>>(); // uid model -> fields
  const addRow = (model: string, row: Row): void => {
    let m = index.get(model);
    if (!m) index.set(model, (m = new Map()));
    const cur = m.get(row.id);
    m.set(row.id, cur ? { ...row, ...cur } : { ...row }); // first value of a field wins (file order)
  };
  const shapeOf = (r: { uid: number; model: string; method: string; args: unknown[]; kwargs: Record<string, unknown> }): string => {
    const vals =
      r.method === 'create'
        ? (r.args[0] as Record<string, unknown>[] | undefined)?.[0]
        : r.method === 'write'
          ? (r.args[1] as Record<string, unknown>)
          : sansContext(r.kwargs);
    return `${r.uid} ${r.model} ${r.method} ${Object.keys(vals ?? {})
      .sort()
      .join(',')}`;
  };
  for (const x of exchanges) {
    const r = rpcOf(x);
    if (!r) continue;
    const body = x.response.body as { result?: unknown; error?: unknown };
    exact.set(canon([r.uid, r.model, r.method, r.args, sansContext(r.kwargs)]), body);
    const key = `${r.uid} ${r.model} ${r.method}`;
    if ('error' in body) {
      if (!errors.has(key)) errors.set(key, body.error);
      continue;
    }
    successes.add(key);
    shapes.add(shapeOf(r));
    if ((r.method === 'read' || r.method === 'search_read') && Array.isArray(body.result)) {
      // What a plain AND domain asked with '=' holds for every row it answered (e.g. model = account.move).
      const domain = (r.kwargs.domain ?? r.args[0]) as unknown[] | undefined;
      const implied: Record<string, unknown> = {};
      if (r.method === 'search_read' && Array.isArray(domain) && domain.every((t) => Array.isArray(t))) {
        for (const [f, op, v] of domain as [string, string, unknown][]) if (op === '=' && !f.includes('.')) implied[f] = v;
      }
      for (const row of body.result as Row[]) if (row && typeof row.id === 'number') addRow(r.model, { ...implied, ...row });
    }
    if (r.method === 'fields_get' && body.result && typeof body.result === 'object') {
      const k = `${r.uid} ${r.model}`;
      if (!fieldsGet.has(k)) fieldsGet.set(k, body.result as Record<string, Record<string, unknown>>);
    }
  }
  for (const [model, rows] of Object.entries(options.modelled?.records ?? {})) for (const row of rows) addRow(model, row as Row);

  const calls: RecordedCall[] = [];
  const webCalls: { path: string; status: number }[] = [];
  const unknown: string[] = [];
  const sessions = new Map<string, string>(); // session id -> login
  const webLogins = new Map<string, { total: number; maxConcurrent: number }>();
  const inFlight = new Map<string, number>();
  let nextId = 100_000;
  let refuse = false;

  const fail = (why: string): never => {
    throw new NotRecorded(why);
  };
  const userByUid = (uid: number): [string, RecordedUser] | undefined => Object.entries(options.users).find(([, u]) => u.uid === uid);

  const pick = (model: string, id: number, fields: string[] | undefined): Row => {
    const row = index.get(model)?.get(id);
    if (!row) fail(`${model} record ${id}`);
    if (!fields || fields.length === 0) return row!;
    const out: Row = { id };
    for (const f of fields) {
      if (!(f in row!)) fail(`${model}.${f} of record ${id}`);
      out[f] = row![f];
    }
    return out;
  };

  const object = (r: Rpc): unknown => {
    const key = `${r.uid} ${r.model} ${r.method}`;
    // What a test states explicitly comes first (each use is named in the test).
    const custom = options.modelled?.call?.(r);
    if (custom) {
      if ('error' in custom) throw { odoo: custom.error };
      return custom.result;
    }
    const recorded = exact.get(canon([r.uid, r.model, r.method, r.args, sansContext(r.kwargs)]));
    if (recorded) {
      const b = recorded as { result?: unknown; error?: unknown };
      if ('error' in b) throw { odoo: b.error };
      return b.result;
    }
    if (errors.has(key) && !successes.has(key)) throw { odoo: errors.get(key) };
    switch (r.method) {
      case 'read': {
        const ids = r.args[0] as number[];
        const fields = (r.args[1] ?? r.kwargs.fields) as string[] | undefined;
        return ids.map((id) => pick(r.model, id, fields));
      }
      case 'search_read': {
        if (!successes.has(key) && !index.has(r.model)) fail(`${r.model}.search_read as uid ${r.uid}`);
        const domain = (r.kwargs.domain ?? r.args[0] ?? []) as unknown[];
        const fields = (r.kwargs.fields ?? r.args[1]) as string[] | undefined;
        let rows = [...(index.get(r.model)?.values() ?? [])].filter((row) => evalDomain(domain, row, fail));
        const order = String(r.kwargs.order ?? 'id');
        const [field, dir] = order.split(',')[0]!.trim().split(/\s+/);
        rows.sort((a, b) => {
          const x = a[field!] as number | string;
          const y = b[field!] as number | string;
          return (x < y ? -1 : x > y ? 1 : a.id - b.id) * (dir === 'desc' ? -1 : 1);
        });
        if (typeof r.kwargs.limit === 'number') rows = rows.slice(0, r.kwargs.limit);
        return rows.map((row) => pick(r.model, row.id, fields));
      }
      case 'fields_get': {
        const fg = fieldsGet.get(`${r.uid} ${r.model}`) ?? fail(`${r.model}.fields_get as uid ${r.uid}`);
        const attrs = (r.kwargs.attributes ?? r.args[1]) as string[] | undefined;
        return Object.fromEntries(
          Object.entries(fg).map(([k, v]) => [k, attrs ? Object.fromEntries(Object.entries(v).filter(([a]) => attrs.includes(a))) : v]),
        );
      }
      case 'check_access_rights': {
        const op = String(r.args[0]);
        const methods: Record<string, string[]> = { read: ['read', 'search_read'], create: ['create', 'message_post'], write: ['write'], unlink: ['unlink'] };
        const ms = methods[op] ?? [];
        const model = r.model;
        // A message_post on a record creates a mail.message as that user.
        const keys = [
          ...ms.map((m) => `${r.uid} ${model} ${m}`),
          ...(model === 'mail.message' && op === 'create' ? [`${r.uid} account.move message_post`] : []),
        ];
        if (keys.some((k) => errors.has(k) && isAccessError(errors.get(k)))) return false;
        if (keys.some((k) => successes.has(k))) return true;
        return fail(`${model}.check_access_rights(${op}) as uid ${r.uid}: no recorded ${ms.join('/')}`);
      }
      case 'create':
      case 'write':
      case 'unlink':
      case 'message_post': {
        if (r.method === 'unlink' || shapes.has(shapeOf(r))) {
          if (r.method === 'unlink' && !successes.has(key)) fail(`${r.model}.unlink as uid ${r.uid}`);
          if (r.method === 'create') return (r.args[0] as unknown[]).map(() => nextId++);
          if (r.method === 'message_post') return nextId++;
          return true;
        }
        return fail(`${shapeOf(r)} (no call of this shape recorded)`);
      }
      default:
        return fail(`${r.model}.${r.method} as uid ${r.uid}`);
    }
  };

  const jsonRpc = (body: { id?: unknown; params?: { service?: string; method?: string; args?: unknown[] } }): unknown => {
    const p = body.params ?? {};
    const args = p.args ?? [];
    const reply = (x: unknown): unknown => ({ jsonrpc: '2.0', id: body.id ?? null, ...(x as object) });
    if (p.service === 'common' && p.method === 'version') return reply({ result: (versionAnswer.response.body as { result: unknown }).result });
    if (p.service === 'common' && p.method === 'authenticate') {
      const [db, login, secret] = args as [string, string, string];
      calls.push({ uid: null, model: 'common', method: 'authenticate', args: [db, login], kwargs: {} });
      if (db !== database) {
        const e = authBad.find((x) => x.why.startsWith('unknown database'))!;
        return reply({ error: (e.response.body as { error: unknown }).error });
      }
      const u = options.users[login];
      return reply({ result: u && (u.password === secret || u.apiKey === secret) ? u.uid : false });
    }
    if (p.service === 'object' && p.method === 'execute_kw') {
      const [db, uid, secret, model, method, a, kw] = args as [string, number, string, string, string, unknown[], Record<string, unknown>];
      const r: Rpc = { uid, model, method, args: a ?? [], kwargs: kw ?? {} };
      calls.push({ uid, model, method, args: r.args, kwargs: r.kwargs });
      const u = userByUid(uid);
      if (db !== database || !u || (u[1].password !== secret && u[1].apiKey !== secret)) {
        const e = authBad.find((x) => x.why.startsWith('execute_kw with a wrong password'))!;
        return reply({ error: (e.response.body as { error: unknown }).error });
      }
      try {
        return reply({ result: object(r) });
      } catch (e) {
        if (e && typeof e === 'object' && 'odoo' in e) return reply({ error: (e as { odoo: unknown }).odoo });
        throw e;
      }
    }
    return fail(`JSON-RPC ${p.service}.${p.method}`);
  };

  const webLogin = async (body: { params?: { db?: string; login?: string; password?: string } }, res: http.ServerResponse): Promise<void> => {
    const { db, login = '', password } = body.params ?? {};
    const stats = webLogins.get(login) ?? { total: 0, maxConcurrent: 0 };
    webLogins.set(login, stats);
    stats.total++;
    const now = (inFlight.get(login) ?? 0) + 1;
    inFlight.set(login, now);
    stats.maxConcurrent = Math.max(stats.maxConcurrent, now);
    await new Promise((r) => setTimeout(r, 30)); // real logins take time: concurrent callers overlap
    inFlight.set(login, (inFlight.get(login) ?? 1) - 1);
    const u = options.users[login];
    // An API key is no web password: Odoo answers AccessDenied (web.session.authenticate.bad.json).
    if (db !== database || !u || u.password !== password) {
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(webBad.response.body));
      return;
    }
    const recorded = loginAnswers.find((x) => (x.response.body as { result?: { uid?: number } }).result?.uid === u.uid) ?? fail(`web login of ${login}`);
    const sid = randomBytes(16).toString('hex');
    sessions.set(sid, login);
    send(res, 200, { 'content-type': 'application/json', 'set-cookie': `session_id=${sid}; HttpOnly; Path=/` }, JSON.stringify(recorded.response.body));
  };

  const report = (path: string, cookies: Record<string, string>, res: http.ServerResponse): void => {
    const m = /^(?:\/([a-z]{2}))?\/report\/pdf\/([^/]+)\/(\d+)(\?.*)?$/.exec(path) ?? fail(`GET ${path}`);
    const [, prefix, , , query] = m;
    const login = cookies.session_id && !refuse ? sessions.get(cookies.session_id) : undefined;
    if (!login) {
      const loc = `/web/login?redirect=${encodeURIComponent(path.replace(/^\/[a-z]{2}(?=\/)/, '') + (query ? '' : '?'))}`;
      webCalls.push({ path, status: 303 });
      send(res, 303, { location: loc, 'content-type': 'text/html; charset=utf-8' }, 'Redirecting...');
      return;
    }
    const refusal = reportRefusals.get(options.users[login]!.uid);
    if (refusal) {
      webCalls.push({ path, status: refusal.response.status });
      send(res, refusal.response.status, { 'content-type': 'text/html; charset=utf-8' }, String((refusal.response.body as { text?: string }).text ?? ''));
      return;
    }
    const lang = options.users[login]!.lang;
    const want = lang.slice(0, 2);
    if (lang !== defaultLang && prefix !== want) {
      // Recorded: 303 -> /<lang>/report/... (18 billing pl_PL -> /pl/, 17 admin en_US -> /en/), frontend_lang set.
      const loc = `/${want}${path.replace(/^\/[a-z]{2}(?=\/)/, '')}`;
      webCalls.push({ path, status: 303 });
      send(res, 303, { location: loc, 'content-type': 'text/html; charset=utf-8', 'set-cookie': `frontend_lang=${lang}; Path=/` }, 'Redirecting...');
      return;
    }
    webCalls.push({ path, status: 200 });
    // The recordings keep only the PDF's size; the bytes are a minimal PDF carrying the path.
    send(res, 200, { 'content-type': 'application/pdf' }, Buffer.from(`%PDF-1.4\n% recorded as 221240 bytes: ${path}\n%%EOF\n`, 'latin1'));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        try {
          const raw = Buffer.concat(chunks).toString('utf8');
          if (req.method === 'POST' && path === '/jsonrpc') {
            send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(jsonRpc(JSON.parse(raw))));
          } else if (req.method === 'POST' && path === '/web/session/authenticate') {
            await webLogin(JSON.parse(raw), res);
          } else if (req.method === 'GET' && /\/report\/pdf\//.test(path)) {
            report(path, parseCookies(req.headers.cookie), res);
          } else if (path.startsWith('/json/2/')) {
            // Recorded on 18: JSON-2 is absent (303 -> /web/login); on 17: 404.
            const x = loadExchanges(version, 'json2.absent.json')[0]!;
            send(res, x.response.status, { ...(x.response.headers?.location ? { location: String(x.response.headers.location) } : {}) }, 'absent');
          } else fail(`${req.method} ${path}`);
        } catch (e) {
          const why = e instanceof NotRecorded ? e.message : String(e);
          unknown.push(why);
          send(res, 599, { 'content-type': 'text/plain' }, `NOT RECORDED: ${why}`);
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    database,
    version,
    calls,
    webCalls,
    webLogins,
    unknown,
    expireWebSessions: () => sessions.clear(),
    refuseWebSessions: (on: boolean) => {
      refuse = on;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function isAccessError(e: unknown): boolean {
  return /AccessError/.test(String((e as { data?: { name?: unknown } })?.data?.name ?? ''));
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const m = /^\s*([^=]+)=(.*)$/.exec(part);
    if (m) out[m[1]!.trim()] = m[2]!.trim();
  }
  return out;
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, headers);
  res.end(body);
}

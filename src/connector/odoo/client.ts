/**
 * Odoo transport over axios with keep-alive agents and a timeout per call, behind one interface
 * (`executeKw`) for both of Odoo's external APIs:
 * - JSON-RPC (`POST /jsonrpc`, `object.execute_kw`) for Odoo 17 and 18;
 * - JSON-2 (`POST /json/2/<model>/<method>`, `Authorization: bearer <api key>`, `X-Odoo-Database`, named
 *   arguments, errors as HTTP statuses with `{name, message, arguments}`) for Odoo 19 and later, chosen
 *   automatically from `common.version` (`protocol: 'auto'`). JSON-RPC is deprecated in 19, its removal
 *   announced for 22; when `/jsonrpc` is gone the version is read from `GET /web/version`.
 * Errors of both are translated to `ConnectorError` here (errors.ts), never above.
 *
 * - `call(service, method, args)` is the raw JSON-RPC call; `executeKw(model, method, args, kwargs)` on a
 *   `session(credential)` authenticates once (uid cached per credential) and always sends the context
 *   as `kwargs.context` (`lang`, `tz`, `allowed_company_ids` when a company is set).
 * - Faults are translated by `errors.ts`; transport failures are `host_unavailable`. Idempotent reads
 *   (`version`, `authenticate`, `search_read`, `read`, ...) are retried a bounded number of times with
 *   backoff; writes never are (a write whose answer got lost may have happened).
 * - Secrets are masked in every error message; axios errors (whose config holds the request body) never
 *   become a `cause`.
 * - Also the host's own prints, which need a browser session (`/web/session/authenticate`): one session
 *   per user and client, shared by every download (concurrent callers wait for the same login), renewed
 *   once when Odoo sends the request to `/web/login`. Odoo's same-host language redirect
 *   (`/report/pdf/...` 303 -> `/pl/report/pdf/...`, when the user's language is not the database
 *   default) is followed with the cookies it sets; it is not an expired session.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { ConnectorError } from '../../errors.ts';
import type { HostCredential } from '../port.ts';
import { redact, translateFault, unavailable, type CallDescription, type OdooFault } from './errors.ts';

export interface OdooClientOptions {
  baseUrl: string;
  database: string;
  /** Per-call timeout, ms (default 30 s). */
  timeoutMs?: number;
  /** Odoo company id put into `allowed_company_ids`; null = the user's main company. */
  companyId?: number | null;
  /** Context language (default `pl_PL`) and time zone (default `Europe/Warsaw`). */
  lang?: string;
  tz?: string;
  /** Attempts for idempotent reads on `host_unavailable` (default 3 = 1 + 2 retries). */
  readAttempts?: number;
  /** First backoff delay, ms (doubles each retry; default 200). */
  backoffMs?: number;
  /** Observer of every JSON-RPC request (tests count calls); never sees credentials. */
  onCall?: (call: CallDescription) => void;
  /** 'auto' (default): JSON-2 on Odoo 19+, JSON-RPC before. */
  protocol?: 'auto' | 'jsonrpc' | 'json2';
}

export type OdooProtocol = 'jsonrpc' | 'json2';

/** A downloaded web page/file through a user's web session. */
export interface WebAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  /** Where Odoo sent the request when it did not answer it (login page), else null. */
  location: string | null;
}

export interface OdooVersion {
  serverVersion: string;
  major: number;
}

/** Methods that only read: safe to retry after a transport failure. */
const IDEMPOTENT = new Set([
  'version',
  'login',
  'authenticate',
  'search_read',
  'search',
  'read',
  'search_count',
  'fields_get',
  'name_search',
  'read_group',
  'web_search_read',
  'web_read',
  'context_get',
]);

export type OdooContext = Record<string, unknown>;

interface JsonRpcResponse {
  result?: unknown;
  error?: OdooFault;
}

export class OdooClient {
  readonly database: string;
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly opts: OdooClientOptions;
  private readonly uids = new Map<string, Promise<number>>();
  private readonly secrets = new Set<string>();
  private versionPromise: Promise<OdooVersion> | null = null;
  private readonly webSessions = new Map<string, Promise<string>>();
  private nextId = 1;

  constructor(options: OdooClientOptions) {
    this.opts = options;
    this.database = options.database;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // With a socket timeout set, Node closes an idle keep-alive socket a second before the server's
    // announced `Keep-Alive: timeout=N` (without one it ignores the hint): a connection that waits between
    // calls (a split run's pages, its coordinator waiting for them) never sends a call, a create among
    // them, on a socket the server has just closed (ECONNRESET). Calls keep their own timeout below.
    const agentTimeout = Math.max(options.timeoutMs ?? 30_000, 1_000);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8, timeout: agentTimeout });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, timeout: agentTimeout });
    this.http = axios.create({
      baseURL: this.baseUrl,
      timeout: options.timeoutMs ?? 30_000,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: false,
      // We parse ourselves: a body that is not JSON must become host_unavailable, not a string result.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  /** The base context every execute_kw carries. */
  context(extra: OdooContext = {}): OdooContext {
    const ctx: OdooContext = { lang: this.opts.lang ?? 'pl_PL', tz: this.opts.tz ?? 'Europe/Warsaw' };
    if (this.opts.companyId != null) ctx.allowed_company_ids = [this.opts.companyId];
    return { ...ctx, ...extra };
  }

  /** Raw JSON-RPC `call` of `service.method(*args)`; retried on host_unavailable when `method` only reads. */
  async call(service: string, method: string, args: unknown[], describe?: CallDescription): Promise<unknown> {
    const desc = describe ?? { service, method };
    const idempotent = IDEMPOTENT.has(desc.method);
    const attempts = idempotent ? Math.max(1, this.opts.readAttempts ?? 3) : 1;
    let delay = this.opts.backoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(service, method, args, desc);
      } catch (e) {
        if (!(e instanceof ConnectorError) || e.code !== 'host_unavailable' || attempt >= attempts) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  private async once(service: string, method: string, args: unknown[], desc: CallDescription): Promise<unknown> {
    this.opts.onCall?.(desc);
    const body = { jsonrpc: '2.0', method: 'call', id: this.nextId++, params: { service, method, args } };
    const { parsed } = await this.post('/jsonrpc', body, desc);
    if (parsed.error) throw translateFault(parsed.error, desc, [...this.secrets]);
    return parsed.result;
  }

  private async post(
    path: string,
    body: unknown,
    desc: CallDescription,
    headers: Record<string, string> = {},
  ): Promise<{ parsed: JsonRpcResponse; headers: Record<string, unknown> }> {
    let res;
    try {
      res = await this.http.post<string>(path, JSON.stringify(body), {
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const reason = err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' ? 'timeout' : (err.code ?? 'network error');
      throw unavailable(desc, redact(reason, [...this.secrets]), e);
    }
    if (res.status >= 500) throw unavailable(desc, `HTTP ${res.status}`);
    if (res.status !== 200) {
      if (res.status === 404) throw new ConnectorError('host_not_found', `Odoo has no ${path} (HTTP 404): is ${this.baseUrl} an Odoo server?`);
      throw unavailable(desc, `HTTP ${res.status}`);
    }
    let parsed: JsonRpcResponse;
    try {
      parsed = JSON.parse(String(res.data)) as JsonRpcResponse;
    } catch {
      throw unavailable(desc, 'the answer is not JSON');
    }
    if (!parsed || typeof parsed !== 'object' || (!('result' in parsed) && !('error' in parsed))) {
      throw unavailable(desc, 'the answer is not a JSON-RPC response');
    }
    return { parsed, headers: res.headers as Record<string, unknown> };
  }

  /** `common.version` (or `GET /web/version` where `/jsonrpc` is gone), cached. */
  version(): Promise<OdooVersion> {
    this.versionPromise ??= (async () => {
      const v = (await this.call('common', 'version', []).catch(async (e: unknown) => {
        if (!(e instanceof ConnectorError) || e.code !== 'host_not_found') throw e;
        const web = await this.getJson('/web/version', { service: 'web', method: 'version' });
        if (!web) throw e;
        const w = web as { version?: unknown; version_info?: unknown };
        return { server_version: w.version, server_version_info: w.version_info };
      })) as { server_version?: string; server_version_info?: unknown[] };
      const serverVersion = String(v?.server_version ?? '');
      const info0 = Array.isArray(v?.server_version_info) ? Number(v.server_version_info[0]) : NaN;
      const major = Number.isFinite(info0) ? info0 : parseInt(serverVersion.replace(/^saas~/, ''), 10);
      return { serverVersion, major: Number.isFinite(major) ? major : 0 };
    })();
    this.versionPromise.catch(() => (this.versionPromise = null));
    return this.versionPromise;
  }

  /** Which external API this client speaks to the host (JSON-2 on Odoo 19+ unless forced). */
  async protocol(): Promise<OdooProtocol> {
    const forced = this.opts.protocol ?? 'auto';
    if (forced !== 'auto') return forced;
    const v = await this.version();
    return v.major >= 19 ? 'json2' : 'jsonrpc';
  }

  /**
   * The uid of a credential, or null when Odoo refuses it (JSON-RPC: `common.authenticate` answers
   * `false`; JSON-2: `res.users/context_get` answers 401, which is also what a password instead of an
   * API key gets). Not cached.
   */
  async authenticate(credential: HostCredential): Promise<number | null> {
    this.secrets.add(credential.secret);
    if ((await this.protocol()) === 'json2') {
      try {
        const ctx = (await this.json2(credential, 'res.users', 'context_get', {})) as { uid?: unknown } | null;
        return typeof ctx?.uid === 'number' && ctx.uid > 0 ? ctx.uid : null;
      } catch (e) {
        if (e instanceof ConnectorError && e.code === 'host_auth') return null;
        throw e;
      }
    }
    const uid = await this.call('common', 'authenticate', [this.database, credential.login, credential.secret, {}]);
    return typeof uid === 'number' && uid > 0 ? uid : null;
  }

  /** Keeps the uid an explicit `authenticate` just proved, so the credential's calls do not log in again. */
  rememberUid(credential: HostCredential, uid: number): void {
    this.uids.set(`${credential.login}\u0000${credential.secret}`, Promise.resolve(uid));
  }

  /** uid for a credential, authenticating once; `host_auth` when the credential does not log in. */
  uid(credential: HostCredential): Promise<number> {
    const key = `${credential.login}\u0000${credential.secret}`;
    let p = this.uids.get(key);
    if (!p) {
      p = this.authenticate(credential).then((uid) => {
        if (uid === null) {
          throw new ConnectorError('host_auth', `Odoo user "${credential.login}" cannot log in to database "${this.database}"`, {
            detail: { login: credential.login },
          });
        }
        return uid;
      });
      this.uids.set(key, p);
      p.catch(() => this.uids.delete(key));
    }
    return p;
  }

  /** A handle that runs `execute_kw` as the given credential. */
  session(credential: HostCredential): OdooSession {
    this.secrets.add(credential.secret);
    return new OdooSession(this, credential);
  }

  /** `execute_kw` as `credential`; context merged into `kwargs.context`. */
  async executeKw(credential: HostCredential, model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<unknown> {
    const uid = await this.uid(credential);
    const { context, ...rest } = kwargs as { context?: OdooContext };
    const kw = { ...rest, context: this.context(context ?? {}) };
    try {
      if ((await this.protocol()) === 'json2') return await this.json2(credential, model, method, json2Body(method, args, kw));
      return await this.call('object', 'execute_kw', [this.database, uid, credential.secret, model, method, args, kw], {
        service: 'object',
        method,
        model,
      });
    } catch (e) {
      // A password changed since we cached the uid: forget it so the next call re-authenticates.
      if (e instanceof ConnectorError && e.code === 'host_auth') this.uids.delete(`${credential.login}\u0000${credential.secret}`);
      throw e;
    }
  }

  /**
   * One JSON-2 call: `POST /json/2/<model>/<method>` with the named arguments. Reads are retried like
   * JSON-RPC reads. Odoo's error body `{name, message, arguments}` is classified by `name` like a
   * JSON-RPC fault; 401 is a refused key; a 303 to the login page means the host has no JSON-2.
   */
  async json2(credential: HostCredential, model: string, method: string, body: Record<string, unknown>): Promise<unknown> {
    this.secrets.add(credential.secret);
    const desc: CallDescription = { service: 'json2', method, model };
    const idempotent = IDEMPOTENT.has(method);
    const attempts = idempotent ? Math.max(1, this.opts.readAttempts ?? 3) : 1;
    let delay = this.opts.backoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.json2Once(credential, model, method, body, desc);
      } catch (e) {
        if (!(e instanceof ConnectorError) || e.code !== 'host_unavailable' || attempt >= attempts) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  private async json2Once(credential: HostCredential, model: string, method: string, body: Record<string, unknown>, desc: CallDescription): Promise<unknown> {
    this.opts.onCall?.(desc);
    let res;
    try {
      res = await this.http.post<string>(`/json/2/${encodeURIComponent(model)}/${encodeURIComponent(method)}`, JSON.stringify(body), {
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          Authorization: `bearer ${credential.secret}`,
          'X-Odoo-Database': this.database,
        },
      });
    } catch (e) {
      const err = e as { code?: string };
      const reason = err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' ? 'timeout' : (err.code ?? 'network error');
      throw unavailable(desc, reason, e);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(res.data));
    } catch {
      parsed = undefined;
    }
    if (res.status === 200) {
      if (parsed === undefined) throw unavailable(desc, 'the answer is not JSON');
      return parsed;
    }
    if (res.status >= 300 && res.status < 400) {
      throw new ConnectorError(
        'host_not_found',
        `Odoo at ${this.baseUrl} has no JSON-2 API (${model}.${method} answered HTTP ${res.status}); it needs Odoo 19 or later`,
        {
          detail: { call: `${model}.${method}`, status: res.status },
        },
      );
    }
    const err = parsed && typeof parsed === 'object' ? (parsed as { name?: unknown; message?: unknown; arguments?: unknown[] }) : null;
    if (res.status === 401) {
      throw new ConnectorError(
        'host_auth',
        `Odoo refused the API key of "${credential.login}" (${redact(String(err?.message ?? 'HTTP 401'), [...this.secrets])})`,
        {
          detail: { odooError: typeof err?.name === 'string' ? err.name : null, status: 401, login: credential.login },
        },
      );
    }
    if (!err || typeof err.name !== 'string') {
      if (res.status >= 500 || res.status === 429) throw unavailable(desc, `HTTP ${res.status}`);
      if (res.status === 404)
        throw new ConnectorError('host_not_found', `Odoo has no ${model}.${method} (HTTP 404)`, { detail: { call: `${model}.${method}`, status: 404 } });
      throw unavailable(desc, `HTTP ${res.status}`);
    }
    // JSON-2 404 is MissingError (a record), not an unknown route: classify by name, not by status.
    return Promise.reject(
      translateFault(
        {
          code: res.status === 404 ? 200 : res.status,
          message: String(err.message ?? ''),
          data: { name: err.name, message: String(err.message ?? ''), arguments: err.arguments ?? [] },
        },
        desc,
        [...this.secrets],
      ),
    );
  }

  /** GET a JSON document (no session); null when the host has no such route. */
  private async getJson(path: string, desc: CallDescription): Promise<unknown> {
    this.opts.onCall?.(desc);
    let res;
    try {
      res = await this.http.get<string>(path, { headers: { Accept: 'application/json' } });
    } catch (e) {
      const err = e as { code?: string };
      throw unavailable(desc, err.code ?? 'network error', e);
    }
    if (res.status !== 200) return null;
    try {
      return JSON.parse(String(res.data));
    } catch {
      return null;
    }
  }

  /**
   * `/web/session/authenticate` (for `/report/pdf/...`, which needs a browser session; API keys do not
   * work there). Returns the `session_id` cookie; `host_auth` when the login is refused.
   */
  async webLogin(credential: HostCredential): Promise<string> {
    this.secrets.add(credential.secret);
    const desc = { service: 'web', method: 'session/authenticate' };
    this.opts.onCall?.(desc);
    const body = {
      jsonrpc: '2.0',
      method: 'call',
      id: this.nextId++,
      params: { db: this.database, login: credential.login, password: credential.secret },
    };
    const out = await this.post('/web/session/authenticate', body, desc);
    if (out.parsed.error) {
      const err = translateFault(out.parsed.error, desc, [...this.secrets]);
      throw err.code === 'host_auth' || err.code === 'host_validation'
        ? new ConnectorError('host_auth', `Odoo user "${credential.login}" cannot open a web session`, { detail: err.detail })
        : err;
    }
    const result = out.parsed.result as { uid?: unknown } | false | null | undefined;
    const uid = result && typeof result === 'object' ? result.uid : null;
    if (typeof uid !== 'number' || uid <= 0) {
      throw new ConnectorError('host_auth', `Odoo user "${credential.login}" cannot open a web session`);
    }
    const cookies = out.headers['set-cookie'];
    const list = Array.isArray(cookies) ? (cookies as string[]) : typeof cookies === 'string' ? [cookies] : [];
    for (const c of list) {
      const m = /(?:^|;\s*)session_id=([^;]+)/.exec(c);
      if (m) return m[1]!;
    }
    throw unavailable(desc, 'no session cookie in the answer');
  }

  /** GET a path with a session cookie; the raw answer (no redirects followed). */
  async getWithSession(path: string, sessionId: string, extraCookies: Record<string, string> = {}): Promise<WebAnswer & { cookies: Record<string, string> }> {
    const desc = { service: 'web', method: `GET ${path.replace(/\?.*$/, '').replace(/\/\d+(?=$|[/?])/g, '/<id>')}` };
    this.opts.onCall?.(desc);
    const cookie = Object.entries({ session_id: sessionId, ...extraCookies })
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
    try {
      const res = await this.http.get<ArrayBuffer>(path, {
        responseType: 'arraybuffer',
        transformResponse: [(d: unknown) => d],
        headers: { Cookie: cookie },
      });
      const location = typeof res.headers.location === 'string' ? res.headers.location : null;
      return {
        status: res.status,
        contentType: String(res.headers['content-type'] ?? ''),
        body: Buffer.from(res.data as ArrayBuffer),
        location,
        cookies: parseSetCookies(res.headers['set-cookie']),
      };
    } catch (e) {
      const err = e as { code?: string };
      throw unavailable(desc, err.code === 'ECONNABORTED' ? 'timeout' : (err.code ?? 'network error'), e);
    }
  }

  /** The shared web session of a credential: one login per user and client, whatever the concurrency. */
  private webSession(credential: HostCredential): Promise<string> {
    const key = `${credential.login}\u0000${credential.secret}`;
    let p = this.webSessions.get(key);
    if (!p) {
      p = this.webLogin(credential);
      this.webSessions.set(key, p);
      p.catch(() => {
        if (this.webSessions.get(key) === p) this.webSessions.delete(key);
      });
    }
    return p;
  }

  /**
   * GET a web route as `credential` through its shared web session. Follows Odoo's same-host redirects
   * (the language prefix) with the cookies they set; a redirect to the login page means the session
   * expired: it is renewed once (by the first caller that sees it), then the answer is returned as is.
   */
  async webGet(credential: HostCredential, path: string): Promise<WebAnswer> {
    for (let renewed = false; ; renewed = true) {
      const sid = await this.webSession(credential);
      const answer = await this.followSameHost(path, sid);
      if (answer.status >= 300 && answer.status < 400 && isLoginRedirect(answer.location)) {
        if (renewed) return answer;
        const key = `${credential.login}\u0000${credential.secret}`;
        const current = this.webSessions.get(key);
        if (current && (await current.catch(() => null)) === sid) this.webSessions.delete(key);
        continue;
      }
      return answer;
    }
  }

  private async followSameHost(path: string, sid: string): Promise<WebAnswer> {
    let target = path;
    const cookies: Record<string, string> = {};
    for (let hop = 0; ; hop++) {
      const res = await this.getWithSession(target, sid, cookies);
      Object.assign(cookies, res.cookies);
      delete cookies.session_id;
      const next = res.status >= 300 && res.status < 400 ? this.sameHostPath(res.location) : null;
      if (next === null || isLoginRedirect(next) || hop >= 3) return res;
      target = next;
    }
  }

  /** A Location on this host as a path, or null (another host, or none). */
  private sameHostPath(location: string | null): string | null {
    if (!location) return null;
    if (location.startsWith('/') && !location.startsWith('//')) return location;
    try {
      const url = new URL(location);
      const base = new URL(this.baseUrl);
      return url.host === base.host ? `${url.pathname}${url.search}` : null;
    } catch {
      return null;
    }
  }

  /** Frees keep-alive sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** `execute_kw` bound to one credential. */
export class OdooSession {
  constructor(
    readonly client: OdooClient,
    readonly credential: HostCredential,
  ) {}

  get login(): string {
    return this.credential.login;
  }

  uid(): Promise<number> {
    return this.client.uid(this.credential);
  }

  executeKw<T = unknown>(model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<T> {
    return this.client.executeKw(this.credential, model, method, args, kwargs) as Promise<T>;
  }

  searchRead<T = OdooRecord>(
    model: string,
    domain: unknown[],
    fields: string[],
    opts: { limit?: number; order?: string; context?: OdooContext } = {},
  ): Promise<T[]> {
    const kwargs: Record<string, unknown> = { domain, fields };
    if (opts.limit !== undefined) kwargs.limit = opts.limit;
    if (opts.order !== undefined) kwargs.order = opts.order;
    if (opts.context) kwargs.context = opts.context;
    return this.executeKw<T[]>(model, 'search_read', [], kwargs);
  }

  read<T = OdooRecord>(model: string, ids: number[], fields: string[]): Promise<T[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.executeKw<T[]>(model, 'read', [ids], { fields });
  }
}

/** `/web/login` (with or without a language prefix, e.g. `/pl/web/login`): the session is gone. */
function isLoginRedirect(location: string | null): boolean {
  if (!location) return false;
  const path = location.replace(/^https?:\/\/[^/]+/, '');
  return /^(?:\/[a-z]{2}(?:_[A-Z]{2})?)?\/web\/login(?:[?#]|$)/.test(path);
}

function parseSetCookies(header: unknown): Record<string, string> {
  const list = Array.isArray(header) ? (header as string[]) : typeof header === 'string' ? [header] : [];
  const out: Record<string, string> = {};
  for (const c of list) {
    const m = /^\s*([^=;\s]+)=([^;]*)/.exec(c);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Positional `execute_kw` arguments of the methods the adapter calls, by name (JSON-2 takes only names). */
const POSITIONAL: Record<string, string[]> = {
  search_read: ['domain', 'fields', 'offset', 'limit', 'order'],
  search: ['domain', 'offset', 'limit', 'order'],
  search_count: ['domain'],
  read: ['ids', 'fields'],
  write: ['ids', 'vals'],
  create: ['vals_list'],
  unlink: ['ids'],
  fields_get: ['allfields', 'attributes'],
  message_post: ['ids'],
  context_get: [],
  has_access: ['operation'],
  check_access_rights: ['operation'],
};

/** `execute_kw(args, kwargs)` -> the JSON-2 body (named arguments, `ids` for record methods, `context`). */
export function json2Body(method: string, args: unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
  const names = POSITIONAL[method] ?? ['ids'];
  if (args.length > names.length) {
    throw new ConnectorError('internal', `JSON-2: no argument names for ${args.length} positional arguments of ${method}`);
  }
  const body: Record<string, unknown> = {};
  args.forEach((a, i) => (body[names[i]!] = a));
  return { ...body, ...kwargs };
}

/** A record as Odoo returns it: `false` for empty, many2one as `[id, display_name]`. */
export type OdooRecord = Record<string, unknown> & { id: number };

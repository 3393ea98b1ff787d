/**
 * Odoo JSON-RPC transport (`POST /jsonrpc`) over axios with keep-alive agents and a timeout per call.
 *
 * - `call(service, method, args)` is the raw JSON-RPC call; `executeKw(model, method, args, kwargs)` on a
 *   `session(credential)` authenticates once (uid cached per credential) and always sends the context
 *   as `kwargs.context` (`lang`, `tz`, `allowed_company_ids` when a company is set).
 * - Faults are translated by `errors.ts`; transport failures are `host_unavailable`. Idempotent reads
 *   (`version`, `authenticate`, `search_read`, `read`, ...) are retried a bounded number of times with
 *   backoff; writes never are (a write whose answer got lost may have happened).
 * - Secrets are masked in every error message; axios errors (whose config holds the request body) never
 *   become a `cause`.
 * - Also the two session endpoints the host's own prints need: `/web/session/authenticate` and a GET
 *   with the session cookie.
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
  private nextId = 1;

  constructor(options: OdooClientOptions) {
    this.opts = options;
    this.database = options.database;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
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

  /** `common.version`, cached. */
  version(): Promise<OdooVersion> {
    this.versionPromise ??= (async () => {
      const v = (await this.call('common', 'version', [])) as { server_version?: string; server_version_info?: unknown[] };
      const serverVersion = String(v?.server_version ?? '');
      const info0 = Array.isArray(v?.server_version_info) ? Number(v.server_version_info[0]) : NaN;
      const major = Number.isFinite(info0) ? info0 : parseInt(serverVersion.replace(/^saas~/, ''), 10);
      return { serverVersion, major: Number.isFinite(major) ? major : 0 };
    })();
    this.versionPromise.catch(() => (this.versionPromise = null));
    return this.versionPromise;
  }

  /** `common.authenticate`: the uid, or null when Odoo answers `false` (bad credentials). Not cached. */
  async authenticate(credential: HostCredential): Promise<number | null> {
    this.secrets.add(credential.secret);
    const uid = await this.call('common', 'authenticate', [this.database, credential.login, credential.secret, {}]);
    return typeof uid === 'number' && uid > 0 ? uid : null;
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
  async executeKw(
    credential: HostCredential,
    model: string,
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ): Promise<unknown> {
    const uid = await this.uid(credential);
    const { context, ...rest } = kwargs as { context?: OdooContext };
    const kw = { ...rest, context: this.context(context ?? {}) };
    try {
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
  async getWithSession(path: string, sessionId: string): Promise<{ status: number; contentType: string; body: Buffer }> {
    const desc = { service: 'web', method: `GET ${path.replace(/\/\d+(?=$|[/?])/g, '/<id>')}` };
    this.opts.onCall?.(desc);
    try {
      const res = await this.http.get<ArrayBuffer>(path, {
        responseType: 'arraybuffer',
        transformResponse: [(d: unknown) => d],
        headers: { Cookie: `session_id=${sessionId}` },
      });
      return {
        status: res.status,
        contentType: String(res.headers['content-type'] ?? ''),
        body: Buffer.from(res.data as ArrayBuffer),
      };
    } catch (e) {
      const err = e as { code?: string };
      throw unavailable(desc, err.code === 'ECONNABORTED' ? 'timeout' : (err.code ?? 'network error'), e);
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

  searchRead<T = OdooRecord>(model: string, domain: unknown[], fields: string[], opts: { limit?: number; order?: string; context?: OdooContext } = {}): Promise<T[]> {
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

/** A record as Odoo returns it: `false` for empty, many2one as `[id, display_name]`. */
export type OdooRecord = Record<string, unknown> & { id: number };

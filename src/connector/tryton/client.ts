/**
 * A small Tryton 6.0 JSON-RPC client: login, session header, user context, tagged values, timeouts,
 * one re-login on an expired session, and error classification (errors.ts).
 *
 * Protocol (measured against Tryton 6.0 from Debian):
 *  - `POST <baseUrl>/<db>/` with `{id, method, params}`; `common.server.version` goes to `<baseUrl>/`.
 *  - `common.db.login [login, {password}]` -> `[uid, session]`; later calls carry
 *    `Authorization: Session base64("<login>:<uid>:<session>")`.
 *  - Model calls take the user context as their LAST positional parameter; it comes from
 *    `model.res.user.get_preferences [true, {}]` once per session.
 *  - Values are tagged: `{"__class__":"Decimal","decimal":"1895.00"}`, `{"__class__":"date",...}`,
 *    `datetime`, `time`, `timedelta`, `bytes` (base64). `decodeValue` turns them into decimal strings,
 *    ISO dates/instants and `Uint8Array`, never floats.
 *
 * Login throttling: Tryton answers every failed login slowly (random sleep up to 2^n-1 s) and refuses
 * logins after 5 failures in its window. So a client never repeats a failing login: one attempt per
 * call that needs it, and a failed login (bad password, rate limit) is remembered by a `LoginGuard`
 * for `holdMs` (default 60 s) per (server, database, login, password digest): calls within that time
 * fail at once with the same error, without contacting Tryton. A different password is a different key,
 * so a corrected password is tried immediately.
 */
import { createHash } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { DateTime } from 'luxon';
import { ConnectorError } from '../../errors.ts';
import { faultToError, networkToError, statusToError } from './errors.ts';

export type TrytonContext = Record<string, unknown>;

const LOGIN_TIMEOUT_MS = 35_000;

export interface TrytonClientOptions {
  /** e.g. "http://127.0.0.1:8000" (no database part). */
  baseUrl: string;
  database: string;
  login: string;
  /** Password; never logged, never put into an error. */
  secret: string;
  /** Per-call timeout (ms); default 20 000. */
  timeoutMs?: number;
  /** Company id forced into the context (else the user's current company). */
  companyId?: number | null;
  /** Remembers failed logins; default: one guard shared by all clients of this process. */
  loginGuard?: LoginGuard;
}

/** Remembers failed logins for a short time so that a failing password is never hammered. */
export class LoginGuard {
  private readonly failures = new Map<string, { until: number; error: ConnectorError }>();
  constructor(
    private readonly holdMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws the remembered error while a recent failure for this key is on hold. */
  check(key: string): void {
    const f = this.failures.get(key);
    if (!f) return;
    if (f.until > this.now()) {
      throw new ConnectorError(f.error.code, `${f.error.message} (not retried for ${this.holdMs / 1000} s after a failed login)`, {
        detail: { ...f.error.detail, onHold: true },
        retryable: f.error.retryable,
      });
    }
    this.failures.delete(key);
  }

  fail(key: string, error: ConnectorError): void {
    this.failures.set(key, { until: this.now() + this.holdMs, error });
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}

let sharedGuard: LoginGuard | undefined;
/** The process-wide guard (created on first use, not at import). */
export function defaultLoginGuard(): LoginGuard {
  sharedGuard ??= new LoginGuard();
  return sharedGuard;
}

/** Decodes Tryton's tagged JSON values, recursively. Decimal -> decimal string, never a float. */
export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  switch (v.__class__) {
    case 'Decimal':
      return canonicalDecimal(String(v.decimal));
    case 'date':
      return isoDate(Number(v.year), Number(v.month), Number(v.day));
    case 'datetime': {
      // Tryton keeps naive UTC datetimes (create_date, write_date).
      const dt = DateTime.fromObject(
        {
          year: Number(v.year),
          month: Number(v.month),
          day: Number(v.day),
          hour: Number(v.hour ?? 0),
          minute: Number(v.minute ?? 0),
          second: Number(v.second ?? 0),
          millisecond: Math.floor(Number(v.microsecond ?? 0) / 1000),
        },
        { zone: 'utc' },
      );
      return dt.toISO();
    }
    case 'time':
      return [v.hour, v.minute, v.second].map((n) => String(Number(n ?? 0)).padStart(2, '0')).join(':');
    case 'timedelta':
      return Number(v.seconds);
    case 'bytes':
      return new Uint8Array(Buffer.from(String(v.base64), 'base64'));
    default: {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = decodeValue(x);
      return out;
    }
  }
}

function isoDate(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** "1895.00" stays "1895.00"; "1E+1" -> "10"; "-0.50" stays. Rejects anything that is not a number. */
export function canonicalDecimal(s: string): string {
  const t = s.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return t;
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(t);
  if (!m) throw new ConnectorError('host_unavailable', `Tryton sent a malformed decimal: ${t.slice(0, 40)}`);
  const [, sign, int, frac = '', expText] = m;
  const exp = Number(expText);
  let digits = int! + frac;
  let point = int!.length + exp;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits = digits + '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const rest = digits.slice(point);
  return `${sign}${whole}${rest ? `.${rest}` : ''}`;
}

/** Tagged values for parameters. */
export const tagged = {
  date(iso: string): Record<string, unknown> {
    const [y, m, d] = iso.split('-').map(Number);
    return { __class__: 'date', year: y, month: m, day: d };
  },
  /** A UTC instant as Tryton's naive UTC datetime (how it keeps create_date and write_date). */
  datetime(iso: string): Record<string, unknown> {
    const dt = DateTime.fromISO(iso, { zone: 'utc' }).toUTC();
    return {
      __class__: 'datetime',
      year: dt.year,
      month: dt.month,
      day: dt.day,
      hour: dt.hour,
      minute: dt.minute,
      second: dt.second,
      microsecond: dt.millisecond * 1000,
    };
  },
  bytes(data: Uint8Array): Record<string, unknown> {
    return { __class__: 'bytes', base64: Buffer.from(data).toString('base64') };
  },
  decimal(value: string): Record<string, unknown> {
    return { __class__: 'Decimal', decimal: value };
  },
};

interface Session {
  uid: number;
  header: string;
  context: TrytonContext;
}

export class TrytonClient {
  private readonly http: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly guard: LoginGuard;
  private readonly guardKey: string;
  private session: Promise<Session> | null = null;
  private nextId = 1;

  constructor(private readonly options: TrytonClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.guard = options.loginGuard ?? defaultLoginGuard();
    const digest = createHash('sha256').update(options.secret).digest('hex').slice(0, 16);
    this.guardKey = `${options.baseUrl}|${options.database}|${options.login}|${digest}`;
    this.http = axios.create({
      baseURL: options.baseUrl.replace(/\/+$/, ''),
      timeout: this.timeoutMs,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  get login(): string {
    return this.options.login;
  }

  /** The logged-in user's id (logs in when needed). */
  async uid(): Promise<number> {
    return (await this.ensureSession()).uid;
  }

  /** The context passed to every model call (company, language, ...). */
  async context(): Promise<TrytonContext> {
    return { ...(await this.ensureSession()).context };
  }

  /** Logs in now (one attempt; a recent failure is answered from the guard). */
  async authenticate(): Promise<number> {
    return this.uid();
  }

  /** `common.server.version` (no login needed). */
  async serverVersion(): Promise<string> {
    const v = await this.post('/', 'common.server.version', [], null, 'call');
    return String(v);
  }

  /**
   * `model.<model>.<method>` with the user context appended as the last parameter. `extraContext`
   * is merged into it (e.g. `{date}` for currency rates).
   */
  async model<T = unknown>(model: string, method: string, params: unknown[], extraContext?: TrytonContext): Promise<T> {
    return this.withSession(`model.${model}.${method}`, (s) => [...params, { ...s.context, ...extraContext }]) as Promise<T>;
  }

  /** `report.<name>.execute [ids, data, context]` -> `[extension, bytes, direct, name]`. */
  async report(name: string, ids: number[], timeoutMs?: number): Promise<{ extension: string; data: Uint8Array; name: string }> {
    const r = await this.withSession(`report.${name}.execute`, (s) => [ids, {}, s.context], timeoutMs);
    if (!Array.isArray(r) || r.length < 2) {
      throw new ConnectorError('host_unavailable', 'Tryton returned an unreadable report', { detail: { report: name } });
    }
    const [extension, data, , title] = r as [unknown, unknown, unknown, unknown];
    const bytes = data instanceof Uint8Array ? data : typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array();
    return { extension: String(extension), data: bytes, name: String(title ?? name) };
  }

  private async withSession(method: string, params: (s: Session) => unknown[], timeoutMs?: number): Promise<unknown> {
    const session = await this.ensureSession();
    try {
      return await this.post(`/${this.options.database}/`, method, params(session), session.header, 'call', timeoutMs);
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === 'host_auth' && err.detail?.status === 401)) throw err;
      // The session expired (or the server restarted): log in once more, then give up.
      if (this.session) {
        const current = await this.session.catch(() => null);
        if (current === session) this.session = null;
      }
      const fresh = await this.ensureSession();
      return await this.post(`/${this.options.database}/`, method, params(fresh), fresh.header, 'call', timeoutMs);
    }
  }

  private ensureSession(): Promise<Session> {
    if (!this.session) {
      const attempt = this.doLogin();
      this.session = attempt;
      attempt.catch(() => {
        if (this.session === attempt) this.session = null;
      });
    }
    return this.session;
  }

  private async doLogin(): Promise<Session> {
    this.guard.check(this.guardKey);
    let result: unknown;
    try {
      result = await this.post(
        `/${this.options.database}/`,
        'common.db.login',
        [this.options.login, { password: this.options.secret }],
        null,
        'login',
        // Tryton delays answers to logins of a name with recent failures (up to 2^n-1 s): give the
        // login time, so that a slow answer is not mistaken for a dead server and retried.
        Math.max(this.timeoutMs, LOGIN_TIMEOUT_MS),
      );
    } catch (err) {
      if (err instanceof ConnectorError && (err.code === 'host_auth' || err.detail?.rateLimited === true)) {
        this.guard.fail(this.guardKey, err);
      }
      throw err;
    }
    if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') {
      const err = new ConnectorError('host_auth', 'Tryton refused the login or password', { detail: { method: 'common.db.login' } });
      this.guard.fail(this.guardKey, err);
      throw err;
    }
    this.guard.succeed(this.guardKey);
    const [uid, key] = result as [number, string];
    const header = `Session ${Buffer.from(`${this.options.login}:${uid}:${key}`, 'utf8').toString('base64')}`;
    const prefs = (await this.post(`/${this.options.database}/`, 'model.res.user.get_preferences', [true, {}], header, 'call')) as TrytonContext;
    const context: TrytonContext = { ...prefs };
    // Keys that are informative only; Tryton's own client drops none, but `groups` is noise per call.
    delete context.groups;
    if (this.options.companyId !== undefined && this.options.companyId !== null) context.company = this.options.companyId;
    return { uid, header, context };
  }

  private async post(
    path: string,
    method: string,
    params: unknown[],
    authorization: string | null,
    phase: 'login' | 'call',
    timeoutMs?: number,
  ): Promise<unknown> {
    const id = this.nextId++;
    const timeout = timeoutMs ?? this.timeoutMs;
    let res;
    try {
      res = await this.http.post<string>(path, JSON.stringify({ id, method, params }), {
        headers: authorization ? { Authorization: authorization } : {},
        timeout,
      });
    } catch (err) {
      throw networkToError(err, method, timeout);
    }
    if (res.status !== 200) throw statusToError(res.status, method, phase);
    let body: unknown;
    try {
      body = JSON.parse(typeof res.data === 'string' ? res.data : String(res.data));
    } catch {
      throw new ConnectorError('host_unavailable', 'Tryton answered with something that is not JSON', { detail: { method } });
    }
    if (body === null || typeof body !== 'object') {
      throw new ConnectorError('host_unavailable', 'Tryton answered with an unexpected JSON shape', { detail: { method } });
    }
    const b = body as { result?: unknown; error?: unknown };
    if (b.error !== undefined && b.error !== null) throw faultToError(b.error, method);
    return decodeValue(b.result);
  }
}

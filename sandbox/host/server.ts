/**
 * The sandbox host's HTTP surface on node:http: `/jsonrpc`, the few `/web/...` session routes and
 * `/report/pdf/...`, in Odoo's shapes. Routing is a plain table (`SandboxHttp.route`) so later screens
 * (e.g. an extensions page) add routes without touching the existing ones.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessDenied, OdooError } from './errors.ts';
import type { Env, Orm } from './orm.ts';
import { invoicePdf } from './report.ts';
import { RpcServices, stringifyOdoo, versionInfo } from './rpc.ts';

export const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  url: URL;
  /** The session's uid, when the request carries a valid `session_id` cookie. */
  sessionUid: number | null;
  readBody: () => Promise<Buffer>;
}

type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

class PayloadTooLarge extends Error {}

export class SandboxHttp {
  private routes: Route[] = [];
  private sessions = new Map<string, { uid: number }>();
  private server: Server | null = null;

  constructor(
    readonly orm: Orm,
    readonly services: RpcServices,
    private readonly afterRequest: () => void,
  ) {
    this.registerDefaults();
  }

  /** Adds a route; `path` may hold `:name` segments (`/report/pdf/:report/:ids`). */
  route(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/:([A-Za-z_]+)/g, (_m, k: string) => {
          keys.push(k);
          return '([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ method: method.toUpperCase(), pattern, keys, handler });
  }

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox.local');
      const method = (req.method ?? 'GET').toUpperCase();
      let pathMatched = false;
      for (const route of this.routes) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
        const params: Record<string, string> = {};
        route.keys.forEach((k, i) => {
          params[k] = decodeURIComponent(m[i + 1] as string);
        });
        await route.handler({ req, res, params, url, sessionUid: this.sessionUid(req), readBody: () => readBody(req, BODY_LIMIT_BYTES) });
        return;
      }
      if (pathMatched) return sendText(res, 405, 'Method Not Allowed');
      sendText(res, 404, 'Not Found');
    } catch (err) {
      if (err instanceof PayloadTooLarge) return sendText(res, 413, 'Request Entity Too Large');
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
      else res.destroy();
    } finally {
      this.afterRequest();
    }
  }

  private sessionUid(req: IncomingMessage): number | null {
    const cookie = req.headers.cookie ?? '';
    const m = /(?:^|;\s*)session_id=([A-Za-z0-9_-]+)/.exec(cookie);
    if (!m) return null;
    return this.sessions.get(m[1] as string)?.uid ?? null;
  }

  /** Reads a JSON-RPC request; returns its id and params, or sends Odoo's error and returns null. */
  private async jsonRequest(ctx: RouteContext): Promise<{ id: unknown; params: Record<string, unknown> } | null> {
    let body: Buffer;
    try {
      body = await ctx.readBody();
    } catch (err) {
      if (err instanceof PayloadTooLarge) {
        sendJson(ctx.res, 413, {
          jsonrpc: '2.0',
          id: null,
          error: new OdooError(
            'werkzeug.exceptions.RequestEntityTooLarge',
            '413 Request Entity Too Large: The data value transmitted exceeds the capacity limit.',
          ).toPayload(),
        });
        return null;
      }
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      sendRpcError(ctx.res, null, new OdooError('werkzeug.exceptions.BadRequest', '400 Bad Request: Invalid JSON data'));
      return null;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      sendRpcError(ctx.res, null, new OdooError('werkzeug.exceptions.BadRequest', '400 Bad Request: Invalid JSON-RPC data'));
      return null;
    }
    const obj = parsed as Record<string, unknown>;
    const params = typeof obj.params === 'object' && obj.params !== null && !Array.isArray(obj.params) ? (obj.params as Record<string, unknown>) : {};
    return { id: obj.id ?? null, params };
  }

  private registerDefaults(): void {
    this.route('POST', '/jsonrpc', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      try {
        const args = Array.isArray(rq.params.args) ? rq.params.args : [];
        const result = this.services.dispatch(rq.params.service, rq.params.method, args);
        sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result });
      } catch (err) {
        sendRpcError(ctx.res, rq.id, asOdooError(err));
      }
    });

    this.route('GET', '/web/version', (ctx) => {
      // 19 has the route; 18 answers 404, 17's http_routing first redirects a visitor to /en/.
      if (this.profile.major >= 19)
        return sendJson(ctx.res, 200, { version_info: versionInfo(this.profile).server_version_info, version: this.profile.version });
      if (this.langRedirect17(ctx)) return;
      sendHtml(ctx.res, 404, notFoundHtml());
    });

    this.route('POST', '/web/webclient/version_info', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: versionInfo(this.profile) });
    });

    this.route('POST', '/web/session/authenticate', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      try {
        const { db, login, password } = rq.params;
        // The web login takes the password only: an API key is refused (AccessDenied), as in real Odoo.
        const uid = this.services.authenticate(db, login, password, { apiKeys: false });
        if (uid === false) throw accessDenied();
        const sid = randomBytes(30).toString('base64url');
        this.sessions.set(sid, { uid });
        ctx.res.setHeader(
          'Set-Cookie',
          `session_id=${sid}; Expires=${new Date(Date.now() + 7 * 86400_000).toUTCString()}; Max-Age=604800; HttpOnly; Path=/; SameSite=Lax`,
        );
        sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: this.sessionInfo(uid, String(db)) });
      } catch (err) {
        sendRpcError(ctx.res, rq.id, asOdooError(err));
      }
    });

    this.route('POST', '/web/session/get_session_info', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      if (ctx.sessionUid === null)
        return sendRpcError(ctx.res, rq.id, new OdooError('odoo.http.SessionExpiredException', 'Session expired', ['Session expired'], 100));
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: this.sessionInfo(ctx.sessionUid, this.services.database) });
    });

    this.route('POST', '/web/session/destroy', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      const m = /(?:^|;\s*)session_id=([A-Za-z0-9_-]+)/.exec(ctx.req.headers.cookie ?? '');
      if (m) this.sessions.delete(m[1] as string);
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq?.id ?? null, result: null });
    });

    this.route('GET', '/web/login', (ctx) => {
      sendHtml(
        ctx.res,
        200,
        '<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Login | Sandbox</title></head><body><h1>Sandbox host</h1><p>Log in through <code>/web/session/authenticate</code>.</p></body></html>',
      );
    });

    this.route('GET', '/', (ctx) => {
      sendHtml(
        ctx.res,
        200,
        `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Sandbox host</title></head><body><h1>Sandbox host (Odoo ${this.profile.version} compatible)</h1><p>Database: <code>${this.services.database}</code>. JSON-RPC at <code>/jsonrpc</code>.</p></body></html>`,
      );
    });

    this.route('GET', '/report/pdf/:report/:ids', (ctx) => this.report(ctx, null));
    this.route('GET', '/:lang/report/pdf/:report/:ids', (ctx) => this.report(ctx, ctx.params.lang ?? null));

    this.route('POST', '/json/2/:model/:method', (ctx) => this.json2(ctx));
    this.route('GET', '/json/2/:model/:method', (ctx) => this.json2(ctx));
  }

  get profile(): RpcServices['profile'] {
    return this.services.profile;
  }

  /** The url code of an installed language ('pl' for pl_PL, 'en' for en_US), and back. */
  private static urlCode(lang: string): string {
    return lang.split('_')[0] as string;
  }

  private langOfCode(code: string): string | null {
    return ({ pl: 'pl_PL', en: 'en_US' } as Record<string, string>)[code] ?? null;
  }

  private userLang(uid: number | null): string {
    if (uid === null) return 'en_US';
    const lang = this.orm.get('res.users', uid)?.lang;
    return typeof lang === 'string' && lang ? lang : this.profile.defaultLang;
  }

  /** 17's http_routing runs before authentication: a request whose language is not the database default goes to /<lang>/…. */
  private langRedirect17(ctx: RouteContext): boolean {
    if (this.profile.major !== 17) return false;
    const lang = this.userLang(ctx.sessionUid);
    if (lang === this.profile.defaultLang) return false;
    redirect(ctx.res, `/${SandboxHttp.urlCode(lang)}${ctx.url.pathname}${ctx.url.search}`);
    return true;
  }

  private loginRedirect(ctx: RouteContext): void {
    redirect(ctx.res, `/web/login?redirect=${encodeURIComponent(`${ctx.url.pathname}?${ctx.url.search.replace(/^\?/, '')}`)}`);
  }

  /**
   * `/report/pdf/<report>/<id>` as Odoo serves it: the session user's language decides the URL — a language
   * other than the database default is redirected (303) to `/<lang>/report/pdf/…`, which serves the PDF.
   */
  private async report(ctx: RouteContext, code: string | null): Promise<void> {
    const rest = `/report/pdf/${encodeURIComponent(ctx.params.report ?? '')}/${ctx.params.ids ?? ''}${ctx.url.search}`;
    if (code !== null) {
      const lang = this.langOfCode(code);
      if (!lang) return sendHtml(ctx.res, 404, notFoundHtml());
      if (this.profile.major === 17 && lang === this.profile.defaultLang) return redirect(ctx.res, rest);
    } else if (this.langRedirect17(ctx)) return;
    if (ctx.sessionUid === null) return this.loginRedirect(ctx);
    if (code === null) {
      const lang = this.userLang(ctx.sessionUid);
      if (lang !== this.profile.defaultLang) return redirect(ctx.res, `/${SandboxHttp.urlCode(lang)}${rest}`);
    }
    const report = [...this.orm.table('ir.actions.report').values()].find((r) => r.report_name === ctx.params.report);
    if (!report || report.model !== 'account.move')
      return sendHtml(ctx.res, 500, errorHtml('Internal Server Error', 'The server encountered an internal error and was unable to complete your request.'));
    const ids = (ctx.params.ids ?? '').split(',').map((s) => Number(s));
    if (ids.length !== 1 || !Number.isInteger(ids[0])) return sendHtml(ctx.res, 400, errorHtml('Bad Request', 'One record id expected.'));
    const env: Env = { uid: ctx.sessionUid, context: {}, su: false };
    if (!this.services.hasAccess(env, this.orm.model('account.move'), 'read'))
      return sendHtml(ctx.res, 403, errorHtml('Forbidden', 'You are not allowed to access this document.'));
    const move = this.orm.get('account.move', ids[0] as number);
    if (!move) return sendHtml(ctx.res, 400, errorHtml('Bad Request', 'Record does not exist or has been deleted.'));
    const pdf = await invoicePdf(this.orm, env, move);
    const filename = `${move.name && move.name !== '/' ? String(move.name).replaceAll('/', '_') : `draft_${move.id}`}.pdf`;
    ctx.res.writeHead(200, {
      'Content-Type': 'application/pdf',
      'Content-Length': String(pdf.byteLength),
      'Content-Disposition': `inline; filename="${filename}"`,
    });
    ctx.res.end(Buffer.from(pdf));
  }

  /**
   * JSON-2 (19+): `POST /json/2/<model>/<method>`, `Authorization: bearer <api key>`, `X-Odoo-Database`,
   * named arguments; errors are HTTP statuses with `{name, message, arguments, context, debug}`.
   * On 18 the route does not exist (303 to the login without a session, 400 CSRF with one); on 17 it is a 404.
   */
  private async json2(ctx: RouteContext): Promise<void> {
    if (this.profile.major < 19) {
      if (this.profile.major === 17) {
        if (ctx.req.method === 'GET' && this.langRedirect17(ctx)) return;
        return sendHtml(ctx.res, 404, notFoundHtml());
      }
      if (ctx.sessionUid === null) return this.loginRedirect(ctx);
      return sendHtml(
        ctx.res,
        400,
        '<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n<p>Session expired (invalid CSRF token)</p>\n',
      );
    }
    const fail = (status: number, err: OdooError): void => {
      const p = err.toPayload().data;
      sendJson(ctx.res, status, { name: p.name, message: p.message, arguments: p.arguments, context: p.context, debug: p.debug });
    };
    if (ctx.req.method !== 'POST') return sendText(ctx.res, 405, 'Method Not Allowed');
    const auth = /^bearer\s+(\S+)$/i.exec(String(ctx.req.headers.authorization ?? ''));
    const db = ctx.req.headers['x-odoo-database'];
    if (db !== undefined && db !== this.services.database) return fail(404, new OdooError('werkzeug.exceptions.NotFound', `database ${String(db)} not found`));
    const uid = auth ? this.services.uidOfKey(auth[1] as string) : null;
    if (uid === null) return fail(401, new OdooError('werkzeug.exceptions.Unauthorized', 'Invalid apikey'));
    let body: Record<string, unknown>;
    try {
      const raw = (await ctx.readBody()).toString('utf8');
      const parsed: unknown = raw.trim() ? JSON.parse(raw) : {};
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(400, new OdooError('werkzeug.exceptions.BadRequest', 'Invalid JSON data'));
    }
    const { ids, context, ...named } = body;
    const model = ctx.params.model ?? '';
    const method = ctx.params.method ?? '';
    const MODEL_METHODS = new Set([
      'search',
      'search_read',
      'search_count',
      'create',
      'fields_get',
      'name_search',
      'context_get',
      'check_access_rights',
      'has_access',
      'get_param',
    ]);
    if (ids !== undefined && MODEL_METHODS.has(method))
      return fail(422, new OdooError('odoo.exceptions.UserError', `${model}.${method}() is an @api.model method: it takes no ids`));
    const args: unknown[] = [];
    if (ids !== undefined) args.push(ids);
    try {
      const result = this.services.executeKw(uid, model, method, args, { ...named, ...(context !== undefined ? { context } : {}) });
      sendJson(ctx.res, 200, result ?? null);
    } catch (err) {
      const e = asOdooError(err);
      const status = /UserError|ValidationError/.test(e.exceptionName)
        ? 422
        : /AccessError|AccessDenied/.test(e.exceptionName)
          ? 403
          : /MissingError/.test(e.exceptionName)
            ? 404
            : /LockError/.test(e.exceptionName)
              ? 409
              : 500;
      fail(status, e);
    }
  }

  private sessionInfo(uid: number, db: string): Record<string, unknown> {
    const user = this.orm.get('res.users', uid);
    const company = typeof user?.company_id === 'number' ? this.orm.get('res.company', user.company_id) : undefined;
    const isSystem = this.services.isAdmin(uid);
    const p = this.profile;
    const info = versionInfo(p);
    return {
      uid,
      is_system: isSystem,
      is_admin: isSystem,
      is_public: false,
      is_internal_user: true,
      user_context: { lang: user?.lang || 'en_US', tz: user?.tz || 'Europe/Warsaw', uid },
      db,
      server_version: info.server_version,
      server_version_info: info.server_version_info,
      name: user?.name ?? '',
      username: user?.login ?? '',
      partner_id: user?.partner_id ?? false,
      partner_display_name: user?.name ?? '',
      user_companies: company
        ? { current_company: company.id, allowed_companies: { [company.id]: { id: company.id, name: company.name, sequence: company.sequence ?? 10 } } }
        : false,
      // The rest of real Odoo's keys (nothing in the connector reads them; values are plain defaults).
      user_settings: { id: uid, user_id: { id: uid } },
      support_url: 'https://www.odoo.com/buy',
      'web.base.url': `http://127.0.0.1`,
      active_ids_limit: 20000,
      profile_session: null,
      profile_collectors: null,
      profile_params: null,
      max_file_upload_size: 134217728,
      home_action_id: false,
      cache_hashes: {},
      currencies: {},
      bundle_params: { lang: user?.lang || 'en_US' },
      show_effect: true,
      display_switch_company_menu: false,
      iap_company_enrich: true,
      ...(p.major >= 18
        ? {
            partner_write_date: String(user?.write_date ?? ''),
            test_mode: false,
            view_info: {},
            websocket_worker_version: `${p.version}-3`,
            tour_enabled: false,
            current_tour: {},
            storeData: {},
            can_insert_in_spreadsheet: false,
          }
        : { user_id: [uid], web_tours: [], tour_disable: false, notification_type: 'email', odoobot_initialized: false, is_quick_edit_mode_enabled: false }),
    };
  }
}

function redirect(res: ServerResponse, location: string): void {
  const html = `<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href="${location.replaceAll('"', '&quot;')}">${location.replaceAll('<', '&lt;')}</a>. If not, click the link.\n`;
  res.writeHead(303, { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(html)) });
  res.end(html);
}

function errorHtml(title: string, text: string): string {
  return `<!DOCTYPE html>\n<html>\n    <head>\n        <meta charset="utf-8"/>\n        <title>${title}</title>\n    </head>\n    <body><h1>${title}</h1><p>${text}</p></body>\n</html>\n`;
}

function notFoundHtml(): string {
  return errorHtml('404: Page not found', 'The page you were looking for could not be found.');
}

function asOdooError(err: unknown): OdooError {
  if (err instanceof OdooError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OdooError('builtins.Exception', message);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      reject(new PayloadTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new PayloadTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        reject(e);
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = stringifyOdoo(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendRpcError(res: ServerResponse, id: unknown, err: OdooError): void {
  sendJson(res, 200, { jsonrpc: '2.0', id, error: err.toPayload() });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(html)) });
  res.end(html);
}

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
import { RpcServices, SERVER_VERSION, SERVER_VERSION_INFO, versionInfo } from './rpc.ts';

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

  constructor(readonly orm: Orm, readonly services: RpcServices, private readonly afterRequest: () => void) {
    this.registerDefaults();
  }

  /** Adds a route; `path` may hold `:name` segments (`/report/pdf/:report/:ids`). */
  route(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const pattern = new RegExp('^' + path.replace(/:([A-Za-z_]+)/g, (_m, k: string) => { keys.push(k); return '([^/]+)'; }) + '/?$');
    this.routes.push({ method: method.toUpperCase(), pattern, keys, handler });
  }

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => { void this.handle(req, res); });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
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
        route.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1] as string); });
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
        sendJson(ctx.res, 413, { jsonrpc: '2.0', id: null, error: new OdooError('werkzeug.exceptions.RequestEntityTooLarge', '413 Request Entity Too Large: The data value transmitted exceeds the capacity limit.').toPayload() });
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
      sendJson(ctx.res, 200, { version_info: SERVER_VERSION_INFO, version: SERVER_VERSION });
    });

    this.route('POST', '/web/webclient/version_info', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: versionInfo() });
    });

    this.route('POST', '/web/session/authenticate', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      try {
        const { db, login, password } = rq.params;
        const uid = this.services.authenticate(db, login, password);
        if (uid === false) throw accessDenied();
        const sid = randomBytes(30).toString('base64url');
        this.sessions.set(sid, { uid });
        ctx.res.setHeader('Set-Cookie', `session_id=${sid}; Expires=${new Date(Date.now() + 7 * 86400_000).toUTCString()}; Max-Age=604800; HttpOnly; Path=/; SameSite=Lax`);
        sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: this.sessionInfo(uid, String(db)) });
      } catch (err) {
        sendRpcError(ctx.res, rq.id, asOdooError(err));
      }
    });

    this.route('POST', '/web/session/get_session_info', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      if (!rq) return;
      if (ctx.sessionUid === null) return sendRpcError(ctx.res, rq.id, new OdooError('odoo.http.SessionExpiredException', 'Session expired', ['Session expired'], 100));
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq.id, result: this.sessionInfo(ctx.sessionUid, this.services.database) });
    });

    this.route('POST', '/web/session/destroy', async (ctx) => {
      const rq = await this.jsonRequest(ctx);
      const m = /(?:^|;\s*)session_id=([A-Za-z0-9_-]+)/.exec(ctx.req.headers.cookie ?? '');
      if (m) this.sessions.delete(m[1] as string);
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: rq?.id ?? null, result: null });
    });

    this.route('GET', '/web/login', (ctx) => {
      sendHtml(ctx.res, 200, '<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Login | Sandbox</title></head><body><h1>Sandbox host</h1><p>Log in through <code>/web/session/authenticate</code>.</p></body></html>');
    });

    this.route('GET', '/', (ctx) => {
      sendHtml(ctx.res, 200, `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Sandbox host</title></head><body><h1>Sandbox host (Odoo ${SERVER_VERSION} compatible)</h1><p>Database: <code>${this.services.database}</code>. JSON-RPC at <code>/jsonrpc</code>.</p></body></html>`);
    });

    this.route('GET', '/report/pdf/:report/:ids', async (ctx) => {
      if (ctx.sessionUid === null) {
        ctx.res.writeHead(303, { Location: `/web/login?redirect=${encodeURIComponent(ctx.url.pathname + ctx.url.search)}`, 'Content-Type': 'text/html; charset=utf-8' });
        ctx.res.end('<p>Redirecting...</p>');
        return;
      }
      const report = [...this.orm.table('ir.actions.report').values()].find((r) => r.report_name === ctx.params.report);
      if (!report || report.model !== 'account.move') return sendText(ctx.res, 404, 'Not Found');
      const ids = (ctx.params.ids ?? '').split(',').map((s) => Number(s));
      if (ids.length !== 1 || !Number.isInteger(ids[0])) return sendText(ctx.res, 400, 'Bad Request: one record id expected');
      const move = this.orm.get('account.move', ids[0] as number);
      if (!move) return sendText(ctx.res, 404, 'Record does not exist or has been deleted.');
      const env: Env = { uid: ctx.sessionUid, context: {}, su: false };
      const pdf = await invoicePdf(this.orm, env, move);
      const filename = `${move.name && move.name !== '/' ? String(move.name).replaceAll('/', '_') : `draft_${move.id}`}.pdf`;
      ctx.res.writeHead(200, { 'Content-Type': 'application/pdf', 'Content-Length': String(pdf.byteLength), 'Content-Disposition': `inline; filename="${filename}"` });
      ctx.res.end(Buffer.from(pdf));
    });
  }

  private sessionInfo(uid: number, db: string): Record<string, unknown> {
    const user = this.orm.get('res.users', uid);
    const company = typeof user?.company_id === 'number' ? this.orm.get('res.company', user.company_id) : undefined;
    const isSystem = this.services.hasAccess({ uid, context: {}, su: false }, this.orm.model('ir.mail_server'), 'read');
    return {
      uid,
      is_system: isSystem,
      is_admin: isSystem,
      is_public: false,
      is_internal_user: true,
      user_context: { lang: user?.lang || 'en_US', tz: user?.tz || 'Europe/Warsaw', uid },
      db,
      server_version: SERVER_VERSION,
      server_version_info: SERVER_VERSION_INFO,
      name: user?.name ?? '',
      username: user?.login ?? '',
      partner_id: user?.partner_id ?? false,
      partner_display_name: user?.name ?? '',
      user_companies: company
        ? { current_company: company.id, allowed_companies: { [company.id]: { id: company.id, name: company.name, sequence: company.sequence ?? 10 } } }
        : false,
    };
  }
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
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
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

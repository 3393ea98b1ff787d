/**
 * The JSON-RPC services of the sandbox host, as Odoo's `/jsonrpc` dispatches them: `common`
 * (version, login, authenticate), `db` (list, server_version) and `object` (execute_kw, execute),
 * with Odoo's argument conventions, access checks and exception classes.
 */
import { accessDenied, accessError, OdooError } from './errors.ts';
import { GROUP_SYSTEM, userGroups, xmlidToResId } from './models.ts';
import { nowUtc } from './orm.ts';
import type { Env, ModelDef, Orm } from './orm.ts';
import { escapeHtml } from './util.ts';

export const SERVER_VERSION = '18.0';
export const SERVER_VERSION_INFO: [number, number, number, string, number, string] = [18, 0, 0, 'final', 0, ''];

export function versionInfo(): Record<string, unknown> {
  return { server_version: SERVER_VERSION, server_version_info: SERVER_VERSION_INFO, server_serie: SERVER_VERSION, protocol_version: 1 };
}

const GROUP_LABELS: Record<string, string> = { [GROUP_SYSTEM]: 'Administration/Settings' };

export class RpcServices {
  constructor(readonly orm: Orm, readonly database: string) {}

  private checkDb(db: unknown): void {
    if (db !== this.database) {
      throw new OdooError('psycopg2.OperationalError', `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${String(db)}" does not exist\n`);
    }
  }

  /** uid for login/password, or false (Odoo's `common.login`). */
  authenticate(db: unknown, login: unknown, password: unknown): number | false {
    this.checkDb(db);
    if (typeof login !== 'string' || typeof password !== 'string' || password === '') return false;
    for (const user of this.orm.table('res.users').values()) {
      if (user.login === login && user.active !== false && this.orm.passwords.get(user.id) === password) return user.id;
    }
    return false;
  }

  /** Odoo's `security.check`: AccessDenied unless uid and password match an active user. */
  checkUid(db: unknown, uid: unknown, password: unknown): number {
    this.checkDb(db);
    if (typeof uid !== 'number' || typeof password !== 'string') throw accessDenied();
    const user = this.orm.get('res.users', uid);
    if (!user || user.active === false || this.orm.passwords.get(uid) !== password) throw accessDenied();
    return uid;
  }

  dispatch(service: unknown, method: unknown, args: unknown[]): unknown {
    if (service === 'common') {
      switch (method) {
        case 'version':
          return versionInfo();
        case 'login':
          return this.authenticate(args[0], args[1], args[2]);
        case 'authenticate':
          return this.authenticate(args[0], args[1], args[2]);
        case 'about':
          return args[0] ? ['See http://openerp.com', SERVER_VERSION] : 'See http://openerp.com';
        default:
          throw new OdooError('builtins.KeyError', `'exp_${String(method)}'`, [`exp_${String(method)}`]);
      }
    }
    if (service === 'db') {
      if (method === 'list') return [this.database];
      if (method === 'server_version') return SERVER_VERSION;
      throw new OdooError('builtins.KeyError', `'exp_${String(method)}'`, [`exp_${String(method)}`]);
    }
    if (service === 'object') {
      if (method === 'execute_kw') {
        const [db, uid, pw, model, meth, callArgs, kwargs] = args;
        const u = this.checkUid(db, uid, pw);
        return this.executeKw(u, String(model), String(meth), Array.isArray(callArgs) ? callArgs : [], isObject(kwargs) ? kwargs : {});
      }
      if (method === 'execute') {
        const [db, uid, pw, model, meth, ...rest] = args;
        const u = this.checkUid(db, uid, pw);
        return this.executeKw(u, String(model), String(meth), rest, {});
      }
      throw new OdooError('builtins.NameError', `Method not available ${String(method)}`);
    }
    throw new OdooError('builtins.KeyError', `'${String(service)}'`, [String(service)]);
  }

  private checkAccess(env: Env, model: ModelDef, operation: 'read' | 'write' | 'create' | 'unlink'): void {
    if (env.su) return;
    const groups = this.orm.get('res.users', env.uid)?.share ? new Set<string>() : userGroups(this.orm, env.uid);
    const needed = operation === 'read' ? model.groups : (model.writeGroups ?? model.groups);
    if (needed && !needed.some((g) => groups.has(g))) {
      throw accessError(model.description, model.name, needed.map((g) => GROUP_LABELS[g] ?? g));
    }
  }

  hasAccess(env: Env, model: ModelDef, operation: 'read' | 'write' | 'create' | 'unlink'): boolean {
    try {
      this.checkAccess(env, model, operation);
      return true;
    } catch {
      return false;
    }
  }

  executeKw(uid: number, modelName: string, method: string, args: unknown[], kwargs: Record<string, unknown>): unknown {
    const model = this.orm.model(modelName);
    const context = isObject(kwargs.context) ? kwargs.context : {};
    const env: Env = { uid, context, su: false };
    const kw = { ...kwargs };
    delete kw.context;
    return this.call(env, model, method, args, kw);
  }

  call(env: Env, model: ModelDef, method: string, args: unknown[], kw: Record<string, unknown>): unknown {
    const orm = this.orm;
    const arg = (i: number, name: string, dflt: unknown = undefined): unknown => (name in kw ? kw[name] : args.length > i ? args[i] : dflt);
    const custom = model.methods?.[method];
    if (custom) return custom({ orm, env, model, args, kwargs: kw });
    switch (method) {
      case 'search': {
        this.checkAccess(env, model, 'read');
        return orm.search(model.name, arg(0, 'domain', []), env, searchOpts(arg(1, 'offset', 0), arg(2, 'limit', null), arg(3, 'order', null)));
      }
      case 'search_count': {
        this.checkAccess(env, model, 'read');
        const n = orm.search(model.name, arg(0, 'domain', []), env).length;
        const limit = arg(1, 'limit', null);
        return typeof limit === 'number' ? Math.min(n, limit) : n;
      }
      case 'search_read': {
        this.checkAccess(env, model, 'read');
        const ids = orm.search(model.name, arg(0, 'domain', []), env, searchOpts(arg(2, 'offset', 0), arg(3, 'limit', null), arg(4, 'order', null)));
        return orm.read(model.name, ids, fieldList(arg(1, 'fields', null)), env);
      }
      case 'read': {
        this.checkAccess(env, model, 'read');
        return orm.read(model.name, idList(arg(0, 'ids', [])), fieldList(arg(1, 'fields', null)), env);
      }
      case 'fields_get': {
        return orm.fieldsGet(model.name, fieldList(arg(0, 'allfields', null)), fieldList(arg(1, 'attributes', null)));
      }
      case 'name_search': {
        this.checkAccess(env, model, 'read');
        const name = arg(0, 'name', '');
        const domain = arg(1, 'domain', null) ?? arg(1, 'args', null) ?? [];
        const operator = String(arg(2, 'operator', 'ilike'));
        const limit = arg(3, 'limit', 100);
        const out: [number, string][] = [];
        for (const id of orm.search(model.name, domain, env)) {
          const rec = orm.get(model.name, id);
          if (!rec) continue;
          const dn = orm.displayName(model.name, rec, env);
          const text = typeof name === 'string' ? name : '';
          const hit = text === '' || (operator === '=' ? dn === text : operator === 'ilike' ? dn.toLowerCase().includes(text.toLowerCase()) : dn.includes(text));
          if (hit) out.push([id, dn]);
          if (typeof limit === 'number' && out.length >= limit) break;
        }
        return out;
      }
      case 'write': {
        this.checkAccess(env, model, 'write');
        const vals = arg(1, 'vals', {});
        if (!isObject(vals)) throw new OdooError('builtins.ValueError', 'write() expects a dictionary of values');
        return orm.write(model.name, idList(arg(0, 'ids', [])), vals, env);
      }
      case 'create': {
        this.checkAccess(env, model, 'create');
        const vals = arg(0, 'vals_list', undefined) ?? arg(0, 'vals', undefined);
        if (Array.isArray(vals)) return vals.map((v) => orm.create(model.name, isObject(v) ? v : {}, env));
        if (isObject(vals)) return orm.create(model.name, vals, env);
        throw new OdooError('builtins.TypeError', 'create() missing 1 required positional argument: \'vals_list\'');
      }
      case 'unlink': {
        this.checkAccess(env, model, 'unlink');
        return orm.unlink(model.name, idList(arg(0, 'ids', [])), env);
      }
      case 'check_access_rights': {
        const operation = String(arg(0, 'operation', 'read')) as 'read';
        const raise = arg(1, 'raise_exception', true) !== false;
        if (raise) { this.checkAccess(env, model, operation); return true; }
        return this.hasAccess(env, model, operation);
      }
      case 'has_access':
        return this.hasAccess(env, model, String(arg(0, 'operation', 'read')) as 'read');
      case 'context_get': {
        const user = orm.get('res.users', env.uid);
        return { lang: user?.lang || 'en_US', tz: user?.tz || 'Europe/Warsaw', uid: env.uid };
      }
      case 'message_post': {
        if (!model.mailThread) throw attributeError(method, model.name);
        this.checkAccess(env, model, 'read');
        const ids = idList(arg(0, 'ids', []));
        if (ids.length !== 1) throw new OdooError('builtins.ValueError', `Expected singleton: ${model.name}(${ids.join(', ')}${ids.length === 1 ? ',' : ''})`);
        const id = ids[0] as number;
        const rec = orm.getOrMissing(model.name, id, env);
        return this.messagePost(env, model.name, rec.id, orm.displayName(model.name, rec, env), kw);
      }
      default:
        throw attributeError(method, model.name);
    }
  }

  messagePost(env: Env, modelName: string, resId: number, recordName: string, kw: Record<string, unknown>): number {
    const orm = this.orm;
    let body = typeof kw.body === 'string' ? kw.body : '';
    if (kw.body_is_html !== true && body) body = `<p>${escapeHtml(body).replaceAll('\n', '<br>')}</p>`;
    const subtypeXmlid = typeof kw.subtype_xmlid === 'string' ? kw.subtype_xmlid : null;
    let subtypeId: number | false = typeof kw.subtype_id === 'number' ? kw.subtype_id : false;
    if (!subtypeId) subtypeId = xmlidToResId(orm, subtypeXmlid && subtypeXmlid.includes('.') ? subtypeXmlid : 'mail.mt_note') ?? false;
    const user = orm.get('res.users', env.uid);
    const id = orm.create('mail.message', {
      model: modelName,
      res_id: resId,
      record_name: recordName,
      body,
      subject: typeof kw.subject === 'string' ? kw.subject : false,
      message_type: typeof kw.message_type === 'string' ? kw.message_type : 'notification',
      subtype_id: subtypeId,
      author_id: typeof kw.author_id === 'number' ? kw.author_id : ((user?.partner_id as number | undefined) ?? false),
      date: nowUtc(orm.clock()),
      attachment_ids: Array.isArray(kw.attachment_ids) ? kw.attachment_ids.filter((x): x is number => typeof x === 'number') : [],
      partner_ids: Array.isArray(kw.partner_ids) ? kw.partner_ids.filter((x): x is number => typeof x === 'number') : [],
    }, { ...env, su: true });
    return id;
  }
}

function attributeError(method: string, model: string): OdooError {
  return new OdooError('builtins.AttributeError', `The method '${method}' does not exist on the model '${model}'`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new OdooError('builtins.TypeError', `Invalid ids: ${JSON.stringify(v)}`);
}

function fieldList(v: unknown): string[] | null {
  if (v === null || v === undefined || v === false) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map(String);
  throw new OdooError('builtins.TypeError', `Invalid fields: ${JSON.stringify(v)}`);
}

function searchOpts(offset: unknown, limit: unknown, order: unknown): { offset: number; limit: number | null; order: string | null } {
  return {
    offset: typeof offset === 'number' ? offset : 0,
    limit: typeof limit === 'number' ? limit : null,
    order: typeof order === 'string' && order.trim() ? order : null,
  };
}

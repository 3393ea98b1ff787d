/**
 * The JSON-RPC services of the sandbox host, as Odoo's `/jsonrpc` dispatches them: `common`
 * (version, login, authenticate), `db` (list, server_version) and `object` (execute_kw, execute),
 * with Odoo's argument conventions, access checks and exception classes.
 */
import { accessDenied, OdooError } from './errors.ts';
import { userGroups, xmlidToResId } from './models.ts';
import { nowUtc } from './orm.ts';
import type { Env, FieldDef, ModelDef, Orm } from './orm.ts';
import {
  accessErrorMessage,
  fieldAccessMessage,
  G,
  groupLabel,
  makeProfile,
  missingRecordMessage,
  modelLabel,
  secretRecordsMessage,
  unknownModelMessage,
  versionInfo,
} from './profile.ts';
import type { Operation, Profile } from './profile.ts';
import { escapeHtml } from './util.ts';

export { versionInfo };

/**
 * A float/monetary field value on its way to JSON: Odoo (Python) writes floats with a decimal point
 * (`1.0`, `246.0`), so a client sees a float even when the value is whole. server.ts's JSON writer prints it so.
 */
export class JsonFloat {
  constructor(readonly value: number) {}
}

const FLOAT_TOKEN = `\u0001float:${Math.random().toString(36).slice(2)}:`;

/** JSON.stringify that writes JsonFloat values with a decimal point. */
export function stringifyOdoo(body: unknown): string {
  let used = false;
  const text = JSON.stringify(body, (_k, v: unknown) => {
    if (!(v instanceof JsonFloat)) return v;
    if (!Number.isInteger(v.value)) return v.value;
    used = true;
    return `${FLOAT_TOKEN}${String(v.value)}`;
  });
  if (!used) return text;
  const token = JSON.stringify(FLOAT_TOKEN).slice(1, -1);
  return text.replace(new RegExp(`"${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-?\\d+)"`, 'g'), '$1.0');
}

function markFloats(model: ModelDef, rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const floats = Object.entries(model.fields)
    .filter(([, f]) => f.type === 'float' || f.type === 'monetary')
    .map(([n]) => n);
  if (floats.length === 0) return rows;
  for (const row of rows) for (const n of floats) if (typeof row[n] === 'number') row[n] = new JsonFloat(row[n]);
  return rows;
}

/** The language Odoo words a call's messages in: the call's context lang, else the user's. */
export function callLang(orm: Orm, env: Env): string {
  if (typeof env.context.lang === 'string' && env.context.lang) return env.context.lang;
  const user = orm.get('res.users', env.uid);
  return typeof user?.lang === 'string' && user.lang ? user.lang : 'en_US';
}

export class RpcServices {
  constructor(
    readonly orm: Orm,
    readonly database: string,
    readonly profile: Profile = makeProfile(),
  ) {
    orm.messages = { missing: (model, ids, env) => missingRecordMessage(model, ids, env.uid, callLang(orm, env), profile.major) };
    orm.accessCheck = (env, model, op) => this.checkAccess(env, model, op);
  }

  isAdmin(uid: number): boolean {
    return userGroups(this.orm, uid).has(G.system);
  }

  /** A user's API key (18+), as real Odoo accepts it in place of the password over RPC. */
  private keyMatches(uid: number, secret: string): boolean {
    return this.profile.apiKeys && (this.orm.apiKeys.get(uid) ?? []).includes(secret);
  }

  private checkDb(db: unknown): void {
    if (db !== this.database) {
      throw new OdooError(
        'psycopg2.OperationalError',
        `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${String(db)}" does not exist\n`,
      );
    }
  }

  /** uid for login/password (or, over RPC on 18+, an API key), or false (Odoo's `common.login`). */
  authenticate(db: unknown, login: unknown, password: unknown, opts: { apiKeys?: boolean } = {}): number | false {
    this.checkDb(db);
    if (typeof login !== 'string' || typeof password !== 'string' || password === '') return false;
    for (const user of this.orm.table('res.users').values()) {
      if (user.login !== login || user.active === false) continue;
      if (this.orm.passwords.get(user.id) === password) return user.id;
      if (opts.apiKeys !== false && this.keyMatches(user.id, password)) return user.id;
    }
    return false;
  }

  /** The uid of an API key (JSON-2's bearer), or null. */
  uidOfKey(key: string): number | null {
    for (const [uid, keys] of this.orm.apiKeys) {
      if (!keys.includes(key)) continue;
      const user = this.orm.get('res.users', uid);
      if (user && user.active !== false) return uid;
    }
    return null;
  }

  /** Odoo's `security.check`: AccessDenied unless uid and password match an active user. */
  checkUid(db: unknown, uid: unknown, password: unknown): number {
    this.checkDb(db);
    if (typeof uid !== 'number' || typeof password !== 'string') throw accessDenied();
    const user = this.orm.get('res.users', uid);
    if (!user || user.active === false) throw accessDenied();
    if (this.orm.passwords.get(uid) !== password && !this.keyMatches(uid, password)) throw accessDenied();
    return uid;
  }

  dispatch(service: unknown, method: unknown, args: unknown[]): unknown {
    if (service === 'common') {
      switch (method) {
        case 'version':
          return versionInfo(this.profile);
        case 'login':
          return this.authenticate(args[0], args[1], args[2]);
        case 'authenticate':
          return this.authenticate(args[0], args[1], args[2]);
        case 'about':
          return args[0] ? ['See http://openerp.com', this.profile.version] : 'See http://openerp.com';
        default:
          throw new OdooError('builtins.KeyError', `'exp_${String(method)}'`, [`exp_${String(method)}`]);
      }
    }
    if (service === 'db') {
      if (method === 'list') return [this.database];
      if (method === 'server_version') return this.profile.version;
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

  /** Odoo's model-level ACL (ir.model.access) with its error wording. */
  checkAccess(env: Env, model: ModelDef, operation: Operation): void {
    if (env.su) return;
    const user = this.orm.get('res.users', env.uid);
    const groups = user?.share ? new Set<string>() : userGroups(this.orm, env.uid);
    const needed = model.access ? model.access[operation] : operation === 'read' ? model.groups : (model.writeGroups ?? model.groups);
    if (!needed || needed.some((g) => groups.has(g))) return;
    const lang = callLang(this.orm, env);
    const label = modelLabel(model.name, model.description, lang, this.profile.major);
    if (model.secretOps?.includes(operation)) {
      throw new OdooError(
        'odoo.exceptions.AccessError',
        secretRecordsMessage({ lang, userName: String(user?.name ?? ''), uid: env.uid, operation, label, model: model.name }),
      );
    }
    throw new OdooError(
      'odoo.exceptions.AccessError',
      accessErrorMessage({ lang, operation, label, model: model.name, groups: needed.map((g) => groupLabel(g, lang, this.profile.major)) }),
    );
  }

  /** Odoo's field-level access (`groups=` on a field): reading such a field as a non-admin is refused by name. */
  /** Whether a user sees a field (fields_get, read): Odoo's field groups. */
  seesField(env: Env): (f: FieldDef) => boolean {
    if (env.su) return () => true;
    const groups = userGroups(this.orm, env.uid);
    const admin = groups.has(G.system);
    const invoicing = [G.invoice, G.accountManager, G.accountReadonly].some((g) => groups.has(g));
    return (f) => (!f.adminOnly || admin) && (!f.invoicingOnly || invoicing);
  }

  private checkFields(env: Env, model: ModelDef, fields: string[] | null): string[] | null {
    if (env.su) return fields;
    const sees = this.seesField(env);
    const hidden = Object.entries(model.fields)
      .filter(([, f]) => !sees(f))
      .map(([n]) => n);
    if (hidden.length === 0) return fields;
    if (fields === null || fields.length === 0)
      return ['id', ...Object.keys(model.fields).filter((n) => !hidden.includes(n)), 'display_name', 'create_date', 'create_uid', 'write_date', 'write_uid'];
    const refused = fields.filter((f) => hidden.includes(f));
    if (refused.length === 0) return fields;
    const lang = callLang(this.orm, env);
    throw new OdooError(
      'odoo.exceptions.AccessError',
      fieldAccessMessage({
        lang,
        major: this.profile.major,
        label: modelLabel(model.name, model.description, lang, this.profile.major),
        model: model.name,
        uid: env.uid,
        fields: refused,
        group: refused.every((f) => model.fields[f]?.adminOnly)
          ? lang.startsWith('pl')
            ? 'Administracja / Ustawienia'
            : 'Administration / Settings'
          : groupLabel(G.invoice, lang, this.profile.major),
      }),
    );
  }

  /** mail.message visibility: a message on a document is visible to those who may read that document. */
  private messageVisible(env: Env, modelName: unknown): boolean {
    if (env.su || typeof modelName !== 'string' || !this.orm.models.has(modelName)) return true;
    return this.hasAccess(env, this.orm.model(modelName), 'read');
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
    const context = isObject(kwargs.context) ? kwargs.context : {};
    const env: Env = { uid, context, su: false };
    if (!this.orm.models.has(modelName))
      throw new OdooError('odoo.exceptions.UserError', unknownModelMessage(modelName, callLang(this.orm, env), this.profile.major));
    const model = this.orm.model(modelName);
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
        return this.visible(
          env,
          model,
          orm.search(model.name, arg(0, 'domain', []), env, searchOpts(arg(1, 'offset', 0), arg(2, 'limit', null), arg(3, 'order', null))),
        );
      }
      case 'search_count': {
        this.checkAccess(env, model, 'read');
        const n = orm.search(model.name, arg(0, 'domain', []), env).length;
        const limit = arg(1, 'limit', null);
        return typeof limit === 'number' ? Math.min(n, limit) : n;
      }
      case 'search_read': {
        // Odoo checks field groups before the model's ACL: a non-admin asking for smtp_user is refused by field
        const fields = this.checkFields(env, model, fieldList(arg(1, 'fields', null)));
        this.checkAccess(env, model, 'read');
        const ids = this.visible(
          env,
          model,
          orm.search(model.name, arg(0, 'domain', []), env, searchOpts(arg(2, 'offset', 0), arg(3, 'limit', null), arg(4, 'order', null))),
        );
        return markFloats(model, orm.read(model.name, ids, fields, env));
      }
      case 'read': {
        const fields = this.checkFields(env, model, fieldList(arg(1, 'fields', null)));
        this.checkAccess(env, model, 'read');
        return markFloats(model, orm.read(model.name, idList(arg(0, 'ids', [])), fields, env));
      }
      case 'fields_get': {
        return orm.fieldsGet(model.name, fieldList(arg(0, 'allfields', null)), fieldList(arg(1, 'attributes', null)), env, this.seesField(env));
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
          const hit =
            text === '' || (operator === '=' ? dn === text : operator === 'ilike' ? dn.toLowerCase().includes(text.toLowerCase()) : dn.includes(text));
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
        if (model.name === 'mail.message') this.checkMessageCreate(env, Array.isArray(vals) ? vals : [vals]);
        if (model.singletonCreate && Array.isArray(vals) && vals.length > 1) {
          const first = orm.nextId(model.name);
          throw new OdooError('builtins.ValueError', `Expected singleton: ${model.name}(${vals.map((_v, i) => first + i).join(', ')})`);
        }
        if (Array.isArray(vals)) return vals.map((v) => orm.create(model.name, isObject(v) ? v : {}, env));
        if (isObject(vals)) return orm.create(model.name, vals, env);
        throw new OdooError('builtins.TypeError', "create() missing 1 required positional argument: 'vals_list'");
      }
      case 'unlink': {
        this.checkAccess(env, model, 'unlink');
        return orm.unlink(model.name, idList(arg(0, 'ids', [])), env);
      }
      case 'check_access_rights': {
        const operation = String(arg(0, 'operation', 'read')) as 'read';
        const raise = arg(1, 'raise_exception', true) !== false;
        if (raise) {
          this.checkAccess(env, model, operation);
          return true;
        }
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
        this.checkAccess(env, model, 'write');
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

  /** Record rules the sandbox has: mail.message follows its document's read access. */
  private visible(env: Env, model: ModelDef, ids: number[]): number[] {
    if (env.su) return ids;
    if (model.name === 'mail.message') return ids.filter((id) => this.messageVisible(env, this.orm.get('mail.message', id)?.model));
    if (model.name === 'ir.ui.menu') {
      // menus with groups are visible to their groups only (and their children with them)
      const groupIds = new Set((this.orm.get('res.users', env.uid)?.groups_id as number[] | undefined) ?? []);
      const ok = (id: number, depth = 0): boolean => {
        const m = this.orm.get('ir.ui.menu', id);
        if (!m || depth > 20) return false;
        const gs = (m.groups_id as number[] | undefined) ?? [];
        if (gs.length > 0 && !gs.some((g) => groupIds.has(g))) return false;
        return typeof m.parent_id === 'number' ? ok(m.parent_id, depth + 1) : true;
      };
      return ids.filter((id) => ok(id));
    }
    return ids;
  }

  /** Creating messages (notes) on a document needs write access to it, as Odoo's mail.message rules. */
  private checkMessageCreate(env: Env, vals: unknown[]): void {
    for (const v of vals) {
      if (!isObject(v) || typeof v.model !== 'string' || !this.orm.models.has(v.model)) continue;
      const target = this.orm.model(v.model);
      this.checkAccess(env, target, 'read');
      this.checkAccess(env, target, 'write');
      if (typeof v.res_id === 'number') this.orm.getOrMissing(v.model, v.res_id, env);
      if (v.record_name === undefined && typeof v.res_id === 'number') {
        const rec = this.orm.get(v.model, v.res_id);
        if (rec) v.record_name = this.orm.displayName(v.model, rec, env);
      }
      if (v.author_id === undefined) v.author_id = (this.orm.get('res.users', env.uid)?.partner_id as number | undefined) ?? false;
      if (v.date === undefined) v.date = nowUtc(this.orm.clock());
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
    const id = orm.create(
      'mail.message',
      {
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
      },
      { ...env, su: true },
    );
    return id;
  }
}

function attributeError(method: string, model: string): OdooError {
  // (kept for methods no model has)
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

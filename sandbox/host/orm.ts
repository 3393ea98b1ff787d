/**
 * A small, generic in-memory ORM with Odoo's semantics: field definitions per model, `fields_get`,
 * `read` serialisation (`false` for empty, many2one `[id, display_name]`, x2many id lists, dates
 * "YYYY-MM-DD", datetimes UTC "YYYY-MM-DD HH:MM:SS"), a domain evaluator (prefix `&` `|` `!`, implicit
 * AND, dotted paths through relations), `order`, `offset`, `limit`, and create/write/unlink with the x2many
 * command tuples. Records are stored "raw": many2one as id or false, many2many as id lists, translated
 * fields as `{lang: text}`; one2many values are derived from their inverse many2one.
 */
import { OdooError } from './errors.ts';

export type FieldType =
  | 'char'
  | 'text'
  | 'html'
  | 'integer'
  | 'float'
  | 'monetary'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'selection'
  | 'many2one'
  | 'one2many'
  | 'many2many'
  | 'binary'
  | 'json'
  | 'many2one_reference'
  | 'reference';

export interface FieldDef {
  type: FieldType;
  string: string;
  relation?: string;
  /** one2many: the inverse many2one on `relation`. */
  inverse?: string;
  /** one2many: only related records passing this filter belong (Odoo's field `domain`). */
  filter?: (rec: Raw) => boolean;
  selection?: [string, string][];
  required?: boolean;
  readonly?: boolean;
  /** Value when a create leaves the field out. */
  default?: unknown | ((orm: Orm, env: Env, vals: Record<string, unknown>) => unknown);
  /** Translated per language (stored `{lang: text}`). */
  translate?: boolean;
  /** A custom ("manual", x_) field. */
  manual?: boolean;
  help?: string;
  currencyField?: string;
  /** many2one_reference: the char field holding the model name. */
  modelField?: string;
  /** The label in Polish (from the recorded real fields_get); `string` is the English one. */
  stringPl?: string;
  /** Selection labels in Polish, by key. */
  selectionPl?: Record<string, string>;
  /** A computed (not stored) value, read as Odoo serialises it. */
  compute?: (orm: Orm, rec: Raw, env: Env) => unknown;
  /** Readable only by Administration/Settings (Odoo's field `groups="base.group_system"`). */
  adminOnly?: boolean;
  /** Readable only with an invoicing group (Odoo's `groups="account.group_account_invoice,…"`). */
  invoicingOnly?: boolean;
}

export type Raw = Record<string, unknown> & { id: number };

export interface Env {
  uid: number;
  context: Record<string, unknown>;
  /** Superuser: no access checks (the host's own direct API). */
  su: boolean;
}

export interface ModelDef {
  name: string;
  description: string;
  fields: Record<string, FieldDef>;
  /** Default `order` (Odoo `_order`). */
  order?: string;
  /** display_name; default: the `name` field. */
  displayName?: (orm: Orm, rec: Raw, env: Env) => string;
  /** Groups (xmlid of res.groups) allowed any access; absent = every internal user. */
  groups?: string[];
  /** Inherits mail.thread: has `message_post`. */
  mailThread?: boolean;
  /** Extra RPC methods: (call) => result. */
  methods?: Record<string, (call: MethodCall) => unknown>;
  /** Called after create (ids) and write (ids, written values); may write more (with hooks off). */
  afterCreate?: (orm: Orm, env: Env, ids: number[]) => void;
  afterWrite?: (orm: Orm, env: Env, ids: number[], vals: Record<string, unknown>) => void;
  /** Called before a write changes anything; throws to refuse it (Odoo constraints). */
  beforeWrite?: (orm: Orm, env: Env, ids: number[], vals: Record<string, unknown>) => void;
  /** Called after unlink with the removed raw records. */
  afterUnlink?: (orm: Orm, env: Env, removed: Raw[]) => void;
  /** Groups allowed to create/write/unlink (reading stays open unless `groups` says otherwise). */
  writeGroups?: string[];
  /** Per-operation groups (override `groups`/`writeGroups`); an empty list = no group allows it. */
  access?: Partial<Record<'read' | 'write' | 'create' | 'unlink', string[]>>;
  /** Refusals that Odoo words as its "top-secret records" message (ACL without any line for the user). */
  secretOps?: ('read' | 'write' | 'create' | 'unlink')[];
  /** Called before create inserts anything; throws to refuse (required fields). */
  beforeCreate?: (orm: Orm, env: Env, vals: Record<string, unknown>) => void;
  /** create() takes one record per call (computes that call ensure_one). */
  singletonCreate?: boolean;
  /** Abstract in this version (account.move.send on 18): fields_get is `{}` and nothing can be created. */
  abstract?: boolean;
  /** Magic fields with another type on this model (ir.logging's create_uid is an integer). */
  magic?: Record<string, FieldDef>;
}

export interface MethodCall {
  orm: Orm;
  env: Env;
  model: ModelDef;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Everything that is persisted; plain JSON. */
export interface OrmState {
  version: 1;
  today: string;
  tables: Record<string, Raw[]>;
  sequences: Record<string, number>;
  /** Private per-user secrets (login passwords), never a readable field. */
  passwords: Record<string, string>;
  /** Per-user API keys (res.users.apikeys), never a readable field. */
  apiKeys?: Record<string, string[]>;
}

export const MAGIC_FIELDS: Record<string, FieldDef> = {
  id: { type: 'integer', string: 'ID', readonly: true },
  display_name: { type: 'char', string: 'Display Name', readonly: true },
  create_date: { type: 'datetime', string: 'Created on', readonly: true },
  write_date: { type: 'datetime', string: 'Last Updated on', readonly: true },
  create_uid: { type: 'many2one', string: 'Created by', relation: 'res.users', readonly: true },
  write_uid: { type: 'many2one', string: 'Last Updated by', relation: 'res.users', readonly: true },
};
const COMPUTED_MAGIC = new Set(['display_name']);

export type DomainLeaf = [string, string, unknown];
type DomainNode =
  { kind: 'leaf'; leaf: DomainLeaf } | { kind: 'and' | 'or'; items: DomainNode[] } | { kind: 'not'; item: DomainNode } | { kind: 'const'; value: boolean };

const OPERATORS = new Set([
  '=',
  '!=',
  '<>',
  '>',
  '>=',
  '<',
  '<=',
  'in',
  'not in',
  'like',
  'ilike',
  'not like',
  'not ilike',
  '=like',
  '=ilike',
  'child_of',
  'parent_of',
]);

export function nowUtc(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function isEmpty(v: unknown): boolean {
  return v === false || v === null || v === undefined || (Array.isArray(v) && v.length === 0);
}

function likeRegex(pattern: string, caseInsensitive: boolean, wrap: boolean): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  if (wrap) re = `.*${re}.*`;
  return new RegExp(`^${re}$`, caseInsensitive ? 'is' : 's');
}

export class Orm {
  readonly models: Map<string, ModelDef>;
  private tables = new Map<string, Map<number, Raw>>();
  private sequences = new Map<string, number>();
  passwords = new Map<number, string>();
  apiKeys = new Map<number, string[]>();
  today: string;
  /** Called after every change (persistence). */
  onChange: (() => void) | null = null;
  /** Clock for write_date/create_date. */
  clock: () => Date = () => new Date();
  private hooksOff = 0;

  constructor(models: ModelDef[], today: string) {
    this.models = new Map(models.map((m) => [m.name, m]));
    for (const m of models) this.tables.set(m.name, new Map());
    this.today = today;
  }

  // ---- state ----------------------------------------------------------------------------

  exportState(): OrmState {
    const tables: Record<string, Raw[]> = {};
    for (const [name, table] of this.tables) tables[name] = [...table.values()];
    return {
      version: 1,
      today: this.today,
      tables,
      sequences: Object.fromEntries(this.sequences),
      passwords: Object.fromEntries([...this.passwords].map(([k, v]) => [String(k), v])),
      apiKeys: Object.fromEntries([...this.apiKeys].map(([k, v]) => [String(k), v])),
    };
  }

  importState(state: OrmState): void {
    if (state.version !== 1) throw new Error(`unsupported sandbox state version ${String(state.version)}`);
    this.today = state.today;
    for (const name of this.models.keys()) this.tables.set(name, new Map());
    for (const [name, rows] of Object.entries(state.tables)) {
      const table = this.tables.get(name);
      if (!table) continue;
      for (const row of rows) table.set(row.id, row);
    }
    this.sequences = new Map(Object.entries(state.sequences));
    this.passwords = new Map(Object.entries(state.passwords).map(([k, v]) => [Number(k), v]));
    this.apiKeys = new Map(Object.entries(state.apiKeys ?? {}).map(([k, v]) => [Number(k), v]));
  }

  changed(): void {
    this.onChange?.();
  }

  // ---- low level ------------------------------------------------------------------------------

  model(name: string): ModelDef {
    const m = this.models.get(name);
    if (!m) throw new OdooError('builtins.KeyError', `'${name}'`, [name]);
    return m;
  }

  table(name: string): Map<number, Raw> {
    const t = this.tables.get(name);
    if (!t) throw new OdooError('builtins.KeyError', `'${name}'`, [name]);
    return t;
  }

  field(model: ModelDef, name: string): FieldDef | undefined {
    return model.fields[name] ?? model.magic?.[name] ?? MAGIC_FIELDS[name];
  }

  /** Odoo's MissingError, worded in the caller's language. */
  missing(model: string, ids: number[], env: Env): OdooError {
    return missingError(model, ids, env.uid, this.messages?.missing(model, ids, env));
  }

  /** Odoo's ACL as the RPC layer implements it (set by rpc.ts), for custom methods. */
  accessCheck: ((env: Env, model: ModelDef, operation: 'read' | 'write' | 'create' | 'unlink') => void) | null = null;

  /** Version-specific wording of messages (set by the host's profile). */
  messages: { missing: (model: string, ids: number[], env: Env) => string } | null = null;

  fieldOrThrow(model: ModelDef, name: string): FieldDef {
    const f = this.field(model, name);
    if (!f) throw new OdooError('builtins.ValueError', `Invalid field '${name}' on model '${model.name}'`);
    return f;
  }

  nextId(model: string): number {
    const n = (this.sequences.get(model) ?? 0) + 1;
    this.sequences.set(model, n);
    return n;
  }

  /** Next value of a named sequence (invoice numbers). */
  nextSequence(key: string): number {
    return this.nextId(`seq:${key}`);
  }

  get(model: string, id: number): Raw | undefined {
    return this.table(model).get(id);
  }

  /** Raw record or MissingError, as Odoo reports it. */
  getOrMissing(model: string, id: number, env: Env): Raw {
    const rec = this.table(model).get(id);
    if (!rec) throw this.missing(model, [id], env);
    return rec;
  }

  withoutHooks<T>(fn: () => T): T {
    this.hooksOff++;
    try {
      return fn();
    } finally {
      this.hooksOff--;
    }
  }

  /** Insert a raw record as it is (seed); fills defaults and magic fields. */
  insert(modelName: string, values: Record<string, unknown>, env: Env): number {
    const model = this.model(modelName);
    const id = typeof values.id === 'number' ? values.id : this.nextId(modelName);
    if (id > (this.sequences.get(modelName) ?? 0)) this.sequences.set(modelName, id);
    const rec: Raw = { id };
    const now = nowUtc(this.clock());
    for (const [fname, field] of Object.entries(model.fields)) {
      if (field.type === 'one2many') continue;
      if (fname in values) rec[fname] = values[fname];
      else rec[fname] = this.defaultValue(field, env, values);
    }
    rec.create_date = (values.create_date as string | undefined) ?? now;
    rec.write_date = (values.write_date as string | undefined) ?? rec.create_date;
    rec.create_uid = (values.create_uid as number | undefined) ?? (env.uid || 1);
    rec.write_uid = (values.write_uid as number | undefined) ?? rec.create_uid;
    this.table(modelName).set(id, rec);
    return id;
  }

  private defaultValue(field: FieldDef, env: Env, vals: Record<string, unknown>): unknown {
    if (field.default !== undefined) {
      return typeof field.default === 'function' ? (field.default as (o: Orm, e: Env, v: Record<string, unknown>) => unknown)(this, env, vals) : field.default;
    }
    if (field.type === 'many2many') return [];
    if (field.type === 'integer' || field.type === 'float' || field.type === 'monetary' || field.type === 'many2one_reference') return 0;
    return false;
  }

  // ---- display names and values ----------------------------------------------------------------

  displayName(modelName: string, rec: Raw, env: Env): string {
    const model = this.model(modelName);
    if (model.displayName) return model.displayName(this, rec, env);
    const name = this.translated(model.fields.name, rec.name, env);
    return typeof name === 'string' ? name : `${modelName},${rec.id}`;
  }

  translated(field: FieldDef | undefined, raw: unknown, env: Env): unknown {
    if (!field?.translate || raw === false || raw === null || raw === undefined || typeof raw !== 'object') return raw;
    const map = raw as Record<string, string>;
    const lang = typeof env.context.lang === 'string' ? env.context.lang : 'en_US';
    return map[lang] ?? map.en_US ?? Object.values(map)[0] ?? false;
  }

  /** Ids of a one2many (or the stored many2many list), respecting active_test on the related model. */
  x2manyIds(model: ModelDef, fname: string, rec: Raw, env: Env): number[] {
    const field = this.fieldOrThrow(model, fname);
    const relation = field.relation as string;
    if (!this.models.has(relation)) return field.type === 'many2many' ? ((rec[fname] as number[] | undefined) ?? []) : [];
    const related = this.model(relation);
    const activeTest = env.context.active_test !== false && 'active' in related.fields;
    if (field.type === 'many2many') {
      const table = this.table(relation);
      return ((rec[fname] as number[] | undefined) ?? []).filter((id) => {
        const r = table.get(id);
        return r !== undefined && (!activeTest || r.active !== false);
      });
    }
    if (!field.inverse) return [];
    const inverse = field.inverse;
    const out: { id: number; seq: number }[] = [];
    for (const r of this.childrenOf(relation, inverse, rec.id)) {
      if (field.filter && !field.filter(r)) continue;
      if (activeTest && r.active === false) continue;
      out.push({ id: r.id, seq: typeof r.sequence === 'number' ? r.sequence : 0 });
    }
    out.sort((a, b) => a.seq - b.seq || a.id - b.id);
    return out.map((x) => x.id);
  }

  /** While a read() runs: records of a relation grouped by an inverse many2one (built once per read). */
  private readIndex: Map<string, Map<unknown, Raw[]>> | null = null;

  /** Records of `relation` whose `inverse` is `id` (indexed during a read, scanned otherwise). */
  childrenOf(relation: string, inverse: string, id: number): Raw[] {
    if (!this.readIndex) return [...this.table(relation).values()].filter((r) => r[inverse] === id);
    const key = `${relation}\u0000${inverse}`;
    let index = this.readIndex.get(key);
    if (!index) {
      index = new Map();
      for (const r of this.table(relation).values()) {
        const list = index.get(r[inverse]);
        if (list) list.push(r);
        else index.set(r[inverse], [r]);
      }
      this.readIndex.set(key, index);
    }
    return index.get(id) ?? [];
  }

  /** The read value of one field, exactly as Odoo serialises it. */
  readValue(model: ModelDef, fname: string, rec: Raw, env: Env): unknown {
    const field = this.fieldOrThrow(model, fname);
    if (fname === 'id') return rec.id;
    if (fname === 'display_name') return this.displayName(model.name, rec, env);
    if (field.compute) return field.compute(this, rec, env);
    const raw = this.translated(field, rec[fname], env);
    switch (field.type) {
      case 'integer':
      case 'many2one_reference':
        return typeof raw === 'number' ? Math.trunc(raw) : 0;
      case 'float':
      case 'monetary':
        return typeof raw === 'number' ? raw : 0;
      case 'boolean':
        return raw === true;
      case 'many2one': {
        if (typeof raw !== 'number' || !this.models.has(field.relation as string)) return false;
        const related = this.get(field.relation as string, raw);
        if (!related) return false;
        // Odoo computes the display name as superuser: visibility follows the reading record.
        return [raw, this.displayName(field.relation as string, related, { ...env, su: true })];
      }
      case 'one2many':
      case 'many2many':
        return this.x2manyIds(model, fname, rec, env);
      case 'json':
        return raw === undefined || raw === null ? false : raw;
      default:
        return raw === undefined || raw === null || raw === false ? false : raw;
    }
  }

  /** The value used to compare and sort (many2one id, x2many ids, translated text). */
  private compareValue(model: ModelDef, fname: string, rec: Raw, env: Env): unknown {
    const field = this.fieldOrThrow(model, fname);
    if (fname === 'id') return rec.id;
    if (fname === 'display_name') return this.displayName(model.name, rec, env);
    if (field.type === 'one2many' || field.type === 'many2many') return this.x2manyIds(model, fname, rec, env);
    const raw = this.translated(field, rec[fname], env);
    if (field.type === 'boolean') return raw === true;
    if (field.type === 'integer' || field.type === 'float' || field.type === 'monetary' || field.type === 'many2one_reference') {
      return typeof raw === 'number' ? raw : 0;
    }
    return raw === undefined || raw === null ? false : raw;
  }

  // ---- domain ---------------------------------------------------------------------------------

  parseDomain(domain: unknown): DomainNode {
    if (domain === undefined || domain === null || domain === false) return { kind: 'const', value: true };
    if (!Array.isArray(domain)) throw new OdooError('builtins.ValueError', `Invalid domain: ${JSON.stringify(domain)}`);
    let pos = 0;
    const parseOne = (): DomainNode => {
      if (pos >= domain.length) throw new OdooError('builtins.ValueError', `Invalid domain: ${JSON.stringify(domain)}`);
      const el: unknown = domain[pos++];
      if (el === '&' || el === '|') {
        const a = parseOne();
        const b = parseOne();
        return { kind: el === '&' ? 'and' : 'or', items: [a, b] };
      }
      if (el === '!') return { kind: 'not', item: parseOne() };
      if (Array.isArray(el) && el.length === 3) {
        const [l, op, r] = el as [unknown, unknown, unknown];
        if (typeof op !== 'string' || !OPERATORS.has(op.toLowerCase())) {
          throw new OdooError('builtins.ValueError', `Invalid leaf ${JSON.stringify(el)}`);
        }
        if ((l === 1 || l === 0) && op === '=' && r === 1) return { kind: 'const', value: l === 1 };
        if (typeof l !== 'string') throw new OdooError('builtins.ValueError', `Invalid leaf ${JSON.stringify(el)}`);
        return { kind: 'leaf', leaf: [l, op.toLowerCase() === '<>' ? '!=' : op.toLowerCase(), r] };
      }
      throw new OdooError('builtins.ValueError', `Invalid leaf ${JSON.stringify(el)}`);
    };
    const items: DomainNode[] = [];
    while (pos < domain.length) items.push(parseOne());
    return items.length === 1 ? (items[0] as DomainNode) : { kind: 'and', items };
  }

  /** Validates every leaf's field path up front (Odoo raises before touching rows). */
  private checkDomain(model: ModelDef, node: DomainNode): void {
    if (node.kind === 'leaf') this.checkPath(model, node.leaf);
    else if (node.kind === 'and' || node.kind === 'or') node.items.forEach((n) => this.checkDomain(model, n));
    else if (node.kind === 'not') this.checkDomain(model, node.item);
  }

  private checkPath(model: ModelDef, leaf: DomainLeaf): void {
    const parts = leaf[0].split('.');
    let m = model;
    for (let i = 0; i < parts.length; i++) {
      const f = this.field(m, parts[i] as string);
      if (!f) throw new OdooError('builtins.ValueError', `Invalid field ${m.name}.${parts[i]} in leaf ${leafText(leaf)}`);
      if (i < parts.length - 1) {
        if (!f.relation || f.type === 'many2one_reference') {
          throw new OdooError('builtins.ValueError', `Invalid field ${m.name}.${parts[i]} in leaf ${leafText(leaf)}`);
        }
        m = this.model(f.relation);
      }
    }
  }

  private domainMentionsActive(node: DomainNode): boolean {
    if (node.kind === 'leaf') return node.leaf[0] === 'active' || node.leaf[0].endsWith('.active');
    if (node.kind === 'and' || node.kind === 'or') return node.items.some((n) => this.domainMentionsActive(n));
    if (node.kind === 'not') return this.domainMentionsActive(node.item);
    return false;
  }

  private evalNode(model: ModelDef, rec: Raw, node: DomainNode, env: Env): boolean {
    switch (node.kind) {
      case 'const':
        return node.value;
      case 'and':
        return node.items.every((n) => this.evalNode(model, rec, n, env));
      case 'or':
        return node.items.some((n) => this.evalNode(model, rec, n, env));
      case 'not':
        return !this.evalNode(model, rec, node.item, env);
      case 'leaf':
        return this.evalLeaf(model, rec, node.leaf, env);
    }
  }

  private evalLeaf(model: ModelDef, rec: Raw, leaf: DomainLeaf, env: Env): boolean {
    const [path, op, value] = leaf;
    const dot = path.indexOf('.');
    if (dot > 0) {
      const head = path.slice(0, dot);
      const field = this.fieldOrThrow(model, head);
      const relation = this.model(field.relation as string);
      const ids =
        field.type === 'many2one'
          ? typeof rec[head] === 'number'
            ? [rec[head] as number]
            : []
          : this.x2manyIds(model, head, rec, { ...env, context: { ...env.context, active_test: false } });
      const sub: DomainLeaf = [path.slice(dot + 1), op, value];
      const table = this.table(relation.name);
      return ids.some((id) => {
        const r = table.get(id);
        return r !== undefined && this.evalLeaf(relation, r, sub, env);
      });
    }
    const field = this.fieldOrThrow(model, path);
    const actual = this.compareValue(model, path, rec, env);

    if (op === 'child_of' || op === 'parent_of') {
      // Simplified: the record itself or its parent chain (child_of) / children (parent_of).
      const targets = new Set((Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === 'number'));
      const id = typeof actual === 'number' ? actual : path === 'id' ? rec.id : null;
      if (id === null) return false;
      let cur: Raw | undefined = this.get(field.relation ?? model.name, id);
      while (cur) {
        if (targets.has(cur.id)) return true;
        cur = typeof cur.parent_id === 'number' ? this.get(field.relation ?? model.name, cur.parent_id) : undefined;
      }
      return false;
    }

    if (field.type === 'one2many' || field.type === 'many2many') {
      const ids = actual as number[];
      const relationName = field.relation as string;
      const nameOf = (id: number): string => {
        const r = this.get(relationName, id);
        return r ? this.displayName(relationName, r, env) : '';
      };
      const list = Array.isArray(value) ? value : [value];
      switch (op) {
        case '=':
        case 'in':
          if (value === false || (Array.isArray(value) && value.length === 0 && op === '=')) return ids.length === 0;
          return list.some((v) =>
            typeof v === 'number' ? ids.includes(v) : typeof v === 'string' ? ids.some((id) => nameOf(id) === v) : v === false && ids.length === 0,
          );
        case '!=':
        case 'not in':
          if (value === false) return ids.length > 0;
          return !list.some((v) => (typeof v === 'number' ? ids.includes(v) : typeof v === 'string' ? ids.some((id) => nameOf(id) === v) : false));
        default:
          if (typeof value === 'string' && op.includes('like')) {
            const neg = op.startsWith('not ');
            const hit = ids.some((id) => this.matchScalar(nameOf(id), op.replace('not ', ''), value));
            return neg ? !hit : hit;
          }
          return false;
      }
    }

    if (field.type === 'many2one' && typeof value === 'string' && op !== 'in' && op !== 'not in') {
      // Comparing a many2one with text compares the related record's display name (Odoo name_search).
      const name =
        typeof actual === 'number' ? this.displayName(field.relation as string, this.get(field.relation as string, actual) ?? { id: actual }, env) : false;
      if (op === '=' || op === '!=') return op === '=' ? name === value : name !== value;
      return this.matchScalar(name, op, value);
    }
    return this.matchScalar(actual, op, value);
  }

  private matchScalar(actual: unknown, op: string, value: unknown): boolean {
    const empty = actual === false || actual === null || actual === undefined;
    const norm = (v: unknown): unknown => (v === null || v === undefined ? false : v);
    switch (op) {
      case '=':
        if (value === false || value === null) return empty || actual === false;
        return !empty && actual === value;
      case '!=':
        if (value === false || value === null) return !empty && actual !== false;
        // Odoo adds "OR field IS NULL" to a negative comparison.
        return empty || actual !== value;
      case 'in':
      case 'not in': {
        const list = (Array.isArray(value) ? value : [value]).map(norm);
        const hit = empty ? list.includes(false) : list.includes(actual);
        return op === 'in' ? hit : !hit;
      }
      case '>':
      case '>=':
      case '<':
      case '<=': {
        if (empty || value === false || value === null) return false;
        const a = actual as number | string;
        const b = value as number | string;
        if (op === '>') return a > b;
        if (op === '>=') return a >= b;
        if (op === '<') return a < b;
        return a <= b;
      }
      case 'like':
      case 'ilike':
      case '=like':
      case '=ilike': {
        if (empty) return false;
        if (value === false || value === null) return false;
        return likeRegex(String(value), op.includes('ilike'), !op.startsWith('=')).test(String(actual));
      }
      case 'not like':
      case 'not ilike': {
        if (empty) return true;
        return !likeRegex(String(value), op.includes('ilike'), true).test(String(actual));
      }
      default:
        throw new OdooError('builtins.ValueError', `Invalid operator ${op}`);
    }
  }

  // ---- search ---------------------------------------------------------------------------------

  search(modelName: string, domain: unknown, env: Env, opts: { offset?: number; limit?: number | null; order?: string | null } = {}): number[] {
    const model = this.model(modelName);
    const node = this.parseDomain(domain);
    this.checkDomain(model, node);
    const activeTest = env.context.active_test !== false && 'active' in model.fields && !this.domainMentionsActive(node);
    const matches: Raw[] = [];
    for (const rec of this.table(modelName).values()) {
      if (activeTest && rec.active === false) continue;
      if (this.evalNode(model, rec, node, env)) matches.push(rec);
    }
    const order = this.parseOrder(model, opts.order || model.order || 'id');
    const keyed = matches.map((rec) => ({ rec, keys: this.sortKeys(model, rec, order, env) }));
    keyed.sort((a, b) => compareKeys(a.keys, b.keys, order));
    matches.length = 0;
    for (const k of keyed) matches.push(k.rec);
    const offset = Math.max(0, Number(opts.offset ?? 0) || 0);
    const limit = opts.limit === null || opts.limit === undefined || opts.limit === (false as unknown) ? undefined : Number(opts.limit);
    const slice = limit === undefined || !Number.isFinite(limit) ? matches.slice(offset) : matches.slice(offset, offset + limit);
    return slice.map((r) => r.id);
  }

  parseOrder(model: ModelDef, order: string): OrderTerm[] {
    const out: OrderTerm[] = [];
    for (const part of order.split(',')) {
      const tokens = part.trim().split(/\s+/).filter(Boolean);
      if (tokens.length === 0) continue;
      const [fname, dir, nullsWord, nullsWhere] = tokens as [string, string?, string?, string?];
      const f = this.field(model, fname);
      if (!f || COMPUTED_MAGIC.has(fname) || f.type === 'one2many' || f.type === 'many2many' || f.type === 'binary') {
        throw new OdooError('builtins.ValueError', `Invalid field '${fname}' on model '${model.name}'`);
      }
      if (dir && !/^(asc|desc)$/i.test(dir)) throw new OdooError('builtins.ValueError', `Invalid "order" specified (${order}).`);
      let nulls: 'first' | 'last' | null = null;
      if (nullsWord) {
        if (!/^nulls$/i.test(nullsWord) || !nullsWhere || !/^(first|last)$/i.test(nullsWhere)) {
          throw new OdooError('builtins.ValueError', `Invalid "order" specified (${order}).`);
        }
        nulls = nullsWhere.toLowerCase() as 'first' | 'last';
      }
      out.push({ field: fname, desc: /^desc$/i.test(dir ?? ''), nulls });
    }
    return out;
  }

  /** The values a record sorts by, computed once per record (many2one by display name). */
  private sortKeys(model: ModelDef, rec: Raw, order: OrderTerm[], env: Env): unknown[] {
    return order.map(({ field: fname }) => {
      const field = this.fieldOrThrow(model, fname);
      const v = this.compareValue(model, fname, rec, env);
      if (field.type === 'many2one') {
        if (typeof v !== 'number') return false;
        const r = this.get(field.relation as string, v);
        return r ? this.displayName(field.relation as string, r, env) : false;
      }
      if (field.type === 'boolean') return v === true ? 1 : 0;
      return v;
    });
  }

  // ---- read / write ---------------------------------------------------------------------------

  read(modelName: string, ids: number[], fields: string[] | null, env: Env): Record<string, unknown>[] {
    const model = this.model(modelName);
    const names = fields && fields.length > 0 ? fields : ['id', ...Object.keys(model.fields), ...Object.keys(MAGIC_FIELDS).filter((k) => k !== 'id')];
    for (const n of names) this.fieldOrThrow(model, n);
    // Odoo: a missing record reads as `{id}` when only `id` is asked (nothing is fetched), otherwise it is left out.
    const onlyId = names.every((n) => n === 'id');
    const outer = this.readIndex === null;
    if (outer) this.readIndex = new Map();
    try {
      return ids
        .filter((id) => onlyId || this.table(modelName).has(id))
        .map((id) => {
          if (!this.table(modelName).has(id)) return { id };
          const rec = this.table(modelName).get(id) as Raw;
          const out: Record<string, unknown> = { id };
          for (const n of names) out[n] = this.readValue(model, n, rec, env);
          return out;
        });
    } finally {
      if (outer) this.readIndex = null;
    }
  }

  /** Converts a written value to its raw stored form (Odoo convert_to_cache), x2many commands applied. */
  private convertValue(model: ModelDef, fname: string, field: FieldDef, value: unknown, rec: Raw, env: Env, pending: (() => void)[]): unknown {
    const bad = (): never => {
      throw new OdooError('builtins.ValueError', `Wrong value for ${model.name}.${fname}: ${JSON.stringify(value)}`);
    };
    if (field.translate) {
      if (value === false || value === null) return false;
      if (typeof value !== 'string') bad();
      const lang = typeof env.context.lang === 'string' ? env.context.lang : 'en_US';
      const current = rec[fname] && typeof rec[fname] === 'object' ? { ...(rec[fname] as Record<string, string>) } : {};
      current[lang] = value as string;
      if (!current.en_US) current.en_US = value as string;
      return current;
    }
    switch (field.type) {
      case 'char':
      case 'text':
      case 'html':
      case 'binary':
        if (value === false || value === null) return false;
        return typeof value === 'string' ? value : bad();
      case 'reference':
        if (value === false || value === null) return false;
        return typeof value === 'string' && /^[a-z_][a-z0-9_.]*,\d+$/.test(value) ? value : bad();
      case 'selection':
        if (value === false || value === null) return false;
        if (!field.selection?.some(([k]) => k === value)) bad();
        return value;
      case 'integer':
      case 'many2one_reference':
        if (value === false || value === null) return 0;
        return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) : bad();
      case 'float':
      case 'monetary':
        if (value === false || value === null) return 0;
        return typeof value === 'number' && Number.isFinite(value) ? value : bad();
      case 'boolean':
        return Boolean(value);
      case 'date':
        if (value === false || value === null) return false;
        return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : bad();
      case 'datetime':
        if (value === false || value === null) return false;
        if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value} 00:00:00`;
        return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/.test(value) ? value.slice(0, 19).replace('T', ' ') : bad();
      case 'json':
        return value === null || value === undefined ? false : value;
      case 'many2one': {
        if (value === false || value === null || value === 0) return false;
        const id = Array.isArray(value) ? value[0] : value;
        if (typeof id !== 'number') bad();
        if (!this.table(field.relation as string).has(id as number)) {
          throw new OdooError(
            'psycopg2.errors.ForeignKeyViolation',
            `insert or update on table "${model.name.replaceAll('.', '_')}" violates foreign key constraint "${model.name.replaceAll('.', '_')}_${fname}_fkey"`,
          );
        }
        return id;
      }
      case 'many2many':
      case 'one2many':
        return this.applyCommands(model, fname, field, value, rec, env, pending);
    }
  }

  private applyCommands(model: ModelDef, fname: string, field: FieldDef, value: unknown, rec: Raw, env: Env, pending: (() => void)[]): unknown {
    if (!Array.isArray(value)) throw new OdooError('builtins.ValueError', `Wrong value for ${model.name}.${fname}: ${JSON.stringify(value)}`);
    const relation = field.relation as string;
    let ids =
      field.type === 'many2many'
        ? [...((rec[fname] as number[] | undefined) ?? [])]
        : this.x2manyIds(model, fname, rec, { ...env, context: { active_test: false } });
    const commands: unknown[][] = value.every((v) => typeof v === 'number') ? [[6, 0, value]] : (value as unknown[][]);
    // Validate every command before changing anything (the sandbox has no transaction to roll back).
    const wrong = (): never => {
      throw new OdooError('builtins.ValueError', `Wrong value for ${model.name}.${fname}: ${JSON.stringify(value)}`);
    };
    const relModel = this.model(relation);
    const relTable = this.table(relation);
    const isVals = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    const mustExist = (id: unknown): void => {
      if (typeof id !== 'number' || !Number.isInteger(id)) wrong();
      if (!relTable.has(id as number)) {
        throw new OdooError(
          'psycopg2.errors.ForeignKeyViolation',
          `insert or update on table "${model.name.replaceAll('.', '_')}_${fname}_rel" violates foreign key constraint`,
        );
      }
    };
    for (const cmd of commands) {
      if (!Array.isArray(cmd) || typeof cmd[0] !== 'number') wrong();
      const [code, id, data] = cmd as [number, unknown, unknown];
      if (code === 0 || code === 1) {
        if (!isVals(data)) wrong();
        for (const k of Object.keys(data as Record<string, unknown>)) {
          if (!relModel.fields[k]) throw new OdooError('builtins.ValueError', `Invalid field '${k}' on model '${relation}'`);
        }
        if (code === 1) mustExist(id);
      } else if (code === 2 || code === 3 || code === 4) mustExist(id);
      else if (code === 6) {
        if (!Array.isArray(data)) wrong();
        (data as unknown[]).forEach(mustExist);
      } else if (code !== 5) wrong();
    }
    for (const cmd of commands) {
      const [code, id, data] = cmd as [number, number, unknown];
      switch (code) {
        case 0:
          if (field.type === 'one2many') {
            pending.push(() => {
              this.create(relation, { ...(data as Record<string, unknown>), [field.inverse as string]: rec.id }, env);
            });
          } else {
            const newId = this.create(relation, data as Record<string, unknown>, env);
            ids.push(newId);
          }
          break;
        case 1:
          pending.push(() => this.write(relation, [id], data as Record<string, unknown>, env));
          if (!ids.includes(id)) ids.push(id);
          break;
        case 2:
          pending.push(() => this.unlink(relation, [id], env));
          ids = ids.filter((x) => x !== id);
          break;
        case 3:
          if (field.type === 'one2many') pending.push(() => this.write(relation, [id], { [field.inverse as string]: false }, env));
          ids = ids.filter((x) => x !== id);
          break;
        case 4:
          if (field.type === 'one2many') pending.push(() => this.write(relation, [id], { [field.inverse as string]: rec.id }, env));
          if (!ids.includes(id)) ids.push(id);
          break;
        case 5:
          if (field.type === 'one2many') {
            const old = ids;
            pending.push(() => old.forEach((x) => this.write(relation, [x], { [field.inverse as string]: false }, env)));
          }
          ids = [];
          break;
        case 6: {
          const next = (data as number[]) ?? [];
          if (field.type === 'one2many') {
            const old = ids;
            pending.push(() => {
              old.filter((x) => !next.includes(x)).forEach((x) => this.unlink(relation, [x], env));
              next.forEach((x) => this.write(relation, [x], { [field.inverse as string]: rec.id }, env));
            });
          }
          ids = [...next];
          break;
        }
        default:
          throw new OdooError('builtins.ValueError', `Wrong value for ${model.name}.${fname}: ${JSON.stringify(value)}`);
      }
    }
    return ids;
  }

  create(modelName: string, vals: Record<string, unknown>, env: Env): number {
    const model = this.model(modelName);
    for (const fname of Object.keys(vals)) {
      if (!model.fields[fname]) throw new OdooError('builtins.ValueError', `Invalid field '${fname}' on model '${modelName}'`);
    }
    if (this.hooksOff === 0) model.beforeCreate?.(this, env, vals);
    const id = this.nextId(modelName);
    const rec: Raw = { id };
    const pending: (() => void)[] = [];
    const now = nowUtc(this.clock());
    for (const [fname, field] of Object.entries(model.fields)) {
      if (field.type === 'one2many') continue;
      rec[fname] = this.defaultValue(field, env, vals);
    }
    rec.create_date = now;
    rec.write_date = now;
    rec.create_uid = env.uid || 1;
    rec.write_uid = env.uid || 1;
    for (const [fname, value] of Object.entries(vals)) {
      const field = model.fields[fname] as FieldDef;
      const converted = this.convertValue(model, fname, field, value, rec, env, pending);
      if (field.type !== 'one2many') rec[fname] = converted;
    }
    this.table(modelName).set(id, rec);
    for (const p of pending) p();
    if (this.hooksOff === 0) model.afterCreate?.(this, env, [id]);
    this.changed();
    return id;
  }

  write(modelName: string, ids: number[], vals: Record<string, unknown>, env: Env): true {
    const model = this.model(modelName);
    // The superuser (the host's direct API) may set the magic dates, e.g. to age a record in a test.
    const magic: Record<string, unknown> = {};
    if (env.su) {
      for (const k of ['create_date', 'write_date'] as const) {
        if (k in vals) {
          magic[k] = this.convertValue(model, k, MAGIC_FIELDS[k] as FieldDef, vals[k], { id: 0 }, env, []);
          vals = { ...vals };
          delete vals[k];
        }
      }
    }
    for (const fname of Object.keys(vals)) {
      if (!model.fields[fname]) throw new OdooError('builtins.ValueError', `Invalid field '${fname}' on model '${modelName}'`);
    }
    const missing = ids.filter((id) => !this.table(modelName).has(id));
    if (missing.length > 0) throw this.missing(modelName, missing, env);
    if (this.hooksOff === 0) model.beforeWrite?.(this, env, ids, vals);
    const now = nowUtc(this.clock());
    for (const id of ids) {
      const rec = this.table(modelName).get(id) as Raw;
      const pending: (() => void)[] = [];
      const next: Record<string, unknown> = {};
      for (const [fname, value] of Object.entries(vals)) {
        const field = model.fields[fname] as FieldDef;
        const converted = this.convertValue(model, fname, field, value, rec, env, pending);
        if (field.type !== 'one2many') next[fname] = converted;
      }
      Object.assign(rec, next);
      rec.write_date = now;
      Object.assign(rec, magic);
      rec.write_uid = env.uid || 1;
      for (const p of pending) p();
    }
    if (this.hooksOff === 0) model.afterWrite?.(this, env, ids, vals);
    this.changed();
    return true;
  }

  unlink(modelName: string, ids: number[], env: Env): true {
    const model = this.model(modelName);
    const missing = ids.filter((id) => !this.table(modelName).has(id));
    if (missing.length > 0) throw this.missing(modelName, missing, env);
    const removed = ids.map((id) => this.table(modelName).get(id) as Raw);
    for (const id of ids) this.table(modelName).delete(id);
    // cascade one2many children whose inverse points at the removed records
    for (const [fname, field] of Object.entries(model.fields)) {
      if (field.type !== 'one2many' || fname === 'child_ids' || !field.inverse || !this.models.has(field.relation as string)) continue;
      const rel = this.table(field.relation as string);
      for (const r of [...rel.values()]) if (ids.includes(r[field.inverse as string] as number)) rel.delete(r.id);
    }
    if (this.hooksOff === 0) model.afterUnlink?.(this, env, removed);
    this.changed();
    return true;
  }

  fieldsGet(
    modelName: string,
    allfields: string[] | null,
    attributes: string[] | null,
    env?: Env,
    sees: (f: FieldDef) => boolean = () => true,
  ): Record<string, Record<string, unknown>> {
    const model = this.model(modelName);
    const all: Record<string, FieldDef> = model.abstract ? {} : { ...MAGIC_FIELDS, ...model.magic, ...model.fields };
    const out: Record<string, Record<string, unknown>> = {};
    const pl = typeof env?.context.lang === 'string' && env.context.lang.startsWith('pl');
    for (const [fname, f] of Object.entries(all)) {
      if (allfields && allfields.length > 0 && !allfields.includes(fname)) continue;
      if (!sees(f)) continue;
      const stored = !COMPUTED_MAGIC.has(fname);
      const desc: Record<string, unknown> = {
        name: fname,
        type: f.type,
        string: (pl && f.stringPl) || f.string,
        required: f.required ?? false,
        readonly: f.readonly ?? false,
        store: stored,
        searchable: true,
        sortable: stored && f.type !== 'one2many' && f.type !== 'many2many' && f.type !== 'binary',
        manual: f.manual ?? false,
        company_dependent: false,
        groupable: stored && f.type !== 'one2many' && f.type !== 'many2many' && f.type !== 'text' && f.type !== 'html' && f.type !== 'binary',
        exportable: true,
        depends: [],
        context: {},
        change_default: false,
        translate: f.translate ?? false,
      };
      if (f.help) desc.help = f.help;
      if (f.type === 'selection') desc.selection = (f.selection ?? []).map(([k, l]) => [k, (pl && f.selectionPl?.[k]) || l]);
      if (f.relation) {
        desc.relation = f.relation;
        desc.domain = [];
      }
      if (f.type === 'one2many') desc.relation_field = f.inverse;
      if (f.type === 'monetary') desc.currency_field = f.currencyField ?? 'currency_id';
      if (f.type === 'many2one_reference') desc.model_field = f.modelField;
      if (f.type === 'char') desc.trim = true;
      if (attributes && attributes.length > 0) {
        for (const k of Object.keys(desc)) if (!attributes.includes(k)) delete desc[k];
      }
      out[fname] = desc;
    }
    return out;
  }
}

interface OrderTerm {
  field: string;
  desc: boolean;
  nulls: 'first' | 'last' | null;
}

const collator = new Intl.Collator('pl');

function compareKeys(a: unknown[], b: unknown[], order: OrderTerm[]): number {
  for (let i = 0; i < order.length; i++) {
    const { desc, nulls } = order[i] as OrderTerm;
    const va = a[i];
    const vb = b[i];
    const ea = va === false || va === null || va === undefined;
    const eb = vb === false || vb === null || vb === undefined;
    if (ea || eb) {
      if (ea && eb) continue;
      // PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC, unless stated.
      const nullsFirst = nulls ? nulls === 'first' : desc;
      return ea ? (nullsFirst ? -1 : 1) : nullsFirst ? 1 : -1;
    }
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : collator.compare(String(va), String(vb));
    if (c !== 0) return desc ? -c : c;
  }
  return 0;
}

function leafText(leaf: DomainLeaf): string {
  return `('${leaf[0]}', '${leaf[1]}', ${JSON.stringify(leaf[2])})`;
}

export function missingError(model: string, ids: number[], uid: number, message?: string): OdooError {
  const idText = ids.length === 1 ? `${ids[0]},` : ids.join(', ');
  return new OdooError('odoo.exceptions.MissingError', message ?? `Record does not exist or has been deleted.\n(Record: ${model}(${idText}), User: ${uid})`);
}

export { isEmpty };

/**
 * Rendering of the sandbox's own mail templates: `{{ object.a.b }}` dotted paths on the record,
 * optionally `{{ object.x or 'fallback' }}`. No code runs: anything else renders as an empty string.
 * Values are HTML-escaped in bodies; subjects are plain text. The language comes from the template's
 * `lang` expression (the partner's `lang`), falling back to en_US, as Odoo's wizard does.
 */
import type { Env, Orm, Raw } from './orm.ts';
import { escapeHtml } from './util.ts';

const EXPR = /\{\{\s*(.*?)\s*\}\}/g;

export interface Rendered {
  subject: string;
  body: string;
  lang: string;
}

export function renderExpression(orm: Orm, env: Env, modelName: string, rec: Raw, expr: string): string {
  const m = /^object((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\s+or\s+'([^']*)')?$/.exec(expr.trim());
  if (!m) return '';
  const path = (m[1] ?? '').split('.').filter(Boolean);
  const fallback = m[2] ?? '';
  const value = resolvePath(orm, env, modelName, rec, path);
  return value === '' ? fallback : value;
}

function resolvePath(orm: Orm, env: Env, modelName: string, rec: Raw, path: string[]): string {
  let model = orm.model(modelName);
  let current: Raw = rec;
  if (path.length === 0) return orm.displayName(modelName, rec, env);
  for (let i = 0; i < path.length; i++) {
    const fname = path[i] as string;
    const field = orm.field(model, fname);
    if (!field) return '';
    const last = i === path.length - 1;
    if (field.type === 'many2one') {
      const id = current[fname];
      if (typeof id !== 'number') return '';
      const next = orm.get(field.relation as string, id);
      if (!next) return '';
      if (last) return orm.displayName(field.relation as string, next, env);
      model = orm.model(field.relation as string);
      current = next;
      continue;
    }
    if (!last) return '';
    const v = orm.readValue(model, fname, current, env);
    if (v === false || v === null || v === undefined) return '';
    if (field.type === 'monetary' || field.type === 'float') {
      const decimals = field.type === 'monetary' ? currencyDecimals(orm, current, field.currencyField ?? 'currency_id') : 2;
      return formatNumber(v as number, decimals, env.context.lang);
    }
    if (field.type === 'date' && typeof v === 'string') return formatDate(v, env.context.lang);
    if (Array.isArray(v)) return v.join(',');
    return String(v);
  }
  return '';
}

/** As the installed languages print numbers (res.lang): pl_PL "17 662,14" (U+00A0 grouping), en_US "17,662.14". */
function formatNumber(value: number, decimals: number, lang: unknown): string {
  const [int, frac] = Math.abs(value).toFixed(decimals).split('.') as [string, string | undefined];
  const pl = lang === 'pl_PL';
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, pl ? '\u00a0' : ',');
  return `${value < 0 ? '-' : ''}${grouped}${frac ? (pl ? ',' : '.') + frac : ''}`;
}

/** As the installed languages print dates (res.lang date_format): pl_PL "09.12.2026" (%d.%m.%Y), en_US "12/09/2026" (%m/%d/%Y). */
function formatDate(iso: string, lang: unknown): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return iso;
  return lang === 'pl_PL' ? `${m[3]}.${m[2]}.${m[1]}` : `${m[2]}/${m[3]}/${m[1]}`;
}

function currencyDecimals(orm: Orm, rec: Raw, currencyField: string): number {
  const id = rec[currencyField];
  const cur = typeof id === 'number' ? orm.get('res.currency', id) : undefined;
  return typeof cur?.decimal_places === 'number' ? cur.decimal_places : 2;
}

export function renderText(orm: Orm, env: Env, modelName: string, rec: Raw, text: string, html: boolean): string {
  return text.replace(EXPR, (_all, expr: string) => {
    const v = renderExpression(orm, env, modelName, rec, expr);
    return html ? escapeHtml(v) : v;
  });
}

/** Renders a mail.template for one record in the record's (partner's) language. */
export function renderTemplate(orm: Orm, env: Env, template: Raw, modelName: string, rec: Raw): Rendered {
  const langExpr = typeof template.lang === 'string' ? template.lang : '';
  let lang = langExpr ? renderText(orm, env, modelName, rec, langExpr, false).trim() : '';
  const installed = new Set(['en_US', 'pl_PL']);
  if (!installed.has(lang)) lang = typeof env.context.lang === 'string' && installed.has(env.context.lang) ? env.context.lang : 'en_US';
  const langEnv: Env = { ...env, context: { ...env.context, lang } };
  const model = orm.model('mail.template');
  const subject = orm.translated(model.fields.subject, template.subject, langEnv);
  const body = orm.translated(model.fields.body_html, template.body_html, langEnv);
  return {
    subject: typeof subject === 'string' ? renderText(orm, langEnv, modelName, rec, subject, false) : '',
    body: typeof body === 'string' ? renderText(orm, langEnv, modelName, rec, body, true) : '',
    lang,
  };
}

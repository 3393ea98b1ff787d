/**
 * Field problems as message codes: the settings checks, the host checks and the JSON-schema errors of
 * a request all become `{ field, code, params }`; the sentence is rendered per language when answered.
 * No raw schema text (`must match pattern "^([01]…"`) ever reaches a person.
 */
import { DATE_PATTERN, PRINT_PATTERN, TIME_PATTERN } from '../settings/schema.ts';
import { render, type MessageCode, type Params } from './catalogue.ts';

export interface FieldProblem {
  field: string;
  code: MessageCode;
  params: Params;
  /** The English sentence (for logs and callers that do not render). */
  message: string;
}

export function problem(field: string, code: MessageCode, params: Params = {}): FieldProblem {
  return { field, code, params, message: render('en', code, params) };
}

/** What Fastify/ajv reports for one failed keyword. */
export interface SchemaError {
  instancePath?: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Specific keywords first: for one field, ajv's anyOf/type noise yields to the pattern that failed. */
const PRIORITY = ['additionalProperties', 'required', 'pattern', 'format', 'maxLength', 'minLength', 'minimum', 'maximum', 'const', 'enum', 'type', 'anyOf'];

function one(e: SchemaError, fallbackField: string, valueAt?: (field: string) => unknown): FieldProblem {
  const base = (e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const p = e.params ?? {};
  const extra = (p['missingProperty'] ?? p['additionalProperty']) as string | undefined;
  const field = [base, extra].filter(Boolean).join('.') || fallbackField;
  switch (e.keyword) {
    case 'additionalProperties':
      return problem(field, 'validation.unknown_field', { name: String(p['additionalProperty']) });
    case 'required':
      return problem(field, 'validation.required');
    case 'pattern': {
      const pattern = String(p['pattern']);
      if (pattern === TIME_PATTERN) return problem(field, 'settings.time_format');
      if (pattern === DATE_PATTERN) return problem(field, 'settings.date_format');
      if (pattern === PRINT_PATTERN) return problem(field, 'settings.print_format');
      return problem(field, 'validation.format');
    }
    case 'format': {
      if (p['format'] !== 'date') return problem(field, 'validation.format');
      // Written as a date but no such day (2026-02-31): say that, not that the form is wrong.
      const value = valueAt?.(field);
      if (typeof value === 'string' && new RegExp(DATE_PATTERN).test(value)) return problem(field, 'settings.date_invalid', { value });
      return problem(field, 'settings.date_format');
    }
    case 'maxLength':
      return problem(field, 'validation.too_long', { limit: p['limit'] });
    case 'minLength':
      return Number(p['limit']) <= 1 ? problem(field, 'validation.required') : problem(field, 'validation.too_short', { limit: p['limit'] });
    case 'minimum':
    case 'maximum':
      return problem(field, 'validation.range', { limit: `${e.keyword === 'minimum' ? '≥' : '≤'} ${String(p['limit'])}` });
    case 'const':
    case 'enum':
    case 'anyOf':
      return problem(field, 'validation.choice');
    case 'type':
      return problem(field, 'validation.type', { expected: String(p['type']) });
    default:
      return problem(field, 'validation.invalid');
  }
}

/**
 * One problem per field (the most specific), in the order the fields first appear. `valueAt` gives the
 * refused value of a field (dotted path) where the caller has it, for sentences that quote it.
 */
export function schemaProblems(errors: readonly SchemaError[], fallbackField = 'body', valueAt?: (field: string) => unknown): FieldProblem[] {
  const byField = new Map<string, { p: FieldProblem; rank: number }>();
  for (const e of errors) {
    const p = one(e, fallbackField, valueAt);
    const rank = PRIORITY.indexOf(e.keyword) === -1 ? PRIORITY.length : PRIORITY.indexOf(e.keyword);
    const seen = byField.get(p.field);
    if (!seen || rank < seen.rank) byField.set(p.field, { p, rank });
  }
  return [...byField.values()].map((v) => v.p);
}

/** Field errors as the API answers them: code and parameters kept, the sentence in the caller's language. */
import type { FieldError } from '../errors.ts';
import { isMessageCode, render, type Lang } from './catalogue.ts';

export interface FieldErrorView {
  field: string;
  /** Message catalogue code (src/messages/catalogue.ts), e.g. `settings.time_format`. */
  code: string;
  params: Record<string, unknown>;
  /** The sentence in the answer's language. */
  message: string;
}

export function fieldErrorView(f: FieldError, lang: Lang): FieldErrorView {
  const code = f.code && isMessageCode(f.code) ? f.code : null;
  const params = f.params ?? {};
  return code ? { field: f.field, code, params, message: render(lang, code, params) } : { field: f.field, code: 'error.other', params: { detail: f.message }, message: render(lang, 'error.other', { detail: f.message }) };
}

/** The whole `message` of an error body: every field's sentence. */
export function joinedMessage(fields: FieldErrorView[]): string {
  return fields.map((f) => `${f.field}: ${f.message}`).join('; ');
}

/** Field errors as the API answers them: code and parameters kept, the sentence in the caller's language. */
import type { FieldError } from '../errors.ts';
import { SettingsInputSchema } from '../settings/schema.ts';
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
  return code
    ? { field: f.field, code, params, message: render(lang, code, params) }
    : { field: f.field, code: 'error.other', params: { detail: f.message }, message: render(lang, 'error.other', { detail: f.message }) };
}

type Node = Record<string, unknown>;

/**
 * A setting's label in the answer's language (the schema's `x-label`, as the settings page shows it), or
 * null when the path names no setting (a query parameter, the body as a whole).
 */
export function settingLabel(path: string, lang: Lang): string | null {
  let node: Node | undefined = SettingsInputSchema as unknown as Node;
  for (const key of path.split('.')) {
    node = (node?.['properties'] as Record<string, Node> | undefined)?.[key];
    if (!node) return null;
  }
  const label = node['x-label'] as Record<Lang, string> | undefined;
  return label?.[lang] ?? null;
}

/**
 * The whole `message` of an error body: every field's sentence, one after another, each led by the field's
 * name; for a change of the settings (`settings`), by the setting's label a person sees on the form.
 */
export function joinedMessage(fields: FieldErrorView[], lang: Lang, settings = false): string {
  return fields
    .map((f) => {
      const sentence = /[.!?]$/.test(f.message) ? f.message : `${f.message}.`;
      return `${(settings ? settingLabel(f.field, lang) : null) ?? f.field}: ${sentence}`;
    })
    .join(' ');
}

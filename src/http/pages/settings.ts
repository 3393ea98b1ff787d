/**
 * The settings page, rendered from the settings schema: fields in the schema's `x-order`, grouped by
 * `x-group` (group titles from the manifest), labelled with `x-label` / `x-help`, choices with their
 * own `x-label`, live option lists where the schema names an `x-options` endpoint. Nothing here
 * repeats a label: change the schema and the page follows.
 */
import { buildManifest, settingsFields } from '../../manifest/host-manifest.ts';
import { DATE_PATTERN, SettingsInputSchema, TIME_PATTERN } from '../../settings/schema.ts';
import { esc } from './html.ts';
import { t } from './i18n.ts';
import type { PageLang } from './links.ts';

type Node = Record<string, unknown>;
type I18n = { pl: string; en: string };

export type FieldWidget =
  | { kind: 'checkbox' }
  | { kind: 'choice'; choices: { value: string; label: I18n }[] }
  | { kind: 'options'; endpoint: string }
  | { kind: 'date'; nullable: boolean }
  | { kind: 'timezone' }
  | { kind: 'time' }
  | { kind: 'password' }
  | { kind: 'text' };

export interface FormField {
  path: string;
  group: string;
  label: I18n;
  help: I18n;
  widget: FieldWidget;
}

function nodeAt(path: string): Node {
  let node: Node = SettingsInputSchema as unknown as Node;
  for (const key of path.split('.')) node = (node['properties'] as Record<string, Node>)[key]!;
  return node;
}

function widgetFor(node: Node): FieldWidget {
  if (node['writeOnly']) return { kind: 'password' };
  if (typeof node['x-options'] === 'string') return { kind: 'options', endpoint: node['x-options'] };
  if (node['type'] === 'boolean') return { kind: 'checkbox' };
  const anyOf = node['anyOf'] as Node[] | undefined;
  if (anyOf) {
    if (anyOf.every((m) => 'const' in m)) {
      return {
        kind: 'choice',
        choices: anyOf.map((m) => ({
          value: String(m['const']),
          label: (m['x-label'] as I18n | undefined) ?? { pl: String(m['const']), en: String(m['const']) },
        })),
      };
    }
    const nullable = anyOf.some((m) => m['type'] === 'null');
    if (anyOf.some((m) => m['pattern'] === DATE_PATTERN)) return { kind: 'date', nullable };
  }
  if (node['pattern'] === TIME_PATTERN) return { kind: 'time' };
  return { kind: 'text' };
}

/** Every setting in UI order with its label, help and widget. */
export function formFields(): FormField[] {
  return settingsFields().map((f) => {
    const node = nodeAt(f.path);
    // The time zone is chosen from the IANA zones the browser knows (a searchable list), still free to type.
    const widget: FieldWidget = f.path === 'timezone' ? { kind: 'timezone' } : widgetFor(node);
    return { path: f.path, group: f.group, label: node['x-label'] as I18n, help: node['x-help'] as I18n, widget };
  });
}

function groupTitles(): Map<string, I18n> {
  const ui = (buildManifest({ version: '' })['settings'] as { ui: { groups: { id: string; title: I18n }[] } }).ui;
  return new Map(ui.groups.map((g) => [g.id, g.title]));
}

const fieldId = (path: string) => `f-${path.replace(/\./g, '-')}`;

function control(field: FormField, lang: PageLang): string {
  const id = fieldId(field.path);
  const common = `id="${id}" name="${esc(field.path)}" aria-describedby="${id}-help ${id}-error"`;
  const w = field.widget;
  switch (w.kind) {
    case 'checkbox':
      return `<input type="checkbox" ${common}>`;
    case 'choice':
      return `<select ${common}>${w.choices.map((c) => `<option value="${esc(c.value)}">${esc(c.label[lang])}</option>`).join('')}</select>`;
    case 'options':
      return `<select ${common} data-options="${esc(w.endpoint)}"><option value="">${esc(t(lang, 'loading'))}</option></select>`;
    case 'date':
      // Text, not type=date: a browser's date control turns an impossible day (02/31) into an empty
      // value, which would silently keep the old date. The page checks the day and shows the error here.
      return `<input type="text" ${common}${w.nullable ? ' data-nullable="true"' : ''} data-kind="date" inputmode="numeric" placeholder="${esc(t(lang, 'datePlaceholder'))}" maxlength="10">`;
    case 'timezone':
      return `<input type="text" ${common} list="timezones" data-kind="timezone" autocomplete="off" spellcheck="false"><datalist id="timezones"></datalist>`;
    case 'time':
      return `<input type="text" ${common} inputmode="numeric" placeholder="${esc(t(lang, 'timePlaceholder'))}" maxlength="5" data-kind="time">`;
    case 'password':
      return `<input type="password" ${common} autocomplete="new-password" data-write-only="true" placeholder="">`;
    case 'text':
      return `<input type="text" ${common}>`;
  }
}

/** Filled by the page from `GET /ui/api/.../schedule` (the sentence in the page's language), refreshed after a save. */
function schedulePreview(): string {
  return `\n<p class="schedule-preview" id="schedule-preview" role="status" aria-live="polite" hidden></p>`;
}

/** The TXT record of a connector-managed account that signs with DKIM; shown while such an account is chosen. */
function dkimRecord(lang: PageLang): string {
  const row = (key: 'name' | 'value', label: string) =>
    `<div class="dns-row"><label for="dkim-${key}">${esc(label)}</label><input type="text" id="dkim-${key}" readonly spellcheck="false"><button type="button" class="copy" data-copy="dkim-${key}">${esc(t(lang, 'copy'))}</button></div>`;
  return `
<div class="dkim-record" id="dkim-record" hidden>
  <h3>${esc(t(lang, 'dnsRecord'))}</h3>
  <p class="help">${esc(t(lang, 'dnsRecordHelp'))}</p>
  ${row('name', t(lang, 'dnsName'))}
  <div class="dns-row"><span class="dns-label">${esc(t(lang, 'dnsType'))}</span><code id="dkim-type">TXT</code></div>
  ${row('value', t(lang, 'dnsValue'))}
  <span class="form-status" id="dkim-copied" role="status" aria-live="polite"></span>
</div>`;
}

export function settingsBody(lang: PageLang): string {
  const titles = groupTitles();
  const groups = new Map<string, FormField[]>();
  const all = formFields();
  for (const f of all) groups.set(f.group, [...(groups.get(f.group) ?? []), f]);
  // The schedule preview goes under the last schedule field, the DKIM record under the e-mail account.
  const lastSchedule = all.filter((f) => f.path.startsWith('schedule.')).at(-1)?.path;
  const sections = [...groups.entries()]
    .map(([group, fields]) => {
      const rows = fields
        .map((f) => {
          const id = fieldId(f.path);
          return `<div class="field" data-field="${esc(f.path)}">
  <label for="${id}">${esc(f.label[lang])}</label>
  ${control(f, lang)}
  <p class="help" id="${id}-help">${esc(f.help[lang])}</p>
  <p class="field-error" id="${id}-error" data-error-for="${esc(f.path)}" role="alert" hidden></p>
  <p class="field-warning" data-warning-for="${esc(f.path)}" role="status" hidden></p>
</div>${f.path === lastSchedule ? schedulePreview() : ''}${f.path === 'emailAccount' ? dkimRecord(lang) : ''}`;
        })
        .join('\n');
      return `<fieldset data-group="${esc(group)}"><legend>${esc(titles.get(group)?.[lang] ?? group)}</legend>\n${rows}\n</fieldset>`;
    })
    .join('\n');
  return `<main class="settings">
<h1>${esc(t(lang, 'settingsTitle'))}</h1>
<form id="settings-form" novalidate>
<p class="form-status" id="form-status" role="status"></p>
${sections}
<div class="actions">
  <button type="submit" id="save">${esc(t(lang, 'save'))}</button>
  <span class="form-status" id="save-status" role="status" aria-live="polite"></span>
</div>
<div class="actions">
  <button type="button" id="run-now">${esc(t(lang, 'runNow'))}</button>
  <span class="form-status" id="run-status" role="status" aria-live="polite"></span>
</div>
</form>
<section class="preview">
<h2>${esc(t(lang, 'preview'))}</h2>
<form id="preview-form" novalidate autocomplete="off">
  <label for="preview-invoice">${esc(t(lang, 'invoiceNumber'))}</label>
  <div class="combo">
    <input type="text" id="preview-invoice" name="invoice" role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="preview-matches" placeholder="${esc(t(lang, 'invoiceSearch'))}">
    <ul id="preview-matches" role="listbox" hidden></ul>
  </div>
  <button type="submit" id="preview-message">${esc(t(lang, 'previewMessage'))}</button>
  <button type="button" id="preview-pdf">${esc(t(lang, 'previewPdf'))}</button>
  <p class="field-error" id="preview-error" role="alert" hidden></p>
</form>
<div id="preview-result"></div>
<iframe id="preview-frame" title="PDF" hidden></iframe>
</section>
</main>`;
}

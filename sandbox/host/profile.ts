/**
 * What makes the sandbox answer like one particular real Odoo: the version (17.0, 18.0, 19.0), the
 * modules the host has beyond `account` + `l10n_pl` (Odoo's KSeF module, the company's custom x_ fields),
 * the database's default language, the model schema recorded from real Odoo's `fields_get`
 * (schema/odoo-<version>.json, built by test/connector/replay/build-schema.ts), the access groups per
 * model and Odoo's messages in English and Polish.
 */
import { readFileSync } from 'node:fs';

export type OdooVersion = '17.0' | '18.0' | '19.0';
export const ODOO_VERSIONS: readonly OdooVersion[] = ['17.0', '18.0', '19.0'];

export interface SandboxModules {
  /** Odoo's Polish KSeF module: account.move.l10n_pl_edi_status / _number / _attachment_id / _hash (SHA-256, Base64URL, of the FA(3) XML as issued). Real 18.0 community has none. */
  l10nPlEdi?: boolean;
  /** The company's custom fields on account.move (x_split_payment, x_reverse_charge, x_exemption_basis). */
  customFields?: boolean;
}

export interface Profile {
  version: OdooVersion;
  major: number;
  modules: Required<SandboxModules>;
  /** The database's default language (18/19: en_US, 17: pl_PL, as the recorded servers). */
  defaultLang: string;
  /** API keys work as passwords in common.authenticate / execute_kw (18+). */
  apiKeys: boolean;
  /** JSON-2 (`/json/2/<model>/<method>`), 19+. */
  json2: boolean;
  schema: Schema;
}

export interface SchemaField {
  t: string;
  s: string;
  r?: string;
  sel?: [string, string][];
  req?: 1;
  ro?: 1;
  adminOnly?: 1;
  invoicingOnly?: 1;
}
export type Schema = Record<string, Record<string, SchemaField>>;

const schemas = new Map<string, Schema>();
function loadSchema(version: '17.0' | '18.0'): Schema {
  let s = schemas.get(version);
  if (!s) {
    // next to this module (the sandbox is run from source with tsx, never built)
    const file = new URL(`./schema/odoo-${version}.json`, import.meta.url);
    s = JSON.parse(readFileSync(file, 'utf8')) as Schema;
    schemas.set(version, s);
  }
  return s;
}

export function makeProfile(options: { version?: OdooVersion; modules?: SandboxModules; defaultLang?: string } = {}): Profile {
  const version = options.version ?? '18.0';
  if (!ODOO_VERSIONS.includes(version)) throw new Error(`startSandboxHost: version must be one of ${ODOO_VERSIONS.join(', ')}, got ${JSON.stringify(version)}`);
  const major = Number(version.split('.')[0]);
  return {
    version,
    major,
    modules: { l10nPlEdi: options.modules?.l10nPlEdi ?? true, customFields: options.modules?.customFields ?? true },
    defaultLang: options.defaultLang ?? (major === 17 ? 'pl_PL' : 'en_US'),
    apiKeys: major >= 18,
    json2: major >= 19,
    // No 19.0 recording exists: 19 answers with 18's schema (docs/odoo-differences.md).
    schema: loadSchema(major === 17 ? '17.0' : '18.0'),
  };
}

export function versionInfo(profile: Profile): {
  server_version: string;
  server_version_info: [number, number, number, string, number, string];
  server_serie: string;
  protocol_version: number;
} {
  return { server_version: profile.version, server_version_info: [profile.major, 0, 0, 'final', 0, ''], server_serie: profile.version, protocol_version: 1 };
}

/** Fields that exist only with a module (see SandboxModules). */
export const MODULE_FIELDS: Record<string, keyof SandboxModules> = {
  'account.move.l10n_pl_edi_status': 'l10nPlEdi',
  'account.move.l10n_pl_edi_number': 'l10nPlEdi',
  'account.move.l10n_pl_edi_attachment_id': 'l10nPlEdi',
  'account.move.l10n_pl_edi_hash': 'l10nPlEdi',
  'account.move.x_split_payment': 'customFields',
  'account.move.x_reverse_charge': 'customFields',
  'account.move.x_exemption_basis': 'customFields',
};

// ---- groups and messages ------------------------------------------------------------------

export const G = {
  user: 'base.group_user',
  system: 'base.group_system',
  accessRights: 'base.group_erp_manager',
  portal: 'base.group_portal',
  invoice: 'account.group_account_invoice',
  accountManager: 'account.group_account_manager',
  accountReadonly: 'account.group_account_readonly',
  templateEditor: 'mail.group_mail_template_editor',
} as const;

/** Group full names as Odoo prints them in AccessError messages, per language and version. */
export function groupLabel(xmlid: string, lang: string, major: number): string {
  const pl = lang.startsWith('pl');
  const labels: Record<string, [string, string]> = {
    [G.system]: ['Administration/Settings', 'Administracja/Ustawienia'],
    [G.accessRights]: ['Administration/Access Rights', 'Administracja/Prawa dostępu'],
    [G.portal]: ['User types/Portal', 'Typy użytkowników/Portal'],
    [G.invoice]: major === 17 ? ['Accounting/Billing', 'Księgowość/Rozliczenia'] : ['Accounting/Invoicing', 'Księgowość/Fakturowanie'],
    [G.accountManager]:
      major === 17 ? ['Accounting/Billing Administrator', 'Księgowość/Administrator rozliczeniowy'] : ['Accounting/Administrator', 'Księgowość/Administrator'],
    [G.accountReadonly]:
      major === 17
        ? ['Technical/Show Accounting Features - Readonly', 'Techniczne/Pokaż cechy księgowe - tylko do odczytu']
        : ['Technical/Read-only', 'Techniczne/Tylko do odczytu'],
    [G.templateEditor]: ['Technical/Mail Template Editor', 'Techniczne/Edytor szablonów wiadomości'],
    [G.user]: ['User types/Internal User', 'Typy użytkowników/Użytkownik wewnętrzny'],
  };
  const l = labels[xmlid];
  return l ? l[pl ? 1 : 0] : xmlid;
}

/** Model descriptions (`_description`) as Odoo translates them; English from the model definition otherwise. */
const MODEL_PL: Record<string, string> = {
  'account.move': 'Zapis dziennika',
  'account.move.line': 'Pozycja wpisu',
  'account.move.send.wizard': 'Kreator przenoszenia konta i wysyłania',
  'account.move.send': 'Przeniesienie konta Wyślij',
  'ir.model.data': 'Dane modelu',
  'fetchmail.server': 'Serwer poczty przychodzącej',
  'ir.mail_server': 'Serwer poczty',
  'ir.logging': 'Logowanie',
  'ir.actions.act_url': 'URL akcji',
  'ir.config_parameter': 'Parametr systemu',
  'ir.ui.menu': 'Menu',
  'mail.template': 'Szablony wiadomości',
  'mail.message': 'Wiadomość',
  'res.users': 'Użytkownik',
  'ir.actions.report': 'Akcja raportu',
};

export function modelLabel(model: string, english: string, lang: string, major: number): string {
  if (!lang.startsWith('pl')) return english;
  // 17.0 has no Polish name for these two (the recording shows the English one).
  if (major === 17 && (model === 'ir.model.data' || model === 'ir.logging' || model === 'ir.actions.act_url')) return english;
  return MODEL_PL[model] ?? english;
}

export type Operation = 'read' | 'write' | 'create' | 'unlink';

export function accessErrorMessage(p: { lang: string; operation: Operation; label: string; model: string; groups: string[] }): string {
  const pl = p.lang.startsWith('pl');
  const verbs = pl
    ? {
        read: 'Nie masz dostępu do rekordów',
        write: 'Nie możesz modyfikować rekordów',
        create: 'Nie możesz tworzyć rekordów',
        unlink: 'Nie możesz usuwać rekordów',
      }
    : {
        read: 'You are not allowed to access',
        write: 'You are not allowed to modify',
        create: 'You are not allowed to create',
        unlink: 'You are not allowed to delete',
      };
  const head = `${verbs[p.operation]} '${p.label}' (${p.model}) ${pl ? '' : 'records'}`.replace(/ $/, '') + '.';
  const groups = p.groups.length
    ? `${pl ? 'Ta operacja jest dozwolona dla następujących grup' : 'This operation is allowed for the following groups'}:\n${p.groups.map((g) => `\t- ${g}`).join('\n')}`
    : pl
      ? 'Obecnie żadna grupa nie zezwala na tę operację.'
      : 'No group currently allows this operation.';
  const tail = pl ? 'W razie potrzeby skontaktuj się z administratorem, aby poprosić o dostęp.' : 'Contact your administrator to request access if necessary.';
  return `${head}\n\n${groups}\n\n${tail}`;
}

export function fieldAccessMessage(p: { lang: string; major: number; label: string; model: string; uid: number; fields: string[]; group: string }): string {
  const pl = p.lang.startsWith('pl');
  const list = [...p.fields]
    .sort()
    .map((f) => `- ${f} (${pl ? 'dozwolone dla grup' : 'allowed for groups'} '${p.group}')`)
    .join('\n');
  if (p.major === 17) {
    return pl
      ? `Żądana operacja nie może zostać wykonana z powodu ograniczeń bezpieczeństwa.\n\nTyp dokumentu: ${p.label}(${p.model})\nOperacja: read\nUżytkownik: ${p.uid}\nPola:\n${list}`
      : `The requested operation can not be completed due to security restrictions.\n\nDocument type: ${p.label} (${p.model})\nOperation: read\nUser: ${p.uid}\nFields:\n${list}`;
  }
  return pl
    ? `Nie masz wystarczających uprawnień, aby uzyskać dostęp do pól "${p.fields.join(',')}" na ${p.label}(${p.model}). Skontaktuj się z administratorem systemu.\n\nOperacja: read\nUżytkownik ${p.uid}\nPola:\n${list}`
    : `You do not have enough rights to access the fields "${p.fields.join(',')}" on ${p.label} (${p.model}). Please contact your system administrator.\n\nOperation: read\nUser: ${p.uid}\nFields:\n${list}`;
}

export function unknownModelMessage(model: string, lang: string, major: number): string {
  // 18.0 answers in English even under pl_PL; 17.0 translates it.
  return major === 17 && lang.startsWith('pl') ? `Obiekt ${model} nie istnieje` : `Object ${model} doesn't exist`;
}

export function missingRecordMessage(model: string, ids: number[], uid: number, lang: string, major: number): string {
  const idText = ids.length === 1 ? `${ids[0]},` : ids.join(', ');
  return major >= 18 && lang.startsWith('pl')
    ? `Rekord nie istnieje lub został usunięty.\n(Rekord: ${model}(${idText}), Użytkownik: ${uid})`
    : `Record does not exist or has been deleted.\n(Record: ${model}(${idText}), User: ${uid})`;
}

export function secretRecordsMessage(p: { lang: string; userName: string; uid: number; operation: Operation; label: string; model: string }): string {
  const pl = p.lang.startsWith('pl');
  const opPl = { read: 'czytaj', write: 'pisz', create: 'twórz', unlink: 'usuń' }[p.operation];
  return pl
    ? `Oho! Wygląda na to, że natknąłeś się na jakieś ściśle tajne zapisy.\n\nPrzepraszamy, ${p.userName} (id=${p.uid}) nie ma(ją) dostępu '${opPl}' do:\n- ${p.label} (${p.model})\n\nJeśli naprawdę, ale to naprawdę potrzebujesz dostępu, być może mógłbyś przekonać swojego administratora za pomogą świeżo upieczonych ciasteczek.`
    : `Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, ${p.userName} (id=${p.uid}) doesn't have '${p.operation}' access to:\n- ${p.label} (${p.model})\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.`;
}

/** The note subtype's name and other seeded labels, per language. */
export function translate(lang: string, en: string): string {
  if (!lang.startsWith('pl')) return en;
  const pl: Record<string, string> = {
    Note: 'Notatka',
    Discussions: 'Dyskusje',
    Invoicing: 'Fakturowanie',
    Settings: 'Ustawienia',
    Discuss: 'Dyskusje',
    Apps: 'Aplikacje',
  };
  return pl[en] ?? en;
}

/**
 * The extension manifest the host's extensions screen reads: identity, the settings schema with its
 * UI hints, the permissions the connector needs on the host, its endpoints and its webhooks.
 *
 * Built, not written: `buildManifest` returns an object (served by `GET /manifest`);
 * `scripts/generate-manifest.ts` writes it to `manifests/invoice-courier.json` with `manifestJson`,
 * and a test fails when the committed file is stale. The settings schema is `SettingsInputSchema`
 * itself (src/settings/schema.ts), so the form the host renders validates exactly like the API.
 * Pure: no I/O, no clock, no environment.
 */
import type { HostPermission } from '../connector/descriptor.ts';
import { HOSTS, findHostDescriptor } from '../connector/registry.ts';
import { SettingsInputSchema, defaultSettings } from '../settings/schema.ts';
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER } from '../webhooks/signature.ts';

export const EXTENSION_ID = 'invoice-courier';
export const MANIFEST_VERSION = 1;

type I18n = { pl: string; en: string };
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ManifestInfo {
  /** The connector's version (package.json). */
  version: string;
  /** Absolute base URL the connector is reached at; omitted = paths are relative to the manifest's URL. */
  baseUrl?: string;
}

export interface SettingsField {
  /** JSON path of the setting, e.g. "schedule.until". */
  path: string;
  group: string;
  order: number;
}

const GROUPS: { id: string; title: I18n; order: number }[] = [
  { id: 'general', title: { pl: 'Ogólne', en: 'General' }, order: 1 },
  { id: 'delivery', title: { pl: 'Wysyłka', en: 'Delivery' }, order: 2 },
  { id: 'documents', title: { pl: 'Dokumenty', en: 'Documents' }, order: 3 },
  { id: 'attachments', title: { pl: 'Wydruki', en: 'Prints' }, order: 4 },
  { id: 'schedule', title: { pl: 'Harmonogram', en: 'Schedule' }, order: 5 },
];

/**
 * The rights the integration credential must have on a host of this kind for the connector to work (the
 * optional ones left out): install refuses a credential that lacks any of them. At install the
 * integration user is also the first operator, so the operator's rights are checked on it too.
 */
export function requiredHostRights(kind: string): { model: string; access: HostPermission['access'] }[] {
  return (findHostDescriptor(kind)?.permissions ?? []).filter((p) => !p.optional).map((p) => ({ model: p.model, access: [...p.access] }));
}

/** Why the connector needs a model on a host of this kind, for refusal messages (English). */
export function permissionReason(kind: string, model: string): string | null {
  return findHostDescriptor(kind)?.permissions.find((p) => p.model === model)?.why.en ?? null;
}

/** Every host's permissions, each naming its host kind. */
function hostPermissions(): (HostPermission & { host: string })[] {
  return HOSTS.flatMap((h) => h.permissions.map((p) => ({ host: h.kind, ...p })));
}

interface Endpoint {
  method: Method;
  path: string;
  description: string;
}
const ep = (method: Method, path: string, description: string): Endpoint => ({ method, path, description });

const INSTALLATION = '/api/installations/{id}';
const ENDPOINTS: Record<string, Endpoint | Endpoint[]> = {
  install: ep('POST', '/api/installations', 'Install handshake: the host enables the extension for a company.'),
  uninstall: ep('DELETE', INSTALLATION, 'Uninstall: stop the schedule and drop the secrets; the ledger and logs stay for audit.'),
  purge: ep('DELETE', `${INSTALLATION}/data`, "Purge an uninstalled installation's ledger, logs and runs (admin token)."),
  settings: [
    ep('GET', `${INSTALLATION}/settings`, 'Read the settings.'),
    ep('PUT', `${INSTALLATION}/settings`, 'Change the settings (checked against the host).'),
  ],
  options: [
    ep('GET', `${INSTALLATION}/options/operators`, 'Users who may act as operator.'),
    ep('GET', `${INSTALLATION}/options/email-accounts`, 'E-mail accounts the operator may use.'),
    ep('GET', `${INSTALLATION}/options/templates`, 'E-mail templates for the sales-invoice form.'),
    ep('GET', `${INSTALLATION}/options/prints`, 'Standard and user prints.'),
  ],
  runNow: ep('POST', `${INSTALLATION}/runs`, 'Start a run now.'),
  runs: [
    ep('GET', `${INSTALLATION}/runs`, 'Recent runs with their counts.'),
    ep('GET', `${INSTALLATION}/runs/current`, 'The newest run with its progress (what a progress bar polls).'),
  ],
  logs: ep('GET', `${INSTALLATION}/logs`, "The automation's log entries, filterable."),
  ledger: ep('GET', `${INSTALLATION}/ledger`, 'Per-invoice outcomes.'),
  schedule: ep('GET', `${INSTALLATION}/schedule`, 'When the next scheduled run starts, and which days off come before it.'),
  resend: ep('POST', `${INSTALLATION}/invoices/{invoiceId}/resend`, 'A person allows an uncertain or failed invoice to be sent again.'),
  preview: [
    ep('GET', `${INSTALLATION}/invoices/search`, 'Invoices whose number, customer or date matches what was typed (to choose one to preview).'),
    ep('GET', `${INSTALLATION}/invoices/{invoiceId}/preview`, 'The message a run would send for an invoice (nothing is sent or recorded).'),
    ep('GET', `${INSTALLATION}/invoices/{invoiceId}/preview.pdf`, 'The PDF a run would attach.'),
  ],
  pageLinks: ep('POST', `${INSTALLATION}/page-links`, 'Short-lived signed links to the settings and logs pages, for embedding.'),
  webhooksIn: ep('POST', `${INSTALLATION}/webhooks`, 'Signed webhooks from the host (see webhooks.accepted).'),
  webhookDeliveries: [
    ep('GET', `${INSTALLATION}/webhooks/deliveries`, 'Outgoing webhook deliveries with every attempt.'),
    ep('GET', `${INSTALLATION}/webhooks/deliveries/{deliveryId}`, 'One outgoing webhook delivery with every attempt.'),
    ep('POST', `${INSTALLATION}/webhooks/deliveries/{deliveryId}/redeliver`, 'Deliver an outgoing webhook again.'),
  ],
  managedEmailAccounts: [
    ep('GET', `${INSTALLATION}/managed/email-accounts`, 'Connector-managed e-mail accounts (for hosts without their own; passwords never returned).'),
    ep('POST', `${INSTALLATION}/managed/email-accounts`, 'Add a connector-managed e-mail account (SMTP, optional IMAP).'),
    ep('GET', `${INSTALLATION}/managed/email-accounts/{accountId}`, 'One connector-managed e-mail account.'),
    ep('PUT', `${INSTALLATION}/managed/email-accounts/{accountId}`, 'Change a connector-managed e-mail account.'),
    ep('DELETE', `${INSTALLATION}/managed/email-accounts/{accountId}`, 'Remove a connector-managed e-mail account (refused while the settings use it).'),
  ],
  managedTemplates: [
    ep('GET', `${INSTALLATION}/managed/templates`, 'Connector-managed e-mail templates.'),
    ep('POST', `${INSTALLATION}/managed/templates`, 'Add a connector-managed template (placeholders checked).'),
    ep('GET', `${INSTALLATION}/managed/templates/{templateId}`, 'One connector-managed template.'),
    ep('PUT', `${INSTALLATION}/managed/templates/{templateId}`, 'Change a connector-managed template.'),
    ep('DELETE', `${INSTALLATION}/managed/templates/{templateId}`, 'Remove a connector-managed template (refused while the settings use it).'),
    ep('GET', `${INSTALLATION}/managed/placeholders`, 'Placeholders a template may use.'),
  ],
  health: ep('GET', '/health', 'Liveness.'),
  manifest: ep('GET', '/manifest', 'This manifest.'),
};

const PAGES = {
  settings: '/ui/installations/{id}/settings',
  logs: '/ui/installations/{id}/logs',
  apiDocs: '/docs',
};

const WEBHOOKS = {
  signature: {
    algorithm: 'HMAC-SHA256',
    signed: 'timestamp and body',
    description: `Every webhook, sent or accepted, is signed with the installation's webhook secret: header \`${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">\`; timestamps more than ${DEFAULT_TOLERANCE_SECONDS} s away are refused. Outgoing deliveries are retried with backoff for up to 24 h.`,
  },
  emitted: [
    { event: 'run.completed', description: 'A run finished; carries its counts.' },
    { event: 'invoice.sent', description: 'An invoice was e-mailed (or saved as a draft).' },
    { event: 'invoice.failed', description: 'An invoice could not be e-mailed.' },
    { event: 'invoice.uncertain', description: 'A delivery was interrupted and its outcome is unknown: a person decides.' },
    {
      event: 'invoice.bounced',
      description:
        'A delivery report came back for a recipient of a sent invoice (address, status code, diagnostic); a person may correct the address and re-send.',
    },
    { event: 'delivery.auth_failed', description: "The e-mail account's or operator's credentials stopped working; the run stopped." },
  ],
  accepted: [
    { event: 'settings.changed', description: 'The settings changed on the host side; reload them.' },
    { event: 'extension.disabled', description: 'The host disabled the extension; stop the schedule.' },
    { event: 'extension.enabled', description: 'The host enabled the extension again; resume the schedule.' },
    { event: 'invoice.posted', description: 'An invoice was confirmed; a hint to look for due invoices sooner.' },
  ],
};

/** The settings, in UI order, with their groups: read from the schema's x-order / x-group hints. */
export function settingsFields(schema: object = SettingsInputSchema): SettingsField[] {
  const out: SettingsField[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    const props = node['properties'] as Record<string, Record<string, unknown>> | undefined;
    if (!props) return;
    for (const [key, prop] of Object.entries(props)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (prop['type'] === 'object' && prop['properties']) walk(prop, path);
      else out.push({ path, group: String(prop['x-group']), order: Number(prop['x-order']) });
    }
  };
  walk(schema as Record<string, unknown>, '');
  return out.sort((a, b) => a.order - b.order || (a.path < b.path ? -1 : 1));
}

/** A plain JSON copy (drops anything JSON does not carry, such as symbols). */
function json<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The settings schema with each setting's default as a JSON Schema `default` (from `defaultSettings()`,
 * the one place defaults live), so a form the host renders from the manifest starts filled in. Only the
 * manifest's copy carries them: the API's own schema has none, because a change is merged over the stored
 * settings and a default must never overwrite a stored value.
 */
export function schemaWithDefaults(schema: object = SettingsInputSchema): Record<string, unknown> {
  const copy = json(schema) as Record<string, unknown>;
  const defaults = defaultSettings() as unknown as Record<string, unknown>;
  for (const { path } of settingsFields(copy)) {
    let node = copy;
    let value: unknown = defaults;
    for (const key of path.split('.')) {
      node = (node['properties'] as Record<string, Record<string, unknown>>)[key]!;
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value !== undefined) node['default'] = value;
  }
  return copy;
}

export function buildManifest(info: ManifestInfo): Record<string, unknown> {
  return {
    manifestVersion: MANIFEST_VERSION,
    id: EXTENSION_ID,
    name: { pl: 'Automatyczna wysyłka faktur e-mailem', en: 'Invoice Courier' },
    description: {
      pl: 'Wysyła faktury sprzedaży pocztą e-mail według harmonogramu, każdą dokładnie raz, albo zapisuje je w folderze Robocze.',
      en: 'E-mails sales invoices on a daily schedule, each exactly once, or saves them as drafts for a person to send.',
    },
    version: info.version,
    vendor: { name: 'Invoice Courier' },
    ...(info.baseUrl ? { baseUrl: info.baseUrl.replace(/\/+$/, '') } : {}),
    hosts: HOSTS.map((h) => h.kind),
    settings: {
      schema: schemaWithDefaults(),
      /** Every setting of a new installation; `emailAccount` and `emailTemplate` are filled from the host at install. */
      defaults: json(defaultSettings()),
      ui: {
        groups: json(GROUPS),
        fields: settingsFields(),
        /** Option lists are fetched live, relative to the installation: `/api/installations/{id}/<x-options>`. */
        optionsBase: `${INSTALLATION}/`,
      },
    },
    credentials: {
      integration: {
        pl: 'Klucz API użytkownika z uprawnieniami administratora, podawany przy instalacji.',
        en: 'An API key of a host user with administrator rights, given once at install.',
      },
      operator: {
        pl: 'Operator i jego hasło z ustawień: w jego imieniu czytane są faktury i wysyłane wiadomości.',
        en: 'The operator and password from the settings: invoices are read and messages sent on their behalf.',
      },
    },
    permissions: { models: json(hostPermissions()) },
    endpoints: json(ENDPOINTS),
    pages: { ...PAGES },
    webhooks: json(WEBHOOKS),
  };
}

/** Recursively key-sorted copy, so the file's text does not depend on construction order. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The manifest as committed: pretty (2 spaces), keys sorted at every level, trailing newline. */
export function manifestJson(manifest: object): string {
  return `${JSON.stringify(sortKeys(manifest), null, 2)}\n`;
}

/**
 * What a host adapter says about itself: one `HostDescriptor` per kind, exported by
 * `src/connector/<kind>/index.ts` and listed once in `src/connector/registry.ts`. Everything that
 * depends on the kind — the `HostKind` type, the install schema's kind enum, the manifest's hosts and
 * per-host permissions, the invoice links of the logs page and the failure digest, whether
 * connector-kept accounts and templates are offered beside the host's own — is read from here.
 *
 * `connectorKept` is the one wrapper through which connector-managed e-mail accounts and templates
 * (docs/design.md §6) reach every adapter, driven by the descriptor's capabilities.
 */
import { Type, type TObject } from 'typebox';
import type { EmailAccount, EmailTemplateRef, Operator } from '../domain.ts';
import type { ExtensionLinks, HostConnection, HostErp, RightsCheck, RunSummary } from './port.ts';

export type I18n = { pl: string; en: string };

/** What the host itself offers; what it lacks the connector keeps (or the feature is off). */
export interface HostCapabilities {
  /** The host keeps outgoing mail accounts of its own (Odoo's mail servers); false: only connector-kept ones are offered. */
  ownMailAccounts: boolean;
  /** The host keeps message templates it renders itself; false: only connector-kept templates are offered. */
  ownTemplates: boolean;
  /** The host has invoice reports of its own a user may pick as the print. */
  userPrints: boolean;
  /** The adapter registers menu entries for the settings and logs pages in the host (`ensureExtension`). */
  menuRegistration: boolean;
}

/** One right the connector needs on the host, as the manifest lists it and install checks it. */
export interface HostPermission {
  model: string;
  access: RightsCheck['access'];
  /** Who it is used with: the operator (ordinary user rights) or the integration credential (admin). */
  credential: 'operator' | 'integration';
  /** Only needed for an optional feature; the connector works without it (install does not require it). */
  optional?: boolean;
  why: I18n;
}

export interface HostDescriptor<K extends string = string> {
  readonly kind: K;
  /** The host's name for people (manifest, docs). */
  readonly label: string;
  /** The adapter for one connection; throws `ConnectorError('validation')` for a connection it cannot serve. */
  create(connection: HostConnection): HostErp;
  /** The install handshake's connection fields for this kind (TypeBox; merged into the install body's schema). */
  readonly connection: TObject;
  readonly capabilities: HostCapabilities;
  /** The rights the connector needs on the host (manifest `permissions`, install's rights check). */
  readonly permissions: readonly HostPermission[];
  /** The host model a managed template is made for (`EmailTemplateRef.model`). */
  readonly invoiceModel: string;
  /** Where an invoice opens in the host: the URL to which the (URI-encoded) invoice id is appended; null = no such page. */
  invoiceUrlBase(hostUrl: string): string | null;
  /** The lowest major version install accepts (the host's `describe().version`); absent = any. */
  readonly minMajorVersion?: number;
}

/** The install handshake's connection fields shared by the JSON-RPC hosts (Odoo, Tryton). */
export const STANDARD_CONNECTION = Type.Object({
  hostUrl: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 }),
  database: Type.String({ minLength: 1, maxLength: 100 }),
  companyId: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  integration: Type.Object(
    {
      login: Type.String({ minLength: 1, maxLength: 200 }),
      secret: Type.String({ minLength: 1, maxLength: 500, writeOnly: true }),
    },
    { additionalProperties: false },
  ),
});

/** Connector-managed accounts/templates of one installation, as a host adapter receives them. */
export interface ConnectorManaged {
  /** Active managed accounts for the operator, credentials decrypted just before use; never logged. */
  accounts(operator: Operator): Promise<EmailAccount[]>;
  templates(): Promise<EmailTemplateRef[]>;
}

/**
 * The host's adapter with the connector-kept accounts and templates added as its capabilities say: a
 * host with its own lists offers them first and the managed ones after (ids never collide: `managed:` /
 * `connector:`), a host without offers exactly the managed ones. Managed templates are rendered by the
 * connector (`renderedByHost: false`) for the host's invoice model.
 */
export function connectorKept(
  host: HostErp,
  descriptor: Pick<HostDescriptor, 'capabilities' | 'invoiceModel'>,
  managed: ConnectorManaged | undefined,
): HostErp {
  const { ownMailAccounts, ownTemplates } = descriptor.capabilities;
  const managedTemplates = async () => (managed ? await managed.templates() : []).map((t) => ({ ...t, model: descriptor.invoiceModel, renderedByHost: false }));
  const managedAccounts = async (operator: Operator) => (managed ? await managed.accounts(operator) : []);
  if (!managed && ownMailAccounts && ownTemplates) return host;
  return {
    kind: host.kind,
    describe: () => host.describe(),
    checkOperator: () => host.checkOperator(),
    listOperators: () => host.listOperators(),
    listEmailAccounts: async (operator) => [...(ownMailAccounts ? await host.listEmailAccounts(operator) : []), ...(await managedAccounts(operator))],
    listEmailTemplates: async () => [...(ownTemplates ? await host.listEmailTemplates() : []), ...(await managedTemplates())],
    listUserPrints: () => host.listUserPrints(),
    listDueInvoices: (query) => host.listDueInvoices(query),
    ...(host.listDueInvoiceIds
      ? { listDueInvoiceIds: (query: Parameters<NonNullable<HostErp['listDueInvoiceIds']>>[0]) => host.listDueInvoiceIds!(query) }
      : {}),
    getInvoices: (ids) => host.getInvoices(ids),
    ...(host.changedInvoices ? { changedInvoices: (ids: string[], since: string) => host.changedInvoices!(ids, since) } : {}),
    ...(host.searchInvoices ? { searchInvoices: (text: string, limit: number) => host.searchInvoices!(text, limit) } : {}),
    renderTemplate: (templateId, invoiceIds) => host.renderTemplate(templateId, invoiceIds),
    getUserPrint: (printId, invoiceId) => host.getUserPrint(printId, invoiceId),
    writeBack: (items) => host.writeBack(items),
    ...(host.recordRun ? { recordRun: (summary: RunSummary) => host.recordRun!(summary) } : {}),
    ...(host.ensureExtension ? { ensureExtension: (links: ExtensionLinks) => host.ensureExtension!(links) } : {}),
    ...(host.removeExtension ? { removeExtension: (prefix: string) => host.removeExtension!(prefix) } : {}),
    ...(host.checkRights ? { checkRights: (rights: RightsCheck[]) => host.checkRights!(rights) } : {}),
    close: async () => {
      await host.close?.();
    },
  };
}

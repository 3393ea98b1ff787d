/**
 * Host adapters by kind. Adding a host = one line in `FACTORIES` (and its folder under src/connector/).
 * The registry only picks the factory; each adapter validates its own connection.
 *
 * Connector-managed e-mail accounts and templates (docs/design.md §6) reach an adapter through `HostExtras.managed`
 * (the composition root binds them per installation, src/compose.ts):
 *  - Tryton has neither, so its adapter offers exactly the managed ones (`TrytonHostOptions`).
 *  - Odoo and the sandbox offer their own first and the managed ones after them, in the same lists, so an
 *    installation may also send through an SMTP account the connector keeps (e.g. when the host's mail
 *    servers are not meant for invoices). Managed templates are rendered by the connector (`connector:` ids).
 */
import type { EmailAccount, EmailTemplateRef, HostKind, Operator } from '../domain.ts';
import { ConnectorError } from '../errors.ts';
import { createOdooHost } from './odoo/index.ts';
import type { ExtensionLinks, HostConnection, HostErp, RightsCheck, RunSummary } from './port.ts';
import { TRYTON_INVOICE_MODEL, createTrytonHost } from './tryton/index.ts';

/** Connector-managed accounts/templates of one installation, as a host adapter receives them. */
export interface ConnectorManaged {
  /** Active managed accounts for the operator, credentials decrypted just before use; never logged. */
  accounts(operator: Operator): Promise<EmailAccount[]>;
  templates(): Promise<EmailTemplateRef[]>;
}

export interface HostExtras {
  managed?: ConnectorManaged;
}

/** What the pipeline, the settings service and previews call: the registry bound to the installation's extras. */
export type InstallationHostFactory = (connection: HostConnection, installationId?: string) => HostErp;

type Factory = (connection: HostConnection, extras: HostExtras) => HostErp;

const ODOO_INVOICE_MODEL = 'account.move';

const FACTORIES: Partial<Record<HostKind, Factory>> = {
  odoo: (connection, extras) => withManaged(createOdooHost(connection), extras.managed, ODOO_INVOICE_MODEL),
  sandbox: (connection, extras) => withManaged(createOdooHost(connection), extras.managed, ODOO_INVOICE_MODEL), // speaks Odoo's JSON-RPC
  tryton: (connection, extras) => {
    const managed = extras.managed;
    if (!managed) return createTrytonHost(connection);
    return createTrytonHost(connection, {
      connectorAccounts: (operator) => managed.accounts(operator),
      connectorTemplates: async () => (await managed.templates()).map((t) => ({ ...t, model: TRYTON_INVOICE_MODEL })),
    });
  },
};

/** The adapter for `connection.kind`; `validation` error for a kind no adapter serves (yet). */
export function createHost(connection: HostConnection, extras: HostExtras = {}): HostErp {
  const factory = FACTORIES[connection.kind];
  if (!factory) {
    throw new ConnectorError('validation', `No host adapter for kind "${String(connection.kind)}"`, {
      field: 'kind',
      detail: { supported: supportedHostKinds() },
    });
  }
  return factory(connection, extras);
}

/** Kinds with a registered adapter. */
export function supportedHostKinds(): HostKind[] {
  return Object.keys(FACTORIES) as HostKind[];
}

/** A host's own accounts/templates first, then the connector-managed ones (ids never collide: `managed:` / `connector:`). */
function withManaged(host: HostErp, managed: ConnectorManaged | undefined, invoiceModel: string): HostErp {
  if (!managed) return host;
  return {
    kind: host.kind,
    describe: () => host.describe(),
    checkOperator: () => host.checkOperator(),
    listOperators: () => host.listOperators(),
    listEmailAccounts: async (operator) => [...(await host.listEmailAccounts(operator)), ...(await managed.accounts(operator))],
    listEmailTemplates: async () => [
      ...(await host.listEmailTemplates()),
      ...(await managed.templates()).map((t) => ({ ...t, model: invoiceModel, renderedByHost: false })),
    ],
    listUserPrints: () => host.listUserPrints(),
    listDueInvoices: (query) => host.listDueInvoices(query),
    getInvoices: (ids) => host.getInvoices(ids),
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

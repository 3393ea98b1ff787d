/**
 * The host ERP port: everything the connector needs from the ERP it serves, in domain types only.
 * One adapter per host kind (`src/connector/<kind>/`), created per installation by the registry
 * (`src/connector/registry.ts`). No host shape (Odoo dict, Tryton tagged value, axios error) crosses it;
 * adapters throw only `ConnectorError` with codes `host_auth`, `host_access`, `host_not_found`,
 * `host_validation`, `host_unavailable`.
 *
 * Credentials: the integration credential (given at install) is used only where an ordinary user may
 * not read (Odoo mail servers); everything else runs as the operator, so the host's own access rules
 * and audit trail apply (docs/design.md §2).
 */
import type { EmailAccount, EmailTemplateRef, Invoice, IsoDate, Operator, Outcome, PrintRef, RenderedTemplate, Settings } from '../domain.ts';

export interface HostCredential {
  login: string;
  /** Password or API key, decrypted just before use; never logged. */
  secret: string;
}

export interface HostConnection {
  /** A kind of the registry (`HostKind`, src/connector/registry.ts, which sits above this port); each adapter refuses a kind it does not serve. */
  kind: string;
  /** e.g. "http://127.0.0.1:8069" */
  baseUrl: string;
  database: string;
  /** Host company the installation serves (Odoo `res.company` id); null = the user's main company. */
  companyId: string | null;
  integration: HostCredential;
  /** The operator; null until settings name one. */
  operator: HostCredential | null;
  /** Per-call timeout in milliseconds. */
  timeoutMs?: number;
}

export interface HostInfo {
  kind: string;
  /** Host's version string, e.g. "17.0". */
  version: string;
  company: { id: string; name: string; currency: string };
}

/** Which invoices a run asks for; the adapter filters coarsely, the core's rules decide exactly. */
export interface DueInvoiceQuery {
  documents: Settings['documents'];
  dateBasis: Settings['dateBasis'];
  fromDate: IsoDate;
  /** Invoices per page (adapters read lines, taxes and partners once per page). */
  pageSize: number;
  /**
   * Invoices on the first page, when fewer than `pageSize` (absent: `pageSize`): a run's first e-mails
   * wait only for the host's answers about these few, the next (full) page is read while they go out.
   */
  firstPageSize?: number;
  /** Leave out invoices the host already marks as sent. */
  excludeHostMarkedSent: boolean;
  /**
   * Leave out these invoices (the ones the connector parked: skipped for a reason only a host change can
   * lift, or with a final outcome); left out by the host itself, not after reading them. Absent = none.
   */
  excludeIds?: string[];
}

/** What is written back on the invoice after an outcome. */
export interface WriteBack {
  invoiceId: string;
  outcome: Outcome;
  /** Message-ID of the delivered message, when one left. */
  messageId: string | null;
  /** Human-readable note for the invoice's log (chatter / ir.note), plain text. */
  note: string;
  /** Set the host's own "sent" flag (only for accepted/drafted mail). */
  markSent: boolean;
}

/** One invoice found by its number (the settings page's preview picker). */
export interface InvoiceMatch {
  id: string;
  number: string | null;
  customer: string | null;
  /** Issue date, YYYY-MM-DD, when the host has one. */
  date: string | null;
}

export interface HostErp {
  readonly kind: string;

  /** Version and company; also proves the host is reachable with the integration credential. */
  describe(): Promise<HostInfo>;

  /** Logs in as the operator; throws `host_auth` when the operator cannot log in. */
  checkOperator(): Promise<Operator>;

  /** Users who may act as operator (internal users of the company). */
  listOperators(): Promise<Operator[]>;

  /**
   * E-mail accounts the given operator may use (active, and for Odoo: `from_filter` empty or matching
   * the operator's address/domain). Includes SMTP/IMAP credentials; callers must never log them.
   */
  listEmailAccounts(operator: Operator): Promise<EmailAccount[]>;

  /** Templates for the sales-invoice form, the host's invoice template first. */
  listEmailTemplates(): Promise<EmailTemplateRef[]>;

  /** The host's own prints ("user" prints), as `user:<id>` choices. */
  listUserPrints(): Promise<PrintRef[]>;

  /** Invoices possibly due, page by page (keyset on id), each page fully read in batched calls. */
  listDueInvoices(query: DueInvoiceQuery): AsyncIterable<Invoice[]>;

  /**
   * The ids of the invoices `listDueInvoices` would list for the same query (same filter, `excludeIds`
   * honoured; `pageSize` is not used), ordered as it lists them, after `afterId` when given (the last id
   * of a page it listed): one host call, no reads. Optional: a run on a host without it is not split into
   * page jobs (src/jobs/run/pipeline.ts).
   */
  listDueInvoiceIds?(query: DueInvoiceQuery & { afterId?: string }): Promise<string[]>;

  /** Full invoices by id (previews, re-sends, the page jobs of a split run). Missing ids are left out. */
  getInvoices(ids: string[]): Promise<Invoice[]>;

  /**
   * Which of the given invoices the host changed at or after `since` (an ISO instant): the invoice itself,
   * or a record its customer data comes from (the customer, its commercial entity, their invoice contacts
   * or e-mail addresses: where e-mail and consent live). One host call whatever the number of ids, ids
   * only; ids the host does not know are left out. Optional: without it the connector parks nothing and
   * reads every listed invoice each run.
   */
  changedInvoices?(ids: string[], since: string): Promise<string[]>;

  /**
   * Customer invoices whose number contains `text` (case-insensitive), newest first, at most `limit`:
   * only header fields, for a person to pick one. Optional: without it, previews take an id.
   */
  searchInvoices?(text: string, limit: number): Promise<InvoiceMatch[]>;

  /**
   * Host-rendered subject and body of a host template for each invoice, in the customer's language.
   * Throws `host_not_found` when the template does not exist or is not an invoice template.
   */
  renderTemplate(templateId: string, invoiceIds: string[]): Promise<Map<string, RenderedTemplate>>;

  /** The host's own PDF of an invoice for a user print id; throws `print_unavailable` when it has none. */
  getUserPrint(printId: string, invoiceId: string): Promise<Uint8Array>;

  /** Writes status and a note on each invoice. Idempotent: writing the same outcome twice is harmless. */
  writeBack(items: WriteBack[]): Promise<void>;

  /**
   * Leaves one host log record per finished run where the host keeps such logs (Odoo `ir.logging`, written
   * with the integration credential). Optional: hosts without a log model leave it out.
   */
  recordRun?(summary: RunSummary): Promise<void>;

  /**
   * Registration in the host's own menu (Odoo: `ir.actions.act_url` + `ir.ui.menu` under Invoicing,
   * with the integration credential). Idempotent: creates what is missing, so it also repairs a deleted
   * entry, and costs one read when everything is there. Optional: hosts without menus leave it out.
   */
  ensureExtension?(links: ExtensionLinks): Promise<void>;

  /** Removes what `ensureExtension` made (entries whose URL starts with `urlPrefix`). */
  removeExtension?(urlPrefix: string): Promise<void>;

  /**
   * Which of the given rights the integration credential lacks on the host (models the host does not
   * have are left out). Optional: hosts that cannot tell leave it out.
   */
  checkRights?(rights: RightsCheck[]): Promise<{ model: string; access: string }[]>;

  /** Frees connections (keep-alive sockets, sessions). The adapter is not used afterwards. */
  close?(): void | Promise<void>;
}

/** A finished run, as the host's own log sees it. */
export interface RunSummary {
  runId: string;
  status: 'completed' | 'failed' | 'interrupted';
  trigger: string;
  startedAt: string;
  finishedAt: string;
  counts: { due: number; sent: number; drafted: number; skipped: number; failed: number; retry: number; uncertain: number };
  error: string | null;
}

/** The connector pages a host menu opens. */
export interface ExtensionLinks {
  entries: { name: string; url: string; sequence: number }[];
}

/** One right the connector needs on the host, as the manifest lists it. */
export interface RightsCheck {
  model: string;
  access: ('read' | 'write' | 'create' | 'unlink')[];
}

export type HostFactory = (connection: HostConnection) => HostErp;

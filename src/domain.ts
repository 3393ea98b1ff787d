/**
 * The domain core's types: what an invoice, a party, an e-mail account, a template, a print choice,
 * the settings and an outcome are, independent of any host ERP, database or mail library.
 *
 * Rules of this module: it imports no I/O library (enforced by dependency-cruiser), adapters translate
 * host shapes into these types at their edge, and no vendor shape (Odoo dict, pg row, nodemailer info)
 * ever appears here.
 *
 * Money is integer minor units (grosze, cents) in `Minor`; quantities, unit prices and rates that may
 * carry more decimals are canonical decimal strings (`Decimal`, e.g. "2.500"). Never binary floats.
 * Dates are ISO calendar dates (`IsoDate`, "2026-11-27"); instants are ISO strings with offset.
 */
import type { Settings } from './settings/schema.ts';

export type { Settings } from './settings/schema.ts';

/** Integer amount in the currency's minor unit (1 PLN = 100). Always `Number.isSafeInteger`. */
export type Minor = number;
/** A canonical decimal number as text: optional '-', digits, optional '.' and digits. */
export type Decimal = string;
/** A calendar date, `YYYY-MM-DD`. */
export type IsoDate = string;

export type InvoiceKind = 'invoice' | 'credit_note';
/** `draft` = the host's buffer (Odoo draft, Tryton draft/validated), `posted` = confirmed. */
export type InvoiceState = 'draft' | 'posted' | 'cancelled';

export interface Address {
  street: string | null;
  street2: string | null;
  zip: string | null;
  city: string | null;
  /** ISO 3166-1 alpha-2 code, e.g. "PL". */
  countryCode: string | null;
  countryName: string | null;
}

export interface Party {
  id: string;
  name: string;
  /** NIP for Polish parties, the VAT id (with country prefix) for foreign ones. */
  vat: string | null;
  address: Address;
  /** Raw e-mail field of the party; may hold several addresses separated by ',' or ';'. */
  email: string | null;
  /** Host language code, e.g. "pl_PL", "en_US". */
  lang: string | null;
  /**
   * Consent to receive invoices electronically (art. 106n), where the host records it:
   * `true` given, `false` refused/opted out, `null` the host keeps no such field.
   */
  eInvoiceConsent: boolean | null;
  /**
   * The party's bank account as the host keeps it (for a customer: where a credit note's refund goes,
   * e.g. Odoo's `partner_bank_id` of an out_refund). Absent or null when the host has none.
   */
  bankAccount?: string | null;
}

export interface Seller extends Party {
  bankAccount: string | null;
  bankName: string | null;
  /** The seller's phone printed on the invoice, when the host has one (the e-mail is `Party.email`). */
  phone?: string | null;
  /** The seller's web site printed on the invoice, e.g. "https://spike.example", when the host has one. */
  website?: string | null;
}

/** A contact the invoice may be e-mailed to: the host's invoice-type child contacts of the customer. */
export interface InvoiceContact {
  id: string;
  name: string;
  email: string | null;
}

export interface TaxRate {
  id: string;
  name: string;
  /** Percentage as decimal text: "23", "8", "5", "0". */
  percent: Decimal;
  /** What the print shows in the VAT column: "23%", "0%", "zw", "np", "oo". */
  label: string;
}

export interface InvoiceLine {
  id: string;
  /** Sections and notes carry only `name`; amounts are zero. */
  kind: 'product' | 'section' | 'note';
  name: string;
  quantity: Decimal;
  unit: string | null;
  /** Net unit price in the invoice currency, full precision. */
  unitPrice: Decimal;
  /** Discount in percent, "0" when none. */
  discountPercent: Decimal;
  net: Minor;
  gross: Minor;
  taxes: TaxRate[];
}

/** The PLN conversion of a foreign-currency invoice, as the host provides it (never invented). */
export interface ExchangeRate {
  /** PLN per one unit of the invoice currency. */
  rate: Decimal;
  /** The rate's own date (art. 31a); null when the host does not say which day's rate it used. */
  date: IsoDate | null;
  /**
   * The rate's published source as a reader of the invoice understands it (e.g. "NBP, tabela 228/A/NBP/2026");
   * null when the host only says it is its own rate table: the print then names no source.
   */
  source: string | null;
}

export interface InvoiceNotes {
  splitPayment: boolean;
  reverseCharge: boolean;
  /** Legal basis of a VAT exemption, printed when set. */
  exemptionBasis: string | null;
  /** Free text the host shows on the invoice (plain text; hosts' HTML is stripped by the adapter). */
  narration: string | null;
}

export interface KsefInfo {
  /** KSeF number, 35 characters. */
  number: string | null;
  /** SHA-256 of the FA(3) XML, Base64URL, when known. */
  xmlSha256: string | null;
  /** Host's KSeF status, e.g. "accepted"; "offline" for an invoice issued in KSeF's offline mode (no number yet). */
  status: string | null;
  /**
   * The FA(3) XML the host holds (Odoo's l10n_pl_edi attachment, `FA3-<name>.xml`), its bytes unchanged:
   * `xmlSha256` is of exactly these bytes. Absent/null when the host has none or gave none.
   */
  xml?: { filename: string; content: Uint8Array } | null;
}

/** Amounts an invoice booked in the company currency (minor units, positive for credit notes too). */
export interface BookedAmounts {
  currency: string;
  untaxed: Minor;
  tax: Minor;
  total: Minor;
  /** Per VAT rate: base and tax in the company currency, as booked. */
  taxByRate: { label: string; base: Minor; tax: Minor }[];
}

export interface InvoiceReadError {
  /** What could not be read, e.g. "res.currency.rate". */
  what: string;
  detail: string;
  retryable: boolean;
}

export interface Invoice {
  id: string;
  /** Null while a draft has no number (Odoo shows '/'). */
  number: string | null;
  kind: InvoiceKind;
  state: InvoiceState;
  issueDate: IsoDate | null;
  /** Sale/delivery date; null when the host has none (then the issue date stands in). */
  saleDate: IsoDate | null;
  dueDate: IsoDate | null;
  currency: string;
  companyCurrency: string;
  amountUntaxed: Minor;
  amountTax: Minor;
  amountTotal: Minor;
  exchangeRate: ExchangeRate | null;
  seller: Seller;
  customer: Party;
  invoiceContacts: InvoiceContact[];
  lines: InvoiceLine[];
  paymentReference: string | null;
  paymentTerm: string | null;
  paymentMethod: string | null;
  notes: InvoiceNotes;
  /** For credit notes: the corrected invoice (number, date, and its KSeF number when known). */
  corrects: { number: string; date: IsoDate | null; ksefNumber?: string | null } | null;
  /** For credit notes: the reason of the correction as the host records it. */
  correctionReason?: string | null;
  /**
   * What the invoice booked in the company currency (Odoo `amount_*_signed`, `tax_totals`), for
   * foreign-currency invoices: the print shows these, never a figure recomputed from a rate table.
   */
  booked?: BookedAmounts | null;
  /**
   * Set when a read this invoice needs failed (e.g. its currency rate): only this invoice is held back,
   * the rest of the run goes on. `retryable` = try again on a later run.
   */
  readError?: InvoiceReadError | null;
  ksef: KsefInfo | null;
  /** The host marks it as sent (sent by hand, or by us earlier). */
  hostMarkedSent: boolean;
  /** The host itself is busy sending it (Odoo `sending_data` / `send_and_print_values`). */
  hostIsSending: boolean;
  /** The host's last modification instant (ISO), for support and content tracking. */
  updatedAt: string | null;
}

export interface Operator {
  id: string;
  login: string;
  name: string;
  email: string | null;
  lang: string | null;
}

export type TlsMode = 'none' | 'starttls' | 'tls';

export interface SmtpSettings {
  host: string;
  port: number;
  tls: TlsMode;
  user: string | null;
  password: string | null;
}

export interface ImapSettings {
  host: string;
  port: number;
  tls: TlsMode;
  user: string;
  password: string;
}

export interface EmailAccount {
  id: string;
  name: string;
  active: boolean;
  /** Sender address the account sends as (From), or null to use the operator's address. */
  fromAddress: string | null;
  /** Odoo `from_filter`: empty = any sender, else an address or a domain. */
  fromFilter: string | null;
  smtp: SmtpSettings;
  /** Present when the account can store drafts / copies (IMAP). */
  imap: ImapSettings | null;
  /** DKIM signing of outgoing mail (connector-managed accounts); the key is decrypted just before use. */
  dkim?: DkimKey | null;
}

export interface DkimKey {
  /** The signing domain (`d=`): the sender's domain or a parent of it. */
  domain: string;
  /** The selector (`s=`): the DNS record is `<selector>._domainkey.<domain>`. */
  selector: string;
  /** PEM private key (RSA or Ed25519). */
  privateKey: string;
}

export interface EmailTemplateRef {
  id: string;
  name: string;
  /** The host model the template belongs to; invoice templates are for the sales-invoice form. */
  model: string;
  /** True when the host renders it (Odoo QWeb); false for connector-managed templates. */
  renderedByHost: boolean;
}

export interface RenderedTemplate {
  subject: string;
  html: string;
  /** Language the host rendered it in. */
  lang: string | null;
}

export interface PrintRef {
  /** `standard:<id>` or `user:<id>` as used in settings. */
  choice: string;
  name: string;
}

/** One print choice per currency group, as stored in settings. */
export type PrintChoice = { kind: 'standard'; id: string } | { kind: 'user'; id: string } | { kind: 'none' };

export function parsePrintChoice(value: string): PrintChoice | null {
  if (value === 'none') return { kind: 'none' };
  const m = /^(standard|user):(.+)$/.exec(value);
  if (!m) return null;
  return { kind: m[1] as 'standard' | 'user', id: m[2]! };
}

export type DeliveryMode = 'send_now' | 'save_draft';

/** Final or intermediate state of one invoice in the ledger. */
export type LedgerState =
  | 'claimed' // owned by a worker, nothing has left yet
  | 'sending' // handed to SMTP/IMAP; outcome unknown until recorded
  | 'sent' // accepted by the SMTP server
  | 'drafted' // stored in the IMAP Drafts folder
  | 'skipped' // not sendable now (e.g. no recipient); picked up again later
  | 'retry' // temporary failure, will be retried on a later run
  | 'failed' // permanent failure; never retried automatically
  | 'uncertain'; // process died mid-delivery and no evidence either way: a person decides

export type OutcomeReason =
  | 'no_recipient'
  | 'no_consent'
  | 'invalid_recipient'
  | 'print_unavailable'
  | 'render_failed'
  | 'smtp_temporary'
  | 'smtp_permanent'
  | 'smtp_auth'
  | 'account_unusable'
  | 'imap_failed'
  | 'attempts_exhausted'
  | 'interrupted'
  | 'host_read_failed'
  | 'waiting_for_ksef';

export interface RecipientResult {
  address: string;
  accepted: boolean;
  /** Server reply for a refused recipient. */
  reply: string | null;
  /**
   * The message was accepted but a delivery status notification (RFC 3464, action `failed`) came back
   * for this recipient later: the enhanced status code, the remote server's diagnostic, when it was read.
   */
  bounce?: RecipientBounce;
}

export interface RecipientBounce {
  /** Enhanced status code, e.g. "5.1.1"; null when the report gave none. */
  status: string | null;
  diagnostic: string | null;
  at: string;
}

export interface Outcome {
  state: Exclude<LedgerState, 'claimed' | 'sending'>;
  reason: OutcomeReason | null;
  detail: string | null;
  recipients: RecipientResult[];
}

export type LogLevel = 'info' | 'warning' | 'error';

export type RunTrigger = 'schedule' | 'manual' | 'catch_up' | 'hint';

export interface RunCounts {
  due: number;
  sent: number;
  drafted: number;
  skipped: number;
  failed: number;
  retry: number;
  uncertain: number;
}

/** The counts of recorded outcomes, one `invoice.<state>` log entry each (`RunLog.countRunOutcomes`). */
export const OUTCOME_COUNT_KEYS = ['sent', 'drafted', 'failed', 'retry', 'uncertain'] as const satisfies readonly (keyof RunCounts)[];
export type OutcomeCounts = Pick<RunCounts, (typeof OUTCOME_COUNT_KEYS)[number]>;

export function emptyCounts(): RunCounts {
  return { due: 0, sent: 0, drafted: 0, skipped: 0, failed: 0, retry: 0, uncertain: 0 };
}

export type { Settings as InstallationSettings };

/** Helper used by every rule: the date the settings compare with `fromDate`. */
export function basisDate(invoice: Pick<Invoice, 'issueDate' | 'saleDate'>, basis: Settings['dateBasis']): IsoDate | null {
  if (basis === 'sale_date') return invoice.saleDate ?? invoice.issueDate;
  return invoice.issueDate;
}

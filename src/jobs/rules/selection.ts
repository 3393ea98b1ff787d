/**
 * The selection rules: which invoice is e-mailed now, to whom, with which print — and, when not,
 * why. Pure functions over domain types and the invoice's ledger entry; no I/O (node:crypto hashes).
 *
 * `decide` applies the rules in this order; the first that refuses gives the reason:
 *   1. not_customer_invoice  the document is not a customer invoice or credit note (defensive: adapters
 *                            should only list those)
 *   2. cancelled             cancelled invoices are never sent
 *   3. draft_not_wanted      a draft ("bufor") while documents = confirmed_only
 *   4. missing_date          the compared date is missing (issue date, or sale date falling back to it)
 *      before_from_date      the compared date is earlier than fromDate (fromDate inclusive), or no
 *                            fromDate is set yet
 *   5. already_recorded      the ledger holds a final outcome: sent, drafted, failed or uncertain
 *      in_progress           the ledger entry is owned: claimed (lease not expired) or sending (an
 *                            interrupted delivery is resolved by evidence, never by sending again)
 *   6. host_marked_sent      the host marks it sent (sent by hand): never sent again
 *      host_is_sending       the host's own sending owns it (Odoo sending_data)
 *   7. attempts_exhausted    a retry entry already used maxAttempts
 *      retry_later           a retry entry before its nextAttemptAt
 *   8. no_consent            the customer refused electronic invoices (art. 106n); `null` = host keeps
 *                            no such field = no gate
 *      no_recipient          no valid address (invalid ones are named in the detail)
 *   9. waiting_for_ksef      the host issues through KSeF (`invoice.ksef` present) and a posted invoice
 *                            has no KSeF number yet: sending now would print "OFFLINE" on the PDF
 *                            visualisation (docs/design.md §5); it goes out once the number exists.
 *      ksef_rejected         KSeF rejected it (status `rejected`): it will never get a number as it is, so
 *                            it is not a wait but a refusal a person must act on (correct it in the host).
 *
 * `HOST_CHANGE_REASONS` (no_consent, no_recipient, missing_date, the KSeF waits, host_is_sending) are the
 * ones only a change on the host can lift: runs park those invoices until the host record changes.
 *
 * `logOnce` is true for the reasons a person can act on or should know of and that would otherwise repeat
 * every run (missing_date, no_consent, no_recipient, waiting_for_ksef, host_is_sending): the pipeline
 * logs them once per invoice.
 */
import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { basisDate, parsePrintChoice, type Invoice, type Party, type PrintChoice, type Settings } from '../../domain.ts';
import type { LedgerEntry } from '../../store/port.ts';
import { ConnectorError } from '../../errors.ts';

export type SkipReason =
  | 'not_customer_invoice'
  | 'cancelled'
  | 'draft_not_wanted'
  | 'missing_date'
  | 'before_from_date'
  | 'host_marked_sent'
  | 'host_is_sending'
  | 'already_recorded'
  | 'in_progress'
  | 'retry_later'
  | 'attempts_exhausted'
  | 'no_recipient'
  | 'no_consent'
  | 'waiting_for_ksef'
  | 'ksef_rejected'
  /** Not from `decide`: a host read the invoice needs failed (see delivery/plan.ts). */
  | 'host_read_failed';

/** Reasons logged once per invoice rather than at every run. */
export const LOG_ONCE_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'missing_date',
  'no_consent',
  'no_recipient',
  'waiting_for_ksef',
  'ksef_rejected',
  'host_is_sending',
]);

/**
 * Reasons only a change on the host can lift: the customer's e-mail addresses or consent (no_recipient,
 * no_consent), or the invoice's own fields (missing_date; waiting_for_ksef / ksef_rejected: its KSeF
 * status and number, or its company's KSeF registration; host_is_sending: the host's own sending, which
 * writes the invoice when done). A run parks such an invoice and does not read it again until the host
 * changes it, its customer or its company (src/jobs/run/pipeline.ts).
 */
export const HOST_CHANGE_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'no_recipient',
  'no_consent',
  'missing_date',
  'waiting_for_ksef',
  'ksef_rejected',
  'host_is_sending',
]);

export type Decision =
  | { send: true; recipients: string[]; invalidRecipients: string[]; print: PrintChoice }
  | { send: false; reason: SkipReason; detail: string; logOnce: boolean; invalidRecipients: string[] };

export interface DecideOptions {
  maxAttempts: number;
  now: Date;
}

/** A rule's refusal; `null` from a rule means "this rule lets it through". */
export interface Skip {
  reason: SkipReason;
  detail: string;
}

const skip = (reason: SkipReason, detail: string): Skip => ({ reason, detail });

// ---------------------------------------------------------------------------------------------
// The rules, one small function each.

export function ruleCustomerInvoice(invoice: Invoice): Skip | null {
  return invoice.kind === 'invoice' || invoice.kind === 'credit_note'
    ? null
    : skip('not_customer_invoice', `document kind "${String(invoice.kind)}" is not a customer invoice or credit note`);
}

export function ruleNotCancelled(invoice: Invoice): Skip | null {
  return invoice.state === 'cancelled' ? skip('cancelled', 'cancelled invoices are never sent') : null;
}

export function ruleDocuments(invoice: Invoice, documents: Settings['documents']): Skip | null {
  if (invoice.state === 'draft' && documents === 'confirmed_only') {
    return skip('draft_not_wanted', 'a draft invoice while only confirmed documents are sent');
  }
  return null;
}

export function ruleFromDate(invoice: Invoice, settings: Pick<Settings, 'dateBasis' | 'fromDate'>): Skip | null {
  const date = basisDate(invoice, settings.dateBasis);
  if (date === null) {
    const which = settings.dateBasis === 'sale_date' ? 'neither a sale date nor an issue date' : 'no issue date';
    return skip('missing_date', `the invoice has ${which} to compare with "from date"`);
  }
  if (settings.fromDate === null) return skip('before_from_date', 'no "from date" is set');
  if (date < settings.fromDate) {
    const which = settings.dateBasis === 'sale_date' ? 'sale date' : 'issue date';
    return skip('before_from_date', `${which} ${date} is before "from date" ${settings.fromDate}`);
  }
  return null;
}

export function ruleLedger(ledger: LedgerEntry | null, now: Date): Skip | null {
  if (ledger === null) return null;
  switch (ledger.state) {
    case 'sent':
    case 'drafted':
    case 'failed':
    case 'uncertain':
      return skip('already_recorded', `already recorded as ${ledger.state}`);
    case 'sending':
      return skip(
        'in_progress',
        ledger.leaseUntil !== null && Date.parse(ledger.leaseUntil) <= now.getTime()
          ? 'an interrupted delivery awaits resolution'
          : `being delivered by ${ledger.owner ?? 'another worker'}`,
      );
    case 'claimed':
      if (ledger.leaseUntil === null || Date.parse(ledger.leaseUntil) > now.getTime()) {
        return skip('in_progress', `claimed by ${ledger.owner ?? 'another worker'}`);
      }
      return null; // expired claim: may be claimed again
    case 'skipped':
    case 'retry':
      return null;
  }
}

export function ruleHost(invoice: Invoice): Skip | null {
  if (invoice.hostMarkedSent) return skip('host_marked_sent', 'the host already marks it as sent (sent by hand)');
  if (invoice.hostIsSending) return skip('host_is_sending', 'the host is sending it');
  return null;
}

export function ruleRetry(ledger: LedgerEntry | null, opts: DecideOptions): Skip | null {
  if (ledger === null || ledger.state !== 'retry') return null;
  if (ledger.attempts >= opts.maxAttempts) return skip('attempts_exhausted', `${ledger.attempts} of ${opts.maxAttempts} attempts used`);
  if (ledger.nextAttemptAt !== null && Date.parse(ledger.nextAttemptAt) > opts.now.getTime()) {
    return skip('retry_later', `next attempt at ${ledger.nextAttemptAt}`);
  }
  return null;
}

export function ruleConsent(invoice: Invoice): Skip | null {
  return invoice.customer.eInvoiceConsent === false ? skip('no_consent', `customer ${invoice.customer.name} has not accepted electronic invoices`) : null;
}

export function ruleRecipients(invoice: Invoice, resolved: { valid: string[]; invalid: string[] }): Skip | null {
  if (resolved.valid.length > 0) return null;
  const detail =
    resolved.invalid.length > 0
      ? `no valid e-mail address for ${invoice.customer.name} (invalid: ${resolved.invalid.join(', ')})`
      : `no e-mail address for ${invoice.customer.name}`;
  return skip('no_recipient', detail);
}

export function ruleKsef(invoice: Invoice): Skip | null {
  if (invoice.state !== 'posted' || invoice.ksef === null) return null;
  if (invoice.ksef.number) return null;
  if (invoice.ksef.status === 'rejected') {
    return skip('ksef_rejected', 'KSeF rejected this invoice (status rejected): it gets no KSeF number as it is; correct it in the host');
  }
  return skip('waiting_for_ksef', `waiting for the KSeF number (KSeF status: ${invoice.ksef.status ?? 'unknown'})`);
}

// ---------------------------------------------------------------------------------------------

/** Applies the rules in order (see the module comment) and says whether, to whom and with what to send. */
export function decide(invoice: Invoice, settings: Settings, ledger: LedgerEntry | null, opts: DecideOptions): Decision {
  const resolved = resolveRecipients(invoice);
  const refusal =
    ruleCustomerInvoice(invoice) ??
    ruleNotCancelled(invoice) ??
    ruleDocuments(invoice, settings.documents) ??
    ruleFromDate(invoice, settings) ??
    ruleLedger(ledger, opts.now) ??
    ruleHost(invoice) ??
    ruleRetry(ledger, opts) ??
    ruleConsent(invoice) ??
    ruleRecipients(invoice, resolved) ??
    ruleKsef(invoice);
  if (refusal) {
    return { send: false, ...refusal, logOnce: LOG_ONCE_REASONS.has(refusal.reason), invalidRecipients: resolved.invalid };
  }
  return { send: true, recipients: resolved.valid, invalidRecipients: resolved.invalid, print: printFor(invoice, settings) };
}

// ---------------------------------------------------------------------------------------------
// Recipients

const ATEXT = "[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]";
const LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]{0,61}[\\p{L}\\p{N}])?';
const ADDRESS = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*@${LABEL}(?:\\.${LABEL})*\\.(?:\\p{L}{2,63}|xn--[a-z0-9-]{1,59})$`, 'iu');

/**
 * A sensible RFC 5322 "addr-spec" check: dot-atom local part (≤ 64), a domain of at least two labels
 * with an alphabetic (or punycode) top level, ≤ 254 in all. Quoted local parts and IP literals are
 * refused on purpose: real invoice addresses never need them and they are a common typo signal.
 * Unicode letters are accepted (SMTPUTF8 / IDN).
 */
export function isValidEmail(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at < 1 || at > 64) return false;
  return ADDRESS.test(address);
}

/**
 * Splits a raw address field on `,` and `;` outside quotes and angle brackets, and takes the address
 * out of `Name <address>` forms. Returns trimmed, non-empty parts.
 */
export function splitAddresses(field: string | null): string[] {
  if (!field) return [];
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (const ch of field) {
    if (ch === '"' && !angle) quoted = !quoted;
    else if (ch === '<' && !quoted) angle = true;
    else if (ch === '>' && !quoted) angle = false;
    if ((ch === ',' || ch === ';') && !quoted && !angle) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts
    .map((p) => {
      const m = /<([^<>]*)>\s*$/.exec(p);
      return (m ? m[1]! : p).trim();
    })
    .filter((p) => p.length > 0);
}

function classify(fields: (string | null)[]): { valid: string[]; invalid: string[] } {
  const valid: string[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  for (const field of fields) {
    for (const address of splitAddresses(field)) {
      const key = address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      (isValidEmail(address) ? valid : invalid).push(address);
    }
  }
  return { valid, invalid };
}

/**
 * Who the invoice goes to: all addresses of the customer's invoice-type contacts when at least one of
 * them is valid, else the customer's own address field. Several addresses per field (`,`/`;`),
 * trimmed, deduplicated case-insensitively (first spelling kept); invalid ones are reported from
 * every field looked at.
 */
export function resolveRecipients(invoice: Pick<Invoice, 'invoiceContacts' | 'customer'>): { valid: string[]; invalid: string[] } {
  const contacts = classify(invoice.invoiceContacts.map((c) => c.email));
  if (contacts.valid.length > 0) return contacts;
  const customer = classify([invoice.customer.email]);
  const invalid = [...contacts.invalid];
  for (const a of customer.invalid) if (!invalid.some((b) => b.toLowerCase() === a.toLowerCase())) invalid.push(a);
  return { valid: customer.valid, invalid };
}

// ---------------------------------------------------------------------------------------------
// Print

/**
 * The print for an invoice: `attachments.pln` for invoices in PLN, `attachments.foreign` for any other
 * currency. Decided on the invoice currency being PLN (not "equal to the company currency") because
 * that is what the setting says ("Wydruk faktury w walucie PLN") and what the law ties the layout to:
 * a non-PLN invoice must show its VAT in PLN, whatever the company's own currency.
 */
export function printFor(invoice: Pick<Invoice, 'currency'>, settings: Pick<Settings, 'attachments'>): PrintChoice {
  const field = invoice.currency.trim().toUpperCase() === 'PLN' ? 'pln' : 'foreign';
  const raw = settings.attachments[field];
  const choice = parsePrintChoice(raw);
  if (!choice) throw new ConnectorError('validation', `attachments.${field}: not a print choice: ${JSON.stringify(raw)}`, { field: `attachments.${field}` });
  return choice;
}

// ---------------------------------------------------------------------------------------------
// Content hash

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** A party as printed: identity, name, tax id and address (not its e-mail, language or consent). */
function printedParty(p: Party) {
  return { id: p.id, name: p.name, vat: p.vat, address: p.address };
}

/**
 * SHA-256 (hex) of what the customer sees: number, kind, dates, parties as printed, lines, amounts,
 * currency and rate, payment data, notes, corrected invoice, KSeF data. Left out: volatile host state
 * (updatedAt, hostMarkedSent, hostIsSending, state) and delivery data (e-mail addresses, contacts,
 * consent, language), so a new address does not look like a new invoice but an edited line does.
 */
export function contentHash(invoice: Invoice): string {
  const seen = {
    id: invoice.id,
    number: invoice.number,
    kind: invoice.kind,
    issueDate: invoice.issueDate,
    saleDate: invoice.saleDate,
    dueDate: invoice.dueDate,
    currency: invoice.currency,
    companyCurrency: invoice.companyCurrency,
    amountUntaxed: invoice.amountUntaxed,
    amountTax: invoice.amountTax,
    amountTotal: invoice.amountTotal,
    exchangeRate: invoice.exchangeRate,
    seller: { ...printedParty(invoice.seller), bankAccount: invoice.seller.bankAccount, bankName: invoice.seller.bankName },
    customer: printedParty(invoice.customer),
    lines: invoice.lines,
    paymentReference: invoice.paymentReference,
    paymentTerm: invoice.paymentTerm,
    paymentMethod: invoice.paymentMethod,
    notes: invoice.notes,
    corrects: invoice.corrects,
    // the XML's bytes are covered by its hash (xmlSha256)
    ksef: invoice.ksef ? { number: invoice.ksef.number, xmlSha256: invoice.ksef.xmlSha256, status: invoice.ksef.status } : null,
  };
  return createHash('sha256').update(canonicalJson(seen), 'utf8').digest('hex');
}

/** True when the ledger recorded a content hash and the invoice's content differs from it now. */
export function contentChanged(ledger: Pick<LedgerEntry, 'contentHash'> | null, invoice: Invoice): boolean {
  return ledger !== null && ledger.contentHash !== null && ledger.contentHash !== contentHash(invoice);
}

// ---------------------------------------------------------------------------------------------
// Message-ID

/**
 * One id as a dot-atom part: an id of only `[A-Za-z0-9-]` (UUIDs, host integer ids) as it is, any
 * other id as `_` + the hex of its UTF-8 bytes. A plain id never starts with `_`, so distinct ids
 * always give distinct parts, and no part contains the `.` that separates them.
 */
function idPart(id: string): string {
  if (/^[A-Za-z0-9-]+$/.test(id)) return id;
  return `_${Buffer.from(id, 'utf8').toString('hex')}`;
}

/** Used only when the sender address has no usable domain (such a message cannot be sent anyway). */
const FALLBACK_DOMAIN = 'invoice-courier.invalid';

/** The lower-case ASCII domain of an e-mail address, or null when it has none a Message-ID can carry. */
function domainOf(address: string | null): string | null {
  const at = address ? address.lastIndexOf('@') : -1;
  if (!address || at < 0) return null;
  const domain = domainToASCII(
    address
      .slice(at + 1)
      .trim()
      .replace(/\.$/, '')
      .toLowerCase(),
  );
  return /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(domain) ? domain : null;
}

/**
 * The deterministic Message-ID of an invoice's message, `<ic-<installation>.<invoice>@<sender's domain>>`,
 * e.g. `<ic-9a260b0c-94fd-4c1e-8d7e-0e3f9b1a2c3d.101@piekarnia.pl>`: only `[A-Za-z0-9._@-]`, so no
 * mail library rewrites it, and on the domain of the address the message is sent from (the account's
 * From, else the operator's), as RFC 5322 §3.6.4 recommends. The same installation, invoice and
 * sender always give the same id, so a delivery interrupted by a crash can be recognised later in the
 * mailbox; the ledger keeps the id it claimed with, and the evidence search looks for that one.
 */
export function messageIdFor(installationId: string, invoiceId: string, senderAddress: string | null): string {
  return `<ic-${idPart(installationId)}.${idPart(invoiceId)}@${domainOf(senderAddress) ?? FALLBACK_DOMAIN}>`;
}

/**
 * What a delivery of one invoice needs before anything is claimed or sent, shared by runs and previews so a
 * preview shows exactly what a run does:
 *   - `requireCompleteSettings()`: operator, e-mail account and template chosen (runs: also a from date);
 *   - `resolveSender()`: the operator logs in and the chosen e-mail account is available to them;
 *   - `planDelivery()` (pure): send (to whom, with which print), hold (a host read it needs failed),
 *     close (a retry that used every attempt) or skip (why), from the rules in ../rules.ts.
 */
import type { HostErp } from '../../connector/port.ts';
import type { EmailAccount, Invoice, InvoiceReadError, Operator, PrintChoice, Settings } from '../../domain.ts';
import { ConnectorError } from '../../errors.ts';
import type { LedgerEntry } from '../../store/port.ts';
import { contentHash, decide, type SkipReason } from './selection.ts';

/** Throws `validation` naming the first missing setting. `fromDate` is required for runs only. */
export function requireCompleteSettings(settings: Settings, opts: { fromDate: boolean }): void {
  if (!settings.operator || !settings.emailAccount || !settings.emailTemplate) {
    throw new ConnectorError('validation', 'Settings are incomplete: operator, e-mail account and template must be chosen', {
      field: !settings.operator ? 'operator' : !settings.emailAccount ? 'emailAccount' : 'emailTemplate',
      say: { code: 'preview.settings_incomplete' },
    });
  }
  if (opts.fromDate && !settings.fromDate) throw new ConnectorError('validation', 'Settings have no "from date"', { field: 'fromDate' });
}

/** The operator (logged in as) and the chosen e-mail account; `host_auth` when the operator cannot log in. */
export async function resolveSender(host: HostErp, settings: Settings): Promise<{ operator: Operator; account: EmailAccount }> {
  const operator = await host.checkOperator();
  const account = (await host.listEmailAccounts(operator)).find((a) => a.id === settings.emailAccount);
  if (!account) {
    throw new ConnectorError('host_not_found', `E-mail account ${settings.emailAccount} is not active or not available to the operator`, {
      field: 'emailAccount',
      say: { code: 'settings.email_account_unavailable', params: { account: settings.emailAccount, operator: settings.operator } },
    });
  }
  return { operator, account };
}

export function printLabel(print: PrintChoice): string {
  return print.kind === 'none' ? 'none' : `${print.kind}:${print.id}`;
}

export type DeliveryPlan =
  | {
      kind: 'send';
      recipients: string[];
      invalidRecipients: string[];
      print: PrintChoice;
      printId: string;
      /**
       * Set when a draft e-mailed under "all documents" has since been posted: the confirmed invoice is
       * e-mailed once more, as this version of the ledger entry (claimed with `claimNewVersion`).
       */
      newVersion: number | null;
    }
  /** A host read this invoice needs failed: it is held back alone (claimed and settled as retry/failed). */
  | { kind: 'hold'; error: InvoiceReadError }
  /** A `retry` entry that used every attempt: claimed once more to close it as `failed`. */
  | { kind: 'exhausted'; entry: LedgerEntry }
  | {
      kind: 'skip';
      reason: SkipReason;
      detail: string;
      /** A person can act on it: logged once per invoice (and counted as due and skipped). */
      logOnce: boolean;
      /** Already recorded, but the invoice's content differs from what was sent. */
      changedAfterSending: boolean;
      invalidRecipients: string[];
    };

/**
 * Skip reasons that hold whatever the host could not read: the invoice is not ours to send now anyway.
 * After these, an invoice with a read error is held back rather than judged on incomplete data.
 */
const DECIDED_WITHOUT_READS: ReadonlySet<SkipReason> = new Set<SkipReason>([
  'not_customer_invoice',
  'cancelled',
  'draft_not_wanted',
  'before_from_date',
  'already_recorded',
  'in_progress',
  'host_marked_sent',
  'host_is_sending',
  'retry_later',
  'attempts_exhausted',
]);

export interface PlanOptions {
  maxAttempts: number;
  now: Date;
}

/** Pure: what a run does with this invoice now, given its ledger entry. */
export function planDelivery(invoice: Invoice, settings: Settings, entry: LedgerEntry | null, opts: PlanOptions): DeliveryPlan {
  const newVersion = postedAfterDraft(invoice, settings, entry);
  // A posted draft is judged like a new invoice: its ledger entry is the draft's, and the host's "sent"
  // flag is the one our draft e-mail set.
  const decision = newVersion ? decide({ ...invoice, hostMarkedSent: false }, settings, null, opts) : decide(invoice, settings, entry, opts);
  const readError = invoice.readError ?? null;
  if (readError && (decision.send || !DECIDED_WITHOUT_READS.has(decision.reason))) return { kind: 'hold', error: readError };
  if (decision.send) {
    return {
      kind: 'send',
      recipients: decision.recipients,
      invalidRecipients: decision.invalidRecipients,
      print: decision.print,
      printId: printLabel(decision.print),
      newVersion,
    };
  }
  if (decision.reason === 'attempts_exhausted' && entry) return { kind: 'exhausted', entry };
  return {
    kind: 'skip',
    reason: decision.reason,
    detail: decision.detail,
    logOnce: decision.logOnce,
    changedAfterSending: decision.reason === 'already_recorded' && entry?.contentHash != null && entry.contentHash !== contentHash(invoice),
    invalidRecipients: decision.invalidRecipients,
  };
}

/**
 * The version to e-mail when the ledger holds a sent (or drafted) draft and the invoice is now posted, under
 * "all documents": the draft had no number, the confirmed invoice is the legal document. Null otherwise.
 */
export function postedAfterDraft(invoice: Pick<Invoice, 'state'>, settings: Pick<Settings, 'documents'>, entry: LedgerEntry | null): number | null {
  if (!entry || settings.documents !== 'all' || invoice.state !== 'posted') return null;
  if ((entry.state !== 'sent' && entry.state !== 'drafted') || entry.draft !== true) return null;
  return (entry.version ?? 1) + 1;
}

/** The Message-ID of a later version: `<local.v2@domain>`, so it is neither the draft's nor taken for it as evidence. */
export function versionedMessageId(messageId: string, version: number): string {
  if (version <= 1) return messageId;
  const at = messageId.lastIndexOf('@');
  return at < 0 ? `${messageId}.v${version}` : `${messageId.slice(0, at)}.v${version}${messageId.slice(at)}`;
}

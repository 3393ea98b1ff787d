/**
 * Bounces come back to the invoice (docs/design.md, "Bounces"). After each run, the delivery reports
 * (RFC 3464) that arrived in the e-mail account's INBOX since the last check are read (a cursor per
 * installation and account: UIDVALIDITY and the last UID, in the store), each matched by the Message-ID
 * it names to this installation's ledger entry (the current delivery's id, versioned ids included).
 * For every recipient the report marks `failed`, the entry records a bounce (status code, diagnostic,
 * time) once, the host gets a note on the invoice (never a "sent" flag), the log says `invoice.bounced`
 * and the `invoice.bounced` webhook goes out. `delayed` is logged, not a bounce. Reports about messages
 * we did not send, auto-replies and other mail are passed over. The ledger state stays `sent`: the
 * server did accept the message.
 *
 * A person may then re-send the invoice to the corrected address (`allowResend`): the entry becomes its
 * next version with a new Message-ID, and `resendPages` hands it to the next run even though the host
 * marks the invoice sent.
 */
import type { HostErp } from '../../connector/port.ts';
import type { EmailAccount, Invoice } from '../../domain.ts';
import type { Logger } from '../../observability/logger.ts';
import type { DeliveryReport } from '../../mail/bounces.ts';
import type { MailDelivery } from '../../mail/port.ts';
import type { BounceRecord, Ledger, LedgerEntry, NewLogEntry, RunLog } from '../../store/port.ts';
import type { PipelineEvent } from './events.ts';
import { versionedMessageId } from '../rules/plan.ts';

export const BOUNCED_EVENT = 'invoice.bounced';
export const DELAYED_EVENT = 'invoice.delivery_delayed';
export const BOUNCE_NOTE_FAILED_EVENT = 'invoice.bounce_note_failed';
export const BOUNCE_CHECK_FAILED_EVENT = 'run.bounce_check_failed';
export const BOUNCES_CHECKED_EVENT = 'run.bounces_checked';

/** Reports read per IMAP round trip. */
const BATCH = 100;

export interface BounceCheckDeps {
  store: Pick<Ledger, 'getMailboxCursor' | 'putMailboxCursor' | 'findLedgerByMessageId' | 'recordBounces'> & Pick<RunLog, 'appendLogs' | 'hasLog'>;
  mail: Pick<MailDelivery, 'listDeliveryReports'>;
  clock: () => Date;
  logger: Logger;
  events?: ((event: PipelineEvent) => void) | undefined;
}

export interface BounceCheckTarget {
  installationId: string;
  runId: string | null;
  host: Pick<HostErp, 'writeBack'>;
  account: EmailAccount;
}

export interface BounceCheckResult {
  /** Delivery reports read. */
  read: number;
  /** Bounces recorded (one per recipient). */
  bounced: number;
  /** Reports that named no message of this installation (or no report at all). */
  ignored: number;
}

/** The note written on the invoice in the host for one bounced address (Polish / English, like the delivery notes). */
export function bounceNote(address: string, status: string | null, diagnostic: string | null, messageId: string): string {
  const why = [status, diagnostic].filter(Boolean).join(' ') || '?';
  return `Invoice Courier: wiadomość do ${address} wróciła jako niedoręczona (${why}) / the message to ${address} bounced (${why}). Popraw adres i wyślij ponownie / correct the address and re-send. [bounce of ${messageId}]`;
}

/**
 * Reads the account's new delivery reports and records what bounced. Never throws: a mailbox that cannot
 * be read is a warning in the log (the run's outcome stands); the cursor moves only past reports handled.
 */
export async function checkBounces(deps: BounceCheckDeps, target: BounceCheckTarget): Promise<BounceCheckResult> {
  const result: BounceCheckResult = { read: 0, bounced: 0, ignored: 0 };
  const { account, installationId } = target;
  if (!account.imap || !deps.mail.listDeliveryReports) return result;
  try {
    const cursor = await deps.store.getMailboxCursor(installationId, account.id);
    let after = cursor?.lastUid ?? 0;
    for (let first = true; ; first = false) {
      let page = await deps.mail.listDeliveryReports(account, after, BATCH);
      if (first && cursor && after > 0 && page.uidValidity !== cursor.uidValidity) {
        // The INBOX was recreated (new UIDVALIDITY): its UIDs start over. Read it from the start; recording is idempotent.
        after = 0;
        page = await deps.mail.listDeliveryReports(account, 0, BATCH);
      }
      for (const { uid, report } of page.reports) {
        result.read += 1;
        if (!report || !(await handleReport(deps, target, report, result))) result.ignored += 1;
        after = Math.max(after, uid);
      }
      await deps.store.putMailboxCursor(installationId, account.id, { uidValidity: page.uidValidity, lastUid: after });
      if (page.reports.length < BATCH) break;
    }
    if (result.read > 0) {
      await log(
        deps,
        target,
        'info',
        BOUNCES_CHECKED_EVENT,
        `Read ${result.read} delivery report(s): ${result.bounced} bounce(s) recorded, ${result.ignored} not about this installation's messages`,
        null,
        { ...result, account: account.id },
      );
    }
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    deps.logger.warn({ err: e, installationId }, 'delivery reports not read');
    await log(deps, target, 'warning', BOUNCE_CHECK_FAILED_EVENT, `Delivery reports could not be read from the mailbox of "${account.name}": ${detail}`, null, {
      account: account.id,
      detail,
    }).catch(() => undefined);
  }
  return result;
}

/** True when the report was about one of this installation's messages. */
async function handleReport(deps: BounceCheckDeps, target: BounceCheckTarget, report: DeliveryReport, result: BounceCheckResult): Promise<boolean> {
  const entry = await deps.store.findLedgerByMessageId(target.installationId, report.originalMessageId);
  if (!entry) {
    deps.logger.debug({ installationId: target.installationId, messageId: report.originalMessageId }, 'delivery report for a message we did not send; ignored');
    return false;
  }
  const at = deps.clock().toISOString();
  const failed: BounceRecord[] = report.recipients
    .filter((r) => r.action === 'failed')
    .map((r) => ({ address: r.address, status: r.status, diagnostic: r.diagnostic, at }));
  // A delay is said once per invoice (servers repeat "still trying" notices); it is no bounce.
  const delayed = report.recipients.filter((x) => x.action === 'delayed');
  if (delayed.length && (await deps.store.hasLog(target.installationId, entry.invoiceId, DELAYED_EVENT))) delayed.length = 0;
  for (const r of delayed) {
    await log(
      deps,
      target,
      'info',
      DELAYED_EVENT,
      `Delivery to ${r.address} is delayed (the server keeps trying): ${r.diagnostic ?? r.status ?? ''}`.trim(),
      entry,
      {
        address: r.address,
        status: r.status,
        diagnostic: r.diagnostic,
        messageId: entry.messageId,
      },
    );
  }
  if (failed.length === 0) return true;
  const added = await deps.store.recordBounces(target.installationId, entry.invoiceId, entry.messageId, failed);
  for (const address of added) {
    const b = failed.find((f) => f.address.toLowerCase() === address.toLowerCase())!;
    result.bounced += 1;
    const data = { address, status: b.status, diagnostic: b.diagnostic, messageId: entry.messageId, reportingMta: report.reportingMta };
    await log(
      deps,
      target,
      'warning',
      BOUNCED_EVENT,
      `The message to ${address} bounced: ${[b.status, b.diagnostic].filter(Boolean).join(' ') || 'no reason given'}`,
      entry,
      data,
    );
    deps.events?.({
      type: 'invoice.bounced',
      installationId: target.installationId,
      invoiceId: entry.invoiceId,
      invoiceNumber: entry.invoiceNumber,
      address,
      status: b.status,
      diagnostic: b.diagnostic,
      messageId: entry.messageId,
    });
    try {
      // A note only: the invoice stays marked sent (the server accepted it). No Message-ID on the item, so the
      // host's idempotence check does not take the delivery note (which names it) for this one.
      await target.host.writeBack([
        {
          invoiceId: entry.invoiceId,
          outcome: { state: 'sent', reason: null, detail: `bounced: ${address}`, recipients: entry.recipients },
          messageId: null,
          note: bounceNote(address, b.status, b.diagnostic, entry.messageId),
          markSent: false,
        },
      ]);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      await log(deps, target, 'warning', BOUNCE_NOTE_FAILED_EVENT, `The bounce of ${address} could not be noted on the invoice in the host: ${detail}`, entry, {
        address,
        detail,
      });
    }
  }
  return true;
}

async function log(
  deps: BounceCheckDeps,
  target: BounceCheckTarget,
  level: NewLogEntry['level'],
  event: string,
  message: string,
  entry: LedgerEntry | null,
  data: Record<string, unknown>,
): Promise<void> {
  await deps.store.appendLogs([
    {
      installationId: target.installationId,
      runId: target.runId,
      at: deps.clock().toISOString(),
      level,
      event,
      invoiceId: entry?.invoiceId ?? null,
      invoiceNumber: entry?.invoiceNumber ?? null,
      message,
      data,
    },
  ]);
}

/** The Message-ID of the next version of an entry (`<….v3@…>`), from its current one. */
export function nextVersionMessageId(entry: Pick<LedgerEntry, 'messageId' | 'version'>): string {
  const base = entry.messageId.replace(/\.v\d+@/, '@');
  return versionedMessageId(base, (entry.version ?? 1) + 1);
}

/**
 * Invoices a person allowed to go out again as a later version (`retry` entries of version > 1, e.g. a
 * bounced invoice re-sent), read fresh from the host, one page at a time. The host marks them sent (the
 * earlier version went out), which is why the due list leaves them out; here that flag is set aside:
 * the ledger, not the flag, says this version is owed.
 */
export async function* resendPages(
  store: Pick<Ledger, 'listLedger'>,
  host: Pick<HostErp, 'getInvoices'>,
  installationId: string,
  pageSize = 200,
): AsyncIterable<Invoice[]> {
  let after: string | undefined;
  for (;;) {
    const entries = await store.listLedger(installationId, { states: ['retry'], limit: pageSize, ...(after !== undefined ? { after } : {}) });
    if (entries.length === 0) return;
    after = entries[entries.length - 1]!.invoiceId;
    const ids = entries.filter((e) => (e.version ?? 1) > 1 && !e.draft).map((e) => e.invoiceId);
    if (ids.length) {
      const invoices = await host.getInvoices(ids);
      if (invoices.length) yield invoices.map((i) => ({ ...i, hostMarkedSent: false }));
    }
    if (entries.length < pageSize) return;
  }
}

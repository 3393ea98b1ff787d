/**
 * The failure digest: after a run that left invoices failed or uncertain, one e-mail to the operator
 * (or the installation's alert address) in the operator's language, listing each invoice with why,
 * and where to see the logs. Never more than one per run, none when all went well.
 *
 * "One per run" holds across processes and retries: the digest's Message-ID is derived from the run,
 * a `run.digest_sent` log entry is written once it left, and a run that already has one is not
 * digested again. The digest goes through the installation's own e-mail account (SMTP even when the
 * installation leaves invoices in Drafts: an alert must reach a person). It never links a signed page
 * URL: an e-mailed capability would let anyone holding the mail open the settings; the logs page is
 * reached through the host's menu entry, where the host authenticates the reader.
 */
import { invoiceUrlBase, type InstallationHostFactory } from '../../connector/registry.ts';
import type { Logger } from '../../observability/logger.ts';
import { isMessageCode, render } from '../../messages/catalogue.ts';
import type { MailDelivery, OutgoingMessage } from '../../mail/port.ts';
import { escapeHtml, toPlainText } from '../../render/template.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Installations, LogEntry, Run, RunLog } from '../../store/port.ts';
import { hostConnectionFor } from './installation-host.ts';
import { senderAddress } from './message.ts';

export const DIGEST_SENT_EVENT = 'run.digest_sent';
/** Log events that put an invoice in the digest, with their heading per language. */
const DIGESTED: Record<string, { pl: string; en: string }> = {
  'invoice.failed': { pl: 'nie wysłano', en: 'not sent' },
  'invoice.uncertain': { pl: 'nie wiadomo, czy doszła', en: 'delivery uncertain' },
};
const MAX_LISTED = 200;

/** The catalogue's words for an outcome reason (`reason.<code>`), or null when it has none. */
function reasonWords(lang: 'pl' | 'en', reason: string | null): string | null {
  const code = `reason.${reason}`;
  return reason && isMessageCode(code) ? render(lang, code) : null;
}

export interface DigestDeps {
  store: Installations & RunLog;
  createHost: InstallationHostFactory;
  secrets: SecretBox;
  mail: MailDelivery;
  logger: Logger;
  clock: () => Date;
}

export interface DigestEntry {
  invoiceId: string | null;
  invoiceNumber: string | null;
  event: string;
  reason: string | null;
  detail: string;
}

/** The invoices of a run that belong in its digest (latest entry per invoice). */
export function digestEntries(logs: LogEntry[]): DigestEntry[] {
  const byInvoice = new Map<string, DigestEntry>();
  for (const l of [...logs].sort((a, b) => a.at.localeCompare(b.at))) {
    if (!(l.event in DIGESTED)) continue;
    const key = l.invoiceId ?? l.id;
    const reason = typeof l.data?.['reason'] === 'string' ? (l.data['reason'] as string) : null;
    byInvoice.set(key, { invoiceId: l.invoiceId, invoiceNumber: l.invoiceNumber, event: l.event, reason, detail: l.message });
  }
  return [...byInvoice.values()];
}

/** Subject, HTML and text of a digest (pure). */
export function digestMessage(input: {
  lang: 'pl' | 'en';
  company: string;
  run: Run;
  entries: DigestEntry[];
  invoiceUrl: ((invoiceId: string) => string) | null;
}) {
  const { lang, company, run, entries } = input;
  const pl = lang === 'pl';
  const failed = entries.filter((e) => e.event === 'invoice.failed').length;
  const uncertain = entries.length - failed;
  const subject = pl
    ? `Invoice Courier: ${entries.length} ${entries.length === 1 ? 'faktura wymaga' : 'faktur wymaga'} uwagi (${company})`
    : `Invoice Courier: ${entries.length} invoice${entries.length === 1 ? ' needs' : 's need'} attention (${company})`;
  const intro = pl
    ? `Wysyłka z ${run.startedAt.slice(0, 16).replace('T', ' ')} (UTC) zakończyła się: wysłano ${run.counts.sent}, w szkicach ${run.counts.drafted}, nie wysłano ${failed}, niepewnych ${uncertain}. Poniższe faktury wymagają decyzji.`
    : `The run of ${run.startedAt.slice(0, 16).replace('T', ' ')} (UTC) ended: ${run.counts.sent} sent, ${run.counts.drafted} drafted, ${failed} not sent, ${uncertain} uncertain. The invoices below need a decision.`;
  const rows = entries.slice(0, MAX_LISTED).map((e) => {
    const what = DIGESTED[e.event]![lang];
    const why = reasonWords(lang, e.reason);
    const number = e.invoiceNumber ?? (pl ? '(bez numeru)' : '(no number)');
    const link = e.invoiceId && input.invoiceUrl ? input.invoiceUrl(e.invoiceId) : null;
    const name = link ? `<a href="${escapeHtml(link)}">${escapeHtml(number)}</a>` : escapeHtml(number);
    return `<li><strong>${name}</strong>: ${escapeHtml(what)}${why ? ` (${escapeHtml(why)})` : ''}<br><small>${escapeHtml(e.detail)}</small></li>`;
  });
  const more = entries.length > MAX_LISTED ? `<p>${pl ? `…i ${entries.length - MAX_LISTED} kolejnych.` : `…and ${entries.length - MAX_LISTED} more.`}</p>` : '';
  const where = pl
    ? 'Szczegóły i ponowna wysyłka: w systemie ERP, menu Fakturowanie → Invoice Courier → Logi.'
    : 'Details and re-sending: in the ERP, menu Invoicing → Invoice Courier → Logs.';
  const html = `<p>${escapeHtml(intro)}</p><ul>${rows.join('')}</ul>${more}<p>${escapeHtml(where)}</p>`;
  return { subject, html, text: toPlainText(html) };
}

export class FailureDigest {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: DigestDeps) {}

  /** For the pipeline's events: digests a finished run in the background (errors are logged). */
  onRunCompleted(installationId: string, run: Run): void {
    if (run.counts.failed + run.counts.uncertain === 0) return;
    const p: Promise<void> = this.send(installationId, run)
      .then(() => undefined)
      .catch((err: unknown) => this.deps.logger.warn({ err, installationId, runId: run.id }, 'the failure digest could not be sent'))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits for digests in flight (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Sends the run's digest unless it has one; returns whether one left now. */
  async send(installationId: string, run: Run): Promise<boolean> {
    const { store, secrets, mail } = this.deps;
    const logs = await store.listLogs({ installationId, runId: run.id, limit: 5000 });
    if (logs.some((l) => l.event === DIGEST_SENT_EVENT)) return false;
    const entries = digestEntries(logs);
    if (entries.length === 0) return false;
    const installation = await store.getInstallation(installationId);
    if (!installation || installation.status !== 'active') return false;
    const host = this.deps.createHost(hostConnectionFor(installation, secrets), installation.id);
    try {
      const operator = await host.checkOperator();
      const account = (await host.listEmailAccounts(operator)).find((a) => a.id === installation.settings.emailAccount);
      const to = installation.settings.alertEmail || operator.email;
      const from = account ? senderAddress(account, operator) : null;
      if (!account || !to || !from) {
        await this.log(
          installationId,
          run.id,
          'warning',
          'run.digest_skipped',
          `No failure digest: ${!account ? 'the e-mail account is not available' : 'no address to send it to or from'}`,
          null,
        );
        return false;
      }
      const info = await host.describe().catch(() => null);
      const lang = (operator.lang ?? 'pl').startsWith('pl') ? 'pl' : 'en';
      const base = invoiceUrlBase(installation.hostKind, installation.hostUrl);
      const invoiceUrl = base === null ? null : (id: string) => `${base}${encodeURIComponent(id)}`;
      const body = digestMessage({ lang, company: info?.company.name ?? installation.hostDatabase, run, entries, invoiceUrl });
      const domain = from.split('@')[1] ?? 'invoice-courier.invalid';
      const message: OutgoingMessage = {
        messageId: `<ic-digest-${run.id}@${domain}>`,
        from: { name: 'Invoice Courier', address: from },
        replyTo: null,
        to: [to],
        cc: [],
        bcc: [],
        subject: body.subject,
        html: body.html,
        text: body.text,
        attachments: [],
        headers: { 'X-Invoice-Courier-Run': run.id, 'Auto-Submitted': 'auto-generated' },
      };
      const result = await mail.deliver(account, message, 'send_now');
      await this.log(installationId, run.id, 'info', DIGEST_SENT_EVENT, `Failure digest sent to ${to} (${entries.length} invoice(s))`, {
        to,
        invoices: entries.length,
        messageId: message.messageId,
        response: result.response,
      });
      return true;
    } finally {
      await Promise.resolve(host.close?.()).catch(() => undefined);
    }
  }

  private async log(installationId: string, runId: string, level: LogEntry['level'], event: string, message: string, data: Record<string, unknown> | null) {
    await this.deps.store.appendLogs([
      { installationId, runId, at: this.deps.clock().toISOString(), level, event, invoiceId: null, invoiceNumber: null, message, data },
    ]);
  }
}

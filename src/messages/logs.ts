/**
 * Sentences for the automation's log entries, runs and preview decisions, built from what the store
 * already keeps: a log entry's `event` and `data` (the pipeline's machine-readable record). Host and
 * server text (an SMTP reply, a host fault) is passed as the quoted `detail` parameter, never translated.
 */
import { CATALOGUE, isMessageCode, message, render, type Lang, type Message, type MessageCode, type Params } from './catalogue.ts';

export interface LogLike {
  event: string;
  level: string;
  message: string;
  data: Record<string, unknown> | null;
}

type Rendered = { code: MessageCode; params: Params };
type Builder = (data: Record<string, unknown>, entry: LogLike, lang: Lang) => Rendered;

/** The text after the first ": " of the pipeline's English message: the host's or server's own words. */
function detailOf(entry: LogLike): string {
  const d = entry.data?.['detail'];
  if (typeof d === 'string' && d) return d;
  const i = entry.message.indexOf(': ');
  return i >= 0 ? entry.message.slice(i + 2) : entry.message;
}

function reasonText(lang: Lang, reason: unknown): string {
  const code = `reason.${String(reason)}`;
  return isMessageCode(code) ? render(lang, code) : String(reason ?? '');
}

type Recipient = { address?: unknown; accepted?: unknown; reply?: unknown };
function recipients(data: Record<string, unknown>): { to: string[]; refused: string[] } | null {
  const list = data['recipients'];
  if (!Array.isArray(list)) return null;
  const rs = list as Recipient[];
  return {
    to: rs.filter((r) => r.accepted !== false).map((r) => String(r.address)),
    refused: rs.filter((r) => r.accepted === false).map((r) => `${String(r.address)}${r.reply ? ` („${String(r.reply)}”)` : ''}`),
  };
}

function countsParams(data: Record<string, unknown>): Params {
  const c = (data['counts'] ?? {}) as Record<string, unknown>;
  const n = (k: string) => Number(c[k] ?? 0);
  return { sent: n('sent'), drafted: n('drafted'), skipped: n('skipped'), failed: n('failed'), retry: n('retry'), uncertain: n('uncertain') };
}

function delivered(state: 'sent' | 'drafted'): Builder {
  return (data) => {
    const r = recipients(data);
    if (!r) return { code: state === 'sent' ? 'log.invoice.sent_confirmed' : 'log.invoice.drafted_confirmed', params: {} };
    if (state === 'sent' && r.refused.length) return { code: 'log.invoice.sent_partly', params: { to: r.to, refused: r.refused } };
    return { code: `log.invoice.${state}`, params: { to: r.to } };
  };
}

/**
 * Every event the connector writes to the log, with how its sentence is made. The catalogue test
 * checks that every `event` literal under src/ is listed here.
 */
export const LOG_EVENTS: Record<string, Builder> = {
  'run.started': (d, _e, lang) => ({ code: 'log.run.started', params: { trigger: render(lang, triggerCode(d['trigger'])) } }),
  'run.completed': (d, _e, lang) => ({
    code: d['status'] === 'failed' ? 'log.run.completed_with_error' : 'log.run.completed',
    params: { counts: render(lang, 'run.counts', countsParams(d)), ...countsParams(d) },
  }),
  'run.failed': (_d, e) => ({ code: 'log.run.failed', params: { detail: detailOf(e) } }),
  'run.progress': (d) => ({ code: 'log.run.progress', params: { processed: Number(d['processed'] ?? 0), total: Number(d['total'] ?? 0) } }),
  'operator.auth_failed': () => ({ code: 'log.operator.auth_failed', params: {} }),
  'delivery.auth_failed': (_d, e) => ({ code: 'log.delivery.auth_failed', params: { detail: detailOf(e) } }),
  'delivery.account_unusable': (_d, e) => ({ code: 'log.delivery.account_unusable', params: { detail: detailOf(e) } }),
  'writeback.delayed': (_d, e) => ({ code: 'log.writeback.delayed', params: { detail: detailOf(e) } }),
  'invoice.new_version': (d) => ({ code: 'log.invoice.new_version', params: { version: Number(d['version'] ?? 2) } }),
  'run.unsettled': (_d, e) => ({ code: 'log.run.unsettled', params: { detail: detailOf(e) } }),
  'run.split': (d) => ({ code: 'log.run.split', params: { pages: Number(d['pages'] ?? 0), invoices: Number(d['invoices'] ?? 0) } }),
  'run.host_log_failed': (_d, e) => ({ code: 'log.run.host_log_failed', params: { detail: detailOf(e) } }),
  'host.menu_failed': (_d, e) => ({ code: 'log.host.menu_failed', params: { detail: detailOf(e) } }),
  'run.digest_sent': (d) => ({ code: 'log.run.digest_sent', params: { to: String(d['to'] ?? ''), invoices: Number(d['invoices'] ?? 0) } }),
  'run.digest_skipped': (_d, e) => ({ code: 'log.run.digest_skipped', params: { detail: detailOf(e) } }),
  'invoice.sent': delivered('sent'),
  'invoice.drafted': delivered('drafted'),
  'invoice.failed': (d, _e, lang) => ({
    code: 'log.invoice.failed',
    params: { reason: reasonText(lang, d['reason'] ?? 'render_failed'), reasonCode: d['reason'] ?? null },
  }),
  'invoice.retry': (d, _e, lang) => ({
    code: 'log.invoice.retry',
    params: { reason: reasonText(lang, d['reason'] ?? 'interrupted'), reasonCode: d['reason'] ?? null },
  }),
  'invoice.uncertain': () => ({ code: 'log.invoice.uncertain', params: {} }),
  'invoice.changed_after_sending': () => ({ code: 'log.invoice.changed_after_sending', params: {} }),
  'invoice.invalid_recipients': (d, e) => ({
    code: 'log.invoice.invalid_recipients',
    params: { addresses: Array.isArray(d['invalidRecipients']) ? d['invalidRecipients'] : detailOf(e) },
  }),
  // The warning's own sentence (its code and parameters in data); entries written before carry only the English text.
  'invoice.print_warning': (d, e) =>
    typeof d['warning'] === 'string' && d['warning'].startsWith('print.warning.') && isMessageCode(d['warning'])
      ? { code: d['warning'], params: (d['params'] as Params | undefined) ?? {} }
      : { code: 'log.invoice.print_warning', params: { detail: e.message } },
  'invoice.resend_allowed': () => ({ code: 'log.invoice.resend_allowed', params: {} }),
  'invoice.bounced': (d) => ({
    code: 'log.invoice.bounced',
    params: { address: String(d['address'] ?? ''), status: String(d['status'] ?? '?'), diagnostic: String(d['diagnostic'] ?? '') },
  }),
  'invoice.delivery_delayed': (d) => ({
    code: 'log.invoice.delivery_delayed',
    params: { address: String(d['address'] ?? ''), diagnostic: String(d['diagnostic'] ?? d['status'] ?? '') },
  }),
  'invoice.bounce_note_failed': (d, e) => ({ code: 'log.invoice.bounce_note_failed', params: { address: String(d['address'] ?? ''), detail: detailOf(e) } }),
  'run.bounce_check_failed': (_d, e) => ({ code: 'log.run.bounce_check_failed', params: { detail: detailOf(e) } }),
  'run.bounces_checked': (d) => ({
    code: 'log.run.bounces_checked',
    params: { read: Number(d['read'] ?? 0), bounced: Number(d['bounced'] ?? 0), ignored: Number(d['ignored'] ?? 0) },
  }),
  'webhook.received': (d) => ({ code: 'log.webhook.received', params: { type: d['type'] ?? '', action: String(d['action'] ?? '').replace(/_/g, ' ') } }),
};

/** The sentence of one log entry in `lang`, with its code and parameters. */
export function logMessage(lang: Lang, entry: LogLike): Message {
  const data = entry.data ?? {};
  const build = LOG_EVENTS[entry.event];
  if (build) {
    const r = build(data, entry, lang);
    return message(lang, r.code, r.params);
  }
  const skipped = /^invoice\.skipped\.(.+)$/.exec(entry.event);
  if (skipped) {
    const code = `log.invoice.skipped.${skipped[1]}`;
    if (isMessageCode(code)) {
      const invalid = Array.isArray(data['invalidRecipients']) && data['invalidRecipients'].length ? data['invalidRecipients'] : null;
      return message(lang, code, invalid ? { invalidRecipients: invalid } : {});
    }
  }
  return message(lang, 'log.unknown', { event: entry.event, detail: entry.message });
}

export function triggerCode(trigger: unknown): MessageCode {
  const code = `run.trigger.${String(trigger)}`;
  return isMessageCode(code) ? code : 'run.trigger.schedule';
}

export function statusCode(status: unknown): MessageCode {
  const code = `run.status.${String(status)}`;
  return isMessageCode(code) ? code : 'run.status.running';
}

/** A preview's decision as a message: `preview.send` or `preview.skip.<reason>`. */
export function decisionMessage(lang: Lang, decision: { send: boolean; reason?: string | undefined }): Message {
  if (decision.send) return message(lang, 'preview.send');
  const code = `preview.skip.${String(decision.reason)}`;
  return isMessageCode(code) ? message(lang, code) : message(lang, 'error.other', { detail: String(decision.reason) });
}

/** Every code the pages can show for a run (for the test that every one has both texts). */
export const RUN_CODES: MessageCode[] = (Object.keys(CATALOGUE) as MessageCode[]).filter((c) => c.startsWith('run.'));

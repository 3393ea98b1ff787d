/**
 * The message catalogue: every code has a Polish and an English sentence naming the same parameters,
 * every event the connector logs, every run status and trigger, every skip and outcome reason has a
 * sentence of its own, and no schema error ever reaches a person as raw schema text.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CATALOGUE, LANGS, isMessageCode, langOf, placeholders, render, type MessageCode } from '../../src/messages/catalogue.ts';
import { LOG_EVENTS, decisionMessage, logMessage, statusCode, triggerCode } from '../../src/messages/logs.ts';
import { schemaProblems } from '../../src/messages/validation.ts';
import type { OutcomeReason, RunTrigger } from '../../src/domain.ts';
import type { SkipReason } from '../../src/jobs/rules/selection.ts';
import type { RunStatus } from '../../src/store/port.ts';
import { DATE_PATTERN, PRINT_PATTERN, TIME_PATTERN } from '../../src/settings/schema.ts';

// Records over the unions: the typecheck fails when a value is added to one of them and not here.
const SKIP_REASONS: Record<SkipReason, true> = {
  not_customer_invoice: true,
  cancelled: true,
  draft_not_wanted: true,
  missing_date: true,
  before_from_date: true,
  host_marked_sent: true,
  host_is_sending: true,
  already_recorded: true,
  in_progress: true,
  retry_later: true,
  attempts_exhausted: true,
  no_recipient: true,
  no_consent: true,
  waiting_for_ksef: true,
  ksef_rejected: true,
  host_read_failed: true,
};
const OUTCOME_REASONS: Record<OutcomeReason, true> = {
  no_recipient: true,
  no_consent: true,
  invalid_recipient: true,
  print_unavailable: true,
  render_failed: true,
  smtp_temporary: true,
  smtp_permanent: true,
  smtp_auth: true,
  account_unusable: true,
  imap_failed: true,
  attempts_exhausted: true,
  interrupted: true,
  waiting_for_ksef: true,
  host_read_failed: true,
};
const TRIGGERS: Record<RunTrigger, true> = { schedule: true, manual: true, catch_up: true, hint: true };
const STATUSES: Record<RunStatus, true> = { running: true, completed: true, failed: true, interrupted: true };
/** The states a delivery outcome is logged under (`invoice.${state}` in the pipeline). */
const LOGGED_STATES = ['sent', 'drafted', 'retry', 'failed', 'uncertain'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every literal event name the source writes to the automation's log. */
function loggedEventLiterals(): string[] {
  const found = new Set<string>();
  for (const file of sourceFiles('src')) {
    const text = readFileSync(file, 'utf8');
    // ctx.log('info', 'run.started', …), this.log('warning', 'invoice.x', …), logOnce(invoice, 'invoice.y', …), { event: 'webhook.received' }
    for (const m of text.matchAll(/\b(?:log)\(\s*(?:'[a-z]+'|[^,()]+\?[^,()]+),\s*'([a-z_]+\.[a-z_.]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/\blogOnce\(\s*[a-zA-Z]+,\s*'([a-z_]+\.[a-z_.]+)'/g)) found.add(m[1]!);
    // store.appendLogs([{ …, event: 'invoice.resend_allowed', … }])
    for (const call of text.matchAll(/\bappendLogs\(\[([\s\S]{0,600}?)\]\)/g))
      for (const m of call[1]!.matchAll(/\bevent:\s*'([a-z_]+\.[a-z_.]+)'/g)) found.add(m[1]!);
  }
  return [...found].sort();
}

describe('the message catalogue', () => {
  it('has a Polish and an English sentence for every code, naming the same parameters', () => {
    const problems: string[] = [];
    for (const [code, entry] of Object.entries(CATALOGUE) as [MessageCode, Record<string, string>][]) {
      for (const lang of LANGS) if (typeof entry[lang] !== 'string' || entry[lang].trim() === '') problems.push(`${code}: no ${lang} text`);
      if (JSON.stringify(placeholders(entry['pl'] ?? '')) !== JSON.stringify(placeholders(entry['en'] ?? '')))
        problems.push(`${code}: pl and en name different parameters`);
    }
    expect(problems).toEqual([]);
  });

  it('fills parameters and never leaves a placeholder behind', () => {
    expect(render('pl', 'settings.until_before_start', { startAt: '18:00' })).toBe(
      'Godzina „Do godziny” nie może być wcześniejsza niż godzina rozpoczęcia 18:00.',
    );
    expect(render('en', 'log.invoice.sent', { to: ['a@x.pl', 'b@x.pl'] })).toBe('Sent to a@x.pl, b@x.pl.');
  });

  it('renders every event the connector writes to its log with a sentence of its own', () => {
    const literals = loggedEventLiterals();
    expect(literals.length).toBeGreaterThan(8);
    const events = [...literals, ...LOGGED_STATES.map((s) => `invoice.${s}`), ...Object.keys(SKIP_REASONS).map((r) => `invoice.skipped.${r}`)];
    const unknown = events.filter((event) => logMessage('pl', { event, level: 'info', message: 'x: y', data: {} }).code === 'log.unknown');
    expect(unknown).toEqual([]);
    for (const event of Object.keys(LOG_EVENTS))
      for (const lang of LANGS) expect(logMessage(lang, { event, level: 'info', message: '', data: {} }).text).not.toMatch(/\{[a-zA-Z]+\}/);
  });

  it("says a print warning in the reader's language from its code and parameters; an entry from before says its English text", () => {
    const entry = {
      event: 'invoice.print_warning',
      level: 'warning',
      message: 'Invoice in EUR: the host gave no exchange rate; the print shows no VAT in PLN.',
      data: { warning: 'print.warning.no_exchange_rate', params: { currency: 'EUR' } },
    };
    expect(logMessage('pl', entry)).toEqual({
      code: 'print.warning.no_exchange_rate',
      params: { currency: 'EUR' },
      text: 'Faktura w EUR: system nie podał kursu waluty; wydruk nie pokazuje VAT w PLN.',
    });
    expect(logMessage('en', entry).text).toBe(entry.message);
    const before = { ...entry, message: 'Invoice FV/1 in EUR: the host gave no exchange rate, the print shows no VAT in PLN.', data: null };
    expect(logMessage('pl', before)).toMatchObject({ code: 'log.invoice.print_warning', text: `Uwaga do wydruku: „${before.message}”.` });
  });

  it('renders a log entry from its event and data, quoting host words as detail', () => {
    const sent = logMessage('pl', {
      event: 'invoice.sent',
      level: 'info',
      message: 'Sent to a@x.pl',
      data: {
        recipients: [
          { address: 'a@x.pl', accepted: true, reply: null },
          { address: 'b@x.pl', accepted: false, reply: '550 no such user' },
        ],
      },
    });
    expect(sent).toMatchObject({ code: 'log.invoice.sent_partly', text: 'Wysłano do: a@x.pl; odrzucone adresy: b@x.pl („550 no such user”).' });
    const done = logMessage('pl', {
      event: 'run.completed',
      level: 'info',
      message: 'Run completed: …',
      data: { status: 'completed', counts: { sent: 3, drafted: 0, skipped: 1, failed: 0, retry: 0, uncertain: 0 } },
    });
    expect(done.text).toBe('Przebieg zakończony: wysłane: 3, robocze: 0, pominięte: 1, błędy: 0, do ponowienia: 0, niepewne: 0.');
    const started = logMessage('pl', { event: 'run.started', level: 'info', message: 'Run started (catch-up after downtime)', data: { trigger: 'catch_up' } });
    expect(started.text).toBe('Rozpoczęto przebieg (nadrobienie pominiętego terminu).');
    const failed = logMessage('pl', { event: 'invoice.failed', level: 'error', message: 'Failed: 550 rejected', data: { reason: 'smtp_permanent' } });
    expect(failed.text).toBe('Nie wysłano: serwer poczty odrzucił wiadomość.');
    const skipped = logMessage('en', { event: 'invoice.skipped.no_recipient', level: 'warning', message: 'Skipped: …', data: { reason: 'no_recipient' } });
    expect(skipped.text).toBe('Skipped: the customer has no e-mail address for invoices.');
    const delayed = logMessage('pl', {
      event: 'writeback.delayed',
      level: 'warning',
      message: 'Writing 3 outcome(s) back to the host failed; will retry on the next run: Odoo: Brak dostępu',
      data: null,
    });
    expect(delayed.text).toContain('„Odoo: Brak dostępu”');
    expect(logMessage('pl', { event: 'something.new', level: 'info', message: 'Hello', data: null })).toMatchObject({
      code: 'log.unknown',
      text: 'Zdarzenie something.new: „Hello”.',
    });
  });

  it('has a sentence for every run status, trigger, skip and outcome reason, and preview decision', () => {
    for (const s of Object.keys(STATUSES)) expect(statusCode(s)).toBe(`run.status.${s}`);
    for (const t of Object.keys(TRIGGERS)) expect(triggerCode(t)).toBe(`run.trigger.${t}`);
    for (const r of Object.keys(OUTCOME_REASONS)) expect(isMessageCode(`reason.${r}`), r).toBe(true);
    for (const r of Object.keys(SKIP_REASONS)) {
      expect(isMessageCode(`log.invoice.skipped.${r}`), r).toBe(true);
      expect(decisionMessage('pl', { send: false, reason: r }).code).toBe(`preview.skip.${r}`);
    }
    expect(decisionMessage('pl', { send: false, reason: 'already_recorded' }).text).toBe(
      'Nie zostałaby wysłana: została już wysłana (jest w rejestrze wysyłek).',
    );
    expect(decisionMessage('en', { send: true }).text).toBe('Would be sent.');
  });

  it('turns schema errors into sentences: one per field, never the raw pattern', () => {
    const problems = schemaProblems([
      { instancePath: '/schedule/startAt', keyword: 'pattern', params: { pattern: TIME_PATTERN }, message: `must match pattern "${TIME_PATTERN}"` },
      { instancePath: '/fromDate', keyword: 'pattern', params: { pattern: DATE_PATTERN }, message: 'must match pattern' },
      { instancePath: '/fromDate', keyword: 'type', params: { type: 'null' }, message: 'must be null' },
      { instancePath: '/fromDate', keyword: 'anyOf', params: {}, message: 'must match a schema in anyOf' },
      { instancePath: '/attachments/pln', keyword: 'pattern', params: { pattern: PRINT_PATTERN } },
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'colour' } },
    ]);
    expect(problems.map((p) => [p.field, p.code])).toEqual([
      ['schedule.startAt', 'settings.time_format'],
      ['fromDate', 'settings.date_format'],
      ['attachments.pln', 'settings.print_format'],
      ['colour', 'validation.unknown_field'],
    ]);
    for (const p of problems) for (const lang of LANGS) expect(render(lang, p.code, p.params)).not.toMatch(/pattern|\^|\$/);
  });

  it('picks the language from Accept-Language (pl or en by quality, English otherwise)', () => {
    expect(langOf('pl-PL,pl;q=0.9,en-US;q=0.8')).toBe('pl');
    expect(langOf('de-DE, en;q=0.5, pl;q=0.7')).toBe('pl');
    expect(langOf('en-GB')).toBe('en');
    expect(langOf('de-DE')).toBe('en');
    expect(langOf(undefined)).toBe('en');
    expect(langOf('pl;q=0, en')).toBe('en');
  });
});

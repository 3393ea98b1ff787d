/**
 * Settings checks that need no host: what the JSON schema cannot say (a real time zone, a real
 * calendar date, a window that is not upside down, known standard prints, what "enabled" requires).
 * Checks that need the host (operator logs in, account and template exist and are accessible) live
 * with the HTTP/settings service that talks to it.
 *
 * Every problem is returned with its JSON path (`schedule.until`), all at once, so the API can answer
 * with the whole list (`ValidationFailure`).
 */
import { DateTime, IANAZone } from 'luxon';
import { parsePrintChoice } from '../domain.ts';
import { problem, type FieldProblem } from '../messages/validation.ts';
import { DATE_PATTERN, PRINT_PATTERN, REPEAT_MINUTES, TIME_PATTERN, defaultSettings, type Settings } from './schema.ts';

/** A problem with its JSON path, its message code and parameters (src/messages) and the English sentence. */
export type SettingsProblem = FieldProblem;

const TIME = new RegExp(TIME_PATTERN);
const DATE = new RegExp(DATE_PATTERN);
const PRINT = new RegExp(PRINT_PATTERN);

/** True for a `YYYY-MM-DD` text that names a real calendar day (2026-02-30 is not one). */
export function isCalendarDate(value: string): boolean {
  return DATE.test(value) && DateTime.fromISO(value, { zone: 'utc' }).isValid;
}

function checkPrint(field: string, value: string, standardPrints: readonly string[] | undefined): SettingsProblem | null {
  const choice = PRINT.test(value) ? parsePrintChoice(value) : null;
  if (!choice) return problem(field, 'settings.print_format');
  if (choice.kind === 'standard' && standardPrints && !standardPrints.includes(choice.id)) {
    return problem(field, 'settings.print_unknown', { id: choice.id, known: [...standardPrints] });
  }
  return null;
}

/**
 * All problems found in `settings`, each with its JSON path; empty when the settings are fine.
 * `standardPrints` are the ids of the connector's standard prints (`standard:<id>`), owned by the
 * render module; when omitted, `standard:` ids are only checked for form.
 */
export function checkSettings(settings: Settings, standardPrints?: readonly string[]): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  const add = (...args: Parameters<typeof problem>) => problems.push(problem(...args));

  if (!IANAZone.isValidZone(settings.timezone)) add('timezone', 'settings.timezone_unknown', { value: settings.timezone });

  const { startAt, until, repeatEvery } = settings.schedule;
  const startOk = TIME.test(startAt);
  const untilOk = TIME.test(until);
  if (!startOk) add('schedule.startAt', 'settings.time_format');
  if (!untilOk) add('schedule.until', 'settings.time_format');
  if (startOk && untilOk && until < startAt) add('schedule.until', 'settings.until_before_start', { startAt });
  if (!Object.hasOwn(REPEAT_MINUTES, repeatEvery)) add('schedule.repeatEvery', 'settings.repeat_unknown', { allowed: Object.keys(REPEAT_MINUTES) });

  if (settings.fromDate !== null) {
    if (!DATE.test(settings.fromDate)) add('fromDate', 'settings.date_format');
    else if (!isCalendarDate(settings.fromDate)) add('fromDate', 'settings.date_invalid', { value: settings.fromDate });
  }

  for (const key of ['pln', 'foreign'] as const) {
    const p = checkPrint(`attachments.${key}`, settings.attachments[key], standardPrints);
    if (p) problems.push(p);
  }

  if (settings.enabled) {
    if (!settings.operator.trim()) add('operator', 'settings.operator_required');
    if (!settings.emailAccount.trim()) add('emailAccount', 'settings.email_account_required');
    if (!settings.emailTemplate.trim()) add('emailTemplate', 'settings.email_template_required');
  }
  return problems;
}

/**
 * Warnings that do not stop a save: a from date in the future (nothing goes out until that day).
 * `today` is the installation's day (`YYYY-MM-DD`).
 */
export function settingsWarnings(settings: Settings, today: string): SettingsProblem[] {
  if (settings.fromDate !== null && isCalendarDate(settings.fromDate) && settings.fromDate > today) {
    return [problem('fromDate', 'settings.from_date_future', { date: settings.fromDate })];
  }
  return [];
}

/** Today in the settings' zone (the default zone when the settings' own is not valid). */
export function todayIn(settings: Settings, now: Date): string {
  const zone = IANAZone.isValidZone(settings.timezone) ? settings.timezone : defaultSettings().timezone;
  return DateTime.fromJSDate(now, { zone }).toISODate()!;
}

/**
 * Defaults applied when settings are saved: when `enabled` turns on and no `fromDate` is given,
 * `fromDate` becomes today in the installation's zone (docs/design.md §2), so switching the automation on
 * never sends the invoices of the past. When it stays on and `fromDate` is cleared, the previous
 * `fromDate` is kept (today when there was none). Returns a new object; inputs are not changed.
 */
export function applyEnableDefaults(previous: Settings, next: Settings, now: Date): Settings {
  if (!next.enabled || next.fromDate !== null) return next;
  if (previous.enabled && previous.fromDate !== null) return { ...next, fromDate: previous.fromDate };
  const zone = IANAZone.isValidZone(next.timezone) ? next.timezone : defaultSettings().timezone;
  return { ...next, fromDate: DateTime.fromJSDate(now, { zone }).toISODate() };
}

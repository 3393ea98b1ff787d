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
import { DATE_PATTERN, PRINT_PATTERN, REPEAT_MINUTES, TIME_PATTERN, defaultSettings, type Settings } from './schema.ts';

export interface SettingsProblem {
  field: string;
  message: string;
}

const TIME = new RegExp(TIME_PATTERN);
const DATE = new RegExp(DATE_PATTERN);
const PRINT = new RegExp(PRINT_PATTERN);

/** True for a `YYYY-MM-DD` text that names a real calendar day (2026-02-30 is not one). */
export function isCalendarDate(value: string): boolean {
  return DATE.test(value) && DateTime.fromISO(value, { zone: 'utc' }).isValid;
}

function checkPrint(field: string, value: string, standardPrints: readonly string[] | undefined): SettingsProblem | null {
  const choice = PRINT.test(value) ? parsePrintChoice(value) : null;
  if (!choice) return { field, message: 'must be "standard:<id>", "user:<id>" or "none"' };
  if (choice.kind === 'standard' && standardPrints && !standardPrints.includes(choice.id)) {
    return { field, message: `unknown standard print "${choice.id}" (known: ${standardPrints.join(', ')})` };
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
  const add = (field: string, message: string) => problems.push({ field, message });

  if (!IANAZone.isValidZone(settings.timezone)) add('timezone', `"${settings.timezone}" is not an IANA time zone (e.g. Europe/Warsaw)`);

  const { startAt, until, repeatEvery } = settings.schedule;
  const startOk = TIME.test(startAt);
  const untilOk = TIME.test(until);
  if (!startOk) add('schedule.startAt', 'must be a time of day HH:MM (00:00–23:59)');
  if (!untilOk) add('schedule.until', 'must be a time of day HH:MM (00:00–23:59)');
  if (startOk && untilOk && until < startAt) add('schedule.until', `must not be earlier than the start time ${startAt}`);
  if (!Object.hasOwn(REPEAT_MINUTES, repeatEvery)) add('schedule.repeatEvery', `must be one of ${Object.keys(REPEAT_MINUTES).join(', ')}`);

  if (settings.fromDate !== null && !isCalendarDate(settings.fromDate)) add('fromDate', `"${settings.fromDate}" is not a calendar date (YYYY-MM-DD)`);

  for (const key of ['pln', 'foreign'] as const) {
    const p = checkPrint(`attachments.${key}`, settings.attachments[key], standardPrints);
    if (p) problems.push(p);
  }

  if (settings.enabled) {
    if (!settings.operator.trim()) add('operator', 'an operator is required when automatic sending is on');
    if (!settings.emailAccount.trim()) add('emailAccount', 'an e-mail account is required when automatic sending is on');
    if (!settings.emailTemplate.trim()) add('emailTemplate', 'an e-mail template is required when automatic sending is on');
  }
  return problems;
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

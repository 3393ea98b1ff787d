/**
 * Business days for the "send on business days" schedule: Monday to Friday except Polish public
 * holidays (ustawa o dniach wolnych od pracy; 24 December is a holiday since 2025, Dz.U. 2024 poz. 1965).
 *
 * The holiday table comes from `date-holidays` (a maintained library of public holidays, pinned at a
 * version that has 24 December from 2025 on; a test checks that date). Pure: no clock is read, the
 * library and its data are loaded on first use, not at import time.
 */
import { createRequire } from 'node:module';
import type HolidaysType from 'date-holidays';
import { DateTime } from 'luxon';
import type { IsoDate } from '../../domain.ts';

export type DayKind = { business: true } | { business: false; why: 'weekend' } | { business: false; why: 'holiday'; name: string };

let poland: HolidaysType | null = null;

/** date-holidays (14 MB of rules once loaded) is required on first use, not when this module loads. */
function loadHolidays(): typeof HolidaysType {
  return createRequire(import.meta.url)('date-holidays') as typeof HolidaysType;
}
const byYear = new Map<number, Map<IsoDate, string>>();

/** The Polish public holidays of a year, by date, with their Polish names (memoised per year). */
export function polishHolidays(year: number): Map<IsoDate, string> {
  let days = byYear.get(year);
  if (!days) {
    poland ??= new (loadHolidays())('PL');
    days = new Map();
    for (const h of poland.getHolidays(year)) {
      // `public` = statutory days off; observances (e.g. Father's Day) do not close offices.
      if (h.type === 'public') days.set(h.date.slice(0, 10), h.name);
    }
    byYear.set(year, days);
  }
  return days;
}

/** Whether a calendar day is a business day in Poland, and if not, why. */
export function dayKind(day: IsoDate): DayKind {
  const d = DateTime.fromISO(day, { zone: 'utc' });
  if (!d.isValid) throw new RangeError(`not a calendar date: ${JSON.stringify(day)}`);
  const holiday = polishHolidays(d.year).get(day);
  if (holiday) return { business: false, why: 'holiday', name: holiday };
  if (d.weekday >= 6) return { business: false, why: 'weekend' };
  return { business: true };
}

export function isBusinessDay(day: IsoDate): boolean {
  return dayKind(day).business;
}

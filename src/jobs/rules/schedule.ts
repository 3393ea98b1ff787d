/**
 * The daily schedule window (docs/design.md §2): run times are startAt, startAt + interval, … while ≤ until,
 * as local wall-clock times of the installation's zone, turned into instants.
 *
 * Daylight-saving rules, decided here once:
 *  - a local time that does not exist (spring forward, 2026-03-29 02:00–02:59 Europe/Warsaw) moves
 *    forward to the first valid instant after the gap (the transition itself: 03:00 local);
 *  - an ambiguous local time (fall back, 2026-10-25 02:00–02:59) runs once, at its first occurrence;
 *  - after shifting, equal instants collapse into one run, and the list is strictly increasing.
 *
 * Pure: luxon only (time zone data from the runtime's Intl), no clock is read — callers pass `now`.
 */
import { DateTime, IANAZone } from 'luxon';
import { REPEAT_MINUTES, type Settings } from '../../settings/schema.ts';
import { dayKind, type DayKind } from './calendar.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Minutes since midnight of an `HH:MM` text; throws on anything else. */
export function minutesOfDay(hhmm: string): number {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(hhmm);
  if (!m) throw new RangeError(`not a time of day (HH:MM): ${JSON.stringify(hhmm)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function zoneOf(timezone: string): IANAZone {
  if (!IANAZone.isValidZone(timezone)) throw new RangeError(`unknown time zone: ${JSON.stringify(timezone)}`);
  return IANAZone.create(timezone);
}

/**
 * The instant of a local wall-clock time in a zone. `wall` is the local date-time written as if it
 * were UTC (milliseconds). Ambiguous -> earliest occurrence; non-existent -> first instant after the gap.
 */
function instantOfWallTime(zone: IANAZone, wall: number): number {
  // Every offset the zone uses near this wall time; a valid reading is one whose offset agrees.
  // Offsets are within ±14 h and a gap/overlap is at most a day, so probes at ±18 h see the offsets
  // on both sides of any transition that makes this wall time ambiguous or non-existent.
  const offsets = new Set<number>();
  for (const d of [-18, 0, 18]) offsets.add(zone.offset(wall + d * HOUR));
  let best: number | null = null;
  let minOffset = Infinity;
  let maxOffset = -Infinity;
  for (const o of offsets) {
    minOffset = Math.min(minOffset, o);
    maxOffset = Math.max(maxOffset, o);
    const ts = wall - o * MINUTE;
    if (zone.offset(ts) === o && (best === null || ts < best)) best = ts;
  }
  if (best !== null) return best;
  // In a gap: find the smallest instant whose local wall time is at or after `wall`.
  // Local wall time (ts + offset) is monotone across a single forward transition in this range.
  let lo = wall - maxOffset * MINUTE; // local time before `wall`
  let hi = wall - minOffset * MINUTE; // local time after `wall`
  const localOf = (ts: number) => ts + zone.offset(ts) * MINUTE;
  if (localOf(hi) < wall) return hi; // defensive: should not happen with tz data
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localOf(mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The run instants of one local calendar day (`day` is `YYYY-MM-DD` in `timezone`), strictly
 * increasing. Empty when `until` is earlier than `startAt` (settings checks refuse that), and on a
 * day off when the schedule sends on business days only.
 */
export function runTimesForDay(schedule: Settings['schedule'], timezone: string, day: string): Date[] {
  const zone = zoneOf(timezone);
  const date = DateTime.fromISO(day, { zone: 'utc' });
  if (!date.isValid || !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a calendar date: ${JSON.stringify(day)}`);
  if (schedule.days === 'business_days' && !dayKind(day).business) return [];
  const midnight = date.toMillis();
  const start = minutesOfDay(schedule.startAt);
  const until = minutesOfDay(schedule.until);
  const step = REPEAT_MINUTES[schedule.repeatEvery];
  const out: number[] = [];
  for (let t = start; t <= until; t += step) out.push(instantOfWallTime(zone, midnight + t * MINUTE));
  out.sort((a, b) => a - b);
  return out.filter((ts, i) => i === 0 || ts !== out[i - 1]).map((ts) => new Date(ts));
}

/** The local calendar date (`YYYY-MM-DD`) of an instant in a zone. */
export function localDay(instant: Date, timezone: string): string {
  return DateTime.fromMillis(instant.getTime(), { zone: zoneOf(timezone) }).toISODate()!;
}

function addDays(day: string, n: number): string {
  return DateTime.fromISO(day, { zone: 'utc' }).plus({ days: n }).toISODate()!;
}

/**
 * The first run instant strictly after `after`. Looks at the previous local day too (a run shifted
 * forward across midnight by a gap may belong to it). Throws when the window is empty
 * (`until` < `startAt`), because no run ever comes.
 */
export function nextRunAfter(settings: Pick<Settings, 'schedule' | 'timezone'>, after: Date): Date {
  if (minutesOfDay(settings.schedule.until) < minutesOfDay(settings.schedule.startAt)) {
    throw new RangeError('the schedule window is empty: until is earlier than startAt');
  }
  const first = addDays(localDay(after, settings.timezone), -1);
  // A zone may skip a whole calendar day (Pacific/Apia 2011-12-30), and business days skip weekends and
  // holidays (the longest Polish stretch, 24–26.12 plus a weekend, is five days): three weeks suffice.
  for (let i = 0; i < 21; i++) {
    const day = addDays(first, i);
    for (const run of runTimesForDay(settings.schedule, settings.timezone, day)) {
      if (run.getTime() > after.getTime()) return run;
    }
  }
  throw new RangeError('no run time found in the next days');
}

/**
 * The slot to catch up once at start: the latest run time of today (installation zone) that is
 * ≤ `now` and later than `lastRunAt` (any, when there was no run). Null when there is none, so a
 * connector that was down for hours catches up once, never once per missed slot.
 */
export function missedSlot(settings: Pick<Settings, 'schedule' | 'timezone'>, lastRunAt: Date | null, now: Date): Date | null {
  const runs = runTimesForDay(settings.schedule, settings.timezone, localDay(now, settings.timezone));
  let latest: Date | null = null;
  for (const run of runs) {
    if (run.getTime() > now.getTime()) break;
    if (lastRunAt === null || run.getTime() > lastRunAt.getTime()) latest = run;
  }
  return latest;
}

export interface NextRunPreview {
  /** The next run instant. */
  at: Date;
  /** Its local date and time in the installation's zone ("2026-12-28", "08:00"). */
  localDate: string;
  localTime: string;
  /** Local days between now and the next run that have no run because they are days off. */
  daysOff: { date: string; kind: Exclude<DayKind, { business: true }> }[];
}

/**
 * The next run and why the days before it have none (business-day schedules): the schedule preview
 * says e.g. "next run: Monday 28.12 08:00; 24–26.12 are holidays, 27.12 is a Sunday".
 */
export function previewNextRun(settings: Pick<Settings, 'schedule' | 'timezone'>, after: Date): NextRunPreview {
  const at = nextRunAfter(settings, after);
  const local = DateTime.fromMillis(at.getTime(), { zone: zoneOf(settings.timezone) });
  const daysOff: NextRunPreview['daysOff'] = [];
  if (settings.schedule.days === 'business_days') {
    const target = local.toISODate()!;
    for (let day = localDay(after, settings.timezone); day < target; day = addDays(day, 1)) {
      const kind = dayKind(day);
      if (!kind.business) daysOff.push({ date: day, kind });
    }
  }
  return { at, localDate: local.toISODate()!, localTime: local.toFormat('HH:mm'), daysOff };
}

const WEEKDAYS = {
  pl: ['poniedziałek', 'wtorek', 'środa', 'czwartek', 'piątek', 'sobota', 'niedziela'],
  en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
};

/** "next run: Monday 28.12 08:00; days off before it: 24.12 Wigilia Bożego Narodzenia, …, 27.12 Sunday" in pl or en. */
export function describeNextRun(preview: NextRunPreview, lang: 'pl' | 'en'): string {
  const dm = (iso: string) => `${iso.slice(8, 10)}.${iso.slice(5, 7)}`;
  const weekday = (iso: string) => WEEKDAYS[lang][DateTime.fromISO(iso, { zone: 'utc' }).weekday - 1]!;
  const head =
    lang === 'pl'
      ? `Następna wysyłka: ${weekday(preview.localDate)} ${dm(preview.localDate)} ${preview.localTime}`
      : `Next run: ${weekday(preview.localDate)} ${dm(preview.localDate)} ${preview.localTime}`;
  if (preview.daysOff.length === 0) return head;
  const off = preview.daysOff.map((d) => `${dm(d.date)} ${d.kind.why === 'holiday' ? d.kind.name : weekday(d.date)}`).join(', ');
  return lang === 'pl' ? `${head}; wcześniej dni wolne: ${off}` : `${head}; days off before it: ${off}`;
}

/** A key unique per slot (the instant, UTC, ISO), for unique scheduled-job keys. */
export function slotKey(instant: Date): string {
  return `slot:${instant.toISOString()}`;
}

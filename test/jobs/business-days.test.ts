import { describe, it, expect } from 'vitest';
import { DateTime } from 'luxon';
import { dayKind, isBusinessDay, polishHolidays } from '../../src/jobs/rules/calendar.ts';
import { describeNextRun, missedSlot, nextRunAfter, previewNextRun, runTimesForDay } from '../../src/jobs/rules/schedule.ts';
import type { Settings } from '../../src/settings/schema.ts';

const W = 'Europe/Warsaw';
const businessDays = (startAt = '08:00', until = '16:00'): Pick<Settings, 'schedule' | 'timezone'> => ({
  schedule: { startAt, until, repeatEvery: '1h', days: 'business_days' },
  timezone: W,
});
const warsaw = (iso: string) => DateTime.fromISO(iso, { zone: W }).toJSDate();
const localText = (d: Date) => DateTime.fromJSDate(d, { zone: W }).toFormat('yyyy-MM-dd HH:mm');

describe('Polish business days', () => {
  it('24 December is a public holiday from 2025 on (Dz.U. 2024 poz. 1965), and a business day in 2024', () => {
    expect(dayKind('2025-12-24')).toEqual({ business: false, why: 'holiday', name: 'Wigilia Bożego Narodzenia' });
    expect(dayKind('2026-12-24')).toMatchObject({ business: false, why: 'holiday' });
    expect(isBusinessDay('2024-12-24')).toBe(true); // a Tuesday before the law took effect
  });

  it('the statutory holidays of 2026 are the fourteen days of the act, Easter Monday and Corpus Christi included', () => {
    const days = [...polishHolidays(2026).keys()];
    expect(days).toEqual([
      '2026-01-01',
      '2026-01-06',
      '2026-04-05',
      '2026-04-06',
      '2026-05-01',
      '2026-05-03',
      '2026-05-24',
      '2026-06-04',
      '2026-08-15',
      '2026-11-01',
      '2026-11-11',
      '2026-12-24',
      '2026-12-25',
      '2026-12-26',
    ]);
  });

  it('Saturdays and Sundays are days off, a working Monday is a business day', () => {
    expect(dayKind('2026-12-05')).toEqual({ business: false, why: 'weekend' });
    expect(dayKind('2026-12-06')).toEqual({ business: false, why: 'weekend' });
    expect(dayKind('2026-12-07')).toEqual({ business: true });
  });
});

describe('a business-day schedule', () => {
  it('has no run on a holiday or a weekend, and the usual runs on a business day', () => {
    const s = businessDays();
    expect(runTimesForDay(s.schedule, W, '2026-12-24')).toEqual([]);
    expect(runTimesForDay(s.schedule, W, '2026-12-27')).toEqual([]);
    expect(runTimesForDay(s.schedule, W, '2026-12-28')).toHaveLength(9);
  });

  it('an every-day schedule (and one saved before the setting existed) runs on holidays too', () => {
    expect(runTimesForDay({ startAt: '08:00', until: '16:00', repeatEvery: '1h', days: 'every_day' }, W, '2026-12-24')).toHaveLength(9);
    expect(runTimesForDay({ startAt: '08:00', until: '16:00', repeatEvery: '1h' }, W, '2026-12-24')).toHaveLength(9);
  });

  it('after the last run before Christmas the next run is Monday 28.12 at the window start', () => {
    expect(localText(nextRunAfter(businessDays(), warsaw('2026-12-23T16:30')))).toBe('2026-12-28 08:00');
  });

  it('what became due during the holidays waits: no slot is missed on a day off', () => {
    expect(missedSlot(businessDays(), null, warsaw('2026-12-25T12:00'))).toBeNull();
    expect(localText(missedSlot(businessDays(), null, warsaw('2026-12-28T12:10'))!)).toBe('2026-12-28 12:00');
  });

  it('the preview names each day off before the next run, in Polish and English', () => {
    const p = previewNextRun(businessDays(), warsaw('2026-12-23T16:30'));
    expect(p.localDate).toBe('2026-12-28');
    expect(p.localTime).toBe('08:00');
    expect(p.daysOff.map((d) => [d.date, d.kind.why])).toEqual([
      ['2026-12-24', 'holiday'],
      ['2026-12-25', 'holiday'],
      ['2026-12-26', 'holiday'],
      ['2026-12-27', 'weekend'],
    ]);
    expect(describeNextRun(p, 'pl')).toBe(
      'Następna wysyłka: poniedziałek 28.12 08:00; wcześniej dni wolne: 24.12 Wigilia Bożego Narodzenia, 25.12 Pierwszy dzień Bożego Narodzenia, 26.12 Drugi dzień Bożego Narodzenia, 27.12 niedziela',
    );
    expect(describeNextRun(p, 'en')).toMatch(/^Next run: Monday 28\.12 08:00; days off before it: 24\.12 Wigilia Bożego Narodzenia, .*27\.12 Sunday$/);
  });

  it('an every-day preview lists no days off', () => {
    const p = previewNextRun({ schedule: { startAt: '08:00', until: '16:00', repeatEvery: '1h', days: 'every_day' }, timezone: W }, warsaw('2026-12-23T16:30'));
    expect(localText(p.at)).toBe('2026-12-24 08:00');
    expect(p.daysOff).toEqual([]);
  });
});

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { missedSlot, nextRunAfter, runTimesForDay, slotKey } from '../../src/jobs/rules/schedule.ts';
import { REPEAT_MINUTES, type Settings } from '../../src/settings/schema.ts';

type Schedule = Settings['schedule'];
const W = 'Europe/Warsaw';

/** Run instants shown as local wall-clock text with offset, e.g. "03:00+02:00". */
function local(runs: Date[], zone: string): string[] {
  return runs.map((r) => DateTime.fromJSDate(r, { zone }).toFormat('HH:mmZZ'));
}
const sched = (startAt: string, until: string, repeatEvery: Schedule['repeatEvery']): Schedule => ({ startAt, until, repeatEvery });

describe('run times of one day', () => {
  it('are startAt, startAt + interval, … up to and including until', () => {
    const runs = runTimesForDay(sched('08:00', '16:00', '2h'), W, '2026-05-12');
    expect(local(runs, W)).toEqual(['08:00+02:00', '10:00+02:00', '12:00+02:00', '14:00+02:00', '16:00+02:00']);
    expect(runs[0]!.toISOString()).toBe('2026-05-12T06:00:00.000Z');
  });

  it('a window whose until equals startAt runs once', () => {
    expect(local(runTimesForDay(sched('09:15', '09:15', '30m'), W, '2026-01-10'), W)).toEqual(['09:15+01:00']);
  });

  it('no run starts after until when until falls between two steps', () => {
    expect(local(runTimesForDay(sched('08:00', '11:59', '4h'), W, '2026-01-10'), W)).toEqual(['08:00+01:00']);
    expect(local(runTimesForDay(sched('08:00', '12:00', '4h'), W, '2026-01-10'), W)).toEqual(['08:00+01:00', '12:00+01:00']);
  });

  it('an empty window (until before startAt) has no runs', () => {
    expect(runTimesForDay(sched('10:00', '09:00', '1h'), W, '2026-01-10')).toEqual([]);
  });

  it.each([
    ['30m', 17],
    ['1h', 9],
    ['2h', 5],
    ['4h', 3],
  ] as const)('every %s between 08:00 and 16:00 gives %i runs', (every, count) => {
    const runs = runTimesForDay(sched('08:00', '16:00', every), W, '2026-06-01');
    expect(runs).toHaveLength(count);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.getTime() - runs[i - 1]!.getTime()).toBe(REPEAT_MINUTES[every] * 60_000);
  });

  it('a local time skipped by spring forward moves to the first valid instant, and runs once', () => {
    // 2026-03-29 Europe/Warsaw: 02:00 CET jumps to 03:00 CEST.
    const runs = runTimesForDay(sched('01:30', '03:30', '30m'), W, '2026-03-29');
    expect(local(runs, W)).toEqual(['01:30+01:00', '03:00+02:00', '03:30+02:00']);
    expect(runs.map((r) => r.toISOString())).toEqual(['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z']);
  });

  it('a window entirely inside the spring-forward gap runs once at the end of the gap', () => {
    const runs = runTimesForDay(sched('02:00', '02:30', '30m'), W, '2026-03-29');
    expect(runs.map((r) => r.toISOString())).toEqual(['2026-03-29T01:00:00.000Z']);
  });

  it('an ambiguous local time on fall back runs once, at its first occurrence', () => {
    // 2026-10-25 Europe/Warsaw: 03:00 CEST goes back to 02:00 CET; 02:00–02:59 happen twice.
    const runs = runTimesForDay(sched('01:30', '03:30', '30m'), W, '2026-10-25');
    expect(local(runs, W)).toEqual(['01:30+02:00', '02:00+02:00', '02:30+02:00', '03:00+01:00', '03:30+01:00']);
    expect(runs[1]!.toISOString()).toBe('2026-10-25T00:00:00.000Z');
    expect(runs[2]!.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('follows the zone it is given (America/New_York, spring forward on 2026-03-08)', () => {
    const zone = 'America/New_York';
    expect(local(runTimesForDay(sched('01:00', '04:00', '1h'), zone, '2026-03-08'), zone)).toEqual(['01:00-05:00', '03:00-04:00', '04:00-04:00']);
    expect(local(runTimesForDay(sched('00:00', '02:00', '1h'), zone, '2026-11-01'), zone)).toEqual(['00:00-04:00', '01:00-04:00', '02:00-05:00']);
    expect(runTimesForDay(sched('08:00', '08:00', '1h'), zone, '2026-07-01')[0]!.toISOString()).toBe('2026-07-01T12:00:00.000Z');
  });

  it('refuses an unknown zone and a malformed day', () => {
    expect(() => runTimesForDay(sched('08:00', '09:00', '1h'), 'Mars/Olympus', '2026-01-01')).toThrow(/time zone/);
    expect(() => runTimesForDay(sched('08:00', '09:00', '1h'), W, '2026-02-30')).toThrow(/calendar date/);
  });
});

describe('the next run', () => {
  const s = { schedule: sched('08:00', '16:00', '4h'), timezone: W };

  it('is the next slot of the same day', () => {
    expect(nextRunAfter(s, new Date('2026-05-12T06:00:00Z')).toISOString()).toBe('2026-05-12T10:00:00.000Z');
    expect(nextRunAfter(s, new Date('2026-05-12T05:59:59Z')).toISOString()).toBe('2026-05-12T06:00:00.000Z');
  });

  it('is strictly after the given instant and rolls over to the next day after until', () => {
    expect(nextRunAfter(s, new Date('2026-05-12T14:00:00Z')).toISOString()).toBe('2026-05-13T06:00:00.000Z');
    expect(nextRunAfter(s, new Date('2026-05-12T22:30:00Z')).toISOString()).toBe('2026-05-13T06:00:00.000Z');
  });

  it('crosses the spring-forward night correctly', () => {
    const n = { schedule: sched('01:30', '03:30', '30m'), timezone: W };
    expect(nextRunAfter(n, new Date('2026-03-29T00:30:00Z')).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(nextRunAfter(n, new Date('2026-03-28T02:30:00Z')).toISOString()).toBe('2026-03-29T00:30:00.000Z');
  });

  it('refuses an empty window instead of looping', () => {
    expect(() => nextRunAfter({ schedule: sched('10:00', '09:00', '1h'), timezone: W }, new Date())).toThrow(/empty/);
  });
});

describe('the missed slot to catch up at start', () => {
  const s = { schedule: sched('08:00', '16:00', '1h'), timezone: W };

  it('is the latest slot of today that is due, when the connector never ran', () => {
    expect(missedSlot(s, null, new Date('2026-05-12T09:30:00Z'))?.toISOString()).toBe('2026-05-12T09:00:00.000Z');
  });

  it('is one slot only, however many were missed since the last run', () => {
    const slot = missedSlot(s, new Date('2026-05-12T06:00:00Z'), new Date('2026-05-12T12:10:00Z'));
    expect(slot?.toISOString()).toBe('2026-05-12T12:00:00.000Z');
  });

  it('is none when the last run already covered the latest due slot', () => {
    expect(missedSlot(s, new Date('2026-05-12T12:00:30Z'), new Date('2026-05-12T12:40:00Z'))).toBeNull();
  });

  it('is none before the first slot of the day (yesterday is not caught up)', () => {
    expect(missedSlot(s, new Date('2026-05-11T10:00:00Z'), new Date('2026-05-12T05:00:00Z'))).toBeNull();
  });

  it('counts a slot exactly at now as due', () => {
    expect(missedSlot(s, null, new Date('2026-05-12T06:00:00Z'))?.toISOString()).toBe('2026-05-12T06:00:00.000Z');
  });

  it('uses the installation zone for "today"', () => {
    // 23:30 UTC on the 11th is already the 12th in Warsaw; nothing is due yet there.
    expect(missedSlot(s, null, new Date('2026-05-11T23:30:00Z'))).toBeNull();
  });
});

describe('slot keys', () => {
  it('are equal for the same instant and differ between slots', () => {
    const [a, b] = runTimesForDay(sched('08:00', '09:00', '1h'), W, '2026-05-12');
    expect(slotKey(a!)).toBe(slotKey(new Date(a!.getTime())));
    expect(slotKey(a!)).not.toBe(slotKey(b!));
    expect(slotKey(a!)).toBe('slot:2026-05-12T06:00:00.000Z');
  });
});

describe('run times, for any window, interval, zone and day (property-based)', () => {
  const zones = Intl.supportedValuesOf('timeZone');
  const hhmm = fc.integer({ min: 0, max: 24 * 60 - 1 }).map((m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
  const every = fc.constantFrom<Schedule['repeatEvery']>('30m', '1h', '2h', '4h');
  const day = fc
    .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2040-12-31T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10));
  // Days with DST transitions are over-represented so that the rare cases are really exercised.
  const dstDay = fc.constantFrom('2026-03-29', '2026-10-25', '2026-03-08', '2026-11-01', '2026-04-05', '2026-10-04', '2011-12-30', '2024-03-31');
  const zone = fc.oneof(
    fc.constantFrom(W, 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Apia', 'America/Santiago', 'Asia/Tehran'),
    fc.constantFrom(...zones),
  );
  const mins = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3));

  /** Local wall time of an instant, written as if it were UTC (ms). */
  const wallOf = (ms: number, z: string) => ms + DateTime.fromMillis(ms, { zone: z }).offset * 60_000;

  it('are strictly increasing, one per slot at most, within the window or the first instant after a skipped time', () => {
    fc.assert(
      fc.property(hhmm, hhmm, every, zone, fc.oneof(day, dstDay), (a, b, rep, z, d) => {
        const [startAt, until] = mins(a) <= mins(b) ? [a, b] : [b, a];
        const runs = runTimesForDay({ startAt, until, repeatEvery: rep }, z, d).map((r) => r.getTime());
        const step = REPEAT_MINUTES[rep];
        const midnight = Date.parse(`${d}T00:00:00Z`);
        const slots: number[] = [];
        for (let t = mins(startAt); t <= mins(until); t += step) slots.push(midnight + t * 60_000);

        expect(runs.length).toBeGreaterThanOrEqual(1);
        expect(runs.length).toBeLessThanOrEqual(Math.floor((mins(until) - mins(startAt)) / step) + 1);
        for (let i = 1; i < runs.length; i++) expect(runs[i]!).toBeGreaterThan(runs[i - 1]!);

        const used = new Set<number>();
        for (const r of runs) {
          // The run is the instant where local time first reaches some slot's wall time:
          // exactly the slot when it exists, else the first valid instant after the skipped time.
          const mine = slots.filter((s) => wallOf(r - 1, z) < s && s <= wallOf(r, z));
          expect(mine.length, `run ${new Date(r).toISOString()} belongs to a slot of ${d} ${z}`).toBeGreaterThanOrEqual(1);
          for (const s of mine) {
            expect(used.has(s), 'never two runs for one slot').toBe(false);
            used.add(s);
          }
          // An ambiguous local time runs at its first occurrence: no earlier instant shows the same wall time.
          if (mine.length === 1 && wallOf(r, z) === mine[0]) {
            for (let k = 1; k <= 6; k++) expect(wallOf(r - k * 30 * 60_000, z)).not.toBe(mine[0]);
          }
        }
        // Every slot is served by a run (nothing silently dropped).
        expect(used.size).toBe(slots.length);
      }),
      { numRuns: 1500 },
    );
  });

  it('the next run after each run is the following run of the day', () => {
    fc.assert(
      fc.property(hhmm, hhmm, every, zone, fc.oneof(day, dstDay), (a, b, rep, z, d) => {
        const [startAt, until] = mins(a) <= mins(b) ? [a, b] : [b, a];
        const settings = { schedule: { startAt, until, repeatEvery: rep }, timezone: z };
        const runs = runTimesForDay(settings.schedule, z, d);
        for (let i = 0; i + 1 < runs.length; i++) expect(nextRunAfter(settings, runs[i]!).getTime()).toBe(runs[i + 1]!.getTime());
        const before = new Date(runs[0]!.getTime() - 1);
        expect(nextRunAfter(settings, before).getTime()).toBe(runs[0]!.getTime());
        expect(nextRunAfter(settings, runs.at(-1)!).getTime()).toBeGreaterThan(runs.at(-1)!.getTime());
      }),
      { numRuns: 200 },
    );
  });
});

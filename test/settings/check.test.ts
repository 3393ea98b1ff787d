import { describe, it, expect } from 'vitest';
import { applyEnableDefaults, checkSettings, isCalendarDate, settingsWarnings, todayIn } from '../../src/settings/check.ts';
import { render } from '../../src/messages/catalogue.ts';
import { defaultSettings, type Settings } from '../../src/settings/schema.ts';

const STANDARD = ['invoice', 'invoice-pl', 'invoice-bilingual'] as const;
const good = (over: Partial<Settings> = {}): Settings => ({
  ...defaultSettings(),
  enabled: true,
  operator: 'anna',
  emailAccount: '3',
  emailTemplate: '12',
  fromDate: '2026-05-01',
  ...over,
});
const check = (s: Settings) => checkSettings(s, STANDARD);

describe('settings checks without the host', () => {
  it('complete, sensible settings pass', () => {
    expect(check(good())).toEqual([]);
    expect(check(defaultSettings())).toEqual([]);
  });

  it('a time zone must be a real IANA zone', () => {
    expect(check(good({ timezone: 'Europe/Warszawa' }))).toEqual([
      {
        field: 'timezone',
        code: 'settings.timezone_unknown',
        params: { value: 'Europe/Warszawa' },
        message: '"Europe/Warszawa" is not an IANA time zone (e.g. Europe/Warsaw).',
      },
    ]);
    expect(check(good({ timezone: 'America/New_York' }))).toEqual([]);
  });

  it('the window may not end before it starts', () => {
    const [p] = check(good({ schedule: { startAt: '10:00', until: '09:59', repeatEvery: '1h' } }));
    expect(p).toMatchObject({ field: 'schedule.until', code: 'settings.until_before_start', params: { startAt: '10:00' } });
    expect(render('pl', p!.code, p!.params)).toBe('Godzina „Do godziny” nie może być wcześniejsza niż godzina rozpoczęcia 10:00.');
  });

  it('a window that ends when it starts is allowed (one run a day)', () => {
    expect(check(good({ schedule: { startAt: '10:00', until: '10:00', repeatEvery: '4h' } }))).toEqual([]);
  });

  it('malformed times are named by their path', () => {
    const fields = check(good({ schedule: { startAt: '24:00', until: '8:00', repeatEvery: '1h' } })).map((p) => p.field);
    expect(fields).toEqual(['schedule.startAt', 'schedule.until']);
    const [p] = check(good({ schedule: { startAt: '25:00', until: '18:00', repeatEvery: '1h' } }));
    expect(p!.code).toBe('settings.time_format');
    expect(render('pl', p!.code)).toBe('Podaj godzinę w formacie GG:MM (00:00–23:59).');
  });

  it('fromDate must be a real calendar date (2026-02-30 refused)', () => {
    expect(check(good({ fromDate: '2026-02-30' }))).toMatchObject([{ field: 'fromDate', code: 'settings.date_invalid', params: { value: '2026-02-30' } }]);
    expect(check(good({ fromDate: '2026-02-31' })).map((p) => p.code)).toEqual(['settings.date_invalid']);
    expect(check(good({ fromDate: '31.02.2026' })).map((p) => p.code)).toEqual(['settings.date_format']);
    expect(check(good({ fromDate: '2028-02-29' }))).toEqual([]);
    expect(check(good({ fromDate: '2027-02-29' })).map((p) => p.field)).toEqual(['fromDate']);
    expect(isCalendarDate('2026-1-01')).toBe(false);
  });

  it('print choices must be well formed', () => {
    expect(check(good({ attachments: { pln: 'standard:', foreign: 'pdf' } })).map((p) => p.field)).toEqual(['attachments.pln', 'attachments.foreign']);
    expect(check(good({ attachments: { pln: 'user:account.report_invoice', foreign: 'none' } }))).toEqual([]);
  });

  it('a standard print must be one the connector has', () => {
    expect(check(good({ attachments: { pln: 'standard:invoice-pl', foreign: 'standard:fancy' } }))).toEqual([
      {
        field: 'attachments.foreign',
        code: 'settings.print_unknown',
        params: { id: 'fancy', known: ['invoice', 'invoice-pl', 'invoice-bilingual'] },
        message: 'There is no standard print "fancy" (known: invoice, invoice-pl, invoice-bilingual).',
      },
    ]);
  });

  it('without the list of standard prints only their form is checked', () => {
    expect(checkSettings(good({ attachments: { pln: 'standard:fancy', foreign: 'none' } }))).toEqual([]);
  });

  it('when enabled, the operator, e-mail account and template are required', () => {
    expect(check(good({ operator: ' ', emailAccount: '', emailTemplate: '' })).map((p) => p.field)).toEqual(['operator', 'emailAccount', 'emailTemplate']);
  });

  it('when disabled, the account and template may still be empty', () => {
    expect(check(good({ enabled: false, emailAccount: '', emailTemplate: '' }))).toEqual([]);
  });

  it('reports every problem at once', () => {
    const all = check(
      good({ timezone: 'Nowhere', fromDate: '2026-13-01', emailAccount: '', schedule: { startAt: '12:00', until: '11:00', repeatEvery: '2h' } }),
    );
    expect(all.map((p) => p.field).sort()).toEqual(['emailAccount', 'fromDate', 'schedule.until', 'timezone']);
  });
});

describe('warnings that do not stop a save', () => {
  it('a from date after today (in the installation zone) is a warning, today or earlier is not', () => {
    const now = new Date('2026-05-12T23:30:00Z'); // already 13 May in Warsaw
    expect(todayIn(good(), now)).toBe('2026-05-13');
    expect(settingsWarnings(good({ fromDate: '2026-05-14' }), todayIn(good(), now))).toMatchObject([
      { field: 'fromDate', code: 'settings.from_date_future', params: { date: '2026-05-14' } },
    ]);
    expect(settingsWarnings(good({ fromDate: '2026-05-13' }), '2026-05-13')).toEqual([]);
    expect(settingsWarnings(good({ fromDate: null }), '2026-05-13')).toEqual([]);
  });
});

describe('defaults when automatic sending is switched on', () => {
  const off = good({ enabled: false, fromDate: null });

  it('fromDate becomes today in the installation zone when it turns on without one', () => {
    // 23:30 UTC on 12 May is already 13 May in Warsaw.
    const next = applyEnableDefaults(off, { ...off, enabled: true }, new Date('2026-05-12T23:30:00Z'));
    expect(next.fromDate).toBe('2026-05-13');
    const ny = applyEnableDefaults(off, { ...off, enabled: true, timezone: 'America/New_York' }, new Date('2026-05-12T23:30:00Z'));
    expect(ny.fromDate).toBe('2026-05-12');
  });

  it('a fromDate given with the switch is kept', () => {
    expect(applyEnableDefaults(off, { ...off, enabled: true, fromDate: '2026-01-01' }, new Date('2026-05-12T10:00:00Z')).fromDate).toBe('2026-01-01');
  });

  it('nothing changes while the switch stays off', () => {
    const next = { ...off, delivery: 'save_draft' as const };
    expect(applyEnableDefaults(off, next, new Date('2026-05-12T10:00:00Z'))).toBe(next);
  });

  it('clearing fromDate while on keeps the previous one', () => {
    const on = good({ fromDate: '2026-03-01' });
    expect(applyEnableDefaults(on, { ...on, fromDate: null }, new Date('2026-05-12T10:00:00Z')).fromDate).toBe('2026-03-01');
  });

  it('does not change the settings it is given', () => {
    const next = { ...off, enabled: true };
    applyEnableDefaults(off, next, new Date('2026-05-12T10:00:00Z'));
    expect(next.fromDate).toBeNull();
  });
});

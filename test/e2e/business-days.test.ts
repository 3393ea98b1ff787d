/**
 * "Send on business days" through the HTTP API with the sandbox host: the setting is saved and
 * validated, the Agenda job's next run skips Polish holidays and weekends, and the schedule preview
 * names the days off in Polish and English. The clock is frozen on Wednesday 23.12.2026 after the
 * day's window, so the next business day is Monday 28.12 (24–26.12 holidays, 27.12 a Sunday).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox } from '../support/sandbox-installation.ts';
import { freshDatabase } from '../setup/db.ts';

const ZONE = 'Europe/Warsaw';
const now = DateTime.fromISO('2026-12-23T16:30', { zone: ZONE }).toJSDate();

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let databaseUrl: string;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port }, today: '2026-12-23' });
  databaseUrl = await freshDatabase();
  connector = await startTestConnector({ databaseUrl, clock: () => now });
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

async function nextRunOfJob(installationId: string): Promise<Date | null> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const res = await client.query(`SELECT next_run_at FROM agenda_jobs WHERE name = 'installation.run' AND data->>'installationId' = $1`, [installationId]);
    return res.rows[0]?.next_run_at ?? null;
  } finally {
    await client.end();
  }
}

describe('sending on business days only', () => {
  it('is saved, schedules the next run on the next business day and says which days are off', async () => {
    const { id, token } = await installSandbox(connector.api, sandbox, {
      enabled: true,
      schedule: { startAt: '08:00', repeatEvery: '2h', until: '16:00', days: 'business_days' },
    });
    const settings = await connector.api('GET', `/api/installations/${id}/settings`, { token });
    expect(settings.body.schedule).toMatchObject({ days: 'business_days' });

    const job = await nextRunOfJob(id);
    expect(job && DateTime.fromJSDate(job, { zone: ZONE }).toFormat('yyyy-MM-dd HH:mm')).toBe('2026-12-28 08:00');

    const preview = await connector.api('GET', `/api/installations/${id}/schedule`, { token });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ enabled: true, days: 'business_days', local: { date: '2026-12-28', time: '08:00', timezone: ZONE } });
    expect(preview.body.daysOff).toEqual([
      { date: '2026-12-24', why: 'holiday', name: 'Wigilia Bożego Narodzenia' },
      { date: '2026-12-25', why: 'holiday', name: 'Pierwszy dzień Bożego Narodzenia' },
      { date: '2026-12-26', why: 'holiday', name: 'Drugi dzień Bożego Narodzenia' },
      { date: '2026-12-27', why: 'weekend' },
    ]);
    expect(preview.body.message.pl).toMatch(/^Następna wysyłka: poniedziałek 28\.12 08:00; wcześniej dni wolne: 24\.12 Wigilia/);
    expect(preview.body.message.en).toMatch(/^Next run: Monday 28\.12 08:00; days off before it: /);
  });

  it('switching back to every day schedules the run on Christmas Eve morning', async () => {
    const { id, token } = await installSandbox(connector.api, sandbox, {
      enabled: true,
      schedule: { startAt: '08:00', repeatEvery: '2h', until: '16:00', days: 'business_days' },
    });
    const saved = await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { schedule: { days: 'every_day' } } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const job = await nextRunOfJob(id);
    expect(job && DateTime.fromJSDate(job, { zone: ZONE }).toFormat('yyyy-MM-dd HH:mm')).toBe('2026-12-24 08:00');
  });

  it('refuses an unknown value with a 400 naming the field', async () => {
    const { id, token } = await installSandbox(connector.api, sandbox);
    const res = await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { schedule: { days: 'weekends' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation');
    expect(res.body.error.field).toMatch(/schedule\.days|schedule\/days/);
  });
});

/**
 * The schedule in Agenda, through the HTTP API with the sandbox host: one job per installation,
 * re-scheduled on every settings change, removed when disabled or uninstalled; "run now" outside the
 * window is logged as manual; after downtime a slot missed earlier today is caught up once.
 *
 * The clock is injected and set in 2030, so Agenda (which fires by the real time) never starts a
 * scheduled run by itself unless a test makes a job overdue on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { freshDatabase } from '../setup/db.ts';

const ZONE = 'Europe/Warsaw';
/** The same key across a restart, as a deployment keeps it. */
const env = { SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}` };
const at = (local: string, zone = ZONE) => DateTime.fromISO(local, { zone }).toJSDate();

let smtp: TestSmtpServer;
let sandbox: SandboxHost;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
});

afterAll(async () => {
  await sandbox?.stop();
  await smtp?.stop();
});

/** The scheduled jobs of an installation as Agenda stores them. */
async function jobsOf(databaseUrl: string, installationId: string): Promise<{ next_run_at: Date | null }[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const res = await client.query(`SELECT next_run_at FROM agenda_jobs WHERE name = 'installation.run' AND data->>'installationId' = $1`, [installationId]);
    return res.rows;
  } finally {
    await client.end();
  }
}

async function sql(databaseUrl: string, text: string, params: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(text, params);
  } finally {
    await client.end();
  }
}

async function install(connector: TestConnector) {
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id: string = res.body.id;
  const token: string = res.body.apiToken;
  const put = (body: unknown) => connector.api('PUT', `/api/installations/${id}/settings`, { token, body });
  return { id, token, put };
}

async function runsOf(connector: TestConnector, id: string, token: string): Promise<{ trigger: string; status: string }[]> {
  const res = await connector.api('GET', `/api/installations/${id}/runs`, { token });
  return res.body.runs;
}

describe('one Agenda job per installation', () => {
  let databaseUrl: string;
  let connector: TestConnector;
  let now = at('2030-06-10T10:30');
  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    connector = await startTestConnector({ databaseUrl, clock: () => now });
  });
  afterAll(async () => connector?.close());

  it('no job while disabled; enabling schedules exactly one at the next slot of the window', async () => {
    const { id, put } = await install(connector);
    expect(await jobsOf(databaseUrl, id)).toHaveLength(0);
    const res = await put({ enabled: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const jobs = await jobsOf(databaseUrl, id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.next_run_at).toEqual(at('2030-06-10T11:00'));
    expect(await connector.scheduler.nextRunAt(id)).toEqual(at('2030-06-10T11:00'));
  });

  it('a settings change re-schedules the same single job; concurrent changes leave one job at the next slot of the saved settings', async () => {
    const { id, token, put } = await install(connector);
    expect((await put({ enabled: true })).status).toBe(200);
    const res = await put({ schedule: { startAt: '06:15', repeatEvery: '4h', until: '22:00' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    let jobs = await jobsOf(databaseUrl, id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.next_run_at).toEqual(at('2030-06-10T14:15'));
    // A time zone change moves it too: 10:30 in Warsaw is 09:30 in London; 06:15 + 4h = 10:15 London.
    expect((await put({ timezone: 'Europe/London' })).status).toBe(200);
    jobs = await jobsOf(databaseUrl, id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.next_run_at).toEqual(at('2030-06-10T10:15', 'Europe/London'));

    const starts = ['07:00', '09:45', '11:00', '12:30', '13:05', '15:00'];
    const results = await Promise.all(starts.map((startAt) => put({ timezone: ZONE, schedule: { startAt, repeatEvery: '30m', until: '23:00' } })));
    expect(results.some((r) => r.status === 200)).toBe(true);
    for (const r of results) expect([200, 409]).toContain(r.status);
    const saved = await connector.api('GET', `/api/installations/${id}/settings`, { token });
    const startAt: string = saved.body.schedule.startAt;
    // The next slot of the saved settings, stated plainly: startAt if it is after 10:30, else the first
    // startAt + k·30 min after 10:30 (09:45 -> 10:45; 07:00 -> 11:00).
    let slot = DateTime.fromISO(`2030-06-10T${startAt}`, { zone: ZONE });
    while (slot.toFormat('HH:mm') <= '10:30') slot = slot.plus({ minutes: 30 });
    const expected = at(`2030-06-10T${slot.toFormat('HH:mm')}`);
    jobs = await jobsOf(databaseUrl, id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.next_run_at).toEqual(expected);
  });

  it('disabling removes the job, enabling brings one back, uninstalling removes it', async () => {
    const { id, token, put } = await install(connector);
    expect((await put({ enabled: true })).status).toBe(200);
    expect(await jobsOf(databaseUrl, id)).toHaveLength(1);
    expect((await put({ enabled: false })).status).toBe(200);
    expect(await jobsOf(databaseUrl, id)).toHaveLength(0);
    expect(await connector.scheduler.nextRunAt(id)).toBeNull();
    expect((await put({ enabled: true })).status).toBe(200);
    expect(await jobsOf(databaseUrl, id)).toHaveLength(1);
    const del = await connector.api('DELETE', `/api/installations/${id}`, { token });
    expect(del.status).toBe(204);
    expect(await jobsOf(databaseUrl, id)).toHaveLength(0);
  });

  it('"run now" runs outside the window, is listed and logged as manual, and leaves the scheduled job as it was', async () => {
    now = at('2030-06-10T22:30');
    const { id, token, put } = await install(connector);
    expect((await put({ enabled: true })).status).toBe(200);
    const before = await jobsOf(databaseUrl, id);
    expect(before).toHaveLength(1);
    expect(before[0]!.next_run_at).toEqual(at('2030-06-11T08:00'));
    const res = await connector.api('POST', `/api/installations/${id}/runs`, { token });
    expect(res.status).toBe(202);
    const run = await connector.waitForRun(id, token, { trigger: 'manual' });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    const logs = await connector.api('GET', `/api/installations/${id}/logs?limit=1000`, { token });
    const started = logs.body.entries.find((e: any) => e.event === 'run.started' && e.runId === run.id);
    expect(started.data.trigger).toBe('manual');
    expect((await runsOf(connector, id, token)).map((r) => r.trigger)).toEqual(['manual']);
    expect(await jobsOf(databaseUrl, id)).toEqual(before);
  });
});

/** A fixed-offset zone where it is now about noon (slots 08:00, 12:00, 16:00 fall before and after now). */
function zoneWhereItIsNoon(): string {
  const offset = 12 - new Date().getUTCHours(); // -11 … +12
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

describe('catching up after downtime', () => {
  it('a slot missed earlier today is caught up once at start, not once per missed slot, and not again at the next start', async () => {
    const databaseUrl = await freshDatabase();
    const first = await startTestConnector({ databaseUrl, env, clock: () => at('2030-06-10T07:00') });
    const { id, token, put } = await install(first);
    expect((await put({ enabled: true, fromDate: '2030-06-01' })).status).toBe(200);
    expect(await jobsOf(databaseUrl, id)).toEqual([{ next_run_at: at('2030-06-10T08:00') }]);
    await first.close();

    // Down from 07:00 to 12:30: the 08:00 … 12:00 slots (five) were missed.
    const second = await startTestConnector({ databaseUrl, env, clock: () => at('2030-06-10T12:30') });
    try {
      await second.scheduler.catchUp();
      const run = await second.waitForRun(id, token, { trigger: 'catch_up' });
      expect(run.status, JSON.stringify(run)).toBe('completed');
      expect(await jobsOf(databaseUrl, id)).toEqual([{ next_run_at: at('2030-06-10T13:00') }]);
      // Started again (another restart at the same time): nothing more is owed.
      await second.scheduler.catchUp();
      // A manual run queued after it is a barrier: once it finished, any second catch-up would have run too.
      await second.api('POST', `/api/installations/${id}/runs`, { token });
      await second.waitForRun(id, token, { trigger: 'manual' });
      const triggers = (await runsOf(second, id, token)).map((r) => r.trigger).sort();
      expect(triggers).toEqual(['catch_up', 'manual']);
    } finally {
      await second.close();
    }
  });

  it('a slot from before the installation existed is not missed: a new installation catches up on nothing at start', async () => {
    // Real time, in a zone where it is now about noon: the 08:00 slot of today was before the install.
    const zone = zoneWhereItIsNoon();
    const databaseUrl = await freshDatabase();
    const first = await startTestConnector({ databaseUrl, env });
    const { id, token, put } = await install(first);
    expect((await put({ enabled: true, timezone: zone, schedule: { startAt: '08:00', repeatEvery: '4h', until: '16:00' } })).status).toBe(200);
    await first.close();
    const second = await startTestConnector({ databaseUrl, env });
    try {
      await second.scheduler.catchUp();
      // A manual run queued after it is a barrier: a catch-up would have run before it.
      await second.api('POST', `/api/installations/${id}/runs`, { token });
      await second.waitForRun(id, token, { trigger: 'manual' });
      expect((await runsOf(second, id, token)).map((r) => r.trigger)).toEqual(['manual']);
    } finally {
      await second.close();
    }
  });

  it('a job left overdue by downtime and the catch-up at start end in one run for the slot', async () => {
    // Real time, with a zone where it is now about noon: slots 08:00, 12:00, 16:00.
    const zone = zoneWhereItIsNoon();
    const databaseUrl = await freshDatabase();
    const first = await startTestConnector({ databaseUrl, env });
    const { id, token, put } = await install(first);
    expect((await put({ enabled: true, timezone: zone, schedule: { startAt: '08:00', repeatEvery: '4h', until: '16:00' } })).status).toBe(200);
    await first.close();
    // The process went down before 08:00 local: its job still points at 08:00 today.
    const eight = DateTime.now().setZone(zone).set({ hour: 8, minute: 0, second: 0, millisecond: 0 }).toJSDate();
    await sql(databaseUrl, `UPDATE agenda_jobs SET next_run_at = $2 WHERE name = 'installation.run' AND data->>'installationId' = $1`, [id, eight]);

    const second = await startTestConnector({ databaseUrl, env });
    try {
      await second.scheduler.catchUp();
      const run = await second.waitForRun(id, token);
      expect(run.status, JSON.stringify(run)).toBe('completed');
      await second.api('POST', `/api/installations/${id}/runs`, { token });
      await second.waitForRun(id, token, { trigger: 'manual' });
      const slotRuns = (await runsOf(second, id, token)).filter((r) => r.trigger !== 'manual');
      expect(slotRuns).toHaveLength(1);
      const sixteen = DateTime.now().setZone(zone).set({ hour: 16, minute: 0, second: 0, millisecond: 0 }).toJSDate();
      expect(await jobsOf(databaseUrl, id)).toEqual([{ next_run_at: sixteen }]);
    } finally {
      await second.close();
    }
  });
});

/**
 * The pages the host embeds, over real HTTP: the page session and its API, the settings form built
 * from the schema, the sandbox's Extensions screen, and the operators' surface (Agendash, /metrics)
 * behind ADMIN_TOKEN. The signed links themselves are checked through app.inject (test/http/page-links.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { settingsFields } from '../../src/manifest/host-manifest.ts';
import { SettingsInputSchema } from '../../src/settings/schema.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

const ADMIN = 'operator-token-for-tests-0123456789';
let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let other: SandboxHost;
let connector: TestConnector;
const installs: { id: string; token: string }[] = [];

async function install(host: SandboxHost): Promise<{ id: string; token: string }> {
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: host.url, database: host.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, token: res.body.apiToken };
}

async function links(i: { id: string; token: string }, lang?: 'pl' | 'en') {
  const res = await connector.api('POST', `/api/installations/${i.id}/page-links`, { token: i.token, body: lang ? { lang } : {} });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { settingsUrl: string; logsUrl: string; expiresAt: string };
}

/** Opens a page and returns its session token (from the page data block) and the response. */
async function open(url: string) {
  const res = await fetch(url);
  const html = await res.text();
  const m = /<script type="application\/json" id="page-data"[^>]*>(.*?)<\/script>/s.exec(html);
  return { res, html, data: m ? JSON.parse(m[1]!) : null };
}

async function pageApi(i: { id: string }, session: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${connector.url}/ui/api/installations/${i.id}${path}`, {
    method,
    headers: { authorization: `Bearer ${session}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  connector = await startTestConnector({ env: { ADMIN_TOKEN: ADMIN } });
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: 30, extensions: { connectorUrl: connector.url } });
  other = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: 5 });
  installs.push(await install(sandbox), await install(other));
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await other?.stop();
  await smtp?.stop();
});

describe('the settings page', () => {
  it('shows every setting in the schema order with the schema labels, in Polish and in English', async () => {
    const a = installs[0]!;
    const order = settingsFields().map((f) => f.path);
    for (const lang of ['pl', 'en'] as const) {
      const { html } = await open((await links(a, lang)).settingsUrl);
      const names = [...html.matchAll(/<(?:input|select)[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!).filter((n) => n !== 'invoice');
      expect(names).toEqual(order);
      const enabled = (SettingsInputSchema.properties.enabled as unknown as { 'x-label': Record<string, string> })['x-label'][lang]!;
      expect(html).toContain(enabled);
      expect(html).toContain(`<html lang="${lang}">`);
    }
  });

  it('gives the page a session that works on the page API only, and never shows the password', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a)).settingsUrl);
    const s = await pageApi(a, data.session, 'GET', '/settings');
    expect(s.status).toBe(200);
    expect(s.body.operatorPassword).toEqual({ set: true });
    // The page session is not the installation's API token, nor a link.
    expect((await connector.api('GET', `/api/installations/${a.id}/settings`, { token: data.session })).status).toBe(401);
    const linkToken = new URL((await links(a)).settingsUrl).searchParams.get('t')!;
    expect((await pageApi(a, linkToken, 'GET', '/settings')).status).toBe(401);
    // Nor does it reach another installation.
    expect((await pageApi(installs[1]!, data.session, 'GET', '/settings')).status).toBe(401);
  });

  it('answers a bad change with the fields the page shows messages next to, and saves a good one', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a)).settingsUrl);
    const bad = await pageApi(a, data.session, 'PUT', '/settings', { schedule: { startAt: '09:00', until: '08:00' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields.map((f: { field: string }) => f.field)).toContain('schedule.until');
    const shape = await pageApi(a, data.session, 'PUT', '/settings', { schedule: { until: '25:00' } });
    expect(shape.status).toBe(400);
    expect(shape.body.error.fields[0].field).toBe('schedule.until');
    const ok = await pageApi(a, data.session, 'PUT', '/settings', { schedule: { startAt: '07:00', until: '18:00' } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.schedule).toMatchObject({ startAt: '07:00', until: '18:00' });
    const ops = await pageApi(a, data.session, 'GET', '/options/email-accounts?operator=ksiegowa');
    expect(ops.status).toBe(200);
    expect(ops.body.options.length).toBeGreaterThan(0);
  });

  it('answers every problem of a change at once, each at its field, in the page language, with code and params kept', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a, 'pl')).settingsUrl);
    const before = await pageApi(a, data.session, 'GET', '/settings');
    // A wrong time (refused by the schema), an impossible day (a rule) and Drafts without IMAP (the host).
    const bad = await pageApi(a, data.session, 'PUT', '/settings', { schedule: { startAt: '25:00' }, fromDate: '2026-02-31', delivery: 'save_draft' });
    expect(bad.status, JSON.stringify(bad.body)).toBe(400);
    const byField = Object.fromEntries((bad.body.error.fields as { field: string; code: string; message: string }[]).map((f) => [f.field, f]));
    expect(Object.keys(byField).sort()).toEqual(['delivery', 'fromDate', 'schedule.startAt']);
    expect(byField['schedule.startAt']).toMatchObject({ code: 'settings.time_format', message: 'Podaj godzinę w formacie GG:MM (00:00–23:59).' });
    expect(byField['fromDate']).toMatchObject({
      code: 'settings.date_invalid',
      params: { value: '2026-02-31' },
      message: 'Taki dzień nie istnieje w kalendarzu: 2026-02-31.',
    });
    expect(byField['delivery']!.code).toBe('settings.drafts_need_imap');
    expect(byField['delivery']!.message).toMatch(/^Zapis w folderze Robocze wymaga IMAP/);
    expect(JSON.stringify(bad.body)).not.toMatch(/must match pattern/);
    // Nothing was saved.
    expect((await pageApi(a, data.session, 'GET', '/settings')).body).toEqual(before.body);
    // The English page gets English sentences for the same codes.
    const en = await open((await links(a, 'en')).settingsUrl);
    const badEn = await pageApi(a, en.data.session, 'PUT', '/settings', { schedule: { startAt: '25:00' } });
    expect(badEn.body.error.fields[0]).toMatchObject({
      field: 'schedule.startAt',
      code: 'settings.time_format',
      message: 'Enter a time as HH:MM (00:00–23:59).',
    });
  });

  it('the installation API answers in the language of Accept-Language, English by default', async () => {
    const a = installs[0]!;
    const put = (lang?: string) =>
      fetch(`${connector.url}/api/installations/${a.id}/settings`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json', ...(lang ? { 'accept-language': lang } : {}) },
        body: JSON.stringify({ schedule: { startAt: '10:00', until: '09:00' }, timezone: 'Europe/Warszawa' }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error: { fields: { field: string; code: string; message: string; params: unknown }[] } },
      }));
    const pl = await put('pl-PL,pl;q=0.9,en;q=0.5');
    expect(pl.status).toBe(400);
    expect(pl.body.error.fields.map((f: { code: string }) => f.code).sort()).toEqual(['settings.timezone_unknown', 'settings.until_before_start']);
    expect(pl.body.error.fields.find((f: { field: string }) => f.field === 'schedule.until')!.message).toBe(
      'Godzina „Do godziny” nie może być wcześniejsza niż godzina rozpoczęcia 10:00.',
    );
    const en = await put();
    expect(en.body.error.fields.find((f: { field: string }) => f.field === 'schedule.until')).toMatchObject({
      params: { startAt: '10:00' },
      message: 'The end time must not be earlier than the start time 10:00.',
    });
  });

  it('warns about a from date in the future when saving it', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a, 'pl')).settingsUrl);
    const future = DateTime.now().setZone('Europe/Warsaw').plus({ years: 2 }).toISODate()!;
    const saved = await pageApi(a, data.session, 'PUT', '/settings', { fromDate: future });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.warnings).toMatchObject([{ field: 'fromDate', code: 'settings.from_date_future', params: { date: future } }]);
    expect(saved.body.warnings[0].message).toContain('jest w przyszłości');
    const past = await pageApi(a, data.session, 'PUT', '/settings', { fromDate: '2026-01-01' });
    expect(past.body.warnings).toEqual([]);
  });

  it('finds invoices by number as typed (number, customer, date) and previews one with its decision as a sentence', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a, 'pl')).settingsUrl);
    const move = sandbox.records('account.move').find((m) => m['state'] === 'posted' && m['move_type'] === 'out_invoice')!;
    const number = String(move['name']);
    const found = await pageApi(a, data.session, 'GET', `/invoices/search?q=${encodeURIComponent(number.slice(-5))}`);
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    const hit = found.body.invoices.find((i: { id: string }) => i.id === String(move['id']));
    expect(hit).toMatchObject({ number, date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(hit.customer).toBeTruthy();
    expect((await pageApi(a, data.session, 'GET', '/invoices/search?q=NO-SUCH-NUMBER')).body.invoices).toEqual([]);
    const preview = await pageApi(a, data.session, 'GET', `/invoices/${hit.id}/preview`);
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body.decision.code).toMatch(/^preview\.(send|skip\.[a-z_]+)$/);
    expect(preview.body.decision.text).toMatch(/^(Zostałaby wysłana|Nie zostałaby wysłana)/);
    const missing = await pageApi(a, data.session, 'GET', '/invoices/999999/preview');
    expect(missing.status).toBe(404);
    expect(missing.body.error.fields[0]).toMatchObject({ field: 'invoiceId', code: 'error.invoice_not_found', message: 'W systemie nie ma faktury 999999.' });
  });

  it('shows a run through the cheap current-run endpoint and log entries as sentences in the page language', async () => {
    const a = installs[1]!;
    const { data } = await open((await links(a, 'pl')).logsUrl);
    expect((await pageApi(a, data.session, 'GET', '/runs/current')).body).toEqual({ run: null });
    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${a.id}/runs`, { token: a.token })).status).toBe(202);
    const run = await connector.waitForRun(a.id, a.token, { trigger: 'manual', since });
    const current = await pageApi(a, data.session, 'GET', '/runs/current');
    expect(current.body.run).toMatchObject({
      id: run.id,
      status: run.status,
      processed: run.processed,
      total: run.total,
      triggerCode: 'run.trigger.manual',
      triggerText: 'ręcznie („Uruchom teraz”)',
    });
    expect(current.body.run.statusText).toBe(run.status === 'completed' ? 'zakończony' : 'przerwany błędem');
    expect(current.body.run.progressText).toBe(`${run.processed} z ${run.total}`);
    const logs = await pageApi(a, data.session, 'GET', `/logs?runId=${run.id}`);
    const events = logs.body.entries as { event: string; code: string; text: string; levelText: string }[];
    const started = events.find((e) => e.event === 'run.started')!;
    expect(started).toMatchObject({ code: 'log.run.started', text: 'Rozpoczęto przebieg (ręcznie („Uruchom teraz”)).' });
    expect(events.find((e) => e.event === 'run.completed')!.text).toMatch(/^Przebieg (zakończony|przerwany błędem): wysłane: \d+/);
    for (const e of events) {
      expect(e.code, e.event).not.toBe('log.unknown');
      expect(e.text).not.toMatch(/^(Sent to|Skipped|Run completed|Run started)/);
    }
    // The installation API keeps event and data for machines and adds code, params and the sentence.
    const api = async (path: string, lang: string) =>
      (await (
        await fetch(`${connector.url}/api/installations/${a.id}${path}`, { headers: { authorization: `Bearer ${a.token}`, 'accept-language': lang } })
      ).json()) as Record<string, { event?: string; code?: string; text?: string; data?: unknown; id?: string; triggerText?: string }[]>;
    const pl = (await api(`/logs?runId=${run.id}`, 'pl')).entries!.find((e) => e.event === 'run.started')!;
    expect(pl).toMatchObject({ code: 'log.run.started', data: { trigger: 'manual' }, text: 'Rozpoczęto przebieg (ręcznie („Uruchom teraz”)).' });
    const en = (await api(`/logs?runId=${run.id}`, 'en-GB')).entries!.find((e) => e.event === 'run.started')!;
    expect(en.text).toBe('Run started (manual ("Run now")).');
    expect((await api('/runs', 'pl')).runs!.find((r) => r.id === run.id)!.triggerText).toBe('ręcznie („Uruchom teraz”)');
  });

  it('a refused log filter answers in the page language, naming the field', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a, 'pl')).logsUrl);
    const bad = await pageApi(a, data.session, 'GET', '/logs?fromDate=2026-13-45');
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0]).toMatchObject({ field: 'fromDate', code: 'settings.date_format', message: 'Podaj datę w formacie RRRR-MM-DD.' });
  });

  it('filters the log by day in the installation time zone and refuses a reversed range naming the field', async () => {
    const a = installs[0]!;
    const { data } = await open((await links(a)).logsUrl);
    const today = DateTime.now().setZone('Europe/Warsaw').toISODate()!;
    const ok = await pageApi(a, data.session, 'GET', `/logs?fromDate=${today}&toDate=${today}&level=info`);
    expect(ok.status).toBe(200);
    const reversed = await pageApi(a, data.session, 'GET', `/logs?fromDate=${today}&toDate=2000-01-01`);
    expect(reversed.status).toBe(400);
    expect(reversed.body.error.field).toBe('fromDate');
    expect(reversed.body.error.fields[0]).toMatchObject({ code: 'validation.range_reversed', message: 'Początek zakresu jest późniejszy niż koniec.' });
    expect(data.invoiceLinkBase).toBe(`${sandbox.url}/odoo/action-account.action_move_out_invoice_type/`);
  });
});

describe('the settings page: schedule preview, DKIM record, the new log events', () => {
  it('answers the schedule preview of a business-day schedule as the installation API does, only with a page session', async () => {
    const a = await install(other);
    const put = await connector.api('PUT', `/api/installations/${a.id}/settings`, {
      token: a.token,
      // One slot a day (until = start), so the next run is at 07:30 whatever the time the test runs at.
      body: { schedule: { days: 'business_days', startAt: '07:30', until: '07:30' } },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const { data, html } = await open((await links(a, 'pl')).settingsUrl);
    expect(html).toContain('id="schedule-preview"');
    const page = await pageApi(a, data.session, 'GET', '/schedule');
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    const api = await connector.api('GET', `/api/installations/${a.id}/schedule`, { token: a.token });
    expect(page.body).toEqual(api.body);
    expect(page.body).toMatchObject({ days: 'business_days', local: { time: '07:30', timezone: 'Europe/Warsaw' } });
    expect(page.body.message.pl).toMatch(/^Następna wysyłka: \S+ \d{2}\.\d{2} 07:30/);
    expect(page.body.message.en).toMatch(/^Next run: \S+ \d{2}\.\d{2} 07:30/);
    // A business day: never a Saturday or Sunday in Warsaw.
    expect([6, 7]).not.toContain(DateTime.fromISO(page.body.nextRunAt).setZone('Europe/Warsaw').weekday);
    // Without a session, with the link token or with the installation's API token: refused.
    const url = `${connector.url}/ui/api/installations/${a.id}/schedule`;
    expect((await fetch(url)).status).toBe(401);
    expect((await pageApi(a, a.token, 'GET', '/schedule')).status).toBe(401);
    expect((await pageApi(a, new URL((await links(a)).settingsUrl).searchParams.get('t')!, 'GET', '/schedule')).status).toBe(401);
    expect((await pageApi(installs[0]!, data.session, 'GET', '/schedule')).status).toBe(401);
  });

  it('answers the managed accounts with the DKIM record to publish (never a password or key), only with a page session', async () => {
    const a = await install(other);
    const privateKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const created = await connector.api('POST', `/api/installations/${a.id}/managed/email-accounts`, {
      token: a.token,
      body: {
        name: 'Faktury (DKIM)',
        fromAddress: 'faktury@firma.example',
        smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none', user: 'u', password: 'smtp-secret' },
        dkim: { domain: 'firma.example', selector: 'courier', privateKey },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { data, html } = await open((await links(a, 'pl')).settingsUrl);
    expect(html).toContain('Rekord DNS do opublikowania');
    expect((await open((await links(a, 'en')).settingsUrl)).html).toContain('DNS record to publish');
    const page = await pageApi(a, data.session, 'GET', '/managed/email-accounts');
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    const account = page.body.accounts.find((x: { id: string }) => x.id === created.body.id);
    expect(account.dkim.dnsRecord).toEqual(created.body.dkim.dnsRecord);
    expect(account.dkim.dnsRecord).toMatchObject({ name: 'courier._domainkey.firma.example', type: 'TXT' });
    expect(account.dkim.dnsRecord.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
    const text = JSON.stringify(page.body);
    expect(text).not.toContain('smtp-secret');
    expect(text).not.toContain('PRIVATE KEY');
    expect((await fetch(`${connector.url}/ui/api/installations/${a.id}/managed/email-accounts`)).status).toBe(401);
    expect((await pageApi(a, a.token, 'GET', '/managed/email-accounts')).status).toBe(401);
    expect((await pageApi(installs[0]!, data.session, 'GET', '/managed/email-accounts')).status).toBe(401);
  });

  it('shows a failure digest and a bounce as sentences in the page language, and the Bounced filter keeps bounces only', async () => {
    const a = await install(other);
    const at = new Date().toISOString();
    const base = { installationId: a.id, runId: null, at, invoiceId: null, invoiceNumber: null, data: null };
    await connector.store.appendLogs([
      {
        ...base,
        level: 'info',
        event: 'run.digest_sent',
        message: 'Failure digest sent to szef@firma.example (2 invoice(s))',
        data: { to: 'szef@firma.example', invoices: 2 },
      },
      {
        ...base,
        level: 'warning',
        event: 'invoice.bounced',
        invoiceId: '41',
        invoiceNumber: 'FV/2026/00041',
        message: 'The message to nikt@klient.example bounced: 5.1.1 user unknown',
        data: { address: 'nikt@klient.example', status: '5.1.1', diagnostic: 'user unknown', messageId: '<x@y>' },
      },
      {
        ...base,
        level: 'info',
        event: 'invoice.sent',
        invoiceId: '42',
        invoiceNumber: 'FV/2026/00042',
        message: 'Sent to a@b.example',
        data: { to: ['a@b.example'] },
      },
    ]);
    const pl = await open((await links(a, 'pl')).logsUrl);
    expect(pl.html).toContain('value="event:invoice.bounced"');
    const all = await pageApi(a, pl.data.session, 'GET', '/logs');
    const digest = all.body.entries.find((e: { event: string }) => e.event === 'run.digest_sent');
    expect(digest).toMatchObject({ code: 'log.run.digest_sent', text: 'Wysłano zestawienie błędów na adres szef@firma.example (2 faktur).' });
    const bounced = await pageApi(a, pl.data.session, 'GET', '/logs?event=invoice.bounced');
    expect(bounced.body.entries.map((e: { event: string }) => e.event)).toEqual(['invoice.bounced']);
    expect(bounced.body.entries[0]).toMatchObject({
      code: 'log.invoice.bounced',
      invoiceNumber: 'FV/2026/00041',
      text: 'Wiadomość do nikt@klient.example wróciła jako niedoręczona (5.1.1): „user unknown”. Popraw adres u nabywcy i wyślij ponownie.',
    });
    const en = await open((await links(a, 'en')).logsUrl);
    expect(en.html).toMatch(/<option value="event:invoice.bounced">Bounced<\/option>/);
    const enBounced = await pageApi(a, en.data.session, 'GET', '/logs?event=invoice.bounced');
    expect(enBounced.body.entries[0].text).toBe(
      'The message to nikt@klient.example bounced (5.1.1): "user unknown". Correct the customer\'s address and re-send.',
    );
    const enAll = await pageApi(a, en.data.session, 'GET', '/logs');
    expect(enAll.body.entries.find((e: { event: string }) => e.event === 'run.digest_sent').text).toBe(
      'Failure digest sent to szef@firma.example (2 invoice(s)).',
    );
  });
});

describe('the sandbox Extensions screen', () => {
  it('lists the connector from its manifest, enables it through the install endpoint and embeds its pages', async () => {
    const list = await (await fetch(`${sandbox.url}/extensions`)).text();
    expect(list).toContain('Automatyczna wysyłka faktur e-mailem');
    expect(list).toContain('data-state="available"');
    const enable = await fetch(`${sandbox.url}/extensions/invoice-courier/enable`, { method: 'POST', redirect: 'manual' });
    expect(enable.status).toBe(303);
    const installed = sandbox.extensions!.installed()!;
    expect(installed.id).toMatch(/^[0-9a-f-]{36}$/);
    const page = await (await fetch(`${sandbox.url}/extensions?lang=en`)).text();
    expect(page).toContain('data-state="installed"');
    const frames = [...page.matchAll(/<iframe[^>]*src="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    expect(frames).toHaveLength(2);
    for (const src of frames) expect((await fetch(src)).status).toBe(200);
    const disable = await fetch(`${sandbox.url}/extensions/invoice-courier/disable`, { method: 'POST', redirect: 'manual' });
    expect(disable.status).toBe(303);
    const settings = await connector.api('GET', `/api/installations/${installed.id}/settings`, { token: installed.apiToken });
    expect(settings.body.enabled).toBe(false);
  });

  it('serves the invoice page the logs link to', async () => {
    const move = sandbox.records('account.move').find((m) => m['state'] === 'posted')!;
    const res = await fetch(`${sandbox.url}/odoo/action-account.action_move_out_invoice_type/${move['id']}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(String(move['name']));
  });
});

describe('operators: Agendash and /metrics behind ADMIN_TOKEN', () => {
  it('refuses without the token and serves with it (bearer, or Basic with the token as password)', async () => {
    expect((await fetch(`${connector.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${connector.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const dash = await fetch(`${connector.url}/operator/agenda/`);
    expect(dash.status).toBe(401);
    expect(dash.headers.get('www-authenticate')).toMatch(/^Basic/);
    const basic = `Basic ${Buffer.from(`ops:${ADMIN}`).toString('base64')}`;
    const page = await fetch(`${connector.url}/operator/agenda/`, { headers: { authorization: basic } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await fetch(`${connector.url}/operator/agenda/api/stats`, { headers: { authorization: basic } });
    expect(api.status).toBe(200);
  });

  it('counts runs, outcomes and durations from the pipeline and reports the queue', async () => {
    const a = installs[0]!;
    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${a.id}/runs`, { token: a.token })).status).toBe(202);
    const run = await connector.waitForRun(a.id, a.token, { trigger: 'manual', since });
    const res = await fetch(`${connector.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(new RegExp(`invoice_courier_runs_total\\{trigger="manual",status="${run.status}"\\} [1-9]`));
    expect(text).toMatch(/invoice_courier_run_duration_seconds_count\{trigger="manual"\} [1-9]/);
    expect(text).toContain('invoice_courier_invoice_outcomes_total{state="sent"}');
    expect(text).toContain('invoice_courier_queue_jobs');
  });
});

describe('without ADMIN_TOKEN', () => {
  it('the operator surface does not exist', async () => {
    const plain = await startTestConnector();
    try {
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${plain.url}/operator/agenda/`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

/**
 * Settings through the HTTP API, validated against the live sandbox host: every refusal is a 4xx naming
 * the field with a reason and saves nothing; the defaults of a new installation; the operator's
 * password is write-only, encrypted at rest (key rotation) and never in a response or a log line.
 *
 * The sandbox's users have their login as password, which would make "the password is not in the log"
 * meaningless. So the connector reaches the sandbox through a small HTTP relay that turns a
 * distinctive password into the real one on the way in: the connector only ever knows the
 * distinctive text, and the test can look for it everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { freshDatabase } from '../setup/db.ts';

/** What the connector is told; the relay turns it into the sandbox's real password "ksiegowa". */
const SECRET = `Tajne-Haslo-${randomBytes(6).toString('hex')}`;
const WRONG = `Zle-Haslo-${randomBytes(6).toString('hex')}`;
const OLD_KEY = `old:${randomBytes(32).toString('base64')}`;
const NEW_KEY = `new:${randomBytes(32).toString('base64')}`;
/** A fixed instant far ahead (so no scheduled run fires during this file): 12:00 UTC, already the next day in Kiritimati (UTC+14). */
const NOW = new Date('2030-01-01T12:00:00Z');

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let relay: http.Server;
let relayUrl: string;
let databaseUrl: string;
let connector: TestConnector;
let id: string;
let token: string;
const logLines: string[] = [];
const responses: string[] = [];

function startRelay(target: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8').replaceAll(JSON.stringify(SECRET), JSON.stringify('ksiegowa'));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      fetch(`${target}${req.url}`, {
        method: req.method!,
        headers,
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      })
        .then(async (r) => {
          const buf = Buffer.from(await r.arrayBuffer());
          const out: Record<string, string | string[]> = {};
          r.headers.forEach((v, k) => {
            if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
          });
          const cookies = r.headers.getSetCookie();
          if (cookies.length) out['set-cookie'] = cookies;
          res.writeHead(r.status, out).end(buf);
        })
        .catch((err: unknown) => res.writeHead(502).end(String(err)));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function api(method: string, path: string, body?: unknown, on: TestConnector = connector) {
  const res = await on.api(method, path, { token, ...(body !== undefined ? { body } : {}) });
  responses.push(JSON.stringify(res.body));
  return res;
}
const getSettings = () => api('GET', `/api/installations/${id}/settings`);
const put = (body: unknown, on?: TestConnector) => api('PUT', `/api/installations/${id}/settings`, body, on);

function idOf(model: string, name: string): string {
  const r = sandbox.records(model).find((x) => x['name'] === name);
  if (!r) throw new Error(`no ${model} named ${name}`);
  return String(r['id']);
}

/** PUT `body`; expect a 4xx naming `field` with a reason, and the stored settings (API and store) unchanged. */
async function expectRefused(body: unknown, field: string) {
  const before = await getSettings();
  const stored = await connector.store.getInstallation(id);
  const res = await put(body);
  expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const fields: { field: string; message: string }[] = res.body.error.fields ?? [{ field: res.body.error.field, message: res.body.error.message }];
  const named = fields.find((f) => f.field === field);
  expect(named, JSON.stringify(res.body)).toBeDefined();
  expect(named!.message.length).toBeGreaterThan(5);
  const after = await getSettings();
  expect(after.body).toEqual(before.body);
  const storedAfter = await connector.store.getInstallation(id);
  expect(storedAfter!.version).toBe(stored!.version);
  expect(storedAfter!.operatorSecret).toEqual(stored!.operatorSecret);
  return res;
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  relay = await startRelay(sandbox.url);
  relayUrl = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;
  databaseUrl = await freshDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  connector = await startTestConnector({ databaseUrl, env: { SECRET_KEYS: OLD_KEY }, logger: createLogger('trace', sink), clock: () => NOW });
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: relayUrl, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  id = res.body.id;
  token = res.body.apiToken;
});

afterAll(async () => {
  await connector?.close();
  await new Promise((r) => relay?.close(r));
  await sandbox?.stop();
  await smtp?.stop();
});

describe('settings of a new installation', () => {
  it("start with the issue's defaults: disabled, the host's invoice template, standard prints, send now, confirmed only, issue date, 08:00–16:00 every hour, Europe/Warsaw", async () => {
    const res = await getSettings();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      enabled: false,
      emailTemplate: idOf('mail.template', 'Faktura dla klienta'),
      emailAccount: idOf('ir.mail_server', 'Sandbox SMTP'),
      delivery: 'send_now',
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      fromDate: null,
      attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' },
      schedule: { startAt: '08:00', repeatEvery: '1h', until: '16:00' },
      timezone: 'Europe/Warsaw',
      operatorPassword: { set: true },
    });
  });
});

describe('settings are refused with the field and the reason, and nothing is saved', () => {
  it('refuses an operator who cannot log in with the given password', async () => {
    await expectRefused({ operator: 'ksiegowa', operatorPassword: WRONG }, 'operatorPassword');
  });

  it('refuses a changed operator without a password (the stored one belongs to the previous operator)', async () => {
    await expectRefused({ operator: 'ksiegowa' }, 'operatorPassword');
  });

  it('refuses an inactive e-mail account', async () => {
    await expectRefused({ emailAccount: idOf('ir.mail_server', 'Stary serwer (wyłączony)') }, 'emailAccount');
  });

  it('refuses an e-mail account the operator may not use (from_filter of another domain)', async () => {
    await expectRefused(
      { operator: 'ksiegowa', operatorPassword: SECRET, emailAccount: idOf('ir.mail_server', 'Serwer inny-dostawca.example') },
      'emailAccount',
    );
  });

  it('refuses an e-mail template that is not of the invoice form', async () => {
    await expectRefused({ emailTemplate: idOf('mail.template', 'Potwierdzenie zamówienia') }, 'emailTemplate');
  });

  it('refuses a user print id that does not exist on the host', async () => {
    await expectRefused({ attachments: { pln: 'user:99999' } }, 'attachments.pln');
    // The sale order report is a host print, but not of invoices.
    await expectRefused({ attachments: { foreign: `user:${idOf('ir.actions.report', 'Quotation / Order')}` } }, 'attachments.foreign');
  });

  it('refuses an unknown standard print', async () => {
    await expectRefused({ attachments: { pln: 'standard:no-such-layout' } }, 'attachments.pln');
  });

  it('refuses "until" earlier than "startAt"', async () => {
    await expectRefused({ schedule: { startAt: '10:00', until: '09:30' } }, 'schedule.until');
  });

  it('refuses an unknown time zone', async () => {
    await expectRefused({ timezone: 'Europe/Atlantis' }, 'timezone');
  });

  it('refuses a malformed time', async () => {
    await expectRefused({ schedule: { startAt: '8:00' } }, 'schedule.startAt');
    await expectRefused({ schedule: { until: '24:00' } }, 'schedule.until');
  });

  it('refuses an impossible or malformed date', async () => {
    await expectRefused({ fromDate: '2026-02-30' }, 'fromDate');
    await expectRefused({ fromDate: '30.01.2026' }, 'fromDate');
  });

  it('refuses "save to Drafts" with an account without IMAP', async () => {
    await expectRefused({ delivery: 'save_draft' }, 'delivery');
  });

  it('refuses the whole change when one part is wrong, even if the rest is fine', async () => {
    await expectRefused({ documents: 'all', dateBasis: 'sale_date', timezone: 'Mars/Olympus' }, 'timezone');
  });

  it('names every problem at once: schema (time, unknown field), rules (impossible day) and host (Drafts without IMAP), each with its code', async () => {
    const res = await expectRefused(
      { schedule: { startAt: '8:00' }, fromDate: '2026-02-30', delivery: 'save_draft', colour: 'red', documents: 'all' },
      'schedule.startAt',
    );
    expect(res.status).toBe(400);
    const codes = Object.fromEntries((res.body.error.fields as { field: string; code: string }[]).map((f) => [f.field, f.code]));
    expect(codes).toEqual({
      'schedule.startAt': 'settings.time_format',
      colour: 'validation.unknown_field',
      fromDate: 'settings.date_invalid',
      delivery: 'settings.drafts_need_imap',
    });
  });

  it('a body the schema cannot salvage (not an object) is refused as before', async () => {
    const res = await put([1, 2]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation');
  });
});

describe('the operator password is write-only', () => {
  it('is accepted for a new operator, answered only as {set:true}, and stored encrypted under the current key', async () => {
    const res = await put({ operator: 'ksiegowa', operatorPassword: SECRET });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.operator).toBe('ksiegowa');
    expect(res.body.operatorPassword).toEqual({ set: true });
    const raw = await connector.store.getInstallation(id);
    expect(raw!.operatorSecret!.keyId).toBe('old');
    expect(JSON.stringify(raw)).not.toContain(SECRET);
  });

  it('is kept when other settings change', async () => {
    const res = await put({ documents: 'all', schedule: { repeatEvery: '2h' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.operatorPassword).toEqual({ set: true });
    // The host is asked again as the operator (a template change needs it): the kept password still logs in.
    const again = await put({ emailTemplate: idOf('mail.template', 'Faktura korygująca dla klienta') });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const back = await put({ emailTemplate: idOf('mail.template', 'Faktura dla klienta'), documents: 'confirmed_only', schedule: { repeatEvery: '1h' } });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
  });

  it('sets fromDate to today in the installation\'s zone when "enabled" turns on without one', async () => {
    const res = await put({ enabled: true, timezone: 'Pacific/Kiritimati' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.enabled).toBe(true);
    expect(res.body.fromDate).toBe(DateTime.fromJSDate(NOW, { zone: 'Pacific/Kiritimati' }).toISODate());
    expect(res.body.fromDate).toBe('2030-01-02');
    const off = await put({ enabled: false, timezone: 'Europe/Warsaw' });
    expect(off.status).toBe(200);
    expect(off.body.fromDate).toBe('2030-01-02');
  });

  it('never appears in any response or any log line of the connector', async () => {
    // The buffer really holds the connector's log, requests included.
    expect(logLines.some((l) => l.includes(`/api/installations/${id}/settings`))).toBe(true);
    for (const text of [...responses, ...logLines]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(WRONG);
    }
    // and the options and the docs do not carry it either
    for (const list of ['operators', 'email-accounts', 'templates', 'prints']) {
      const res = await api('GET', `/api/installations/${id}/options/${list}`);
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
    }
  });

  it('is read by a connector whose SECRET_KEYS put a new key first (rotation), which re-encrypts under the new key', async () => {
    const rotated = await startTestConnector({ databaseUrl, env: { SECRET_KEYS: `${NEW_KEY},${OLD_KEY}` }, clock: () => NOW });
    try {
      // Needs the stored password: the host is asked as the operator.
      const res = await put({ emailTemplate: idOf('mail.template', 'Faktura korygująca dla klienta') }, rotated);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await connector.store.getInstallation(id))!.operatorSecret!.keyId).toBe('old');
      const again = await put({ emailTemplate: idOf('mail.template', 'Faktura dla klienta'), operatorPassword: SECRET }, rotated);
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      const raw = await rotated.store.getInstallation(id);
      expect(raw!.operatorSecret!.keyId).toBe('new');
      expect(JSON.stringify(raw)).not.toContain(SECRET);
      // The new key decrypts it: the host accepts the stored password.
      const check = await put({ attachments: { pln: 'none' } }, rotated);
      expect(check.status, JSON.stringify(check.body)).toBe(200);
    } finally {
      await rotated.close();
    }
  });
});

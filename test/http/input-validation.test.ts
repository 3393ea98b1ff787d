/**
 * Bad input at the HTTP surface answers 4xx JSON with a stable code naming the field, never a 5xx:
 * malformed and oversize bodies, NUL characters (PostgreSQL text cannot hold them), time ranges.
 * The app through `app.inject` (build.ts: real PostgreSQL store and services), installed against the
 * sandbox host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Built } from './build.ts';

let b: Built;
let id: string;
let token: string;

beforeAll(async () => {
  b = await build(null, { sandbox: true });
  ({ id, token } = await b.install());
});

afterAll(async () => b?.close());

/** A request with a raw body text (the test helper's call() always sends valid JSON). */
async function raw(method: string, path: string, options: { body?: string; contentType?: string } = {}): Promise<{ status: number; body: any }> {
  const res = await b.app.inject({
    method: method as never,
    url: path,
    headers: { authorization: `Bearer ${token}`, ...(options.contentType ? { 'content-type': options.contentType } : {}) },
    ...(options.body !== undefined ? { payload: options.body } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}

describe('bodies that are not JSON objects', () => {
  it('malformed JSON, an empty JSON body and an oversize body answer code "validation" naming the body', async () => {
    const settings = `/api/installations/${id}/settings`;
    const cases = [
      { body: '{"enabled": tru', status: 400 },
      { body: '', status: 400 },
      { body: JSON.stringify({ timezone: 'x'.repeat(2 * 1024 * 1024) }), status: 413 },
    ];
    for (const c of cases) {
      const res = await raw('PUT', settings, { body: c.body, contentType: 'application/json' });
      expect(res.status, c.body.slice(0, 20)).toBe(c.status);
      expect(res.body.error).toMatchObject({ code: 'validation', field: 'body' });
    }
    const xml = await raw('PUT', settings, { body: '<settings/>', contentType: 'application/xml' });
    expect(xml.status).toBe(415);
    expect(xml.body.error).toMatchObject({ code: 'validation', field: 'content-type' });
  });
});

/** The shape every 4xx body has: `{error: {code, message, field}}`, all three strings. */
function expectErrorBody(body: any, code: string, field: string): void {
  expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String), field }) });
}

describe("Fastify's own 4xx answers have the same body as ours", () => {
  it('a URL that cannot be decoded (FST_ERR_BAD_URL): 400 naming the url', async () => {
    const res = await raw('GET', `/api/installations/${id}/invoices/%E0%A4%A/preview`);
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'bad_url', 'url');
  });

  it('a path parameter longer than the router takes: 414 naming the url', async () => {
    const res = await raw('POST', `/api/installations/${id}/invoices/${'9'.repeat(500)}/resend`);
    expect(res.status).toBe(414);
    expectErrorBody(res.body, 'uri_too_long', 'url');
  });

  it('bad JSON, an empty JSON body and a wrong content type name the body or the content type', async () => {
    const settings = `/api/installations/${id}/settings`;
    expectErrorBody((await raw('PUT', settings, { body: '{"enabled": tru', contentType: 'application/json' })).body, 'validation', 'body');
    expectErrorBody((await raw('PUT', settings, { body: '', contentType: 'application/json' })).body, 'validation', 'body');
    const form = await raw('PUT', settings, { body: 'enabled=true', contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expectErrorBody(form.body, 'validation', 'content-type');
    // Plain text is parsed as a string, which the body schema refuses.
    const text = await raw('PUT', settings, { body: 'enabled=true', contentType: 'text/plain' });
    expect(text.status).toBe(400);
    expectErrorBody(text.body, 'validation', 'body');
  });

  it('a route that does not exist: 404 naming the url (a signed token in it not echoed)', async () => {
    const res = await raw('GET', '/api/nothing-here?t=secret-token');
    expect(res.status).toBe(404);
    expectErrorBody(res.body, 'not_found', 'url');
    expect(JSON.stringify(res.body)).not.toContain('secret-token');
    const method = await raw('PATCH', `/api/installations/${id}/settings`);
    expect(method.status).toBe(404);
    expectErrorBody(method.body, 'not_found', 'url');
  });
});

describe('NUL characters (which PostgreSQL text cannot store)', () => {
  it('in a query parameter: 400 naming the parameter', async () => {
    for (const param of ['event', 'invoiceNumber', 'runId']) {
      const res = await raw('GET', `/api/installations/${id}/logs?${param}=a%00b`);
      expect(res.status, param).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation', field: param });
    }
  });

  it('in a path parameter: 400 naming the parameter', async () => {
    const cases = [
      { method: 'POST', path: `/api/installations/${id}/invoices/1%00/resend`, field: 'invoiceId' },
      { method: 'GET', path: `/api/installations/${id}/managed/email-accounts/managed:%00`, field: 'accountId' },
      { method: 'DELETE', path: `/api/installations/${id}/managed/templates/%00`, field: 'templateId' },
    ];
    for (const c of cases) {
      const res = await raw(c.method, c.path);
      expect(res.status, c.path).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation', field: c.field });
    }
  });

  it('in a body field: 400 naming the field, nothing saved', async () => {
    const account = await raw('POST', `/api/installations/${id}/managed/email-accounts`, {
      body: JSON.stringify({ name: 'Biuro\u0000', fromAddress: 'biuro@example.pl', smtp: { host: 'smtp.example.pl' } }),
      contentType: 'application/json',
    });
    expect(account.status).toBe(400);
    expect(account.body.error).toMatchObject({ code: 'validation', field: 'name' });
    const template = await raw('POST', `/api/installations/${id}/managed/templates`, {
      body: JSON.stringify({ name: 'T', subject: { pl: 'Faktura\u0000' }, html: { pl: '<p>x</p>' } }),
      contentType: 'application/json',
    });
    expect(template.status).toBe(400);
    expect(template.body.error).toMatchObject({ code: 'validation', field: 'subject.pl' });
    expect((await b.call('GET', `/api/installations/${id}/managed/email-accounts`, { token })).body.accounts).toEqual([]);
    expect((await b.call('GET', `/api/installations/${id}/managed/templates`, { token })).body.templates).toEqual([]);
  });
});

describe('log time range', () => {
  it('compares "from" and "to" as instants, whatever their UTC offsets', async () => {
    // 12:00+05:00 is 07:00Z, an hour before 08:00Z.
    const res = await raw('GET', `/api/installations/${id}/logs?from=${encodeURIComponent('2024-01-01T12:00:00+05:00')}&to=2024-01-01T08:00:00Z`);
    expect(res.status).toBe(200);
    expect(res.body.entries).toEqual([]);
  });

  it('an instant the database cannot hold (year 0) or a leap second is a 400 naming the field', async () => {
    for (const [param, value] of [
      ['from', '0000-01-01T00:00:00Z'],
      ['to', '0000-12-31T23:59:59Z'],
      ['from', '2016-12-31T23:59:60Z'],
    ] as const) {
      const res = await raw('GET', `/api/installations/${id}/logs?${param}=${encodeURIComponent(value)}`);
      expect(res.status, `${param}=${value}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation', field: param });
    }
  });
});

describe("an error body's message is what a host can show a person as it is", () => {
  it("names each refused setting by its label in the caller's language, never by its internal path", async () => {
    const body = { schedule: { startAt: '25:00' }, attachments: { foreign: '' }, timezone: 'Mars/Olympus' };
    const pl = await b.call('PUT', `/api/installations/${id}/settings`, { token, body, headers: { 'accept-language': 'pl' } });
    expect(pl.status).toBe(400);
    expect(pl.body.error.fields.map((f: { field: string }) => f.field).sort()).toEqual(['attachments.foreign', 'schedule.startAt', 'timezone']);
    const message: string = pl.body.error.message;
    expect(message).toContain('Uruchom wysyłkę o godzinie: Podaj godzinę w formacie GG:MM (00:00–23:59).');
    expect(message).toContain('Wydruk faktury w walucie obcej: ');
    expect(message).toContain('Strefa czasowa: ');
    expect(message).not.toMatch(/schedule\.startAt|attachments\.foreign|timezone:|\.;/);
    const en = await b.call('PUT', `/api/installations/${id}/settings`, { token, body, headers: { 'accept-language': 'en' } });
    expect(en.body.error.message).toContain('Start sending at: Enter a time as HH:MM (00:00–23:59).');
    expect(en.body.error.message).toContain('Print for foreign-currency invoices: ');
    // The field itself stays the machine's path.
    expect(en.body.error.field).toBe(pl.body.error.field);
  });

  it("does not call another route's field by a setting's label when it only shares the setting's name", async () => {
    const res = await b.call('GET', `/api/installations/${id}/logs?fromDate=abc`, { token, headers: { 'accept-language': 'pl' } });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('fromDate');
    // the log filter's day is not the setting "Od daty"
    expect(res.body.error.message).not.toContain('Od daty');
  });
});

describe('a day that does not exist', () => {
  it('a log filter day written as a date but not in the calendar (2026-02-31) is refused as no such day, quoting it', async () => {
    const res = await b.call('GET', `/api/installations/${id}/logs?fromDate=2026-02-31`, { token, headers: { 'accept-language': 'pl' } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0]).toMatchObject({ field: 'fromDate', code: 'settings.date_invalid', params: { value: '2026-02-31' } });
    expect(res.body.error.fields[0].message).toBe('Taki dzień nie istnieje w kalendarzu: 2026-02-31.');
    const malformed = await b.call('GET', `/api/installations/${id}/logs?fromDate=31.02.2026`, { token, headers: { 'accept-language': 'pl' } });
    expect(malformed.body.error.fields[0]).toMatchObject({ field: 'fromDate', code: 'settings.date_format' });
  });
});

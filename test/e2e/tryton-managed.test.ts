/**
 * Connector-managed e-mail accounts and templates through the API (docs/design.md §6), with a real Tryton (which
 * has neither), a real SMTP server and the whole connector: write-only passwords, validation naming the
 * field, merges, refusals while the settings use a record, a stored template rendered in a run in the
 * customer's language. Also: an Odoo-style host (the sandbox) offers managed accounts after its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTryton, trytonInstalled, TRYTON_INSTALL, type RunningTryton } from '../support/tryton.ts';

if (!trytonInstalled()) console.warn(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`);

describe.skipIf(!trytonInstalled())('connector-managed accounts and templates', () => {
  let t: RunningTryton;
  let smtp: TestSmtpServer;
  let sandbox: SandboxHost;
  let connector: TestConnector;
  let id: string;
  let token: string;
  let accountId: string;
  let templateId: string;
  const managed = (path = '') => `/api/installations/${id}/managed${path}`;

  beforeAll(async () => {
    [t, smtp, connector] = await Promise.all([startTryton().then((x) => x!), startTestSmtpServer(), startTestConnector()]);
    sandbox = await startSandboxHost({ host: '127.0.0.1', port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'tryton', hostUrl: t.url, database: t.database, integration: { login: t.admin.login, secret: t.admin.password } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    id = res.body.id;
    token = res.body.apiToken;
  }, 240_000);

  afterAll(async () => {
    await connector?.close();
    await sandbox?.stop();
    await smtp?.stop();
    await t?.stop();
  });

  it('refuses bad accounts with 400s naming each field', async () => {
    const cases: [unknown, string][] = [
      [{ fromAddress: 'a@b.example', smtp: { host: 'x' } }, 'name'],
      [{ name: 'A', smtp: { host: 'x' } }, 'fromAddress'],
      [{ name: 'A', fromAddress: 'a@b.example', smtp: { host: 'bad host!' } }, 'smtp.host'],
      [{ name: 'A', fromAddress: 'a@b.example', smtp: { host: 'x', port: 70000 } }, 'smtp.port'],
      [{ name: 'A', fromAddress: 'a@b.example', smtp: { host: 'x', tls: 'ssl' } }, 'smtp.tls'],
      [{ name: 'A', fromAddress: 'a@b.example', smtp: { host: 'x' }, imap: { host: 'imap.b.example', user: 'u' } }, 'imap.password'],
      [{ name: 'A', fromAddress: 'a@b.example', smtp: { host: 'x' }, colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await connector.api('POST', managed('/email-accounts'), { token, body });
      expect(res.status, `${field}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect((await connector.api('GET', managed('/email-accounts'), { token })).body.accounts).toEqual([]);
  });

  it('keeps passwords write-only: {set}, kept when left out, encrypted at rest', async () => {
    const created = await connector.api('POST', managed('/email-accounts'), {
      token,
      body: {
        name: 'Faktury',
        fromAddress: 'faktury@spike.example',
        smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none' },
        imap: { host: 'imap.spike.example', user: 'faktury', password: 'imap-secret-9' },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    accountId = created.body.id;
    expect(created.body.imap).toEqual({ host: 'imap.spike.example', port: 993, tls: 'tls', user: 'faktury', password: { set: true } });
    expect(created.body.smtp.password).toEqual({ set: false });

    const renamed = await connector.api('PUT', managed(`/email-accounts/${encodeURIComponent(accountId)}`), { token, body: { name: 'Faktury sprzedaży' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Faktury sprzedaży', imap: { password: { set: true } } });
    const stored = await connector.store.getManaged(id, 'email_account', accountId);
    expect(JSON.stringify(stored)).not.toContain('imap-secret-9');
    expect(JSON.stringify((await connector.api('GET', managed('/email-accounts'), { token })).body)).not.toContain('imap-secret-9');

    const noImap = await connector.api('PUT', managed(`/email-accounts/${encodeURIComponent(accountId)}`), { token, body: { imap: null } });
    expect(noImap.body.imap).toBeNull();
    expect((await connector.api('GET', managed('/email-accounts/managed:nope'), { token })).status).toBe(404);
  });

  it('refuses a template with an unknown placeholder, naming the field and the placeholder', async () => {
    const res = await connector.api('POST', managed('/templates'), {
      token,
      body: { name: 'Zły', subject: { pl: 'Faktura {{ invoice.number }}' }, html: { pl: '<p>{{ invoice.secret }}</p>' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('html.pl');
    expect(res.body.error.message).toContain('invoice.secret');
    const half = await connector.api('POST', managed('/templates'), { token, body: { name: 'Pół', subject: { pl: 'a', en: 'b' }, html: { pl: 'c' } } });
    expect(half.status).toBe(400);
    expect(half.body.error.field).toBe('html.en');
    const placeholders = await connector.api('GET', managed('/placeholders'), { token });
    expect(placeholders.body.placeholders.map((p: { name: string }) => p.name)).toContain('invoice.number');
  });

  it('renders a stored template in a run, in Polish or English by customer, and offers it in the option list', async () => {
    const created = await connector.api('POST', managed('/templates'), {
      token,
      body: {
        name: 'Faktura z przypomnieniem',
        subject: { pl: 'Nowa faktura {{ invoice.number }} na {{ invoice.total }}', en: 'New invoice {{ invoice.number }}: {{ invoice.total }}' },
        html: { pl: '<p>Dla {{ customer.name }}: termin {{ invoice.dueDate }}</p>', en: '<p>For {{ customer.name }}, due {{ invoice.dueDate }}</p>' },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    templateId = created.body.id;
    expect(templateId).toMatch(/^connector:managed:[0-9a-f-]{36}$/);
    const templates = await connector.api('GET', `/api/installations/${id}/options/templates`, { token });
    expect(templates.body.options.map((o: { value: string }) => o.value)).toEqual([templateId, 'connector:invoice']);

    const saved = await connector.api('PUT', `/api/installations/${id}/settings`, {
      token,
      body: {
        operator: t.ksiegowa.login,
        operatorPassword: t.ksiegowa.password,
        emailAccount: accountId,
        emailTemplate: templateId,
        fromDate: t.seed.invoices.posted_pln.date,
        attachments: { pln: 'none', foreign: 'none' },
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const since = Date.now();
    await connector.api('POST', `/api/installations/${id}/runs`, { token });
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(0);
    const byInvoice = (invoiceId: number) => smtp.messages.find((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === invoiceId)!;
    const pl = byInvoice(t.seed.invoices.posted_pln.id);
    expect(pl.parsed.subject!.replace(/[\u00a0\u202f]/g, ' ')).toBe(`Nowa faktura ${t.seed.invoices.posted_pln.number} na 1 895,00 PLN`);
    expect(pl.parsed.html).toContain('Dla ACME Customer S.A.: termin');
    const en = byInvoice(t.seed.invoices.posted_eur.id);
    expect(en.parsed.subject).toMatch(new RegExp(`^New invoice ${t.seed.invoices.posted_eur.number!.replace(/\//g, '\\/')}: `));
    expect(en.parsed.html).toContain('For Müller GmbH, due');
    expect(pl.parsed.attachments).toHaveLength(0);
  }, 180_000);

  it('refuses to delete or deactivate what the settings use (409 naming the field); deletes the rest', async () => {
    const del = await connector.api('DELETE', managed(`/templates/${encodeURIComponent(templateId)}`), { token });
    expect(del.status).toBe(409);
    expect(del.body.error.field).toBe('emailTemplate');
    const off = await connector.api('PUT', managed(`/email-accounts/${encodeURIComponent(accountId)}`), { token, body: { active: false } });
    expect(off.status).toBe(409);
    expect(off.body.error.field).toBe('emailAccount');
    const other = await connector.api('POST', managed('/email-accounts'), {
      token,
      body: { name: 'Zapas', fromAddress: 'zapas@spike.example', smtp: { host: 'smtp.spike.example' } },
    });
    expect((await connector.api('DELETE', managed(`/email-accounts/${encodeURIComponent(other.body.id)}`), { token })).status).toBe(204);
    expect((await connector.api('GET', managed('/email-accounts'), { token })).body.accounts.map((a: { id: string }) => a.id)).toEqual([accountId]);
  });

  it('answers only the installation’s own token', async () => {
    expect((await connector.api('GET', managed('/email-accounts'))).status).toBe(401);
    const other = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
    });
    const res = await connector.api('GET', managed('/email-accounts'), { token: other.body.apiToken });
    expect(res.status).toBe(403);
  });

  it('an Odoo-style host offers the managed accounts after its own, and a run may use one', async () => {
    const inst = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
    });
    const sid = inst.body.id;
    const stoken = inst.body.apiToken;
    const acc = await connector.api('POST', `/api/installations/${sid}/managed/email-accounts`, {
      token: stoken,
      body: { name: 'Konto konektora', fromAddress: 'faktury@firma.example.pl', smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none' } },
    });
    expect(acc.status).toBe(201);
    const options = await connector.api('GET', `/api/installations/${sid}/options/email-accounts?operator=admin`, { token: stoken });
    const values = options.body.options.map((o: { value: string }) => o.value);
    expect(values.length).toBeGreaterThan(1);
    expect(values[values.length - 1]).toBe(acc.body.id);
    const saved = await connector.api('PUT', `/api/installations/${sid}/settings`, {
      token: stoken,
      body: { emailAccount: acc.body.id, fromDate: DateTime.now().minus({ days: 30 }).toISODate() },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const before = smtp.messages.length;
    const since = Date.now();
    await connector.api('POST', `/api/installations/${sid}/runs`, { token: stoken });
    const run = await connector.waitForRun(sid, stoken, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(0);
    const sent = smtp.messages.slice(before);
    expect(sent).toHaveLength(run.counts.sent);
    for (const m of sent) expect(m.envelope.from).toBe('faktury@firma.example.pl');
  }, 180_000);
});

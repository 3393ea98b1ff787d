/**
 * End-to-end against the sandbox answering like real Odoo 17.0 (database default pl_PL) and 18.0 (en_US):
 * the non-admin Polish billing user `ksiegowa` as operator, `admin` as integration user, a real SMTP
 * server and the connector composed as main.ts does, driven over its HTTP API. Each case checks what
 * the customer receives and what the host shows afterwards (is_move_sent, chatter notes, ir.logging,
 * ir.ui.menu). One connector and SMTP server per version; one sandbox per version, with only the
 * invoices a case is about made due there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxHost, SANDBOX_USERS, type SandboxHost } from '../../sandbox/host/index.ts';
import { formatAmount } from '../../src/render/money.ts';
import { startTestSmtpServer, type ReceivedMessage, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { rpcProxy, type RpcProxy } from '../support/rpc-proxy.ts';
import { pdfText, squash } from '../render/pdf-tools.ts';
import { dueOnly, fromDate, m2o, messageFor, pick, type Inst, type Move, type Rec, type World } from './prints-world.ts';

describe.each(['17.0', '18.0'] as const)('Odoo %s', (version) => {
  let smtp: TestSmtpServer;
  let sandbox: SandboxHost;
  let connector: TestConnector;
  let w: World;
  /** The connector's clock runs ahead by this much (a retry's backoff passing); only ever increased. */
  let clockOffsetMs = 0;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    sandbox = await startSandboxHost({ version, smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: 80 });
    connector = await startTestConnector({ pipeline: { retryDelayMs: 20, pageSize: 5 }, clock: () => new Date(Date.now() + clockOffsetMs) });
    w = { smtp, sandbox, connector, close: async () => {} };
  }, 120_000);

  afterAll(async () => {
    await connector?.close();
    await sandbox?.stop();
    await smtp?.stop();
  });

  const api = (method: string, path: string, inst?: Inst, body?: unknown) =>
    connector.api(method, path, { ...(inst ? { token: inst.token } : {}), ...(body !== undefined ? { body } : {}) });

  /** Install with `admin` as integration (hostKind odoo), then the settings as ksiegowa (or `operator`). */
  async function install(settings: Rec, opts: { hostUrl?: string; operator?: string; operatorPassword?: string } = {}): Promise<Inst> {
    const res = await api('POST', '/api/installations', undefined, {
      hostKind: 'odoo',
      hostUrl: opts.hostUrl ?? sandbox.url,
      database: sandbox.database,
      integration: { login: 'admin', secret: 'admin' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const inst = { id: res.body.id as string, token: res.body.apiToken as string };
    const operator = opts.operator ?? 'ksiegowa';
    const accounts = await api('GET', `/api/installations/${inst.id}/options/email-accounts?operator=${operator}`, inst);
    const account = (accounts.body.options as { value: string; label: string }[]).find((o) => o.label === 'Sandbox SMTP');
    expect(account, JSON.stringify(accounts.body)).toBeDefined();
    const saved = await api('PUT', `/api/installations/${inst.id}/settings`, inst, {
      operator,
      operatorPassword: opts.operatorPassword ?? operator,
      emailAccount: account!.value,
      delivery: 'send_now',
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      fromDate,
      ...settings,
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    return inst;
  }

  async function runNow(inst: Inst): Promise<{ run: any; messages: ReceivedMessage[] }> {
    const since = Date.now() + clockOffsetMs; // the connector's clock
    const res = await api('POST', `/api/installations/${inst.id}/runs`, inst);
    expect(res.status).toBe(202);
    const finished = await connector.waitForRun(inst.id, inst.token, { trigger: 'manual', since, timeoutMs: 90_000 });
    expect(finished.status, JSON.stringify(finished)).toBe('completed');
    return { run: finished, messages: smtp.messages.filter((m) => m.parsed.headers.get('x-invoice-courier-installation') === inst.id) };
  }

  async function run(inst: Inst, due: number[]) {
    dueOnly(w, due);
    return runNow(inst);
  }

  const move = (id: number): Rec => sandbox.records('account.move').find((m) => m['id'] === id)!;
  const notesOf = (id: number): Rec[] => sandbox.records('mail.message').filter((n) => n['model'] === 'account.move' && n['res_id'] === id);
  const userReport = (): Rec => sandbox.records('ir.actions.report').find((r) => r['report_name'] === 'account.report_invoice_with_payments')!;
  const plnInvoice = (skip: number[] = []): Move =>
    pick(w, 'PLN invoice of a Polish customer', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && m.lang === 'pl_PL', skip);
  const foreignInvoice = (): Move => pick(w, 'EUR invoice with VAT', (m) => m.type === 'out_invoice' && m.currency === 'EUR' && m.amountTax > 0);

  function expectPdf(m: ReceivedMessage): Buffer {
    expect(m.parsed.attachments).toHaveLength(1);
    const pdf = m.parsed.attachments[0]!.content;
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    return pdf;
  }

  /** The run sent the invoice: the host has it marked sent and a note about it in its chatter. */
  function expectHostShowsSent(id: number, notesBefore: number): void {
    expect(move(id)['is_move_sent']).toBe(true);
    expect(notesOf(id).length).toBeGreaterThan(notesBefore);
  }

  it("Odoo's own invoice template (the first option the non-admin operator sees) is rendered by the host in the customer's language", async () => {
    const pl = plnInvoice();
    const inst = await install({ attachments: { pln: 'none', foreign: 'none' } });
    const templates = await api('GET', `/api/installations/${inst.id}/options/templates`, inst);
    expect(templates.status, JSON.stringify(templates.body)).toBe(200);
    const first = (templates.body.options as { value: string }[])[0]!;
    const hostTemplate = sandbox.records('mail.template').find((t) => String(t['id']) === first.value);
    expect(hostTemplate?.['name'], JSON.stringify(templates.body)).toBe('Faktura dla klienta');
    expect((await api('PUT', `/api/installations/${inst.id}/settings`, inst, { emailTemplate: first.value })).status).toBe(200);
    const notesBefore = notesOf(pl.id).length;

    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const msg = messageFor(messages, pl);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o. Faktura (nr ${pl.name})`);
    expect(msg.parsed.html).toContain('Dzień dobry');
    expect(msg.parsed.html).toContain(`<strong>${pl.name}</strong>`);
    expect(msg.envelope.to.map((a) => a.toLowerCase())).toEqual([pl.email!.toLowerCase()]);
    expectHostShowsSent(pl.id, notesBefore);
  });

  it("Odoo's own PDF (user print) arrives as a PDF although /report redirects the Polish operator to /pl/…", async () => {
    const report = userReport();
    const pl = pick(w, 'PLN invoice without a stored PDF', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && !m.storedPdf);
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: `user:${String(report['id'])}`, foreign: 'none' } });
    const prints = await api('GET', `/api/installations/${inst.id}/options/prints`, inst);
    expect((prints.body.options as { value: string }[]).map((o) => o.value)).toContain(`user:${String(report['id'])}`);
    // The premise: for the Polish operator this host's /report answers 303 → /pl/… on 18 (default en_US), 200 on 17 (default pl_PL).
    const login = await fetch(`${sandbox.url}/web/session/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 1, params: { db: sandbox.database, login: 'ksiegowa', password: 'ksiegowa' } }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const direct = await fetch(`${sandbox.url}/report/pdf/${String(report['report_name'])}/${String(pl.id)}`, { headers: { cookie }, redirect: 'manual' });
    await direct.arrayBuffer();
    if (version === '18.0')
      expect([direct.status, direct.headers.get('location')]).toEqual([303, `/pl/report/pdf/${String(report['report_name'])}/${String(pl.id)}`]);
    else expect(direct.status).toBe(200);
    const notesBefore = notesOf(pl.id).length;

    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent, JSON.stringify(r)).toBe(1);
    const text = squash(await pdfText(expectPdf(messageFor(messages, pl))));
    expect(text).toContain(`Faktura VAT ${pl.name}`);
    expect(text).not.toContain('Strona'); // the host's report, not our standard print
    expectHostShowsSent(pl.id, notesBefore);
  });

  it('the connector\'s template "connector:invoice" with a standard print', async () => {
    const pl = plnInvoice();
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const notesBefore = notesOf(pl.id).length;
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const msg = messageFor(messages, pl);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o.: faktura ${pl.name}`);
    expect(msg.parsed.html).toContain('w załączniku przesyłamy fakturę');
    const text = squash(await pdfText(expectPdf(msg)));
    expect(text).toContain(pl.name);
    expect(text).toContain('Podsumowanie VAT według stawek'); // our standard print
    expectHostShowsSent(pl.id, notesBefore);
  });

  it.skipIf(version === '17.0')("an operator whose secret is an API key sends with Odoo's own print (fetched with the integration credential)", async () => {
    const report = userReport();
    const pl = pick(w, 'PLN invoice without a stored PDF', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && !m.storedPdf);
    const inst = await install({ attachments: { pln: `user:${String(report['id'])}`, foreign: 'none' } }, { operatorPassword: SANDBOX_USERS.ksiegowa.apiKey });
    const notesBefore = notesOf(pl.id).length;
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent, JSON.stringify(r)).toBe(1);
    const msg = messageFor(messages, pl);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o. Faktura (nr ${pl.name})`);
    expect(squash(await pdfText(expectPdf(msg)))).toContain(`Faktura VAT ${pl.name}`);
    expectHostShowsSent(pl.id, notesBefore);
  });

  it('a non-admin integration user is refused at install with 422 naming the missing rights, and nothing is stored', async () => {
    const before = (await connector.store.listInstallations()).length;
    const menusBefore = sandbox.records('ir.ui.menu').length;
    const actionsBefore = sandbox.records('ir.actions.act_url').length;
    const res = await api('POST', '/api/installations', undefined, {
      hostKind: 'odoo',
      hostUrl: sandbox.url,
      database: sandbox.database,
      integration: { login: 'ksiegowa', secret: 'ksiegowa' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.code).toBeTypeOf('string');
    const fields = res.body.error.fields as unknown[];
    expect(Array.isArray(fields) && fields.length > 0, JSON.stringify(res.body)).toBe(true);
    const missing = (fields as { code: string; field: string; params: { model: string; access: string; login: string } }[]).map((f) => ({
      code: f.code,
      field: f.field,
      ...f.params,
    }));
    // ksiegowa is a billing user: the admin-only models the connector reads as integration are named
    expect(missing).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'install.missing_right', field: 'integration.login', login: 'ksiegowa', model: 'ir.mail_server', access: 'read' }),
        expect.objectContaining({ code: 'install.missing_right', field: 'integration.login', login: 'ksiegowa', model: 'ir.model.data', access: 'read' }),
      ]),
    );
    for (const f of missing) expect(res.body.error.message).toContain(f.model);
    expect((await connector.store.listInstallations()).length).toBe(before);
    expect(sandbox.records('ir.actions.act_url').length).toBe(actionsBefore);
    expect(sandbox.records('ir.ui.menu').length).toBe(menusBefore);
  });

  it("a foreign-currency invoice's standard print shows the VAT in PLN the invoice booked (amount_tax_signed)", async () => {
    const eur = foreignInvoice();
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [eur.id]);
    expect(r.counts.sent).toBe(1);
    const text = squash(await pdfText(expectPdf(messageFor(messages, eur))));
    const booked = Math.round(Math.abs(Number(move(eur.id)['amount_tax_signed'])) * 100);
    expect(booked).toBeGreaterThan(0);
    expect(text).toContain(formatAmount(booked).replace(/\u00a0/g, ' '));
  });

  it('under documents "all" a draft goes out, and after posting exactly one more message carries the number', async () => {
    // one draft with an address is the only draft; every other is cancelled
    const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'] as number, p]));
    const drafts = sandbox
      .records('account.move')
      .filter((m) => m['state'] === 'draft' && m['move_type'] === 'out_invoice' && String(m['invoice_date'] || m['date']) >= fromDate);
    const draft = drafts.find((m) => String(partners.get(m2o(m['commercial_partner_id']) ?? 0)?.['email'] ?? '').includes('@'));
    expect(draft, 'a seeded draft with a customer address').toBeDefined();
    for (const d of sandbox.records('account.move'))
      if (d['state'] === 'draft' && d['id'] !== draft!['id']) sandbox.write('account.move', d['id'] as number, { state: 'cancel' });
    const id = draft!['id'] as number;
    const inst = await install({ documents: 'all', emailTemplate: 'connector:invoice', attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });

    const first = await run(inst, []);
    expect(first.messages.map((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')))).toEqual([id]);

    sandbox.write('account.move', id, { state: 'posted' });
    const posted = move(id);
    expect(String(posted['name'])).toMatch(/^FV\//);
    const notesBefore = notesOf(id).length;
    const second = await run(inst, [id]);
    const forDraft = second.messages.filter((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === id);
    expect(forDraft).toHaveLength(2);
    expect(forDraft[1]!.parsed.headers.get('x-invoice-courier-number')).toBe(posted['name']);
    expect(forDraft[1]!.parsed.subject).toContain(String(posted['name']));
    expectHostShowsSent(id, notesBefore);
    const logs = await api('GET', `/api/installations/${inst.id}/logs?limit=1000`, inst);
    expect((logs.body.entries as any[]).filter((e) => e.invoiceId === String(id) && e.event === 'invoice.new_version')).toHaveLength(1);
    const ledger = await api('GET', `/api/installations/${inst.id}/ledger?limit=1000`, inst);
    expect((ledger.body.entries as any[]).find((e) => e.invoiceId === String(id))).toMatchObject({ state: 'sent', version: 2, invoiceNumber: posted['name'] });

    const third = await run(inst, [id]);
    expect(third.messages.filter((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')) === id)).toHaveLength(2);
  });

  it('a failing rate read fails only the foreign invoices: PLN ones are sent, foreign ones are retry with a log entry', async () => {
    const proxy: RpcProxy = await rpcProxy(sandbox.url);
    try {
      const pl = plnInvoice();
      const eur = foreignInvoice();
      const inst = await install(
        { emailTemplate: 'connector:invoice', attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } },
        { hostUrl: proxy.url },
      );
      proxy.failRates = true;
      const { run: r, messages } = await run(inst, [pl.id, eur.id]);
      expect(r.counts.sent, JSON.stringify(r)).toBe(1);
      expect(messageFor(messages, pl).parsed.subject).toContain(pl.name);
      expect(messages.filter((m) => m.parsed.headers.get('x-invoice-courier-invoice') === String(eur.id))).toHaveLength(0);
      expect(move(pl.id)['is_move_sent']).toBe(true);
      expect(move(eur.id)['is_move_sent']).toBe(false);
      const ledger = await api('GET', `/api/installations/${inst.id}/ledger?limit=1000`, inst);
      const entry = (ledger.body.entries as any[]).find((e) => e.invoiceId === String(eur.id));
      expect(entry, JSON.stringify(ledger.body)).toMatchObject({ state: 'retry', reason: 'host_read_failed' });
      const logs = await api('GET', `/api/installations/${inst.id}/logs?limit=1000`, inst);
      const eurLogs = (logs.body.entries as any[]).filter((e) => e.invoiceId === String(eur.id));
      expect(eurLogs.map((e) => [e.event, e.data?.what])).toEqual([['invoice.retry', 'res.currency.rate']]);

      // once the rates can be read again, the first run after the retry's backoff (5 min) sends it
      proxy.failRates = false;
      const early = await runNow(inst);
      expect(early.run.counts.sent).toBe(0);
      clockOffsetMs += 6 * 60_000;
      const again = await runNow(inst);
      expect(again.run.counts.sent).toBe(1);
      messageFor(again.messages, eur);
      expect(move(eur.id)['is_move_sent']).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('install creates a menu entry under Invoicing opening the connector, and uninstall removes it', async () => {
    const root = sandbox.records('ir.model.data').find((x) => x['module'] === 'account' && x['name'] === 'menu_finance')!['res_id'];
    const menusFor = (installationId: string) => {
      const prefix = `${connector.url}/ui/installations/${installationId}/`;
      const actions = new Set(
        sandbox
          .records('ir.actions.act_url')
          .filter((a) => String(a['url']).startsWith(prefix))
          .map((a) => `ir.actions.act_url,${String(a['id'])}`),
      );
      return { actions: actions.size, menus: sandbox.records('ir.ui.menu').filter((m) => actions.has(String(m['action']))) };
    };
    const inst = await install({});
    const { actions, menus } = menusFor(inst.id);
    expect(actions).toBe(2); // settings and logs pages
    expect(menus).toHaveLength(2);
    for (const m of menus) expect(m2o(m['parent_id'])).toBe(root);
    const del = await api('DELETE', `/api/installations/${inst.id}`, inst);
    expect(del.status).toBe(204);
    expect(menusFor(inst.id)).toEqual({ actions: 0, menus: [] });
  });

  it('each run leaves exactly one ir.logging record with its counts', async () => {
    const pl = plnInvoice();
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'none', foreign: 'none' } });
    const logged = () => sandbox.records('ir.logging').filter((l) => l['name'] === 'invoice-courier');
    const before = logged().length;
    const { run: r } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const added = logged().slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]!['level']).toBe('INFO');
    expect(m2o(added[0]!['create_uid'])).toBe(SANDBOX_USERS.admin.id); // as the integration user
    expect(String(added[0]!['message'])).toContain(
      `run ${String(r.id)} (manual) completed: due 1, sent 1, drafted 0, skipped 0, failed 0, retry 0, uncertain 0`,
    );
  });
});

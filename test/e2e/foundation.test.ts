/**
 * End to end through the HTTP API with real services: the sandbox host (Odoo JSON-RPC), a real SMTP
 * server, a real PostgreSQL, and the whole connector composed as `npm start` composes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';

const today = DateTime.now().setZone('Europe/Warsaw');
const fromDate = today.minus({ days: 30 }).toISODate()!;

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let installationId: string;
let token: string;

function m2oId(v: unknown): number | null {
  if (Array.isArray(v)) return v[0] as number;
  if (typeof v === 'number') return v;
  return null;
}

function pdfText(pdf: Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ic-e2e-'));
  try {
    const file = path.join(dir, 'a.pdf');
    writeFileSync(file, pdf);
    return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ host: '127.0.0.1', port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  connector = await startTestConnector();
});

afterAll(async () => {
  await connector?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('foundation: install, configure, run, deliver, write back', () => {
  it('installs the sandbox host and returns an id, an API token and a webhook secret once', async () => {
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
    });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.apiToken.length).toBeGreaterThan(20);
    expect(res.body.webhookSecret.length).toBeGreaterThan(20);
    installationId = res.body.id;
    token = res.body.apiToken;
    const settings = await connector.api('GET', `/api/installations/${installationId}/settings`, { token });
    expect(settings.status).toBe(200);
    expect(settings.body.enabled).toBe(false);
    expect(settings.body.operatorPassword).toEqual({ set: true });
    expect(JSON.stringify(settings.body)).not.toContain('"admin"' + ',"secret"');
  });

  it('refuses an install whose host credentials do not log in, naming the field', async () => {
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'wrong' } },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.field).toBe('integration.secret');
  });

  it('refuses malformed settings with a 400 naming the field and saves nothing', async () => {
    const before = await connector.api('GET', `/api/installations/${installationId}/settings`, { token });
    const bad = await connector.api('PUT', `/api/installations/${installationId}/settings`, { token, body: { schedule: { until: '25:00' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation');
    expect(bad.body.error.field).toBe('schedule.until');
    const unknown = await connector.api('PUT', `/api/installations/${installationId}/settings`, { token, body: { colour: 'red' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe('colour');
    const after = await connector.api('GET', `/api/installations/${installationId}/settings`, { token });
    expect(after.body).toEqual(before.body);
  });

  it('refuses requests without the installation token', async () => {
    const res = await connector.api('GET', `/api/installations/${installationId}/settings`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('sends every due invoice once with its PDF, marks it sent in the host and notes it in the chatter', async () => {
    const accounts = await connector.api('GET', `/api/installations/${installationId}/options/email-accounts?operator=ksiegowa`, { token });
    expect(accounts.status).toBe(200);
    const sandboxSmtp = accounts.body.options.find((o: any) => /Sandbox SMTP/.test(o.label));
    expect(sandboxSmtp).toBeDefined();
    const saved = await connector.api('PUT', `/api/installations/${installationId}/settings`, {
      token,
      body: {
        enabled: true,
        operator: 'ksiegowa',
        operatorPassword: 'ksiegowa',
        emailAccount: sandboxSmtp.value,
        delivery: 'send_now',
        documents: 'confirmed_only',
        dateBasis: 'issue_date',
        fromDate,
        attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' },
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.operatorPassword).toEqual({ set: true });
    expect(JSON.stringify(saved.body)).not.toContain('ksiegowa"' + ',"operatorPassword":"');

    const movesBefore = sandbox.records('account.move');
    const since = Date.now();
    const run = await connector.api('POST', `/api/installations/${installationId}/runs`, { token });
    expect(run.status).toBe(202);
    const finished = await connector.waitForRun(installationId, token, { trigger: 'manual', since });
    expect(finished.status, JSON.stringify(finished)).toBe('completed');
    expect(finished.counts.sent).toBeGreaterThan(10);
    expect(smtp.messages.length).toBe(finished.counts.sent);

    // Exactly once: one message per invoice.
    const ids = smtp.messages.map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(ids.length);

    // Every message belongs to a posted customer invoice on/after fromDate that was not yet sent.
    const byId = new Map(movesBefore.map((m) => [String(m['id']), m]));
    for (const msg of smtp.messages) {
      const invoiceId = String(msg.parsed.headers.get('x-invoice-courier-invoice'));
      const move = byId.get(invoiceId)!;
      expect(move, invoiceId).toBeDefined();
      expect(move['state']).toBe('posted');
      expect(['out_invoice', 'out_refund']).toContain(move['move_type']);
      expect(String(move['invoice_date']) >= fromDate).toBe(true);
      expect(move['is_move_sent']).toBe(false);
      expect(msg.parsed.attachments).toHaveLength(1);
      expect(msg.parsed.attachments[0]!.contentType).toBe('application/pdf');
      expect(msg.parsed.text?.length ?? 0).toBeGreaterThan(0);
    }

    // One message read back in full: recipients, subject, the PDF's content, the write-back. The sample is an
    // invoice whose customer has one plain address and no invoice-type contact, so the expected recipient is plain.
    const partners = sandbox.records('res.partner');
    const simpleCustomer = (partnerId: number | null) => {
      const p = partners.find((x) => x['id'] === partnerId);
      const hasInvoiceContact = partners.some((c) => m2oId(c['parent_id']) === partnerId && c['type'] === 'invoice');
      return p && typeof p['email'] === 'string' && /^[^,;\s]+@[^,;\s]+$/.test(p['email']) && !hasInvoiceContact ? (p['email'] as string) : null;
    };
    const sample = smtp.messages.find((m) => {
      const mv = byId.get(String(m.parsed.headers.get('x-invoice-courier-invoice')));
      return mv && simpleCustomer(m2oId(mv['partner_id']));
    })!;
    expect(sample).toBeDefined();
    const sampleId = Number(sample.parsed.headers.get('x-invoice-courier-invoice'));
    const move = sandbox.records('account.move').find((m) => m['id'] === sampleId)!;
    expect(sample.parsed.subject).toContain(String(move['name']));
    expect(sample.envelope.to).toEqual([simpleCustomer(m2oId(move['partner_id']))]);
    const text = pdfText(sample.parsed.attachments[0]!.content);
    expect(text).toContain(String(move['name']));
    expect(text).toMatch(/Faktura/);
    expect(move['is_move_sent']).toBe(true);
    const notes = sandbox.records('mail.message').filter((n) => n['model'] === 'account.move' && n['res_id'] === sampleId);
    expect(notes.some((n) => String(n['body']).includes('Invoice Courier'))).toBe(true);

    // Drafts and cancelled invoices stayed home.
    const sentIds = new Set(smtp.messages.map((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice'))));
    for (const m of movesBefore) {
      if (m['state'] !== 'posted') expect(sentIds.has(m['id'] as number)).toBe(false);
    }
    // The log lists the run and each invoice.
    const logs = await connector.api('GET', `/api/installations/${installationId}/logs?limit=1000`, { token });
    expect(logs.body.entries.filter((e: any) => e.event === 'invoice.sent')).toHaveLength(finished.counts.sent);
    expect(logs.body.entries.some((e: any) => e.event === 'run.completed')).toBe(true);
  });

  it('sends nothing twice when run again', async () => {
    const before = smtp.messages.length;
    const since = Date.now();
    await connector.api('POST', `/api/installations/${installationId}/runs`, { token });
    const again = await connector.waitForRun(installationId, token, { trigger: 'manual', since });
    expect(again.status).toBe('completed');
    expect(again.counts.sent).toBe(0);
    expect(smtp.messages.length).toBe(before);
  });
});

describe('the ledger API', () => {
  it('answers 200 for every state and recipient shape, and each entry round-trips through it', async () => {
    // Its own installation, so the entries below are all there is.
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
    });
    const inst = res.body.id as string;
    const tok = res.body.apiToken as string;
    const { store } = connector;
    const owner = 'test:1:ledger';
    const now = new Date().toISOString();
    const lease = new Date(Date.now() + 600_000).toISOString();
    const claim = (invoiceId: string) =>
      store.claim({
        installationId: inst,
        invoiceId,
        invoiceNumber: `FV/${invoiceId}`,
        owner,
        leaseUntil: lease,
        messageId: `<${invoiceId}@t>`,
        now,
        maxAttempts: 5,
      });
    // A refusal as older versions stored it (no `accepted`), a refusal with it, an accepted one.
    const legacyRefused = [{ address: 'zly@example.pl', reply: '550 5.1.1 no such user' }] as unknown as Parameters<
      typeof store.recordOutcome
    >[3]['recipients'];
    const shapes: Record<string, Parameters<typeof store.recordOutcome>[3]['recipients']> = {
      legacy: legacyRefused,
      refused: [{ address: 'a@example.pl', accepted: false, reply: '550 refused' }],
      mixed: [
        { address: 'b@example.pl', accepted: true, reply: null },
        { address: 'c@example.pl', accepted: false, reply: '452 later' },
      ],
      none: [],
    };
    const expected = new Map<string, { state: string; recipients: unknown[] }>();
    await claim('s-claimed');
    expected.set('s-claimed', { state: 'claimed', recipients: [] });
    await claim('s-sending');
    await store.markSending(inst, 's-sending', owner, 'h', lease);
    expected.set('s-sending', { state: 'sending', recipients: [] });
    for (const state of ['sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain'] as const) {
      for (const [shape, recipients] of Object.entries(shapes)) {
        const id = `s-${state}-${shape}`;
        await claim(id);
        await store.markSending(inst, id, owner, 'h', lease);
        await store.recordOutcome(
          inst,
          id,
          owner,
          { state, reason: state === 'failed' ? 'smtp_permanent' : null, detail: `${state} ${shape}`, recipients },
          { writeBack: false, nextAttemptAt: null },
        );
        const normal = recipients.map((r) => ({ address: r.address, accepted: (r as { accepted?: boolean }).accepted === true, reply: r.reply ?? null }));
        expected.set(id, { state, recipients: normal });
      }
    }
    for (const state of ['claimed', 'sending', 'sent', 'drafted', 'skipped', 'retry', 'failed', 'uncertain']) {
      const page = await connector.api('GET', `/api/installations/${inst}/ledger?state=${state}`, { token: tok });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const want = [...expected]
        .filter(([, e]) => e.state === state)
        .map(([id]) => id)
        .sort();
      expect(page.body.entries.map((e: any) => e.invoiceId)).toEqual(want);
      for (const e of page.body.entries) expect({ state: e.state, recipients: e.recipients }).toEqual(expected.get(e.invoiceId));
    }
    // Paged by cursor, 7 at a time: every entry exactly once, in invoice-id order.
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page: { status: number; body: any } = await connector.api(
        'GET',
        `/api/installations/${inst}/ledger?limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`,
        { token: tok },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.entries.map((e: any) => e.invoiceId));
      after = page.body.next;
      if (after === null) break;
    }
    expect(seen).toEqual([...expected.keys()].sort());
    // A bad query is a 400 naming the field.
    const bad = await connector.api('GET', `/api/installations/${inst}/ledger?state=nope`, { token: tok });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation', field: expect.stringContaining('state') });
  });
});

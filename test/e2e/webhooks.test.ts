/**
 * Webhooks end to end through the HTTP API: a run produces signed run.completed / invoice.sent at a
 * real receiver, the delivery log and redelivery, incoming host webhooks (each type and every refusal),
 * uninstall (schedule and secrets gone, ledger and logs kept) and the admin purge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { signatureHeader } from '../../src/webhooks/signature.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../webhooks/receiver.ts';

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 30 }).toISODate()!;
/** One scheduled run a day, about 12 hours away: only the runs the tests start happen meanwhile. */
const far = DateTime.now().setZone('Europe/Warsaw').plus({ hours: 12 }).toFormat('HH:00');
const farSchedule = { startAt: far, until: far, repeatEvery: '1h' };

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let rx: WebhookReceiver;
let connector: TestConnector;
let id: string;
let token: string;
let secret: string;

async function install(callbackUrl: string | null) {
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' }, callbackUrl },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; apiToken: string; webhookSecret: string };
}

async function enable(installationId: string, apiToken: string) {
  const accounts = await connector.api('GET', `/api/installations/${installationId}/options/email-accounts?operator=ksiegowa`, { token: apiToken });
  const account = accounts.body.options.find((o: any) => /Sandbox SMTP/.test(o.label));
  const saved = await connector.api('PUT', `/api/installations/${installationId}/settings`, {
    token: apiToken,
    body: {
      enabled: true,
      operator: 'ksiegowa',
      operatorPassword: 'ksiegowa',
      emailAccount: account.value,
      delivery: 'send_now',
      dateBasis: 'issue_date',
      fromDate,
      schedule: farSchedule,
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
}

/** POSTs an incoming webhook the way the host does; options break it on purpose. */
async function hostWebhook(
  installationId: string,
  event: unknown,
  opts: { secret?: string; timestamp?: number; tamper?: (body: string) => string; header?: string | null } = {},
): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(event);
  const t = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const header = opts.header !== undefined ? opts.header : signatureHeader(opts.secret ?? secret, t, body);
  const res = await fetch(`${connector.url}/api/installations/${installationId}/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(header !== null ? { 'invoice-courier-signature': header } : {}) },
    body: opts.tamper ? opts.tamper(body) : body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ host: '127.0.0.1', port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  rx = await startWebhookReceiver();
  connector = await startTestConnector({ env: { ADMIN_TOKEN }, webhooks: { baseDelayMs: 200, pollMs: 100, hintDebounceMs: 3_000 } });
  const installed = await install(rx.url);
  ({ id, apiToken: token, webhookSecret: secret } = installed);
  rx.secret = secret;
  await enable(id, token);
});

afterAll(async () => {
  await connector?.close();
  await rx?.stop();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('outgoing webhooks through a run', () => {
  it('a run started through the API announces itself signed: run.completed with its counts and duration, one invoice.sent per sent invoice', async () => {
    const since = Date.now();
    expect((await connector.api('POST', `/api/installations/${id}/runs`, { token })).status).toBe(202);
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
    expect(run.counts.sent).toBeGreaterThan(0);
    const [completed] = await rx.waitFor((r) => r.event?.type === 'run.completed' && r.event.data.runId === run.id);
    expect(completed!.verified).toMatchObject({ ok: true });
    expect(completed!.event).toMatchObject({
      type: 'run.completed',
      installationId: id,
      data: { runId: run.id, trigger: 'manual', status: 'completed', counts: run.counts },
    });
    expect(completed!.event.data.durationMs).toBe(Date.parse(run.finishedAt) - Date.parse(run.startedAt));
    const sent = await rx.waitFor((r) => r.event?.type === 'invoice.sent', { count: run.counts.sent });
    expect(sent.every((r) => r.verified.ok)).toBe(true);
    expect(new Set(sent.map((r) => r.event.data.invoiceId)).size).toBe(run.counts.sent);
    expect(new Set(smtp.messages.map((m) => String(m.parsed.headers.get('x-invoice-courier-invoice'))))).toEqual(
      new Set(sent.map((r) => String(r.event.data.invoiceId))),
    );
  });

  it('every delivery is listed with its attempts; one can be read and redelivered with the same event id', async () => {
    const list = await connector.api('GET', `/api/installations/${id}/webhooks/deliveries?limit=500`, { token });
    expect(list.status).toBe(200);
    const deliveries = list.body.deliveries as any[];
    const completed = deliveries.find((d) => d.type === 'run.completed');
    expect(completed).toBeDefined();
    const delivered = await pollDelivery(completed.id, (d) => d.status === 'delivered');
    expect(delivered.attempts).toHaveLength(1);
    expect(delivered.attempts[0]).toMatchObject({ statusCode: 200, error: null, manual: false });
    expect(delivered.event).toMatchObject({ id: completed.id, type: 'run.completed', installationId: id });
    expect(deliveries.filter((d) => d.type === 'invoice.sent').length).toBeGreaterThan(0);

    const before = rx.requests.filter((r) => r.event?.id === completed.id).length;
    const again = await connector.api('POST', `/api/installations/${id}/webhooks/deliveries/${completed.id}/redeliver`, { token });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.attempts.map((a: any) => a.manual)).toEqual([false, true]);
    const copies = rx.requests.filter((r) => r.event?.id === completed.id);
    expect(copies).toHaveLength(before + 1);
    expect(copies.at(-1)!.verified.ok).toBe(true);

    const filtered = await connector.api('GET', `/api/installations/${id}/webhooks/deliveries?status=failed`, { token });
    expect(filtered.body.deliveries).toEqual([]);
    const missing = await connector.api('POST', `/api/installations/${id}/webhooks/deliveries/${crypto.randomUUID()}/redeliver`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body.error.field).toBe('deliveryId');
  });

  it('a receiver that is down gets the webhook later: retried with backoff, attempts listed', async () => {
    rx.failNext = 2;
    const since = Date.now();
    await connector.api('POST', `/api/installations/${id}/runs`, { token });
    const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
    const [got] = await rx.waitFor((r) => r.event?.type === 'run.completed' && r.event.data.runId === run.id && r.answered === 200);
    const d = await pollDelivery(got!.event.id, (x) => x.status === 'delivered');
    expect(d.attempts.map((a: any) => a.statusCode)).toEqual([500, 500, 200]);
  });
});

async function pollDelivery(deliveryId: string, pred: (d: any) => boolean): Promise<any> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await connector.api('GET', `/api/installations/${id}/webhooks/deliveries/${deliveryId}`, { token });
    if (res.status === 200 && pred(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`delivery ${deliveryId}: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('incoming webhooks from the host', () => {
  it('refuses a missing, malformed, tampered, old, or wrongly keyed signature with 401 and a code', async () => {
    const event = { type: 'settings.changed' };
    const cases: [string, Parameters<typeof hostWebhook>[2], string][] = [
      ['no header', { header: null }, 'signature_missing'],
      ['malformed', { header: 't=now,v1=abc' }, 'signature_malformed'],
      ['tampered body', { tamper: (b) => b.replace('settings.changed', 'extension.enabled') }, 'signature_mismatch'],
      ['old timestamp', { timestamp: Math.floor(Date.now() / 1000) - 600 }, 'signature_expired'],
      ['wrong secret', { secret: 'not-the-webhook-secret' }, 'signature_mismatch'],
      ['the API token as secret', { secret: token }, 'signature_mismatch'],
    ];
    for (const [name, opts, code] of cases) {
      const res = await hostWebhook(id, event, opts);
      expect(res.status, name).toBe(401);
      expect(res.body.error.code, name).toBe(code);
      expect(res.body.error.field, name).toBe('Invoice-Courier-Signature');
    }
    const unknown = await hostWebhook(crypto.randomUUID(), event);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('webhook_secret_missing');
  });

  it('an unknown event type, correctly signed, is a 400 naming "type"', async () => {
    const res = await hostWebhook(id, { type: 'invoice.exploded' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation');
    expect(res.body.error.field).toBe('type');
  });

  it('settings.changed re-syncs the schedule and is logged', async () => {
    const res = await hostWebhook(id, { id: 'evt-1', type: 'settings.changed' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, type: 'settings.changed', action: 'schedule_synced' });
    expect(await connector.scheduler.nextRunAt(id)).not.toBeNull();
    const logs = await connector.api('GET', `/api/installations/${id}/logs?event=webhook.received`, { token });
    expect(logs.body.entries[0]).toMatchObject({ event: 'webhook.received', data: { type: 'settings.changed', eventId: 'evt-1' } });
  });

  it('extension.disabled switches the automation off (no scheduled job); extension.enabled switches it on again', async () => {
    const off = await hostWebhook(id, { id: 'evt-off-1', type: 'extension.disabled' });
    expect(off.body).toMatchObject({ received: true, action: 'disabled' });
    expect((await connector.api('GET', `/api/installations/${id}/settings`, { token })).body.enabled).toBe(false);
    expect(await connector.scheduler.nextRunAt(id)).toBeNull();
    expect((await hostWebhook(id, { id: 'evt-off-2', type: 'extension.disabled' })).body.action).toBe('unchanged');

    const on = await hostWebhook(id, { id: 'evt-on-1', type: 'extension.enabled' });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body.action).toBe('enabled');
    expect((await connector.api('GET', `/api/installations/${id}/settings`, { token })).body.enabled).toBe(true);
    expect(await connector.scheduler.nextRunAt(id)).not.toBeNull();
  });

  it('a valid webhook replayed inside the signature window is acted on once (by event id, or by signature without one)', async () => {
    const t = Math.floor(Date.now() / 1000);
    const first = await hostWebhook(id, { id: 'evt-replay-1', type: 'extension.disabled' }, { timestamp: t });
    expect(first.body.action).toBe('disabled');
    await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { enabled: true } });
    // The same request again (an attacker or a retrying proxy), and the same id re-signed later: nothing happens.
    const replay = await hostWebhook(id, { id: 'evt-replay-1', type: 'extension.disabled' }, { timestamp: t });
    expect(replay.status).toBe(200);
    expect(replay.body.action).toBe('duplicate');
    const resigned = await hostWebhook(id, { id: 'evt-replay-1', type: 'extension.disabled' }, { timestamp: t + 5 });
    expect(resigned.body.action).toBe('duplicate');
    expect((await connector.api('GET', `/api/installations/${id}/settings`, { token })).body.enabled).toBe(true);
    // Without an id, the signature (timestamp and body) identifies the request.
    const noId = { type: 'extension.disabled' as const };
    expect((await hostWebhook(id, noId, { timestamp: t + 7 })).body.action).toBe('disabled');
    await connector.api('PUT', `/api/installations/${id}/settings`, { token, body: { enabled: true } });
    expect((await hostWebhook(id, noId, { timestamp: t + 7 })).body.action).toBe('duplicate');
    expect((await connector.api('GET', `/api/installations/${id}/settings`, { token })).body.enabled).toBe(true);
    // The memory is the store's (shared by every process), not this process's.
    expect(await connector.store.rememberIncomingEvent(id, 'id:evt-replay-1', new Date().toISOString(), new Date(Date.now() + 60_000).toISOString())).toBe(
      false,
    );
  });

  it('a burst of invoice.posted hints makes one run with trigger "hint"', async () => {
    const since = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => hostWebhook(id, { type: 'invoice.posted', data: { invoiceId: 1000 + i } })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const actions = answers.map((a) => a.body.action);
    expect(actions.filter((a) => a === 'run_queued')).toHaveLength(1);
    expect(actions.filter((a) => a === 'coalesced')).toHaveLength(4);
    const run = await connector.waitForRun(id, token, { trigger: 'hint', since });
    expect(run.status).toBe('completed');
    const runs = (await connector.api('GET', `/api/installations/${id}/runs`, { token })).body.runs as any[];
    expect(runs.filter((r) => r.trigger === 'hint' && Date.parse(r.startedAt) >= since)).toHaveLength(1);
  });
});

describe('uninstall and purge', () => {
  it('uninstall removes the schedule and every secret, keeps ledger and logs; the token and webhook secret stop working', async () => {
    const other = await install(null);
    await enable(other.id, other.apiToken);
    expect(await connector.scheduler.nextRunAt(other.id)).not.toBeNull();
    const since = Date.now();
    await connector.api('POST', `/api/installations/${other.id}/runs`, { token: other.apiToken });
    await connector.waitForRun(other.id, other.apiToken, { trigger: 'manual', since });
    // The first installation already sent every sandbox invoice, so this one's run found none: give
    // its ledger an entry the way a run records one.
    const now = new Date().toISOString();
    const claim = {
      installationId: other.id,
      invoiceId: '999',
      invoiceNumber: 'FV/999',
      owner: 'test',
      leaseUntil: now,
      messageId: '<999@test>',
      now,
      maxAttempts: 5,
    };
    expect(await connector.store.claim(claim)).not.toBeNull();
    await connector.store.recordOutcome(
      other.id,
      '999',
      'test',
      { state: 'sent', reason: null, detail: null, recipients: [] },
      { writeBack: false, nextAttemptAt: null },
    );
    const logsBefore = await connector.store.listLogs({ installationId: other.id, limit: 1000 });
    expect(logsBefore.length).toBeGreaterThan(0);

    expect((await connector.api('DELETE', `/api/installations/${other.id}`, { token: other.apiToken })).status).toBe(204);
    expect(await connector.scheduler.nextRunAt(other.id)).toBeNull();
    const row = (await connector.store.getInstallation(other.id))!;
    expect(row).toMatchObject({ status: 'uninstalled', apiTokenHash: null, webhookSecret: null, operatorSecret: null });
    expect(connector.pipeline.secrets.decrypt(row.integrationSecret)).toBe('');
    expect((await connector.store.listLogs({ installationId: other.id, limit: 1000 })).length).toBe(logsBefore.length);
    expect((await connector.store.listLedger(other.id, { limit: 1000 })).map((e) => [e.invoiceId, e.state])).toEqual([['999', 'sent']]);
    expect((await connector.api('GET', `/api/installations/${other.id}/settings`, { token: other.apiToken })).status).toBe(401);
    const hook = await hostWebhook(other.id, { type: 'extension.enabled' }, { secret: other.webhookSecret });
    expect(hook.status).toBe(401);
    expect(hook.body.error.code).toBe('webhook_secret_missing');
  });

  it('purge needs the admin token, refuses an installed installation, then removes everything of the uninstalled one only', async () => {
    const gone = (await connector.store.listInstallations({ status: 'uninstalled' }))[0]!;
    const path = `/api/installations/${gone.id}/data`;
    expect((await connector.api('DELETE', path)).status).toBe(401);
    const withInstallationToken = await connector.api('DELETE', path, { token });
    expect(withInstallationToken.status).toBe(401);
    expect(withInstallationToken.body.error.field).toBe('authorization');
    expect((await connector.api('DELETE', path, { token: ADMIN_TOKEN + 'x' })).status).toBe(401);
    const active = await connector.api('DELETE', `/api/installations/${id}/data`, { token: ADMIN_TOKEN });
    expect(active.status).toBe(409);
    expect(active.body.error.code).toBe('conflict');
    expect((await connector.api('DELETE', `/api/installations/${crypto.randomUUID()}/data`, { token: ADMIN_TOKEN })).status).toBe(404);

    expect((await connector.api('DELETE', path, { token: ADMIN_TOKEN })).status).toBe(204);
    expect(await connector.store.getInstallation(gone.id)).toBeNull();
    expect(await connector.store.listLogs({ installationId: gone.id, limit: 10 })).toEqual([]);
    expect(await connector.store.listLedger(gone.id, { limit: 10 })).toEqual([]);
    expect(await connector.store.listRuns(gone.id, 10)).toEqual([]);
    // The other installation is untouched.
    expect((await connector.store.listLogs({ installationId: id, limit: 10 })).length).toBeGreaterThan(0);
    expect((await connector.store.listWebhookDeliveries(id, { limit: 10 })).length).toBeGreaterThan(0);
  });

  it('the purge route is documented in OpenAPI with the admin token', async () => {
    const doc = (await connector.api('GET', '/docs/json')).body;
    expect(doc.paths['/api/installations/{id}/data'].delete.security).toEqual([{ adminToken: [] }]);
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

/**
 * Outgoing webhooks against a real local HTTP receiver, with the real PostgreSQL store: persisted
 * first, signed, retried with backoff (short in tests), every attempt recorded, redelivery, restarts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts } from '../../src/domain.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createSecretBox, generateSecretKey, randomToken } from '../../src/secrets/secret-box.ts';
import { defaultSettings } from '../../src/settings/schema.ts';
import { createPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store, WebhookDelivery } from '../../src/store/port.ts';
import { WebhookDispatcher, backoffDelay, type DispatcherTuning } from '../../src/webhooks/dispatcher.ts';
import { freshDatabase } from '../setup/db.ts';
import { startWebhookReceiver, type WebhookReceiver } from './receiver.ts';

const secrets = createSecretBox([generateSecretKey('t1')]);
const logger = createLogger('silent');
const FAST: Partial<DispatcherTuning> = { baseDelayMs: 150, maxDelayMs: 2_000, pollMs: 50, timeoutMs: 2_000 };

let store: Store;
let rx: WebhookReceiver;
const dispatchers: WebhookDispatcher[] = [];

beforeAll(async () => {
  store = createPostgresStore({ url: await freshDatabase() });
  await store.migrate();
  rx = await startWebhookReceiver();
});
afterAll(async () => {
  await rx?.stop();
  await store?.close();
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  rx.failNext = 0;
  rx.hangNext = 0;
  // Deliver whatever a test left due, so that it cannot take the next test's planned failures.
  const drain = new WebhookDispatcher({ store, secrets, logger, owner: 'test:drain', version: 'test', tuning: FAST });
  while ((await drain.pollOnce()) > 0);
});

function dispatcher(tuning: Partial<DispatcherTuning> = {}, owner = 'test:1'): WebhookDispatcher {
  const d = new WebhookDispatcher({ store, secrets, logger, owner, version: 'test', tuning: { ...FAST, ...tuning } });
  dispatchers.push(d);
  return d;
}

async function installation(callbackUrl: string | null = rx.url) {
  const secret = randomToken();
  const inst = await store.createInstallation({
    hostKind: 'odoo',
    hostUrl: 'http://127.0.0.1:1',
    hostDatabase: 'x',
    companyId: null,
    integrationLogin: 'admin',
    integrationSecret: secrets.encrypt('admin'),
    operatorSecret: null,
    settings: defaultSettings(),
    callbackUrl,
    webhookSecret: secrets.encrypt(secret),
    apiTokenHash: randomToken(),
  });
  rx.secret = secret;
  return { id: inst.id, secret };
}

async function until(installationId: string, id: string, pred: (d: WebhookDelivery) => boolean, timeoutMs = 60_000): Promise<WebhookDelivery> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await store.getWebhookDelivery(installationId, id);
    if (d && pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`delivery did not reach the state in time: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runEvent = (installationId: string) => ({
  type: 'run.completed' as const,
  installationId,
  run: {
    id: 'run-1',
    installationId,
    trigger: 'manual' as const,
    status: 'completed' as const,
    startedAt: '2026-11-27T10:00:00.000Z',
    finishedAt: '2026-11-27T10:00:04.250Z',
    counts: { ...emptyCounts(), due: 5, sent: 3, skipped: 1, failed: 1 },
    processed: 5,
    total: 5,
    error: null,
  },
});

describe('outgoing webhooks', () => {
  it('a run.completed event is persisted, then POSTed signed with the installation secret, body { id, type, createdAt, installationId, data }', async () => {
    const inst = await installation();
    const d = dispatcher();
    d.start();
    d.emit(runEvent(inst.id));
    const [got] = await rx.waitFor((r) => r.event?.installationId === inst.id);
    expect(got!.verified.ok).toBe(true);
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['invoice-courier-event']).toBe('run.completed');
    expect(Object.keys(got!.event).sort()).toEqual(['createdAt', 'data', 'id', 'installationId', 'type']);
    expect(got!.event).toMatchObject({ type: 'run.completed', installationId: inst.id });
    expect(got!.event.data).toEqual({
      runId: 'run-1',
      trigger: 'manual',
      status: 'completed',
      startedAt: '2026-11-27T10:00:00.000Z',
      finishedAt: '2026-11-27T10:00:04.250Z',
      durationMs: 4250,
      counts: { due: 5, sent: 3, drafted: 0, skipped: 1, failed: 1, retry: 0, uncertain: 0 },
      error: null,
    });
    expect(got!.headers['invoice-courier-delivery']).toBe(got!.event.id);
    const delivery = await until(inst.id, got!.event.id, (x) => x.status === 'delivered');
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, error: null, manual: false });
    expect(delivery.payload).toBe(got!.body);
  });

  it('a receiver failing 3 times gets 4 attempts with growing gaps, each signed anew; all attempts recorded', async () => {
    const inst = await installation();
    rx.failNext = 3;
    const d = dispatcher();
    d.start();
    const delivery = await d.enqueue('invoice.sent', inst.id, { invoiceId: '7', invoiceNumber: 'FV/7', recipients: ['a@example.pl'] });
    expect(delivery?.status).toBe('pending');
    const done = await until(inst.id, delivery!.id, (x) => x.status === 'delivered');
    expect(done.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(done.attempts.slice(0, 3).every((a) => a.error?.startsWith('HTTP 500') === true)).toBe(true);
    expect(done.attempts.every((a) => a.durationMs >= 0 && !a.manual)).toBe(true);
    const seen = rx.requests.filter((r) => r.event?.id === delivery!.id);
    expect(seen).toHaveLength(4);
    expect(seen.every((r) => r.verified.ok)).toBe(true);
    expect(new Set(seen.map((r) => r.body)).size).toBe(1);
    // Backoff: the gap before retry n is at least 90 % of base * 2^(n-1) (jitter), so gaps grow.
    for (let n = 1; n <= 3; n++) {
      const gap = seen[n]!.receivedAt - seen[n - 1]!.receivedAt;
      expect(gap).toBeGreaterThanOrEqual(0.9 * 150 * 2 ** (n - 1) - 5);
    }
  });

  it('the backoff doubles from the base delay up to the cap, with at most 10 % jitter', () => {
    const tuning = { baseDelayMs: 30_000, maxDelayMs: 3_600_000 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, tuning, () => 0.5))).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(backoffDelay(12, tuning, () => 0.5)).toBe(3_600_000);
    expect(backoffDelay(1, tuning, () => 0)).toBe(27_000);
    expect(backoffDelay(1, tuning, () => 1)).toBe(33_000);
  });

  it('a receiver that does not answer in time is recorded as a timeout without status, then retried', async () => {
    const inst = await installation();
    rx.hangNext = 1;
    const d = dispatcher({ timeoutMs: 300 });
    d.start();
    const delivery = await d.enqueue('invoice.failed', inst.id, { invoiceId: '8', invoiceNumber: 'FV/8', detail: 'mailbox full' });
    const done = await until(inst.id, delivery!.id, (x) => x.status === 'delivered');
    expect(done.attempts[0]).toMatchObject({ statusCode: null, error: 'no answer within 300 ms' });
    expect(done.attempts.at(-1)).toMatchObject({ statusCode: 200, error: null });
  });

  it('gives up when the next attempt would fall after the retry window: failed, no next attempt', async () => {
    const inst = await installation();
    rx.failNext = 1000;
    const d = dispatcher({ maxAgeMs: 400, baseDelayMs: 100 });
    d.start();
    const delivery = await d.enqueue('invoice.uncertain', inst.id, { invoiceId: '9', invoiceNumber: null, detail: 'connection lost after DATA' });
    const failed = await until(inst.id, delivery!.id, (x) => x.status === 'failed');
    expect(failed.nextAttemptAt).toBeNull();
    expect(failed.attempts.length).toBeGreaterThanOrEqual(1);
    expect(failed.attempts.every((a) => a.statusCode === 500)).toBe(true);
    const count = failed.attempts.length;
    rx.failNext = 0;
    // A failed delivery is not attempted automatically any more; a redelivery is one recorded attempt.
    const again = await d.redeliver(inst.id, delivery!.id);
    expect(again.attempts).toHaveLength(count + 1);
    expect(again.attempts.at(-1)).toMatchObject({ statusCode: 200, manual: true });
    expect(again.status).toBe('delivered');
  });

  it('redelivering a delivered event POSTs the same id and body again, signed with a fresh timestamp', async () => {
    const inst = await installation();
    const d = dispatcher();
    d.start();
    const delivery = await d.enqueue('delivery.auth_failed', inst.id, { emailAccount: '1', detail: '535 auth failed' });
    await until(inst.id, delivery!.id, (x) => x.status === 'delivered');
    const again = await d.redeliver(inst.id, delivery!.id);
    expect(again.attempts.map((a) => a.manual)).toEqual([false, true]);
    const seen = rx.requests.filter((r) => r.event?.id === delivery!.id);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.body).toBe(seen[0]!.body);
    expect(seen[1]!.verified.ok).toBe(true);
  });

  it('a manual redelivery that fails keeps a pending delivery on its automatic schedule', async () => {
    const inst = await installation();
    const d = dispatcher({ baseDelayMs: 60_000 });
    rx.failNext = 2;
    d.start();
    const delivery = await d.enqueue('invoice.sent', inst.id, { invoiceId: '10', invoiceNumber: 'FV/10', recipients: [] });
    const retrying = await until(inst.id, delivery!.id, (x) => x.attempts.length === 1);
    const after = await d.redeliver(inst.id, delivery!.id);
    expect(after.status).toBe('pending');
    expect(after.nextAttemptAt).toBe(retrying.nextAttemptAt);
    expect(after.attempts.map((a) => [a.statusCode, a.manual])).toEqual([
      [500, false],
      [500, true],
    ]);
  });

  it("redelivery of an unknown delivery, or of another installation's, is not_found", async () => {
    const a = await installation();
    const b = await installation();
    const d = dispatcher();
    const delivery = await d.enqueue('invoice.sent', a.id, { invoiceId: '1', invoiceNumber: null, recipients: [] });
    await expect(d.redeliver(b.id, delivery!.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(d.redeliver(a.id, crypto.randomUUID())).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a delivery queued before a restart is delivered by the next process', async () => {
    const inst = await installation();
    const first = dispatcher({}, 'proc:1'); // never started: the process "stops" right after persisting
    const delivery = await first.enqueue('run.completed', inst.id, { runId: 'r' });
    await first.stop();
    expect((await store.getWebhookDelivery(inst.id, delivery!.id))?.status).toBe('pending');
    const second = dispatcher({}, 'proc:2');
    second.start();
    const done = await until(inst.id, delivery!.id, (x) => x.status === 'delivered');
    expect(done.attempts).toHaveLength(1);
  });

  it('an installation without a callback URL queues nothing', async () => {
    const inst = await installation(null);
    const d = dispatcher();
    expect(await d.enqueue('run.completed', inst.id, {})).toBeNull();
    expect(await store.listWebhookDeliveries(inst.id, { limit: 10 })).toEqual([]);
  });

  it("an installation without a callback URL is read once for a run's many events, not once per event", async () => {
    const inst = await installation(null);
    let reads = 0;
    // The real store, with its installation reads counted.
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'getInstallation') return (id: string) => (reads++, target.getInstallation(id));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const d = new WebhookDispatcher({ store: counting, secrets, logger, owner: 'test:count', version: 'test', tuning: FAST });
    dispatchers.push(d);
    for (let i = 0; i < 50; i++) expect(await d.enqueue('invoice.sent', inst.id, { invoiceId: String(i), invoiceNumber: null, recipients: [] })).toBeNull();
    expect(reads).toBe(1);
    // An installation with a URL is still read (and delivered to) per event.
    const withUrl = await installation();
    expect(await d.enqueue('run.completed', withUrl.id, {})).not.toBeNull();
    expect(await d.enqueue('run.completed', withUrl.id, {})).not.toBeNull();
    expect(reads).toBe(3);
  });

  it('after uninstall (secret gone) a pending delivery fails at its next attempt without a POST', async () => {
    const inst = await installation();
    const d = dispatcher();
    const delivery = await d.enqueue('run.completed', inst.id, {});
    await store.updateInstallation(inst.id, { status: 'uninstalled', webhookSecret: null, apiTokenHash: null });
    const before = rx.requests.length;
    d.start();
    const failed = await until(inst.id, delivery!.id, (x) => x.status === 'failed');
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/uninstalled/) });
    expect(rx.requests.slice(before).some((r) => r.event?.id === delivery!.id)).toBe(false);
  });

  it('a webhook secret that cannot be decrypted (its key left SECRET_KEYS) is a recorded failed attempt that follows the backoff, never a silent loop', async () => {
    const inst = await installation();
    const lost = createSecretBox([generateSecretKey('gone')]);
    await store.updateInstallation(inst.id, { webhookSecret: lost.encrypt('whatever') });
    const before = rx.requests.length;
    const d = dispatcher({ maxAgeMs: 400, baseDelayMs: 100 });
    d.start();
    const delivery = await d.enqueue('run.completed', inst.id, {});
    const failed = await until(inst.id, delivery!.id, (x) => x.status === 'failed');
    expect(failed.attempts.length).toBeGreaterThanOrEqual(1);
    expect(failed.attempts[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/cannot be decrypted/) });
    expect(rx.requests.slice(before).some((r) => r.event?.id === delivery!.id)).toBe(false);
  });
});

/**
 * Outgoing webhooks (connector -> host). A pipeline event becomes a JSON body
 * `{ id, type, createdAt, installationId, data }`, is persisted as a delivery first (store), then POSTed to
 * the installation's callback URL, signed with its webhook secret (src/webhooks/signature.ts).
 *
 * A polling loop takes due deliveries from the store with a lease (several processes share the work,
 * never the same delivery; a process that dies mid-POST leaves a lease that expires and the delivery is
 * taken again), so deliveries survive restarts. A failed attempt (no answer within the timeout, or any
 * status but 2xx) is retried with exponential backoff (30 s, 1 min, 2 min, ... capped at 1 h) until 24 h
 * after the event; then the delivery is `failed`. Every attempt is recorded (status code, error, duration).
 * A redelivery asked for through the API is one immediate, recorded attempt.
 *
 * Delivery is at-least-once: receivers de-duplicate on the event id (= the delivery id).
 */
import { randomUUID } from 'node:crypto';
import type { PipelineEvent } from '../jobs/run/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Installations, WebhookAttempt, WebhookDelivery, WebhookOutbox } from '../store/port.ts';
import { ConnectorError } from '../errors.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';

export const OUTGOING_EVENT_TYPES = [
  'run.completed',
  'invoice.sent',
  'invoice.failed',
  'invoice.uncertain',
  'invoice.bounced',
  'delivery.auth_failed',
] as const;
export type OutgoingEventType = (typeof OUTGOING_EVENT_TYPES)[number];

/** The body every outgoing webhook carries. */
export interface WebhookEvent {
  id: string;
  type: OutgoingEventType;
  createdAt: string;
  installationId: string;
  data: Record<string, unknown>;
}

export interface DispatcherTuning {
  /** Timeout of one POST (connect + answer), ms. */
  timeoutMs: number;
  /** Delay before the first retry; doubled each time. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No automatic attempt later than this after the event. */
  maxAgeMs: number;
  /** How often the store is asked for due deliveries. */
  pollMs: number;
  /** Deliveries taken (and POSTed concurrently) per poll. */
  batchSize: number;
}

export const DEFAULT_TUNING: DispatcherTuning = {
  timeoutMs: 10_000,
  baseDelayMs: 30_000,
  maxDelayMs: 60 * 60_000,
  maxAgeMs: 24 * 60 * 60_000,
  pollMs: 2_000,
  batchSize: 20,
};

export interface DispatcherDeps {
  store: Installations & WebhookOutbox;
  secrets: SecretBox;
  logger: Logger;
  /** Identity in delivery leases (`<hostname>:<pid>:<random>`). */
  owner: string;
  version: string;
  /** Wall clock: signatures are checked against the receiver's real clock, so no test clock here. */
  now?: () => Date;
  tuning?: Partial<DispatcherTuning>;
}

/** The `data` of each event type (what a receiver reads). */
export function eventData(event: PipelineEvent): Record<string, unknown> {
  switch (event.type) {
    case 'run.completed': {
      const r = event.run;
      const durationMs = r.finishedAt ? Math.max(0, Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : null;
      return {
        runId: r.id,
        trigger: r.trigger,
        status: r.status,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        durationMs,
        counts: { ...r.counts },
        error: r.error,
      };
    }
    case 'invoice.sent':
      return { invoiceId: event.invoiceId, invoiceNumber: event.invoiceNumber, recipients: event.detail ? event.detail.split(', ') : [] };
    case 'invoice.failed':
    case 'invoice.uncertain':
      return { invoiceId: event.invoiceId, invoiceNumber: event.invoiceNumber, detail: event.detail };
    case 'invoice.bounced':
      return {
        invoiceId: event.invoiceId,
        invoiceNumber: event.invoiceNumber,
        address: event.address,
        status: event.status,
        diagnostic: event.diagnostic,
        messageId: event.messageId,
      };
    case 'delivery.auth_failed':
      return { emailAccount: event.account, detail: event.detail };
  }
}

/** Delay before automatic attempt number `n + 1` after `n` failed ones: base * 2^(n-1), capped, ±10 % jitter. */
export function backoffDelay(failedAttempts: number, tuning: Pick<DispatcherTuning, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const exp = Math.min(tuning.maxDelayMs, tuning.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.round(exp * (0.9 + 0.2 * random()));
}

/** How long "this installation has no webhook URL" is reused before the installation is read again. */
export const NO_WEBHOOK_TTL_MS = 30_000;

export class WebhookDispatcher {
  private readonly tuning: DispatcherTuning;
  private readonly now: () => Date;
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private again = false;
  private running = false;
  /** Installations found without a webhook URL (or not active), until when that answer is reused. */
  private readonly noWebhook = new Map<string, number>();

  constructor(private readonly deps: DispatcherDeps) {
    this.tuning = { ...DEFAULT_TUNING, ...deps.tuning };
    this.now = deps.now ?? (() => new Date());
  }

  /** For the pipeline's `events` callback: persists (then delivers) in the background. */
  emit(event: PipelineEvent): void {
    const p = this.enqueue(event.type, event.installationId, eventData(event))
      .catch((err: unknown) => this.deps.logger.error({ err, installationId: event.installationId, type: event.type }, 'webhook could not be queued'))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Persists an event for delivery; null when the installation has no callback URL (nothing to deliver). */
  async enqueue(type: OutgoingEventType, installationId: string, data: Record<string, unknown>): Promise<WebhookDelivery | null> {
    // An installation without a webhook URL is not read again for every event of a run: the URL is given
    // at install time, so "none" is remembered (for NO_WEBHOOK_TTL_MS, which bounds a re-created one).
    const noneUntil = this.noWebhook.get(installationId);
    if (noneUntil !== undefined && noneUntil > Date.now()) return null;
    const installation = await this.deps.store.getInstallation(installationId);
    if (!installation || installation.status !== 'active' || !installation.callbackUrl || !installation.webhookSecret) {
      if (this.noWebhook.size >= 10_000) this.noWebhook.clear();
      this.noWebhook.set(installationId, Date.now() + NO_WEBHOOK_TTL_MS);
      return null;
    }
    this.noWebhook.delete(installationId);
    const now = this.now();
    const body: WebhookEvent = { id: randomUUID(), type, createdAt: now.toISOString(), installationId, data };
    const delivery = await this.deps.store.createWebhookDelivery({
      id: body.id,
      installationId,
      eventType: type,
      url: installation.callbackUrl,
      payload: JSON.stringify(body),
      nextAttemptAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.tuning.maxAgeMs).toISOString(),
      createdAt: now.toISOString(),
    });
    this.kick();
    return delivery;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  /** Stops polling; waits for queued events and attempts in flight (each bounded by the POST timeout). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.pending]);
    await this.polling;
  }

  /** Polls now (coalesced with a poll in progress). */
  kick(): void {
    if (!this.running) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.polling = this.pollLoop().finally(() => {
      this.polling = null;
      if (this.running) this.timer = setTimeout(() => this.kick(), this.again ? 0 : this.tuning.pollMs);
      this.again = false;
    });
  }

  private async pollLoop(): Promise<void> {
    try {
      // Keep going while full batches come back (a backlog), then sleep until the next poll.
      while (this.running && (await this.pollOnce()) === this.tuning.batchSize);
    } catch (err) {
      this.deps.logger.warn({ err }, 'webhook poll failed; trying again at the next poll');
    }
  }

  /** Takes the due deliveries and POSTs them; returns how many were taken. */
  async pollOnce(): Promise<number> {
    const now = this.now();
    const batch = await this.deps.store.claimDueWebhookDeliveries({
      now: now.toISOString(),
      owner: this.deps.owner,
      leaseUntil: this.leaseUntil(now),
      limit: this.tuning.batchSize,
    });
    await Promise.all(
      batch.map((d) =>
        this.attempt(d, false).catch((err: unknown) => this.deps.logger.error({ err, deliveryId: d.id }, 'webhook attempt could not be recorded')),
      ),
    );
    return batch.length;
  }

  /** One immediate attempt of any delivery of the installation (also a delivered or failed one). */
  async redeliver(installationId: string, deliveryId: string): Promise<WebhookDelivery> {
    const existing = await this.deps.store.getWebhookDelivery(installationId, deliveryId);
    if (!existing) throw new ConnectorError('not_found', `Webhook delivery ${deliveryId} not found`, { field: 'deliveryId' });
    const now = this.now();
    const claimed = await this.deps.store.claimWebhookDelivery(installationId, deliveryId, {
      now: now.toISOString(),
      owner: this.deps.owner,
      leaseUntil: this.leaseUntil(now),
    });
    if (!claimed)
      throw new ConnectorError('conflict', `Webhook delivery ${deliveryId} is being attempted right now; try again in a moment`, { field: 'deliveryId' });
    return this.attempt(claimed, true);
  }

  private leaseUntil(now: Date): string {
    return new Date(now.getTime() + this.tuning.timeoutMs + 30_000).toISOString();
  }

  private async attempt(delivery: WebhookDelivery, manual: boolean): Promise<WebhookDelivery> {
    const { store, secrets, logger } = this.deps;
    const installation = await store.getInstallation(delivery.installationId);
    const started = this.now();
    let secret: string | null = null;
    let secretError: string | null = null;
    if (installation && installation.status === 'active' && installation.webhookSecret) {
      try {
        secret = secrets.decrypt(installation.webhookSecret);
      } catch {
        // A key missing from SECRET_KEYS: recorded as a failed attempt like any other, so the
        // delivery follows its backoff and 24 h expiry instead of being picked up forever.
        secretError = 'the webhook secret cannot be decrypted with the configured SECRET_KEYS';
      }
    }
    const { statusCode, error } =
      secret === null
        ? { statusCode: null, error: secretError ?? 'the installation was uninstalled; its webhook secret is gone' }
        : await this.post(delivery, secret, installation!.callbackUrl ?? delivery.url);
    const finished = this.now();
    const attempt: WebhookAttempt = { at: started.toISOString(), durationMs: finished.getTime() - started.getTime(), statusCode, error, manual };
    const next = this.nextState(delivery, attempt, finished, !installation || installation.status !== 'active' || !installation.webhookSecret);
    const saved = await store.recordWebhookAttempt(delivery.id, this.deps.owner, attempt, next);
    const log = { deliveryId: delivery.id, installationId: delivery.installationId, type: delivery.eventType, statusCode, status: next.status };
    if (error) logger.warn({ ...log, error, nextAttemptAt: next.nextAttemptAt }, 'webhook attempt failed');
    else logger.debug(log, 'webhook delivered');
    // Lost the lease meanwhile (took longer than the lease): the other owner's record stands.
    return saved ?? (await store.getWebhookDelivery(delivery.installationId, delivery.id)) ?? delivery;
  }

  private nextState(
    delivery: WebhookDelivery,
    attempt: WebhookAttempt,
    now: Date,
    gone: boolean,
  ): { status: WebhookDelivery['status']; nextAttemptAt: string | null } {
    if (attempt.error === null) return { status: 'delivered', nextAttemptAt: null };
    if (gone) return { status: 'failed', nextAttemptAt: null };
    // A manual attempt leaves the automatic schedule as it was.
    if (attempt.manual) return { status: delivery.status, nextAttemptAt: delivery.status === 'pending' ? delivery.nextAttemptAt : null };
    const failedAutomatic = delivery.attempts.filter((a) => !a.manual).length + 1;
    const next = now.getTime() + backoffDelay(failedAutomatic, this.tuning);
    if (next > Date.parse(delivery.expiresAt)) return { status: 'failed', nextAttemptAt: null };
    return { status: 'pending', nextAttemptAt: new Date(next).toISOString() };
  }

  private async post(delivery: WebhookDelivery, secret: string, url: string): Promise<{ statusCode: number | null; error: string | null }> {
    const timestamp = Math.floor(this.now().getTime() / 1000);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `InvoiceCourier/${this.deps.version}`,
          [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, delivery.payload),
          'Invoice-Courier-Event': delivery.eventType,
          'Invoice-Courier-Delivery': delivery.id,
        },
        body: delivery.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.tuning.timeoutMs),
      });
      // Read (a little of) the answer so the connection is released; its text helps the delivery log.
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300) return { statusCode: res.status, error: null };
      const snippet = text.trim().slice(0, 200);
      return { statusCode: res.status, error: `HTTP ${res.status}${snippet ? `: ${snippet}` : ''}` };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') return { statusCode: null, error: `no answer within ${this.tuning.timeoutMs} ms` };
      return { statusCode: null, error: err.cause?.code ?? err.cause?.message ?? err.message };
    }
  }
}

/**
 * Incoming webhooks (host -> connector), verified with the installation's webhook secret and the same
 * signature scheme as outgoing ones (src/webhooks/signature.ts):
 *   settings.changed     the host says settings changed on its side: logged, the schedule re-synced
 *                        (nothing is read back from the host)
 *   extension.disabled   settings.enabled = false through the installation service (removes the job)
 *   extension.enabled    settings.enabled = true through the service (validated, re-scheduled)
 *   invoice.posted       a "send soon" hint: one run with trigger `hint` after a short debounce, so a
 *                        burst of hints makes one run. The debounce lives in this process (a hint is
 *                        optional: a lost one only means the invoice waits for the next scheduled run).
 */
import type { InstallationService } from '../installations/service.ts';
import type { Scheduler } from '../jobs/scheduler/port.ts';
import type { Logger } from '../observability/logger.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Installation, Installations, RunLog, WebhookOutbox } from '../store/port.ts';
import { createHash } from 'node:crypto';
import { DEFAULT_TOLERANCE_SECONDS, verifySignature, type SignatureFailure } from './signature.ts';

export const INCOMING_EVENT_TYPES = ['settings.changed', 'extension.disabled', 'extension.enabled', 'invoice.posted'] as const;
export type IncomingEventType = (typeof INCOMING_EVENT_TYPES)[number];

export interface IncomingEvent {
  id?: string;
  type: IncomingEventType;
  createdAt?: string;
  installationId?: string;
  data?: Record<string, unknown>;
}

export type IncomingAction = 'schedule_synced' | 'disabled' | 'enabled' | 'unchanged' | 'run_queued' | 'coalesced' | 'ignored_disabled' | 'duplicate';

/** A refused signature: the HTTP layer answers 401 with `code`. */
export class WebhookSignatureRefused extends Error {
  constructor(
    readonly code: SignatureFailure | 'webhook_secret_missing',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSignatureRefused';
  }
}

export interface IncomingDeps {
  store: Installations & RunLog & Pick<WebhookOutbox, 'rememberIncomingEvent'>;
  secrets: SecretBox;
  service: Pick<InstallationService, 'updateSettings'>;
  scheduler: Pick<Scheduler, 'sync' | 'runNow'>;
  logger: Logger;
  now?: () => Date;
  toleranceSeconds?: number;
  /** Wait after the first hint before the run is queued; hints meanwhile join it. Default 10 s. */
  hintDebounceMs?: number;
}

export class IncomingWebhooks {
  private readonly hints = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;

  constructor(private readonly deps: IncomingDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Checks the signature over the raw body with the installation's webhook secret; returns the installation. */
  async verify(installationId: string, header: string | string[] | undefined, rawBody: string): Promise<Installation> {
    const installation = await this.deps.store.getInstallation(installationId);
    if (!installation || installation.status !== 'active' || !installation.webhookSecret) {
      throw new WebhookSignatureRefused('webhook_secret_missing', 'no active installation with a webhook secret has this id');
    }
    const result = verifySignature({
      header,
      body: rawBody,
      secrets: [this.deps.secrets.decrypt(installation.webhookSecret)],
      now: Math.floor(this.now().getTime() / 1000),
      ...(this.deps.toleranceSeconds !== undefined ? { toleranceSeconds: this.deps.toleranceSeconds } : {}),
    });
    if (!result.ok) throw new WebhookSignatureRefused(result.code, result.message);
    return installation;
  }

  /**
   * Acts on a verified event once: its id (or, without one, the signature itself: same timestamp, same
   * body) is remembered in the store for as long as a replay could still pass the signature check, and a
   * replay answers `duplicate` without acting.
   */
  async handle(installation: Installation, event: IncomingEvent, signatureHeader?: string | string[]): Promise<IncomingAction> {
    const key = event.id ? `id:${event.id}` : signatureHeader ? `sig:${createHash('sha256').update(String(signatureHeader)).digest('hex')}` : null;
    const now = this.now();
    if (key) {
      // A replay is accepted up to `tolerance` after its timestamp, which lies up to `tolerance` before now (or after).
      const tolerance = this.deps.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
      const keepUntil = new Date(now.getTime() + (2 * tolerance + 60) * 1000).toISOString();
      if (!(await this.deps.store.rememberIncomingEvent(installation.id, key, now.toISOString(), keepUntil))) {
        this.deps.logger.info({ installationId: installation.id, type: event.type, eventId: event.id ?? null }, 'replayed webhook ignored');
        return 'duplicate';
      }
    }
    const action = await this.act(installation, event);
    await this.deps.store.appendLogs([
      {
        installationId: installation.id,
        runId: null,
        at: this.now().toISOString(),
        level: 'info',
        event: 'webhook.received',
        invoiceId: event.type === 'invoice.posted' && event.data?.['invoiceId'] !== undefined ? String(event.data['invoiceId']) : null,
        invoiceNumber: null,
        message: `Webhook from the host: ${event.type} (${action.replace(/_/g, ' ')})`,
        data: { type: event.type, action, ...(event.id ? { eventId: event.id } : {}) },
      },
    ]);
    return action;
  }

  private async act(installation: Installation, event: IncomingEvent): Promise<IncomingAction> {
    switch (event.type) {
      case 'settings.changed':
        await this.deps.scheduler.sync(installation);
        return 'schedule_synced';
      case 'extension.disabled':
      case 'extension.enabled': {
        const enabled = event.type === 'extension.enabled';
        if (installation.settings.enabled === enabled) return 'unchanged';
        await this.deps.service.updateSettings(installation.id, { enabled });
        return enabled ? 'enabled' : 'disabled';
      }
      case 'invoice.posted':
        if (!installation.settings.enabled) return 'ignored_disabled';
        return this.hint(installation.id);
    }
  }

  private hint(installationId: string): IncomingAction {
    if (this.hints.has(installationId)) return 'coalesced';
    const timer = setTimeout(() => {
      this.hints.delete(installationId);
      void this.fireHint(installationId);
    }, this.deps.hintDebounceMs ?? 10_000);
    this.hints.set(installationId, timer);
    return 'run_queued';
  }

  private async fireHint(installationId: string): Promise<void> {
    try {
      const installation = await this.deps.store.getInstallation(installationId);
      if (!installation || installation.status !== 'active' || !installation.settings.enabled) return;
      await this.deps.scheduler.runNow(installationId, 'hint');
    } catch (err) {
      this.deps.logger.warn({ err, installationId }, 'a "send soon" hint could not queue a run; the next scheduled run sends the invoice');
    }
  }

  /** Drops pending hints (their invoices go out at the next scheduled run). */
  close(): void {
    for (const t of this.hints.values()) clearTimeout(t);
    this.hints.clear();
  }
}

/**
 * Shared fixtures of the store's contract suites (one file per port in this folder): instants, ids and
 * well-formed inputs. No assertions here.
 */
import crypto from 'node:crypto';
import type { Outcome } from '../../../src/domain.ts';
import { defaultSettings } from '../../../src/settings/schema.ts';
import type { ClaimRequest, NewInstallation, NewLogEntry } from '../../../src/store/port.ts';

export const T0 = Date.parse('2026-11-27T10:00:00.000Z');
/** ISO instant `minutes` after T0. */
export const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

export const uid = (): string => crypto.randomUUID();
export function newInstallation(over: Partial<NewInstallation> = {}): NewInstallation {
  return {
    hostKind: 'odoo',
    hostUrl: 'http://127.0.0.1:8069',
    hostDatabase: 'demo',
    companyId: '1',
    integrationLogin: 'connector',
    integrationSecret: { keyId: 'k1', data: 'c2VjcmV0' },
    operatorSecret: null,
    settings: defaultSettings(),
    callbackUrl: null,
    webhookSecret: null,
    apiTokenHash: crypto.randomBytes(32).toString('hex'),
    ...over,
  };
}

export function claimReq(installationId: string, invoiceId: string, owner: string, now: string, over: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    installationId,
    invoiceId,
    invoiceNumber: `FV/2026/11/${invoiceId}`,
    owner,
    leaseUntil: new Date(Date.parse(now) + 10 * 60_000).toISOString(),
    messageId: `<${installationId}.${invoiceId}@invoice-courier>`,
    now,
    maxAttempts: 3,
    ...over,
  };
}

export const outcome = (state: Outcome['state'], over: Partial<Outcome> = {}): Outcome => ({
  state,
  reason: null,
  detail: null,
  recipients: state === 'sent' ? [{ address: 'biuro@example.pl', accepted: true, reply: null }] : [],
  ...over,
});

export function log(installationId: string, over: Partial<NewLogEntry> = {}): NewLogEntry {
  return {
    installationId,
    runId: null,
    at: at(0),
    level: 'info',
    event: 'invoice.sent',
    invoiceId: null,
    invoiceNumber: null,
    message: 'm',
    data: null,
    ...over,
  };
}

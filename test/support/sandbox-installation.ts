/**
 * Installs the sandbox host on a running connector and configures it the way most end-to-end tests
 * start: operator ksiegowa, the "Sandbox SMTP" account, send now, confirmed invoices, by issue date.
 * Works with any client that speaks the connector's API (`api(method, path, { token, body })`).
 */
import { DateTime } from 'luxon';
import { expect } from 'vitest';
import type { SandboxHost } from '../../sandbox/index.ts';
import { SELLER_DOMAIN } from '../../sandbox/host/seed.ts';
import { messageIdFor } from '../../src/jobs/rules/selection.ts';

/** The sender of these installations: the "Sandbox SMTP" account has no From address, so the operator ksiegowa's e-mail. */
export const SANDBOX_SENDER = `anna.nowak@${SELLER_DOMAIN}`;

/** The Message-ID a run of such an installation gives an invoice (on the sender's domain). */
/** A sandbox move KSeF still holds (sent to KSeF or OFFLINE, no number yet): it waits, by rule, and is not due. */
export function waitsForKsef(move: Record<string, unknown>): boolean {
  return Boolean(move['l10n_pl_edi_status']) && move['l10n_pl_edi_status'] !== 'accepted';
}

/**
 * Whether the customer of a sandbox move refused e-mailed invoices: its commercial partner's
 * `invoice_sending_method` is set and is not e-mail (the seed is drawn from the day, so any pick may land on one).
 */
export function refusesEmail(host: Pick<SandboxHost, 'records'>, move: Record<string, unknown>): boolean {
  const method = commercialPartnerOf(host, move)?.['invoice_sending_method'];
  return typeof method === 'string' && method !== '' && method !== 'email';
}

/** Gives the customer of a sandbox move consent to e-mailed invoices, when it had refused them (see `refusesEmail`). */
export function consentToEmail(host: Pick<SandboxHost, 'records' | 'write'>, move: Record<string, unknown>): void {
  const partner = commercialPartnerOf(host, move);
  if (partner && refusesEmail(host, move)) host.write('res.partner', partner['id'] as number, { invoice_sending_method: 'email' });
}

function commercialPartnerOf(host: Pick<SandboxHost, 'records'>, move: Record<string, unknown>): Record<string, unknown> | undefined {
  const ref = move['commercial_partner_id'] ?? move['partner_id'];
  const id = Array.isArray(ref) ? ref[0] : ref;
  return host.records('res.partner').find((p) => p['id'] === id);
}

export function sandboxMessageId(installationId: string, invoiceId: string): string {
  return messageIdFor(installationId, invoiceId, SANDBOX_SENDER);
}

/** Marks every posted sandbox invoice as not sent yet, so that all of them are due. */
export function unmarkSent(host: Pick<SandboxHost, 'records' | 'write'>): void {
  for (const m of host.records('account.move'))
    if (m['state'] === 'posted' && m['is_move_sent'] === true) host.write('account.move', m['id'] as number, { is_move_sent: false });
}

/** The day before the sandbox's earliest invoice date: a from-date that leaves none of its invoices out. */
export function dayBeforeFirstInvoice(host: Pick<SandboxHost, 'records'>): string {
  const first = host
    .records('account.move')
    .map((m) => m['invoice_date'])
    .filter((d): d is string => typeof d === 'string' && d !== '')
    .sort()[0]!;
  return DateTime.fromISO(first).minus({ days: 1 }).toISODate()!;
}

export type ApiClient = (method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<{ status: number; body: any }>;

export async function installSandbox(
  api: ApiClient,
  sandbox: SandboxHost,
  settings: Record<string, unknown> = {},
): Promise<{ id: string; token: string; accountId: string }> {
  const installed = await api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(installed.status, JSON.stringify(installed.body)).toBe(201);
  const id: string = installed.body.id;
  const token: string = installed.body.apiToken;
  const accounts = await api('GET', `/api/installations/${id}/options/email-accounts?operator=ksiegowa`, { token });
  const account = accounts.body.options.find((a: any) => a.label === 'Sandbox SMTP');
  expect(account, JSON.stringify(accounts.body)).toBeDefined();
  const saved = await api('PUT', `/api/installations/${id}/settings`, {
    token,
    body: {
      operator: 'ksiegowa',
      operatorPassword: 'ksiegowa',
      emailAccount: account.value,
      delivery: 'send_now',
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      ...settings,
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  return { id, token, accountId: account.value };
}

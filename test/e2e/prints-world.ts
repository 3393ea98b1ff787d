/**
 * Shared by the print, template and preview end-to-end tests (test/e2e/prints*.test.ts,
 * test/e2e/preview*.test.ts): a sandbox host, a real SMTP server and the composed connector, plus
 * helpers to pick seeded invoices, make only some of them due, install and run.
 *
 * Each scenario installs a fresh installation (its own ledger) and makes only the invoices it is about
 * due in the host (`dueOnly`: every other posted invoice is marked sent there), so one run sends exactly those.
 */
import { expect } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type ReceivedMessage, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { consentToEmail, refusesEmail } from '../support/sandbox-installation.ts';

export const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 90 }).toISODate()!;

export interface World {
  smtp: TestSmtpServer;
  sandbox: SandboxHost;
  connector: TestConnector;
  close(): Promise<void>;
}

export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const smtp = await startTestSmtpServer();
  const sandbox = await startSandboxHost({ host: '127.0.0.1', port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  const connector = await startTestConnector({ env });
  return {
    smtp,
    sandbox,
    connector,
    async close() {
      await connector.close();
      await sandbox.stop();
      await smtp.stop();
    },
  };
}

// ---- the host's data ------------------------------------------------------------------------------

export type Rec = Record<string, unknown>;
export const m2o = (v: unknown): number | null => (Array.isArray(v) ? (v[0] as number) : typeof v === 'number' ? v : null);

export interface Move {
  id: number;
  name: string;
  type: 'out_invoice' | 'out_refund';
  currency: string;
  /** The customer's (commercial partner's) id and address; null when it has no usable address. */
  customerId: number;
  email: string | null;
  /** The customer refused e-mailed invoices (its sending method is not e-mail): a run skips it. */
  refusesEmail: boolean;
  lang: string | null;
  ksef: string | null;
  ksefNumber: string | null;
  ksefAttachment: number | null;
  corrects: string | null;
  issueDate: string;
  amountTax: number;
  /** The host keeps a PDF it generated earlier (Odoo invoice_pdf_report_id). */
  storedPdf: boolean;
}

/** Posted customer invoices the host is not busy sending, with their customer's address and language. */
export function postedMoves(w: World): Move[] {
  const { sandbox } = w;
  const partners = new Map(sandbox.records('res.partner').map((p) => [p['id'] as number, p]));
  return sandbox
    .records('account.move')
    .filter((m) => m['state'] === 'posted' && ['out_invoice', 'out_refund'].includes(String(m['move_type'])) && !m['sending_data'])
    .map((m) => {
      const customer = partners.get(m2o(m['commercial_partner_id']) ?? 0);
      const email = customer?.['email'];
      const rev = m['reversed_entry_id'];
      return {
        id: m['id'] as number,
        name: String(m['name']),
        type: m['move_type'] as Move['type'],
        currency: Array.isArray(m['currency_id']) ? String(m['currency_id'][1]) : '',
        customerId: m2o(m['commercial_partner_id']) ?? 0,
        email: typeof email === 'string' && email.includes('@') ? email : null,
        refusesEmail: refusesEmail(sandbox, m),
        lang: typeof customer?.['lang'] === 'string' ? (customer['lang'] as string) : null,
        ksef: typeof m['l10n_pl_edi_status'] === 'string' ? (m['l10n_pl_edi_status'] as string) : null,
        ksefNumber: typeof m['l10n_pl_edi_number'] === 'string' ? (m['l10n_pl_edi_number'] as string) : null,
        ksefAttachment: m2o(m['l10n_pl_edi_attachment_id']),
        corrects: Array.isArray(rev) ? String(rev[1]) : null,
        issueDate: String(m['invoice_date']),
        amountTax: Number(m['amount_tax']),
        storedPdf: m2o(m['invoice_pdf_report_id']) !== null,
      };
    })
    .filter((m) => m.issueDate >= fromDate);
}

export function pick(w: World, what: string, predicate: (m: Move) => boolean, skip: number[] = []): Move {
  const found = postedMoves(w).find((m) => m.email !== null && !m.refusesEmail && !skip.includes(m.id) && predicate(m));
  if (!found) throw new Error(`the sandbox seed has no ${what}`);
  return found;
}

/**
 * For invoices the seed has only a few of (e.g. the one waiting for KSeF): the first that matches,
 * its customer given an address in the host when it has none, so the rule under test is the one that decides.
 */
export function pickGivingAddress(w: World, what: string, predicate: (m: Move) => boolean): Move {
  const found = postedMoves(w).find(predicate);
  if (!found) throw new Error(`the sandbox seed has no ${what}`);
  consentToEmail(w.sandbox, { commercial_partner_id: found.customerId });
  if (found.email !== null) return { ...found, refusesEmail: false };
  const email = `faktury.${found.customerId}@klient.example`;
  w.sandbox.write('res.partner', found.customerId, { email });
  return { ...found, email, refusesEmail: false };
}

/** Only these invoices are due in the host: every other posted invoice is marked sent there. */
export function dueOnly(w: World, ids: number[]): void {
  const { sandbox } = w;
  for (const m of sandbox.records('account.move')) {
    if (m['state'] !== 'posted') continue;
    const sent = !ids.includes(m['id'] as number);
    if (m['is_move_sent'] !== sent) sandbox.write('account.move', m['id'] as number, { is_move_sent: sent });
  }
}

// ---- the connector ----------------------------------------------------------------------------------

export interface Inst {
  id: string;
  token: string;
}

export async function install(w: World, settings: Rec, operator = 'ksiegowa'): Promise<Inst> {
  const { sandbox, connector } = w;
  const res = await connector.api('POST', '/api/installations', {
    body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const inst = { id: res.body.id as string, token: res.body.apiToken as string };
  const accounts = await connector.api('GET', `/api/installations/${inst.id}/options/email-accounts?operator=${operator}`, { token: inst.token });
  const account = (accounts.body.options as { value: string; label: string }[]).find((o) => o.label === 'Sandbox SMTP');
  expect(account, JSON.stringify(accounts.body)).toBeDefined();
  const saved = await connector.api('PUT', `/api/installations/${inst.id}/settings`, {
    token: inst.token,
    body: {
      operator,
      operatorPassword: operator,
      emailAccount: account!.value,
      delivery: 'send_now',
      documents: 'confirmed_only',
      dateBasis: 'issue_date',
      fromDate,
      ...settings,
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  return inst;
}

export async function run(w: World, inst: Inst, due: number[]): Promise<{ run: any; messages: ReceivedMessage[] }> {
  const { smtp, connector } = w;
  dueOnly(w, due);
  const since = Date.now();
  const res = await connector.api('POST', `/api/installations/${inst.id}/runs`, { token: inst.token });
  expect(res.status).toBe(202);
  const finished = await connector.waitForRun(inst.id, inst.token, { trigger: 'manual', since, timeoutMs: 90_000 });
  expect(finished.status, JSON.stringify(finished)).toBe('completed');
  const messages = smtp.messages.filter((m) => m.parsed.headers.get('x-invoice-courier-installation') === inst.id);
  return { run: finished, messages };
}

export function messageFor(messages: ReceivedMessage[], move: Move): ReceivedMessage {
  const found = messages.filter((m) => m.parsed.headers.get('x-invoice-courier-invoice') === String(move.id));
  expect(found, `messages for ${move.name}`).toHaveLength(1);
  return found[0]!;
}

export async function logs(w: World, inst: Inst): Promise<any[]> {
  const { connector } = w;
  const res = await connector.api('GET', `/api/installations/${inst.id}/logs?limit=1000`, { token: inst.token });
  expect(res.status).toBe(200);
  return res.body.entries;
}

export async function ledger(w: World, inst: Inst): Promise<any[]> {
  const { connector } = w;
  const res = await connector.api('GET', `/api/installations/${inst.id}/ledger`, { token: inst.token });
  expect(res.status).toBe(200);
  return res.body.entries;
}

export const safeName = (number: string) => `${number.replaceAll('/', '-')}.pdf`;

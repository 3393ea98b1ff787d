/**
 * What one run costs the host (issue 12: a run with nothing new ≤ 10 host calls whatever the history).
 * The sandbox host behind a proxy that records every JSON-RPC call (service, method, model, arguments,
 * answer), a real SMTP server, the connector as main.ts composes it. A run that lists nothing reads no
 * field descriptions of models it does not read (partners, taxes, the company) and not the company
 * record; a run that lists invoices still reads them, and the KSeF fields that decide whether an invoice
 * waits; every credential logs in once per run; a broken e-mail account still stops the run before any
 * e-mail leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { installSandbox, waitsForKsef } from '../support/sandbox-installation.ts';
import { isValidEmail } from '../../src/jobs/rules/selection.ts';
import { recordingProxy, type RecordedCall as Call } from '../support/recording-proxy.ts';

type Rec = Record<string, unknown>;
const today = DateTime.now().setZone('Europe/Warsaw').startOf('day');
// Far enough back to list the invoices KSeF still holds (the seed dates them weeks ago).
const fromDate = today.minus({ days: 90 }).toISODate()!;
const m2o = (v: unknown): number | null => (Array.isArray(v) ? (v[0] as number) : typeof v === 'number' ? v : null);

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let connector: TestConnector;
let id: string;
let token: string;

const label = (c: Call): string => (c.model ? `${c.model}.${c.method}` : `${c.service}.${c.method}`);
const byMethod = (calls: Call[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const c of calls) out[label(c)] = (out[label(c)] ?? 0) + 1;
  return out;
};
/** Models whose fields the run asked for, but the host's send wizard (read to render the host's template). */
const fieldsOf = (calls: Call[]): string[] => calls.filter((c) => c.method === 'fields_get' && c.model !== 'account.move.send.wizard').map((c) => c.model!);

/** Runs once (manual); returns the run, the invoice ids e-mailed in it and the host calls it made. */
async function runOnce(): Promise<{ run: any; sent: number[]; calls: Call[] }> {
  const before = smtp.messages.length;
  const firstCall = proxy.calls.length;
  const since = Date.now();
  const res = await connector.api('POST', `/api/installations/${id}/runs`, { token });
  expect(res.status).toBe(202);
  const run = await connector.waitForRun(id, token, { trigger: 'manual', since });
  // The operator's failure digest (<ic-digest-…>) is no invoice's message.
  const sent = smtp.messages
    .slice(before)
    .filter((m) => !String(m.parsed.messageId).startsWith('<ic-digest-'))
    .map((m) => Number(m.parsed.headers.get('x-invoice-courier-invoice')));
  return { run, sent: sent.sort((a, b) => a - b), calls: proxy.calls.slice(firstCall) };
}

/**
 * Posts `count` due drafts (as the bench's "20 new"), each of a customer that is its own commercial
 * entity with a valid address and no invoice contacts, who takes invoices by e-mail; their ids.
 */
function postDrafts(count: number): number[] {
  const all = sandbox.records('res.partner');
  const partners = new Map(all.map((p) => [p['id'] as number, p]));
  const out: number[] = [];
  for (const m of sandbox.records('account.move')) {
    if (out.length === count) break;
    if (m['move_type'] !== 'out_invoice' || m['state'] !== 'draft' || typeof m['invoice_date'] !== 'string' || m['invoice_date'] < fromDate) continue;
    const partner = m2o(m['partner_id']);
    if (partner === null || partner !== m2o(m['commercial_partner_id'])) continue;
    if (all.some((c) => m2o(c['parent_id']) === partner && c['type'] === 'invoice')) continue;
    const p = partners.get(partner);
    if (!p || !isValidEmail(String(p['email'] ?? '')) || (p['invoice_sending_method'] && p['invoice_sending_method'] !== 'email')) continue;
    sandbox.write('account.move', m['id'] as number, { state: 'posted' });
    out.push(m['id'] as number);
  }
  expect(out).toHaveLength(count);
  return out;
}

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port } });
  proxy = await recordingProxy(sandbox.url);
  connector = await startTestConnector({ pipeline: { retryDelayMs: 20 } });
  ({ id, token } = await installSandbox(connector.api, { ...sandbox, url: proxy.url }, { fromDate }));
});

afterAll(async () => {
  await connector?.close();
  await proxy?.close();
  await sandbox?.stop();
  await smtp?.stop();
});

describe('what a run costs the host', () => {
  let first: Awaited<ReturnType<typeof runOnce>>;
  let nothingNew: Awaited<ReturnType<typeof runOnce>>;

  it('a run that lists invoices reads the fields of every model it reads (invoice, partner, tax, company for KSeF), the lines and partners; invoices KSeF holds wait', async () => {
    first = await runOnce();
    expect(first.run.status, JSON.stringify(first.run)).toBe('completed');
    expect(first.sent.length).toBeGreaterThan(10);
    expect(fieldsOf(first.calls).sort()).toEqual(['account.move', 'account.tax', 'res.company', 'res.partner']);
    // The sandbox has l10n_pl_edi: the invoices' KSeF fields are read, and the company's fields for its KSeF registration.
    // The company's registration is read where the host has the field.
    const companyFields = first.calls.find((c) => c.model === 'res.company' && c.method === 'fields_get')!.result as Rec;
    const company = first.calls.find((c) => c.model === 'res.company' && c.method === 'read')!;
    expect((company.kwargs['fields'] as string[]).includes('l10n_pl_edi_register')).toBe('l10n_pl_edi_register' in companyFields);
    const listing = first.calls.find((c) => c.model === 'account.move' && c.method === 'search_read')!;
    expect(listing.kwargs['fields']).toEqual(expect.arrayContaining(['l10n_pl_edi_status', 'l10n_pl_edi_number']));
    expect(first.calls.some((c) => c.model === 'account.move.line' && c.method === 'search_read')).toBe(true);
    expect(first.calls.some((c) => c.model === 'res.partner' && c.method === 'search_read')).toBe(true);
    const held = sandbox.records('account.move').filter((m) => waitsForKsef(m) && m['state'] === 'posted' && String(m['invoice_date']) >= fromDate);
    expect(held.length).toBeGreaterThan(0);
    for (const m of held) expect(first.sent).not.toContain(m['id']);
  });

  it("a run's first page asks the host for 100 invoices; a run of one page of 200 reads the rest by id in one call and is not split", async () => {
    const listings = first.calls.filter((c) => c.model === 'account.move' && c.method === 'search_read');
    const listing = listings[0]!;
    expect(listing.kwargs['limit']).toBe(100);
    expect(listing.result as unknown[]).toHaveLength(100);
    // the ids after the first page, in one call, with the listing's own filter
    const ids = first.calls.find((c) => c.model === 'account.move' && c.method === 'search')!;
    const rest = ids.result as number[];
    expect(rest.length).toBeGreaterThan(0);
    expect(100 + rest.length).toBeLessThanOrEqual(200);
    expect(Math.min(...rest)).toBeGreaterThan(Math.max(...(listing.result as { id: number }[]).map((m) => m.id)));
    // read by id as a page job reads its page: one more account.move.search_read, of exactly those ids
    expect(listings).toHaveLength(2);
    const domain = (listings[1]!.kwargs['domain'] ?? listings[1]!.args[0]) as unknown[];
    const byId = domain.find((t) => Array.isArray(t) && t[0] === 'id' && t[1] === 'in') as unknown[];
    expect([...(byId[2] as number[])].sort((a, b) => a - b)).toEqual([...rest].sort((a, b) => a - b));
    const logs = await connector.api('GET', `/api/installations/${id}/logs?limit=500`, { token });
    expect((logs.body.entries as { event: string; runId: string }[]).filter((l) => l.event === 'run.split' && l.runId === first.run.id)).toEqual([]);
    expect(first.run.counts.due).toBe(100 + rest.length);
  });

  it('a run with nothing new costs at most 10 host calls: no fields of models it does not read, no company record, one login per credential', async () => {
    await runOnce(); // reads once more what the first run failed or left for a person, and parks it
    nothingNew = await runOnce();
    expect(nothingNew.run.status, JSON.stringify(nothingNew.run)).toBe('completed');
    expect(nothingNew.sent).toEqual([]);
    const calls = byMethod(nothingNew.calls);
    expect(nothingNew.calls.length, JSON.stringify(calls)).toBeLessThanOrEqual(10);
    expect(fieldsOf(nothingNew.calls)).toEqual(['account.move']);
    expect(calls['res.company.read']).toBeUndefined();
    // One login per credential (the operator's and the integration user's), none twice.
    const logins = nothingNew.calls.filter((c) => c.method === 'authenticate').map((c) => c.who);
    expect(logins.sort()).toEqual(['admin', 'ksiegowa']);
    // The run is still logged on the host, the parked invoices asked after once, the listing empty.
    expect(calls['ir.logging.create']).toBe(1);
    expect(calls['account.move.search']).toBe(1);
    const listings = nothingNew.calls.filter((c) => c.model === 'account.move' && c.method === 'search_read');
    expect(listings).toHaveLength(1);
    expect(listings[0]!.result).toEqual([]);
  });

  it('the cost of a run with nothing new does not grow with the history: after more invoices were sent it is the same', async () => {
    const posted = postDrafts(4);
    await new Promise((r) => setTimeout(r, 1100)); // host stamps have one-second resolution
    const withNew = await runOnce();
    expect(withNew.run.status).toBe('completed');
    expect(withNew.sent).toEqual(posted.sort((a, b) => a - b));
    // A run that lists something reads the page's fields and data again (its own adapter: nothing kept from the last run).
    expect(fieldsOf(withNew.calls).sort()).toEqual(['account.move', 'account.tax', 'res.company', 'res.partner']);
    const again = await runOnce();
    expect(again.sent).toEqual([]);
    expect(byMethod(again.calls)).toEqual(byMethod(nothingNew.calls));
  });

  it('an e-mail account deactivated on the host still stops the run before any e-mail leaves, reported as before; all go out once it is back', async () => {
    const server = sandbox.records('ir.mail_server').find((s) => s['name'] === 'Sandbox SMTP')!;
    sandbox.write('ir.mail_server', server['id'] as number, { active: false });
    const posted = postDrafts(1);
    try {
      const stopped = await runOnce();
      expect(stopped.run.status).toBe('failed');
      expect(stopped.run.error).toMatch(/E-mail account .* is not active or not available to the operator/);
      expect(stopped.sent).toEqual([]);
      // Nothing was listed or claimed: the run stopped at its start.
      expect(stopped.calls.some((c) => c.model === 'account.move' && c.method === 'search_read')).toBe(false);
      const ledger = await connector.api('GET', `/api/installations/${id}/ledger?limit=1000`, { token });
      for (const m of posted) expect((ledger.body.entries as any[]).some((e) => e.invoiceId === String(m))).toBe(false);
    } finally {
      sandbox.write('ir.mail_server', server['id'] as number, { active: true });
    }
    const fixed = await runOnce();
    expect(fixed.run.status).toBe('completed');
    expect(fixed.sent).toEqual(posted.sort((a, b) => a - b));
  });
});

/**
 * Replay conformance: every recorded exchange with a real Odoo 17.0 / 18.0 (test/fixtures/odoo-real) is
 * sent to the sandbox host started as that version, with the modules the recording had (no KSeF module, no
 * custom x_ fields), after the explicit id mapping below. The sandbox must answer with the same shape:
 * success vs error, the same error `name`, the same field names and value kinds, the same `fields_get`
 * names and types, the same HTTP status and redirect target. A difference fails naming file and call.
 * Exchanges that cannot be replayed are listed in NOT_REPLAYED (and in docs/odoo-differences.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_USERS, startSandboxHost } from '../../sandbox/index.ts';
import type { SandboxHost } from '../../sandbox/index.ts';
import { schemaText } from './replay/build-schema.ts';
import { comparePayload, exchangeFiles, IdMap, loadExchanges, locationShape, Replayer } from './replay/replay.ts';
import type { Exchange } from './replay/replay.ts';

type Rec = Record<string, unknown>;
const VERSIONS = ['18.0', '17.0'] as const;
const REAL_DB: Record<string, string> = { '18.0': 'courier', '17.0': 'courier17' };

/** Exchanges that are not replayed, by `file#index` (0-based), each with the reason. */
export const NOT_REPLAYED: Record<string, string> = {
  'common.version.json#1': 'XML-RPC (/xmlrpc/2/common): the connector speaks JSON-RPC (and JSON-2 on 19) only; the sandbox has no XML-RPC endpoint',
  'report.no-redirect.json#2': '/report/html: the connector fetches only /report/pdf; the sandbox has no HTML report route',
};

/**
 * The id mapping, written out: what each recorded record is, and which sandbox record plays it.
 * Records the recording created itself (wizards, menus, URL actions, log records) are mapped from the
 * ids both sides return on create. Ids not listed pass unchanged (999999 stays a missing record).
 */
const REAL = {
  '18.0': {
    plnInvoices: [20, 30, 33, 35, 36, 38, 40],
    eurInvoices: [34, 37, 39, 41],
    creditNotes: [16],
    polishCustomers: [7, 8, 9, 10],
    germanCustomer: 13,
    companyPartner: 1,
    eur: 125,
    pln: 17,
    poland: 178,
    germany: 57,
    bankPln: 1,
    reports: { 222: 'account.report_invoice_with_payments', 223: 'account.report_original_vendor_bill', 224: 'account.report_invoice' },
    templates: { 7: 'account.email_template_edi_invoice', 9: 'account.email_template_edi_credit_note' },
    invoicingMenu: 119,
  },
  '17.0': {
    plnInvoices: [21, 23, 24, 26],
    eurInvoices: [22, 25, 27],
    creditNotes: [16],
    polishCustomers: [7, 8, 9, 10],
    germanCustomer: 13,
    companyPartner: 1,
    eur: 126,
    pln: 17,
    poland: 178,
    germany: 57,
    bankPln: 1,
    reports: { 211: 'account.report_invoice_with_payments', 212: 'account.report_original_vendor_bill', 213: 'account.report_invoice' },
    templates: { 7: 'account.email_template_edi_invoice', 9: 'account.email_template_edi_credit_note' },
    invoicingMenu: 113,
  },
} as const;

function buildIdMap(version: (typeof VERSIONS)[number], sb: SandboxHost): IdMap {
  const real = REAL[version];
  const ids = new IdMap();
  const moves = sb.records('account.move');
  const partners = new Map(sb.records('res.partner').map((p) => [p.id as number, p]));
  const countries = new Map(sb.records('res.country').map((c) => [c.code as string, c.id as number]));
  const idOf = (v: unknown): number => (Array.isArray(v) ? (v[0] as number) : (v as number));
  const posted = (type: string, currency: string) =>
    moves.filter((m) => m.state === 'posted' && m.move_type === type && Array.isArray(m.currency_id) && m.currency_id[1] === currency);
  const assign = (model: string, realIds: readonly number[], pool: Rec[]): void => {
    expect(pool.length, `the sandbox needs ${realIds.length} ${model} records for the mapping`).toBeGreaterThanOrEqual(realIds.length);
    realIds.forEach((r, i) => ids.set(model, r, (pool[i] as Rec).id as number));
  };
  assign('account.move', real.plnInvoices, posted('out_invoice', 'PLN'));
  const eurInvoices = posted('out_invoice', 'EUR').filter(
    (m) => partners.get(idOf(m.commercial_partner_id))?.country_id && idOf(partners.get(idOf(m.commercial_partner_id))?.country_id) === countries.get('DE'),
  );
  assign('account.move', real.eurInvoices, eurInvoices.length >= real.eurInvoices.length ? eurInvoices : posted('out_invoice', 'EUR'));
  assign('account.move', real.creditNotes, posted('out_refund', 'PLN'));
  const plCustomers = [...new Set(posted('out_invoice', 'PLN').map((m) => idOf(m.commercial_partner_id)))].map((id) => partners.get(id) as Rec);
  assign('res.partner', real.polishCustomers, plCustomers);
  ids.set('res.partner', real.germanCustomer, idOf((eurInvoices[0] ?? posted('out_invoice', 'EUR')[0])?.commercial_partner_id));
  ids.set('res.partner', real.companyPartner, 1);
  ids.set('res.currency', real.eur, sb.records('res.currency').find((c) => c.name === 'EUR')!.id as number);
  ids.set('res.currency', real.pln, sb.records('res.currency').find((c) => c.name === 'PLN')!.id as number);
  ids.set('res.country', real.poland, countries.get('PL') as number);
  ids.set('res.country', real.germany, countries.get('DE') as number);
  ids.set('res.partner.bank', real.bankPln, sb.records('res.partner.bank').find((b) => idOf(b.partner_id) === 1)!.id as number);
  const reports = sb.records('ir.actions.report');
  for (const [id, name] of Object.entries(real.reports)) ids.set('ir.actions.report', Number(id), reports.find((r) => r.report_name === name)!.id as number);
  const xmlids = sb.records('ir.model.data');
  for (const [id, x] of Object.entries(real.templates))
    ids.set('mail.template', Number(id), xmlids.find((d) => `${String(d.module)}.${String(d.name)}` === x)!.res_id as number);
  ids.set('ir.ui.menu', real.invoicingMenu, xmlids.find((d) => d.module === 'account' && d.name === 'menu_finance')!.res_id as number);
  return ids;
}

for (const version of VERSIONS) {
  describe(`replay of the recorded real Odoo ${version} against the sandbox started as ${version}`, () => {
    let sb: SandboxHost;
    let ids: IdMap;
    let relation: (model: string, field: string) => string | null;

    beforeAll(async () => {
      sb = await startSandboxHost({
        port: 0,
        version,
        modules: { l10nPlEdi: false, customFields: false },
        today: '2026-12-01',
        invoiceCount: 60,
        smtp: { host: '127.0.0.1', port: 2525 },
      });
      ids = buildIdMap(version, sb);
      const schema = JSON.parse(readFileSync(path.resolve('sandbox/host/schema', `odoo-${version}.json`), 'utf8')) as Record<
        string,
        Record<string, { r?: string }>
      >;
      relation = (model, field) =>
        schema[model]?.[field]?.r ?? (field === 'subtype_id' ? 'mail.message.subtype' : field === 'author_id' ? 'res.partner' : null);
    });
    afterAll(async () => {
      await sb?.stop();
    });

    it('the sandbox schema file is what build-schema.ts derives from these recordings', () => {
      expect(readFileSync(path.resolve('sandbox/host/schema', `odoo-${version}.json`), 'utf8')).toBe(schemaText(version));
    });

    for (const file of exchangeFiles(version)) {
      it(`answers ${file} with real Odoo's shapes`, async () => {
        const users = SANDBOX_USERS;
        const replayer = new Replayer(
          sb,
          ids,
          {
            logins: { admin: users.admin.login, billing: users.ksiegowa.login, viewer: users.handlowiec.login },
            passwords: { 2: users.admin.password, 6: users.ksiegowa.password, 7: users.handlowiec.password },
            apiKeys: { 2: users.admin.apiKey, 6: users.ksiegowa.apiKey, 7: users.handlowiec.apiKey },
            uidOfLogin: { admin: 2, billing: 6, viewer: 7 },
          },
          relation,
          REAL_DB[version] as string,
        );
        const differences: string[] = [];
        const exchanges = loadExchanges(version, file);
        for (const [i, ex] of exchanges.entries()) {
          if (NOT_REPLAYED[`${file}#${i}`]) continue;
          const where = `${version}/${file}#${i} (${ex.why})`;
          for (const d of await replayOne(replayer, ids, ex, file)) differences.push(`${where}: ${d}`);
        }
        expect(differences).toEqual([]);
      });
    }
  });
}

describe('the replay comparison notices differences (it is not a test that cannot fail)', () => {
  let sb: SandboxHost;
  beforeAll(async () => {
    // an 18.0 sandbox with the KSeF module and the custom fields: real 18.0 community has neither
    sb = await startSandboxHost({ port: 0, today: '2026-12-01', invoiceCount: 60, smtp: { host: '127.0.0.1', port: 2525 } });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('reports fields real Odoo does not have, and 17.0 calls an 18.0 host answers differently', async () => {
    const ids = buildIdMap('18.0', sb);
    const users = SANDBOX_USERS;
    const replayer = new Replayer(
      sb,
      ids,
      {
        logins: { admin: 'admin', billing: 'ksiegowa', viewer: 'handlowiec' },
        passwords: { 2: users.admin.password, 6: users.ksiegowa.password, 7: users.handlowiec.password },
        apiKeys: { 2: users.admin.apiKey, 6: users.ksiegowa.apiKey, 7: users.handlowiec.apiKey },
        uidOfLogin: { admin: 2, billing: 6, viewer: 7 },
      },
      () => null,
      'courier',
    );
    const [fieldsGet] = loadExchanges('18.0', 'fields_get.account.move.json');
    expect((await replayOne(replayer, ids, fieldsGet as Exchange, 'fields_get.account.move.json')).join('\n')).toMatch(
      /fields_get: extra .*l10n_pl_edi_number.*x_split_payment/,
    );
    const [create17] = loadExchanges('17.0', 'wizard17.create-read.json');
    const diffs = await replayOne(
      new Replayer(sb, ids, { logins: {}, passwords: { 6: users.ksiegowa.password }, apiKeys: {}, uidOfLogin: {} }, () => null, 'courier17'),
      ids,
      create17 as Exchange,
      'wizard17.create-read.json',
    );
    expect(diffs.join('\n')).toMatch(/real succeeded, the sandbox answered odoo\.exceptions\.AccessError/);
  });
});

async function replayOne(replayer: Replayer, ids: IdMap, ex: Exchange, file: string): Promise<string[]> {
  const got = await replayer.send(ex);
  const real = ex.response;
  const out: string[] = [];
  const realBody = real.body as Rec | undefined;
  const isRpc = typeof realBody === 'object' && realBody !== null && ('result' in realBody || 'error' in realBody);
  if (got.status !== real.status) out.push(`HTTP status real ${real.status}, sandbox ${got.status}`);
  if (real.status >= 300 && real.status < 400 && locationShape(real.headers.location) !== locationShape(got.headers.get('location'))) {
    out.push(`redirect real ${String(real.headers.location)}, sandbox ${String(got.headers.get('location'))}`);
  }
  if (!isRpc) {
    const family = (ct: string | null | undefined): string => (ct ?? '').split(';')[0]?.trim() ?? '';
    if (real.status === 200 && family(real.headers['content-type']) !== family(got.headers.get('content-type')))
      out.push(`content type real ${String(real.headers['content-type'])}, sandbox ${String(got.headers.get('content-type'))}`);
    return out;
  }
  const sandbox = got.json as Rec | null;
  if (!sandbox || typeof sandbox !== 'object') return [...out, `the sandbox answered no JSON-RPC body (${got.text.slice(0, 80)})`];
  const realErr = realBody.error as { data?: { name?: string } } | undefined;
  const sbErr = sandbox.error as { data?: { name?: string; message?: string } } | undefined;
  if (realErr) {
    if (!sbErr) out.push(`real answered ${String(realErr.data?.name)}, the sandbox succeeded`);
    else if (realErr.data?.name !== sbErr.data?.name)
      out.push(`error real ${String(realErr.data?.name)}, sandbox ${String(sbErr.data?.name)}: ${String(sbErr.data?.message).slice(0, 120)}`);
    return out;
  }
  if (sbErr) return [...out, `real succeeded, the sandbox answered ${String(sbErr.data?.name)}: ${String(sbErr.data?.message).slice(0, 160)}`];
  const method = got.method;
  if (method === 'create' && got.model) {
    const r = realBody.result;
    const s = sandbox.result;
    const rl = Array.isArray(r) ? r : [r];
    const sl = Array.isArray(s) ? s : [s];
    rl.forEach((id, k) => {
      if (typeof id === 'number' && typeof sl[k] === 'number') ids.set(got.model as string, id, sl[k] as number);
    });
  }
  out.push(...comparePayload(realBody.result, sandbox.result, method, { emptiness: file === 'search_read.mail.message.json' }));
  return out;
}

/**
 * The shared host-port conformance suite, run against a real Tryton 6.0 (its own server: the suite
 * writes back). Ground truth comes from Tryton's SQLite file and raw JSON-RPC, never from the adapter.
 */
import type { DueInvoiceQuery, HostConnection, HostErp } from '../../src/connector/port.ts';
import { connectorKept } from '../../src/connector/descriptor.ts';
import type { EmailAccount } from '../../src/domain.ts';
import { LoginGuard, RECEIPT_NAME, createTrytonHost, parseReceipt, trytonHost } from '../../src/connector/tryton/index.ts';
import { hostConformanceSuite } from './conformance.ts';
import { startTryton, trytonInstalled, trytonRaw, trytonSql, TRYTON_INSTALL } from '../support/tryton.ts';
import { describe, it } from 'vitest';

const account: EmailAccount = {
  id: 'connector-1',
  name: 'Faktury (konto konektora)',
  active: true,
  fromAddress: 'faktury@spike.example',
  fromFilter: null,
  smtp: { host: 'smtp.spike.example', port: 465, tls: 'tls', user: 'faktury@spike.example', password: 'secret' },
  imap: null,
};

if (trytonInstalled()) {
  hostConformanceSuite('tryton adapter on a real Tryton 6.0', async () => {
    const t = (await startTryton())!;
    const raw = await trytonRaw(t);
    const guard = new LoginGuard();
    const conn: HostConnection = {
      kind: 'tryton',
      baseUrl: t.url,
      database: t.database,
      companyId: String(t.seed.company.id),
      integration: { login: t.admin.login, secret: t.admin.password },
      operator: { login: t.ksiegowa.login, secret: t.ksiegowa.password },
      timeoutMs: 15_000,
    };
    const options = { loginGuard: guard };
    const kept = (h: HostErp) => connectorKept(h, trytonHost, { accounts: async () => [account], templates: async () => [] });
    const dates = Object.values(t.seed.invoices)
      .map((i) => i.date)
      .sort();
    const queries: DueInvoiceQuery[] = [
      { documents: 'confirmed_only', dateBasis: 'issue_date', fromDate: dates[0]!, pageSize: 2, excludeHostMarkedSent: true },
      { documents: 'all', dateBasis: 'sale_date', fromDate: t.seed.invoices.posted_eur.date, pageSize: 2, excludeHostMarkedSent: false },
    ];
    const receiptSays = async (ids: number[]): Promise<Set<number>> => {
      const rows = await raw('model.ir.attachment.search_read', [
        [
          ['resource', 'in', ids.map((i) => `account.invoice,${i}`)],
          ['name', '=', RECEIPT_NAME],
        ],
        0,
        null,
        null,
        ['resource', 'data'],
        {},
      ]);
      const marked = new Set<number>();
      for (const r of rows as { resource: string; data: { base64: string } }[]) {
        if (parseReceipt(Buffer.from(r.data.base64, 'base64'))?.markedSent) marked.add(Number(r.resource.split(',')[1]));
      }
      return marked;
    };
    return {
      host: kept(createTrytonHost(conn, options)),
      teardown: () => t.stop(),
      expectations: {
        kind: 'tryton',
        operatorLogin: t.ksiegowa.login,
        badOperatorHost: kept(createTrytonHost({ ...conn, operator: { login: t.ksiegowa.login, secret: 'not-the-password' } }, options)),
        unreachableHost: kept(createTrytonHost({ ...conn, baseUrl: 'http://127.0.0.1:1' }, options)),
        queries,
        async dueIds(q) {
          const states = q.documents === 'confirmed_only' ? ['posted', 'paid'] : ['draft', 'validated', 'posted', 'paid'];
          // Tryton 6.0 has no sale date: both bases compare invoice_date.
          const rows = await trytonSql(
            t,
            `SELECT id FROM account_invoice WHERE type = 'out' AND company = ? AND state IN (${states.map(() => '?').join(',')}) AND invoice_date >= ?`,
            [t.seed.company.id, ...states, q.fromDate],
          );
          let ids = rows.map((r) => Number(r[0]));
          if (q.excludeHostMarkedSent) {
            const marked = await receiptSays(ids);
            ids = ids.filter((i) => !marked.has(i));
          }
          return { ids: ids.map(String), exact: true };
        },
        missingInvoiceId: '999999',
        hostMarksSent: async (id) => (await receiptSays([Number(id)])).has(Number(id)),
        notesOn: async (id) => Number((await trytonSql(t, 'SELECT COUNT(*) FROM ir_note WHERE resource = ?', [`account.invoice,${id}`]))[0]![0]),
        invoiceTemplateId: null,
        missingTemplateId: 'no-such-template',
        async giveCustomerEmail(invoiceId, email) {
          const party = Number((await trytonSql(t, 'SELECT party FROM account_invoice WHERE id = ?', [Number(invoiceId)]))[0]![0]);
          await raw('model.party.contact_mechanism.create', [[{ party, type: 'email', value: email }], {}]);
        },
        async editDraft(invoiceId) {
          await raw('model.account.invoice.write', [[Number(invoiceId)], { comment: 'Poprawione warunki płatności' }, {}]);
        },
      },
    };
  });
} else {
  describe('host port conformance: tryton', () => {
    it.skip(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`, () => {});
  });
  console.warn(`tryton SKIPPED — install with: ${TRYTON_INSTALL}`);
}

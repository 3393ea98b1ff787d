/**
 * The sandbox's KSeF data (Odoo's l10n_pl_edi where the module exists): the FA(3) XML attachments of the
 * seeded invoices are well-formed, follow the FA(3) schema shape for the fields a print needs and match
 * the invoice's own amounts to the grosz; one invoice is OFFLINE (XML, no KSeF number yet).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildSandboxOrm } from '../../sandbox/host/index.ts';
import type { Raw } from '../../sandbox/host/orm.ts';
import { parseXml, xmlAt, type XmlElement } from '../support/xml.ts';

const SMTP = { host: '127.0.0.1', port: 2525, user: null, password: null, encryption: 'none' as const };
const TODAY = '2026-11-20';

function minor(v: unknown): bigint {
  const s = typeof v === 'number' ? v.toFixed(2) : String(v);
  expect(s).toMatch(/^-?\d+\.\d{2}$/);
  const neg = s.startsWith('-');
  const [i, f] = s.replace('-', '').split('.') as [string, string];
  const m = BigInt(i) * 100n + BigInt(f);
  return neg ? -m : m;
}
const FA3_ORDER = [
  'P_13_1',
  'P_14_1',
  'P_14_1W',
  'P_13_2',
  'P_14_2',
  'P_14_2W',
  'P_13_3',
  'P_14_3',
  'P_14_3W',
  'P_13_6_1',
  'P_13_6_2',
  'P_13_6_3',
  'P_13_7',
  'P_13_8',
  'P_13_9',
];
const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const sumOf = (fa: XmlElement, re: RegExp): bigint => fa.children.filter((c) => re.test(c.name)).reduce((a, c) => a + minor(c.text), 0n);

describe('sandbox KSeF FA(3) XML (modules.l10nPlEdi)', () => {
  const orm = buildSandboxOrm({ today: TODAY, smtp: SMTP, version: '18.0', modules: { l10nPlEdi: true } });
  const moves = [...orm.table('account.move').values()].filter((m) => m.l10n_pl_edi_attachment_id);
  const company = orm.get('res.partner', 1) as Raw;
  const sellerNip = String(company.vat).replace(/^PL/, '');

  it("KSeF invoices carry an ir.attachment on the move named FA3-<name>.xml; its checksum, size and the move's KSeF hash (SHA-256, Base64URL) are of exactly the stored bytes", () => {
    expect(moves.length).toBeGreaterThanOrEqual(7);
    for (const m of moves) {
      const a = orm.get('ir.attachment', m.l10n_pl_edi_attachment_id as number) as Raw;
      expect(a.res_model).toBe('account.move');
      expect(a.res_id).toBe(m.id);
      expect(a.name).toBe(`FA3-${String(m.name).replaceAll('/', '_')}.xml`);
      expect(a.mimetype).toBe('application/xml');
      const bytes = Buffer.from(a.datas as string, 'base64');
      expect(a.file_size).toBe(bytes.length);
      expect(a.checksum).toBe(createHash('sha1').update(bytes).digest('hex'));
      // the KSeF hash the move stores is of exactly these bytes
      expect(m.l10n_pl_edi_hash).toBe(createHash('sha256').update(bytes).digest('base64url'));
      expect(m.l10n_pl_edi_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('each XML parses and holds the FA(3) header, both NIPs, P_1, P_2, P_13_x/P_14_x per rate, P_15 and KodWaluty equal to the invoice', () => {
    let foreignSeen = 0;
    for (const m of moves) {
      const a = orm.get('ir.attachment', m.l10n_pl_edi_attachment_id as number) as Raw;
      const doc = parseXml(Buffer.from(a.datas as string, 'base64').toString('utf8'));
      expect(doc.name).toBe('Faktura');
      expect(doc.attrs.xmlns).toBe('http://crd.gov.pl/wzor/2025/06/25/13775/');
      const kod = xmlAt(doc, 'Naglowek/KodFormularza');
      expect(kod?.text).toBe('FA');
      expect(kod?.attrs.kodSystemowy).toBe('FA (3)');
      expect(xmlAt(doc, 'Naglowek/WariantFormularza')?.text).toBe('3');
      expect(xmlAt(doc, 'Podmiot1/DaneIdentyfikacyjne/NIP')?.text).toBe(sellerNip);
      const customer = orm.get('res.partner', m.commercial_partner_id as number) as Raw;
      expect(xmlAt(doc, 'Podmiot2/DaneIdentyfikacyjne/NIP')?.text).toBe(String(customer.vat).replace(/^PL/, ''));
      expect(xmlAt(doc, 'Podmiot2/DaneIdentyfikacyjne/NIP')?.text).toMatch(/^\d{10}$/);
      const fa = xmlAt(doc, 'Fa') as XmlElement;
      expect(xmlAt(fa, 'P_1')?.text).toBe(m.invoice_date);
      expect(xmlAt(fa, 'P_2')?.text).toBe(m.name);
      const currency = orm.get('res.currency', m.currency_id as number) as Raw;
      expect(xmlAt(fa, 'KodWaluty')?.text).toBe(currency.name);
      expect(minor(xmlAt(fa, 'P_15')?.text)).toBe(minor(m.amount_total));
      expect(sumOf(fa, /^P_13_/)).toBe(minor(m.amount_untaxed));
      expect(sumOf(fa, /^P_14_\d+$/)).toBe(minor(m.amount_tax));
      const order = fa.children.map((c) => c.name);
      expect(order.slice(0, 3)).toEqual(['KodWaluty', 'P_1', 'P_2']);
      expect(order.indexOf('P_15')).toBeGreaterThan(order.findLastIndex((n) => /^P_1[34]_/.test(n)));
      // per rate in the schema's order: P_13_1, P_14_1, P_14_1W, P_13_2, …, P_13_6_1, P_13_6_2, P_13_7, …
      const sums = order.filter((n) => /^P_1[34]_/.test(n));
      const rank = (n: string): number => FA3_ORDER.indexOf(n);
      for (const n of sums) expect(rank(n), n).toBeGreaterThanOrEqual(0);
      expect(sums.map(rank)).toEqual([...sums.map(rank)].sort((a, b) => a - b));
      const rows = fa.children.filter((c) => c.name === 'FaWiersz');
      expect(rows.length).toBeGreaterThan(0);
      if (currency.name !== 'PLN') {
        foreignSeen++;
        // the VAT in PLN as booked (the balances of the move's tax lines) and the rate Odoo used
        const booked = orm
          .childrenOf('account.move.line', 'move_id', m.id)
          .filter((l) => l.display_type === 'tax')
          .reduce((a, l) => a + abs(minor(l.balance)), 0n);
        expect(booked).toBeGreaterThan(0n);
        expect(sumOf(fa, /^P_14_\d+W$/)).toBe(booked);
        for (const r of rows) expect(xmlAt(r, 'KursWaluty')?.text).toMatch(/^\d+\.\d{1,6}$/);
      } else {
        expect(fa.children.some((c) => /^P_14_\d+W$/.test(c.name))).toBe(false);
        for (const r of rows) expect(xmlAt(r, 'KursWaluty')).toBeUndefined();
      }
    }
    expect(foreignSeen).toBe(1);
  });

  it('one invoice is OFFLINE: its XML is stored but it has no KSeF number yet; one more is sent without XML; the rest are accepted with a number', () => {
    const all = [...orm.table('account.move').values()].filter((m) => m.l10n_pl_edi_status);
    const offline = all.filter((m) => m.l10n_pl_edi_status === 'offline');
    expect(offline).toHaveLength(1);
    expect(offline[0]?.l10n_pl_edi_number).toBeFalsy();
    expect(offline[0]?.l10n_pl_edi_attachment_id).toBeTruthy();
    const sent = all.filter((m) => m.l10n_pl_edi_status === 'sent');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.l10n_pl_edi_attachment_id).toBeFalsy();
    for (const m of all.filter((x) => x.l10n_pl_edi_status === 'accepted')) {
      expect(String(m.l10n_pl_edi_number)).toMatch(new RegExp(`^${sellerNip}-\\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$`));
    }
  });

  it('a malformed XML is refused by the reader (the check can fail)', () => {
    expect(() => parseXml('<?xml version="1.0" encoding="UTF-8"?><Faktura><Fa></Faktura>')).toThrow();
    expect(() => parseXml('<?xml version="1.0" encoding="UTF-8"?><Faktura>a & b</Faktura>')).toThrow();
  });
});

describe('sandbox without l10n_pl_edi', () => {
  it('no invoice has KSeF fields or an FA(3) attachment', () => {
    const orm = buildSandboxOrm({ today: TODAY, smtp: SMTP, version: '18.0', modules: { l10nPlEdi: false } });
    expect([...orm.table('ir.attachment').values()].some((a) => String(a.name).startsWith('FA3-'))).toBe(false);
  });
});

/**
 * Tryton adapter pieces that need no server: tagged-value decoding, exact money, the mapping rules
 * (credit notes, states, e-mails, taxes, rates), fault classification and the login guard.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { LoginGuard, canonicalDecimal, decodeValue } from '../../src/connector/tryton/client.ts';
import { faultToError, networkToError, statusToError } from '../../src/connector/tryton/errors.ts';
import {
  decimalToMinor,
  floatToDecimal,
  invertRate,
  isCreditNote,
  mapInvoice,
  mapState,
  parseReceipt,
  pickEmails,
  rateToPercent,
  taxMinor,
  type Rec,
} from '../../src/connector/tryton/mapping.ts';
import { ConnectorError } from '../../src/errors.ts';
import type { Seller } from '../../src/domain.ts';
import type { HostConnection } from '../../src/connector/port.ts';
import { createHost, supportedHostKinds } from '../../src/connector/registry.ts';
import { TrytonHost, createTrytonHost } from '../../src/connector/tryton/index.ts';

describe('tryton tagged values', () => {
  it('decodes Decimal to the exact decimal text, never through a float', () => {
    expect(decodeValue({ __class__: 'Decimal', decimal: '1895.00' })).toBe('1895.00');
    expect(decodeValue({ __class__: 'Decimal', decimal: '0.1' })).toBe('0.1');
    expect(decodeValue({ __class__: 'Decimal', decimal: '123456789012345678.99' })).toBe('123456789012345678.99');
    expect(decodeValue({ __class__: 'Decimal', decimal: '1E+1' })).toBe('10');
    expect(decodeValue({ __class__: 'Decimal', decimal: '-2.5E-3' })).toBe('-0.0025');
  });

  it('decodes date, datetime (naive UTC), time, timedelta and bytes', () => {
    expect(decodeValue({ __class__: 'date', year: 2026, month: 3, day: 9 })).toBe('2026-03-09');
    expect(decodeValue({ __class__: 'datetime', year: 2026, month: 11, day: 27, hour: 19, minute: 56, second: 54, microsecond: 192851 })).toBe(
      '2026-11-27T19:56:54.192Z',
    );
    expect(decodeValue({ __class__: 'time', hour: 7, minute: 5, second: 0 })).toBe('07:05:00');
    expect(decodeValue({ __class__: 'timedelta', seconds: 90 })).toBe(90);
    const bytes = decodeValue({ __class__: 'bytes', base64: 'eyJhIjox\nfQ==\n' });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(bytes as Uint8Array)).toBe('{"a":1}');
  });

  it('decodes nested records and lists, leaving plain values alone', () => {
    expect(decodeValue({ id: 1, 'currency.': { code: 'PLN' }, lines: [1, 2], total: { __class__: 'Decimal', decimal: '5.00' }, x: null })).toEqual({
      id: 1,
      'currency.': { code: 'PLN' },
      lines: [1, 2],
      total: '5.00',
      x: null,
    });
  });

  it('canonicalDecimal keeps exact text for any plain decimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 6 }), (v, scale) => {
        const neg = v < 0n;
        let s = (neg ? -v : v).toString().padStart(scale + 1, '0');
        if (scale > 0) s = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
        const text = `${neg ? '-' : ''}${s}`;
        expect(canonicalDecimal(text)).toBe(text);
      }),
    );
  });
});

describe('tryton money', () => {
  it('turns decimal text into minor units exactly', () => {
    expect(decimalToMinor('1895.00', 2)).toBe(189500);
    expect(decimalToMinor('0.07', 2)).toBe(7);
    expect(decimalToMinor('-1895.00', 2)).toBe(-189500);
    expect(decimalToMinor('150', 2)).toBe(15000);
    expect(decimalToMinor('12.345', 2)).toBe(1235);
    expect(decimalToMinor('-12.345', 2)).toBe(-1235);
    expect(decimalToMinor('5', 0)).toBe(5);
  });

  it('agrees with integer arithmetic for every amount with two decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (minor) => {
        const abs = Math.abs(minor);
        const text = `${minor < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
        expect(decimalToMinor(text, 2)).toBe(minor === 0 ? 0 : minor);
      }),
    );
  });

  it('reads Float quantities through their shortest decimal text', () => {
    expect(floatToDecimal(10.0)).toBe('10');
    expect(floatToDecimal(2.5)).toBe('2.5');
    expect(floatToDecimal(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(floatToDecimal(1e-7)).toBe('0.0000001');
  });

  it('converts tax rates to percents and computes line tax half away from zero', () => {
    expect(rateToPercent('0.23')).toBe('23');
    expect(rateToPercent('0.08')).toBe('8');
    expect(rateToPercent('0.085')).toBe('8.5');
    expect(rateToPercent('0')).toBe('0');
    expect(rateToPercent('1')).toBe('100');
    expect(taxMinor(150000, '0.23')).toBe(34500);
    expect(taxMinor(14970, '0.08')).toBe(1198); // 1197.6
    expect(taxMinor(-14970, '0.08')).toBe(-1198);
    expect(taxMinor(50, '0.23')).toBe(12); // 11.5 -> 12
  });

  it('inverts Tryton rates (currency per company currency) into PLN per unit, 4 decimals', () => {
    expect(invertRate('1', '0.232558')).toBe('4.3000');
    expect(invertRate('1', '0.25')).toBe('4.0000');
    expect(invertRate('1', '1')).toBe('1.0000');
    expect(invertRate('2', '0.5')).toBe('4.0000');
  });
});

const seller: Seller = {
  id: '1',
  name: 'Spike Sp. z o.o.',
  vat: '5260250274',
  address: { street: 'ul. Marszałkowska 1', street2: null, zip: '00-001', city: 'Warszawa', countryCode: 'PL', countryName: 'Polska' },
  email: null,
  lang: 'pl',
  eInvoiceConsent: null,
  bankAccount: null,
  bankName: null,
};

function header(over: Rec = {}): Rec {
  return {
    id: 8,
    number: 'KOR/2026/0001',
    state: 'posted',
    type: 'out',
    invoice_date: '2026-11-26',
    write_date: '2026-11-27T10:00:00.000Z',
    create_date: '2026-11-27T09:00:00.000Z',
    comment: '',
    untaxed_amount: '-1550.00',
    tax_amount: '-345.00',
    total_amount: '-1895.00',
    'currency.': { id: 1, code: 'PLN', digits: 2 },
    'company.': { id: 1, 'currency.': { id: 1, code: 'PLN' } },
    'party.': { id: 2, name: 'ACME Customer S.A.', 'lang.': { id: 18, code: 'pl' } },
    'party_tax_identifier.': { id: 2, code: '8567346215' },
    'invoice_address.': { id: 2, street: 'ul. Długa 5/7\nII piętro', postal_code: '80-827', city: 'Gdańsk', 'country.': { id: 1, code: 'PL', name: 'Polska' } },
    'payment_term.': { id: 1, name: '30 dni' },
    'lines_to_pay.': [
      { id: 5, maturity_date: '2026-12-26' },
      { id: 4, maturity_date: '2026-12-20' },
    ],
    'taxes.': [{ id: 1, legal_notice: '' }],
    lines: [10, 11],
    ...over,
  };
}

const creditLines: Rec[] = [
  {
    id: 10,
    invoice: 8,
    type: 'line',
    sequence: 1,
    description: null,
    quantity: -10,
    'unit.': { rec_name: 'Unit' },
    unit_price: '150',
    amount: '-1500.00',
    'product.': { id: 1, rec_name: 'Consulting hour' },
    taxes: [1],
    origin: 'account.invoice.line,1',
  },
  {
    id: 11,
    invoice: 8,
    type: 'line',
    sequence: 2,
    description: 'Travel costs (no tax)',
    quantity: -1,
    'unit.': null,
    unit_price: '50',
    amount: '-50.00',
    'product.': null,
    taxes: [],
    origin: 'account.invoice.line,2',
  },
];
const taxes = new Map<number, Rec>([[1, { id: 1, name: 'VAT 23%', description: 'VAT 23%', rate: '0.23', type: 'percentage' }]]);

describe('tryton invoice mapping', () => {
  it('maps states: draft and validated are the buffer, posted and paid are confirmed', () => {
    expect(mapState('draft')).toBe('draft');
    expect(mapState('validated')).toBe('draft');
    expect(mapState('posted')).toBe('posted');
    expect(mapState('paid')).toBe('posted');
    expect(mapState('cancelled')).toBe('cancelled');
  });

  it('shows a negative out invoice as a credit note with positive amounts and quantities', () => {
    const inv = mapInvoice(header(), {
      lines: creditLines,
      taxes,
      party: header()['party.'] as Rec,
      mechanisms: [],
      seller,
      receipt: null,
      corrects: { number: 'FV/2026/0001', date: '2026-11-06' },
      exchangeRate: null,
    });
    expect(inv.kind).toBe('credit_note');
    expect([inv.amountUntaxed, inv.amountTax, inv.amountTotal]).toEqual([155000, 34500, 189500]);
    expect(inv.lines.map((l) => [l.name, l.quantity, l.unitPrice, l.net, l.gross])).toEqual([
      ['Consulting hour', '10', '150', 150000, 184500],
      ['Travel costs (no tax)', '1', '50', 5000, 5000],
    ]);
    expect(inv.lines[0]!.taxes).toEqual([{ id: '1', name: 'VAT 23%', percent: '23', label: '23%' }]);
    expect(inv.corrects).toEqual({ number: 'FV/2026/0001', date: '2026-11-06' });
    expect(inv.dueDate).toBe('2026-12-20');
    expect(inv.saleDate).toBeNull();
    expect(inv.customer.address).toEqual({
      street: 'ul. Długa 5/7',
      street2: 'II piętro',
      zip: '80-827',
      city: 'Gdańsk',
      countryCode: 'PL',
      countryName: 'Polska',
    });
    expect(inv.customer.vat).toBe('8567346215');
    expect(inv.customer.lang).toBe('pl');
    expect(inv.notes.narration).toBeNull();
  });

  it('keeps an ordinary invoice as it is and ignores corrections on it', () => {
    const lines = creditLines.map((l) => ({ ...l, quantity: -(l.quantity as number), amount: String(l.amount).slice(1), origin: null }));
    const inv = mapInvoice(header({ untaxed_amount: '1550.00', tax_amount: '345.00', total_amount: '1895.00', comment: 'Dziękujemy' }), {
      lines,
      taxes,
      party: header()['party.'] as Rec,
      mechanisms: [],
      seller,
      receipt: parseReceipt(new TextEncoder().encode(JSON.stringify({ kind: 'invoice-courier-receipt', state: 'sent', markedSent: true }))),
      corrects: { number: 'X', date: null },
      exchangeRate: null,
    });
    expect(inv.kind).toBe('invoice');
    expect(inv.amountTotal).toBe(189500);
    expect(inv.corrects).toBeNull();
    expect(inv.hostMarkedSent).toBe(true);
    expect(inv.notes.narration).toBe('Dziękujemy');
  });

  it('uses Tryton’s credit-note rule: negative total but a positive product line is still an invoice', () => {
    expect(
      isCreditNote({ total_amount: '-10.00' }, [
        { 'product.': { id: 1 }, amount: '5.00' },
        { 'product.': null, amount: '-15.00' },
      ]),
    ).toBe(false);
    expect(isCreditNote({ total_amount: '-10.00' }, [{ 'product.': { id: 1 }, amount: '-10.00' }])).toBe(true);
    expect(isCreditNote({ total_amount: '0.00' }, [])).toBe(false);
  });

  it('maps sections and comments as amount-free lines', () => {
    const inv = mapInvoice(header({ untaxed_amount: '0', tax_amount: '0', total_amount: '0' }), {
      lines: [
        { id: 1, type: 'title', description: 'Usługi', sequence: 1 },
        { id: 2, type: 'comment', description: 'Uwaga', sequence: 2 },
      ],
      taxes,
      party: { id: 2, name: 'X' },
      mechanisms: [],
      seller,
      receipt: null,
      corrects: null,
      exchangeRate: null,
    });
    expect(inv.lines.map((l) => [l.kind, l.name, l.net])).toEqual([
      ['section', 'Usługi', 0],
      ['note', 'Uwaga', 0],
    ]);
  });

  it('prefers e-mails flagged for invoices, else all active e-mails', () => {
    const flagged = pickEmails('ACME', [
      { id: 1, type: 'email', value: 'office@acme.example', invoice: 0, active: 1 },
      { id: 2, type: 'email', value: 'billing@acme.example', invoice: 1, active: 1, name: 'Księgowość' },
    ]);
    expect(flagged.email).toBe('billing@acme.example');
    expect(flagged.contacts).toEqual([{ id: '2', name: 'Księgowość', email: 'billing@acme.example' }]);
    const all = pickEmails('K', [
      { id: 3, type: 'email', value: 'a@k.example', invoice: false },
      { id: 4, type: 'email', value: 'b@k.example', invoice: false },
      { id: 5, type: 'email', value: 'c@k.example', invoice: false, active: 0 },
    ]);
    expect(all).toEqual({ email: 'a@k.example, b@k.example', contacts: [] });
    expect(pickEmails('N', [])).toEqual({ email: null, contacts: [] });
  });

  it('ignores receipts that are not the connector’s', () => {
    expect(parseReceipt(new TextEncoder().encode('not json'))).toBeNull();
    expect(parseReceipt(new TextEncoder().encode('{"kind":"other","state":"sent"}'))).toBeNull();
  });
});

describe('tryton fault classification', () => {
  const code = (e: ConnectorError) => e.code;
  it('maps UserError to host_validation and AccessError-type messages to host_access', () => {
    expect(code(faultToError(['UserError', ['You cannot modify invoice "FV/1" because it is posted.', '', null]], 'm'))).toBe('host_validation');
    expect(
      code(faultToError(['UserError', ['You are not allowed to read records "9" of "Invoice" because of at least one of these rules:', '', null]], 'm')),
    ).toBe('host_access');
    expect(code(faultToError(['UserWarning', ['k', 'payment date in the past', '']], 'm'))).toBe('host_validation');
  });

  it('maps an unknown field or model to host_validation naming it, and a missing database to host_not_found', () => {
    const e = faultToError(["'no_such_field'", 'Traceback ...'], 'model.account.invoice.read');
    expect(e.code).toBe('host_validation');
    expect(e.detail).toMatchObject({ name: 'no_such_field' });
    expect(e.message).not.toContain('Traceback');
    expect(code(faultToError(["Database '/x/nodb.sqlite' doesn't exist!", ''], 'common.db.login'))).toBe('host_not_found');
  });

  it('maps HTTP statuses and network failures', () => {
    expect(code(statusToError(401, 'common.db.login', 'login'))).toBe('host_auth');
    expect(code(statusToError(401, 'model.x.read', 'call'))).toBe('host_auth');
    const limited = statusToError(429, 'common.db.login', 'login');
    expect([limited.code, limited.retryable]).toEqual(['host_unavailable', true]);
    expect(code(statusToError(403, 'm', 'call'))).toBe('host_access');
    expect(code(statusToError(502, 'm', 'call'))).toBe('host_unavailable');
    const down = networkToError({ code: 'ECONNREFUSED' }, 'm', 1000);
    expect([down.code, down.retryable]).toEqual(['host_unavailable', true]);
    expect(networkToError({ code: 'ECONNABORTED' }, 'm', 1000).message).toContain('1000 ms');
  });
});

describe('tryton login guard', () => {
  it('answers a recent failed login from memory, then lets one attempt through after the hold', () => {
    let now = 0;
    const guard = new LoginGuard(60_000, () => now);
    guard.check('k');
    guard.fail('k', new ConnectorError('host_auth', 'bad password'));
    expect(() => guard.check('k')).toThrow(ConnectorError);
    try {
      guard.check('k');
    } catch (e) {
      expect((e as ConnectorError).code).toBe('host_auth');
      expect((e as ConnectorError).retryable).toBe(false);
    }
    guard.check('other');
    now = 60_001;
    expect(() => guard.check('k')).not.toThrow();
  });
});

describe('tryton in the host registry', () => {
  const connection: HostConnection = {
    kind: 'tryton',
    baseUrl: 'http://127.0.0.1:1',
    database: 'courier',
    companyId: null,
    integration: { login: 'admin', secret: 'x' },
    operator: null,
  };

  it('serves kind tryton with the Tryton adapter, inside the connector-kept wrapper (Tryton has no accounts or templates of its own)', async () => {
    expect(supportedHostKinds()).toContain('tryton');
    const host = createHost(connection);
    expect(host).not.toBeInstanceOf(TrytonHost);
    expect(host.kind).toBe('tryton');
    expect(createTrytonHost(connection)).toBeInstanceOf(TrytonHost);
    expect(await host.listEmailTemplates()).toEqual([]);
  });

  it('refuses a company id that is no Tryton record id', () => {
    for (const companyId of ['abc', '0', '-1', '1.5']) {
      try {
        createHost({ ...connection, companyId });
        expect.unreachable();
      } catch (e) {
        expect((e as ConnectorError).code).toBe('validation');
        expect((e as ConnectorError).field).toBe('companyId');
      }
    }
  });

  it('checkOperator without an operator is host_auth, before any network call', async () => {
    await expect(createHost(connection).checkOperator()).rejects.toMatchObject({ code: 'host_auth' });
  });
});

import { describe, it, expect } from 'vitest';
import type { Invoice, Party } from '../../src/domain.ts';
import type { LedgerEntry } from '../../src/store/port.ts';
import { defaultSettings, type Settings } from '../../src/settings/schema.ts';
import {
  contentChanged,
  contentHash,
  decide,
  isValidEmail,
  messageIdFor,
  printFor,
  resolveRecipients,
  splitAddresses,
  type Decision,
} from '../../src/jobs/rules/selection.ts';

const NOW = new Date('2026-05-12T10:00:00Z');
const opts = { maxAttempts: 4, now: NOW };

function party(over: Partial<Party> = {}): Party {
  return {
    id: '7',
    name: 'Hurtownia Żółw Sp. z o.o.',
    vat: '5260250274',
    address: { street: 'ul. Długa 5', street2: null, zip: '00-238', city: 'Warszawa', countryCode: 'PL', countryName: 'Polska' },
    email: 'biuro@zolw.pl',
    lang: 'pl_PL',
    eInvoiceConsent: null,
    ...over,
  };
}

function invoice(over: Partial<Invoice> = {}): Invoice {
  return {
    id: '101',
    number: 'FV/2026/05/0001',
    kind: 'invoice',
    state: 'posted',
    issueDate: '2026-05-10',
    saleDate: '2026-05-08',
    dueDate: '2026-05-24',
    currency: 'PLN',
    companyCurrency: 'PLN',
    amountUntaxed: 10000,
    amountTax: 2300,
    amountTotal: 12300,
    exchangeRate: null,
    seller: {
      ...party({ id: '1', name: 'Sprzedawca S.A.', email: 'faktury@sprzedawca.pl' }),
      bankAccount: 'PL61109010140000071219812874',
      bankName: 'Santander',
    },
    customer: party(),
    invoiceContacts: [],
    lines: [
      {
        id: 'l1',
        kind: 'product',
        name: 'Usługa',
        quantity: '1.000',
        unit: 'szt.',
        unitPrice: '100.00',
        discountPercent: '0',
        net: 10000,
        gross: 12300,
        taxes: [{ id: 't23', name: 'VAT 23%', percent: '23', label: '23%' }],
      },
    ],
    paymentReference: 'FV/2026/05/0001',
    paymentTerm: '14 dni',
    paymentMethod: 'przelew',
    notes: { splitPayment: false, reverseCharge: false, exemptionBasis: null, narration: null },
    corrects: null,
    ksef: null,
    hostMarkedSent: false,
    hostIsSending: false,
    updatedAt: '2026-05-10T12:00:00Z',
    ...over,
  };
}

function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), enabled: true, emailAccount: '1', emailTemplate: '2', fromDate: '2026-05-01', ...over };
}

function ledger(over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    installationId: 'inst-1',
    invoiceId: '101',
    invoiceNumber: 'FV/2026/05/0001',
    state: 'skipped',
    owner: null,
    leaseUntil: null,
    attempts: 0,
    messageId: messageIdFor('inst-1', '101', 'faktury@piekarnia.pl'),
    contentHash: null,
    reason: null,
    detail: null,
    recipients: [],
    writeBackPending: false,
    nextAttemptAt: null,
    updatedAt: '2026-05-11T10:00:00Z',
    ...over,
  };
}

function reason(d: Decision): string {
  return d.send ? 'send' : d.reason;
}

describe('which invoices are sent', () => {
  it('a confirmed invoice dated after "from date" with an address is sent to that address with the PLN print', () => {
    const d = decide(invoice(), settings(), null, opts);
    expect(d).toEqual({ send: true, recipients: ['biuro@zolw.pl'], invalidRecipients: [], print: { kind: 'standard', id: 'invoice' } });
  });

  it('a cancelled invoice is never sent', () => {
    expect(reason(decide(invoice({ state: 'cancelled' }), settings({ documents: 'all' }), null, opts))).toBe('cancelled');
  });

  it('a draft is not sent when documents = confirmed only', () => {
    expect(reason(decide(invoice({ state: 'draft' }), settings({ documents: 'confirmed_only' }), null, opts))).toBe('draft_not_wanted');
  });

  it('a draft is sent when documents = all', () => {
    expect(reason(decide(invoice({ state: 'draft' }), settings({ documents: 'all' }), null, opts))).toBe('send');
  });

  it('a credit note is sent like an invoice', () => {
    expect(reason(decide(invoice({ kind: 'credit_note' }), settings(), null, opts))).toBe('send');
  });

  it('a document that is not a customer invoice is not sent', () => {
    const other = invoice({ kind: 'vendor_bill' as unknown as Invoice['kind'] });
    expect(reason(decide(other, settings(), null, opts))).toBe('not_customer_invoice');
  });
});

describe('"from date" and the compared date', () => {
  it('fromDate is inclusive', () => {
    expect(reason(decide(invoice({ issueDate: '2026-05-01' }), settings({ dateBasis: 'issue_date' }), null, opts))).toBe('send');
    expect(reason(decide(invoice({ issueDate: '2026-04-30' }), settings({ dateBasis: 'issue_date' }), null, opts))).toBe('before_from_date');
  });

  it('the sale date is compared when dateBasis = sale date', () => {
    const inv = invoice({ saleDate: '2026-04-28', issueDate: '2026-05-02' });
    expect(reason(decide(inv, settings({ dateBasis: 'sale_date' }), null, opts))).toBe('before_from_date');
    expect(reason(decide(inv, settings({ dateBasis: 'issue_date' }), null, opts))).toBe('send');
  });

  it('sale date falls back to the issue date when the host has none', () => {
    expect(reason(decide(invoice({ saleDate: null, issueDate: '2026-05-02' }), settings({ dateBasis: 'sale_date' }), null, opts))).toBe('send');
    expect(reason(decide(invoice({ saleDate: null, issueDate: '2026-04-02' }), settings({ dateBasis: 'sale_date' }), null, opts))).toBe('before_from_date');
  });

  it('an invoice without the compared date is skipped with a reason logged once', () => {
    const d = decide(invoice({ state: 'draft', issueDate: null, saleDate: null }), settings({ documents: 'all' }), null, opts);
    expect(d).toMatchObject({ send: false, reason: 'missing_date', logOnce: true });
  });

  it('nothing is sent while no "from date" is set', () => {
    expect(reason(decide(invoice(), settings({ fromDate: null }), null, opts))).toBe('before_from_date');
  });

  it('the reason names both dates', () => {
    const d = decide(invoice({ issueDate: '2026-04-30' }), settings({ dateBasis: 'issue_date' }), null, opts);
    expect(d.send ? '' : d.detail).toBe('issue date 2026-04-30 is before "from date" 2026-05-01');
  });
});

describe('never twice', () => {
  it('an invoice sent by hand is not sent again', () => {
    expect(reason(decide(invoice({ hostMarkedSent: true }), settings(), null, opts))).toBe('host_marked_sent');
  });

  it('an invoice the host is sending itself is left to the host', () => {
    expect(reason(decide(invoice({ hostIsSending: true }), settings(), null, opts))).toBe('host_is_sending');
  });

  it.each(['sent', 'drafted', 'failed', 'uncertain'] as const)('an invoice recorded as %s is not sent again', (state) => {
    expect(reason(decide(invoice(), settings(), ledger({ state }), opts))).toBe('already_recorded');
  });

  it('an invoice recorded as sent is reported as recorded even when the host marks it sent too', () => {
    expect(reason(decide(invoice({ hostMarkedSent: true }), settings(), ledger({ state: 'sent' }), opts))).toBe('already_recorded');
  });

  it('an invoice another worker is delivering is left alone, also after its lease expired', () => {
    expect(reason(decide(invoice(), settings(), ledger({ state: 'sending', owner: 'h:1:a', leaseUntil: '2026-05-12T10:05:00Z' }), opts))).toBe('in_progress');
    const expired = decide(invoice(), settings(), ledger({ state: 'sending', owner: 'h:1:a', leaseUntil: '2026-05-12T09:00:00Z' }), opts);
    expect(expired).toMatchObject({ send: false, reason: 'in_progress', detail: 'an interrupted delivery awaits resolution' });
  });

  it('a live claim is in progress, an expired claim may be taken over', () => {
    expect(reason(decide(invoice(), settings(), ledger({ state: 'claimed', owner: 'h:1:a', leaseUntil: '2026-05-12T10:05:00Z' }), opts))).toBe('in_progress');
    expect(reason(decide(invoice(), settings(), ledger({ state: 'claimed', owner: 'h:1:a', leaseUntil: '2026-05-12T09:59:59Z' }), opts))).toBe('send');
  });

  it('a skipped invoice is looked at again', () => {
    expect(reason(decide(invoice(), settings(), ledger({ state: 'skipped', reason: 'no_recipient' }), opts))).toBe('send');
  });
});

describe('retries', () => {
  it('a retry waits until its next attempt time', () => {
    const l = ledger({ state: 'retry', attempts: 1, nextAttemptAt: '2026-05-12T10:30:00Z' });
    expect(reason(decide(invoice(), settings(), l, opts))).toBe('retry_later');
    expect(reason(decide(invoice(), settings(), l, { ...opts, now: new Date('2026-05-12T10:30:00Z') }))).toBe('send');
  });

  it('a retry stops when the attempts are used up', () => {
    const l = ledger({ state: 'retry', attempts: 4, nextAttemptAt: '2026-05-12T09:00:00Z' });
    expect(decide(invoice(), settings(), l, opts)).toMatchObject({ send: false, reason: 'attempts_exhausted', detail: '4 of 4 attempts used' });
  });
});

describe('recipients and consent', () => {
  it('a customer without an e-mail address is skipped and logged once', () => {
    const d = decide(invoice({ customer: party({ email: null }) }), settings(), null, opts);
    expect(d).toMatchObject({ send: false, reason: 'no_recipient', logOnce: true });
  });

  it('a customer whose only address is invalid is skipped, naming the invalid address', () => {
    const d = decide(invoice({ customer: party({ email: 'biuro@zolw' }) }), settings(), null, opts);
    expect(d).toMatchObject({ send: false, reason: 'no_recipient', invalidRecipients: ['biuro@zolw'] });
    expect(d.send ? '' : d.detail).toContain('biuro@zolw');
  });

  it('a customer who refused electronic invoices is not sent to, and it is logged once', () => {
    const d = decide(invoice({ customer: party({ eInvoiceConsent: false }) }), settings(), null, opts);
    expect(d).toMatchObject({ send: false, reason: 'no_consent', logOnce: true });
  });

  it('a host that keeps no consent field does not block sending', () => {
    expect(reason(decide(invoice({ customer: party({ eInvoiceConsent: null }) }), settings(), null, opts))).toBe('send');
    expect(reason(decide(invoice({ customer: party({ eInvoiceConsent: true }) }), settings(), null, opts))).toBe('send');
  });

  it('reasons that are not actionable are not logged once (they are just not due)', () => {
    const d = decide(invoice({ state: 'cancelled' }), settings(), null, opts);
    expect(d).toMatchObject({ logOnce: false });
  });

  it('the valid addresses are sent to and the invalid ones reported next to them', () => {
    const d = decide(invoice({ customer: party({ email: 'a@firma.pl; zly-adres, b@firma.pl' }) }), settings(), null, opts);
    expect(d).toMatchObject({ send: true, recipients: ['a@firma.pl', 'b@firma.pl'], invalidRecipients: ['zly-adres'] });
  });
});

describe('resolving recipients', () => {
  it("invoice contacts' addresses come first, all of them, instead of the customer's", () => {
    const inv = invoice({
      invoiceContacts: [
        { id: 'c1', name: 'Księgowość', email: 'ksiegowosc@zolw.pl' },
        { id: 'c2', name: 'Szef', email: 'szef@zolw.pl, ksiegowosc@ZOLW.pl' },
      ],
    });
    expect(resolveRecipients(inv)).toEqual({ valid: ['ksiegowosc@zolw.pl', 'szef@zolw.pl'], invalid: [] });
  });

  it("falls back to the customer's address when no contact has a valid one", () => {
    const inv = invoice({
      invoiceContacts: [
        { id: 'c1', name: 'X', email: null },
        { id: 'c2', name: 'Y', email: 'y@@zolw.pl' },
      ],
    });
    expect(resolveRecipients(inv)).toEqual({ valid: ['biuro@zolw.pl'], invalid: ['y@@zolw.pl'] });
  });

  it('splits on commas and semicolons, trims, and dedupes case-insensitively keeping the first spelling', () => {
    const inv = invoice({ customer: party({ email: ' Jan.Kowalski@Firma.pl ;jan.kowalski@firma.pl,  anna@firma.pl ;; ' }) });
    expect(resolveRecipients(inv)).toEqual({ valid: ['Jan.Kowalski@Firma.pl', 'anna@firma.pl'], invalid: [] });
  });

  it('takes the address out of "Name <address>" and keeps commas inside quoted names', () => {
    expect(splitAddresses('"Kowalski, Jan" <jan@firma.pl>; Anna <anna@firma.pl>')).toEqual(['jan@firma.pl', 'anna@firma.pl']);
  });

  it.each(['jan@firma.pl', 'jan.kowalski+faktury@firma.com.pl', "o'brien@example.ie", 'biuro@żółw.pl', 'x@xn--w-uga1v8h.pl', 'a_b-c@sub-domena.firma.eu'])(
    '%s is a valid address',
    (a) => expect(isValidEmail(a)).toBe(true),
  );

  it.each([
    'jan',
    'jan@',
    '@firma.pl',
    'jan@firma',
    'jan@@firma.pl',
    'jan..k@firma.pl',
    '.jan@firma.pl',
    'jan.@firma.pl',
    'jan k@firma.pl',
    'jan@-firma.pl',
    'jan@firma.p',
    'jan@firma.123',
    `${'a'.repeat(65)}@firma.pl`,
    'jan@[127.0.0.1]',
  ])('%s is not a valid address', (a) => expect(isValidEmail(a)).toBe(false));
});

describe('KSeF', () => {
  it('a posted invoice issued through KSeF waits for its KSeF number, logged once', () => {
    const d = decide(invoice({ ksef: { number: null, xmlSha256: null, status: 'sent' } }), settings(), null, opts);
    expect(d).toMatchObject({ send: false, reason: 'waiting_for_ksef', logOnce: true });
  });

  it('an invoice with its KSeF number is sent, and a host without KSeF never waits', () => {
    const number = '5260250274-20260510-0123456789AB-CD';
    expect(reason(decide(invoice({ ksef: { number, xmlSha256: null, status: 'accepted' } }), settings(), null, opts))).toBe('send');
    expect(reason(decide(invoice({ ksef: null }), settings(), null, opts))).toBe('send');
  });
});

describe('the print by currency', () => {
  const s = settings({ attachments: { pln: 'standard:invoice-pl', foreign: 'user:42' } });

  it('an invoice in PLN gets the PLN print', () => {
    expect(printFor(invoice({ currency: 'PLN' }), s)).toEqual({ kind: 'standard', id: 'invoice-pl' });
  });

  it('an invoice in any other currency gets the foreign-currency print', () => {
    expect(printFor(invoice({ currency: 'EUR' }), s)).toEqual({ kind: 'user', id: '42' });
  });

  it('"none" means no attachment', () => {
    expect(printFor(invoice({ currency: 'EUR' }), settings({ attachments: { pln: 'none', foreign: 'none' } }))).toEqual({ kind: 'none' });
  });

  it('the choice is by the invoice currency being PLN, not by the company currency', () => {
    expect(printFor(invoice({ currency: 'EUR', companyCurrency: 'EUR' }), s)).toEqual({ kind: 'user', id: '42' });
  });

  it('a malformed print choice is refused with the field named', () => {
    expect(() => printFor(invoice(), settings({ attachments: { pln: 'bogus', foreign: 'none' } }))).toThrow(
      expect.objectContaining({ code: 'validation', field: 'attachments.pln' }),
    );
  });
});

describe('content hash', () => {
  it('is a SHA-256 hex digest that does not depend on key order', () => {
    const a = invoice();
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as Invoice;
    expect(contentHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash(reordered)).toBe(contentHash(a));
  });

  it('ignores volatile and delivery-only fields', () => {
    const a = invoice();
    const b = invoice({
      updatedAt: '2026-05-12T09:00:00Z',
      hostMarkedSent: true,
      hostIsSending: true,
      customer: party({ email: 'inny@zolw.pl', eInvoiceConsent: true }),
      invoiceContacts: [{ id: 'c', name: 'c', email: 'c@zolw.pl' }],
    });
    expect(contentHash(b)).toBe(contentHash(a));
  });

  it.each<[string, Partial<Invoice>]>([
    ['a line amount', { lines: [{ ...invoice().lines[0]!, net: 10001 }] }],
    ['the total', { amountTotal: 12301 }],
    ['the number', { number: 'FV/2026/05/0002' }],
    ['the due date', { dueDate: '2026-05-31' }],
    ['the customer name', { customer: party({ name: 'Inna firma' }) }],
    ['the notes', { notes: { splitPayment: true, reverseCharge: false, exemptionBasis: null, narration: null } }],
    ['the currency', { currency: 'EUR' }],
  ])('changes when %s changes', (_what, change) => {
    expect(contentHash(invoice(change))).not.toBe(contentHash(invoice()));
  });

  it('a stale attachment is detected against the hash the ledger recorded', () => {
    const sentHash = contentHash(invoice());
    expect(contentChanged(ledger({ contentHash: sentHash }), invoice())).toBe(false);
    expect(contentChanged(ledger({ contentHash: sentHash }), invoice({ amountTotal: 1 }))).toBe(true);
    expect(contentChanged(ledger({ contentHash: null }), invoice())).toBe(false);
    expect(contentChanged(null, invoice())).toBe(false);
  });
});

describe('Message-ID', () => {
  it('is deterministic per installation, invoice and sender domain', () => {
    expect(messageIdFor('inst-1', '101', 'faktury@piekarnia.pl')).toBe(messageIdFor('inst-1', '101', 'FAKTURY@Piekarnia.PL'));
    expect(messageIdFor('9a260b0c-94fd-4c1e-8d7e-0e3f9b1a2c3d', '101', 'faktury@piekarnia.pl')).toBe(
      '<ic-9a260b0c-94fd-4c1e-8d7e-0e3f9b1a2c3d.101@piekarnia.pl>',
    );
  });

  it("is on the sender's domain, never .local, and only falls back to a reserved .invalid domain without one", () => {
    expect(messageIdFor('a', '1', 'anna@biuro.spike.example')).toMatch(/@biuro\.spike\.example>$/);
    expect(messageIdFor('a', '1', 'anna@żółć.pl')).toMatch(/@xn--/);
    expect(messageIdFor('a', '1', null)).toBe('<ic-a.1@invoice-courier.invalid>');
    expect(messageIdFor('a', '1', 'demo')).toBe('<ic-a.1@invoice-courier.invalid>');
    expect(messageIdFor('a', '1', 'x@bad domain')).toBe('<ic-a.1@invoice-courier.invalid>');
  });

  it('differs between invoices and between installations, also when ids contain the separators', () => {
    const ids = new Set([
      messageIdFor('a-b', 'c', 'x@y.pl'),
      messageIdFor('a', 'b-c', 'x@y.pl'),
      messageIdFor('a', 'b', 'x@y.pl'),
      messageIdFor('b', 'a', 'x@y.pl'),
      messageIdFor('a.b', 'c', 'x@y.pl'),
      messageIdFor('a', 'b.c', 'x@y.pl'),
      messageIdFor('_61', 'b', 'x@y.pl'),
      messageIdFor('a', 'b', 'x@z.pl'),
    ]);
    expect(ids.size).toBe(8);
  });

  it('holds only characters no mail library escapes, whatever the ids hold', () => {
    const id = messageIdFor('inst 1/ż', 'FV/2026 <x>@y', 'faktury@piekarnia.pl');
    expect(id).toMatch(/^<ic-[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+@piekarnia\.pl>$/);
    expect(id).not.toContain('=');
  });
});

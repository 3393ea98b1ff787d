/**
 * E-mail templates through whole runs (sandbox host, real SMTP server, PostgreSQL): the host renders
 * its own template through its send wizard in the customer's language, the connector-managed default
 * template covers hosts without templates, every message has a plain-text alternative and a one-line
 * subject, and From/Reply-To follow the account and the operator. Messages are read back as received.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost } from '../../src/connector/registry.ts';
import * as world from './prints-world.ts';
import type { Inst, Move, Rec, World } from './prints-world.ts';
import type { ReceivedMessage } from '../support/smtp.ts';

let w: World;

beforeAll(async () => {
  w = await world.startWorld();
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const pick = (what: string, predicate: (m: Move) => boolean) => world.pick(w, what, predicate);
const install = (settings: Rec, operator?: string) => world.install(w, settings, operator);
const run = (inst: Inst, due: number[]) => world.run(w, inst, due);

/** The header block of the message exactly as the SMTP server received it. */
function rawHeaders(m: ReceivedMessage): string {
  const raw = m.raw.toString('utf8');
  return raw.slice(0, raw.indexOf('\r\n\r\n'));
}

function polishInvoice(): Move {
  return pick('PLN invoice of a Polish customer', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && m.lang === 'pl_PL');
}

function englishInvoice(): Move {
  return pick('invoice of an en_US customer', (m) => m.type === 'out_invoice' && m.lang === 'en_US');
}

function expectPlainText(m: ReceivedMessage, ...contains: string[]): void {
  const text = m.parsed.text ?? '';
  expect(text.trim().length).toBeGreaterThan(0);
  expect(text).not.toMatch(/<\/?(p|div|strong|br)\b/i);
  for (const c of contains) expect(text).toContain(c);
  // a real multipart/alternative: text/plain next to text/html
  expect(m.raw.toString('utf8')).toMatch(/multipart\/alternative/i);
}

describe('host templates', () => {
  it("the host renders its invoice template in the customer's language: Polish for a Polish customer, English for en_US", async () => {
    const pl = polishInvoice();
    const en = englishInvoice();
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const settings = await w.connector.api('GET', `/api/installations/${inst.id}/settings`, { token: inst.token });
    const template = w.sandbox.records('mail.template').find((t) => String(t['id']) === settings.body.emailTemplate)!;
    expect(template['name']).toBe('Faktura dla klienta');

    const { run: r, messages } = await run(inst, [pl.id, en.id]);
    expect(r.counts.sent).toBe(2);

    const plMsg = world.messageFor(messages, pl);
    expect(plMsg.parsed.subject).toBe(`Spike Sp. z o.o. Faktura (nr ${pl.name})`);
    expect(plMsg.parsed.html).toContain('Dzień dobry');
    expect(plMsg.parsed.html).toContain(`<strong>${pl.name}</strong>`);
    expectPlainText(plMsg, 'Dzień dobry', pl.name);

    const enMsg = world.messageFor(messages, en);
    expect(enMsg.parsed.subject).toBe(`Spike Sp. z o.o. Invoice (Ref ${en.name})`);
    expect(enMsg.parsed.html).toContain('Dear');
    expect(enMsg.parsed.html).not.toContain('Dzień dobry');
    expectPlainText(enMsg, 'Dear', en.name);
  });

  it('a subject the host renders with CR/LF goes out as one line, and the injected header does not', async () => {
    const pl = polishInvoice();
    const invoiceTemplate = w.sandbox.records('mail.template').find((t) => t['name'] === 'Faktura dla klienta')!;
    const templateId = w.sandbox.create('mail.template', {
      name: 'Faktura (temat z nową linią)',
      model_id: world.m2o(invoiceTemplate['model_id']),
      model: 'account.move',
      lang: '{{ object.partner_id.lang }}',
      subject: 'Faktura {{ object.name }}\r\nBcc: intruz@evil.example\nX-Injected: yes',
      body_html: '<p>Faktura <strong>{{ object.name }}</strong> w załączniku.</p>',
    });
    // The host really hands the line breaks over (so the one-line subject below is the connector's doing).
    const host = createHost({
      kind: 'odoo',
      baseUrl: w.sandbox.url,
      database: w.sandbox.database,
      companyId: null,
      integration: { login: 'admin', secret: 'admin' },
      operator: { login: 'ksiegowa', secret: 'ksiegowa' },
    });
    try {
      const rendered = (await host.renderTemplate(String(templateId), [String(pl.id)])).get(String(pl.id));
      expect(rendered?.subject).toMatch(/\r?\nBcc: intruz@evil\.example/);
    } finally {
      await host.close?.();
    }

    const inst = await install({ emailTemplate: String(templateId), attachments: { pln: 'none', foreign: 'none' } });
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, pl);
    expect(msg.parsed.subject).not.toMatch(/[\r\n]/);
    expect(msg.parsed.subject).toMatch(new RegExp(`^Faktura ${pl.name.replaceAll('/', '\\/')} +Bcc: intruz@evil\\.example +X-Injected: yes$`));
    const headers = rawHeaders(msg);
    expect(headers).not.toMatch(/^Bcc:/im);
    expect(headers).not.toMatch(/^X-Injected:/im);
    expect(msg.envelope.to.map((a) => a.toLowerCase())).not.toContain('intruz@evil.example');
    expect(msg.parsed.attachments).toHaveLength(0);
    expectPlainText(msg, pl.name);
  });
});

describe('the connector-managed template', () => {
  it('"connector:invoice" works without a host template, in Polish and in English by the customer', async () => {
    const pl = polishInvoice();
    const en = englishInvoice();
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [pl.id, en.id]);
    expect(r.counts.sent).toBe(2);

    const plMsg = world.messageFor(messages, pl);
    expect(plMsg.parsed.subject).toBe(`Spike Sp. z o.o.: faktura ${pl.name}`);
    expect(plMsg.parsed.html).toContain('Dzień dobry');
    expect(plMsg.parsed.html).toContain('w załączniku przesyłamy fakturę');
    expectPlainText(plMsg, 'Dzień dobry', pl.name);
    expect(plMsg.parsed.attachments).toHaveLength(1);

    const enMsg = world.messageFor(messages, en);
    expect(enMsg.parsed.subject).toBe(`Spike Sp. z o.o.: invoice ${en.name}`);
    expect(enMsg.parsed.html).toContain('Dear');
    expect(enMsg.parsed.html).toContain('please find attached invoice');
    expectPlainText(enMsg, 'Dear', en.name);
  });
});

describe('sender', () => {
  it("From is the operator's address under the seller's name (the account has no fixed sender); no Reply-To then", async () => {
    const pl = polishInvoice();
    for (const [operator, address] of [
      ['ksiegowa', 'anna.nowak@spike.example'],
      ['admin', 'admin@spike.example'],
    ] as const) {
      const inst = await install({ attachments: { pln: 'none', foreign: 'none' } }, operator);
      const { run: r, messages } = await run(inst, [pl.id]);
      expect(r.counts.sent).toBe(1);
      const msg = world.messageFor(messages, pl);
      expect(msg.parsed.from?.value).toEqual([{ name: 'Spike Sp. z o.o.', address }]);
      expect(msg.envelope.from).toBe(address);
      expect(msg.parsed.replyTo).toBeUndefined();
      expect(rawHeaders(msg)).not.toMatch(/^Reply-To:/im);
    }
  });

  it('an account with its own sender address sends From that address with Reply-To the operator', async () => {
    const pl = polishInvoice();
    const inst = await install({ attachments: { pln: 'none', foreign: 'none' } });
    const created = await w.connector.api('POST', `/api/installations/${inst.id}/managed/email-accounts`, {
      token: inst.token,
      body: {
        name: 'Faktury (connector)',
        fromAddress: 'faktury@spike.example',
        smtp: { host: '127.0.0.1', port: w.smtp.port, tls: 'none', user: null, password: null },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const saved = await w.connector.api('PUT', `/api/installations/${inst.id}/settings`, { token: inst.token, body: { emailAccount: created.body.id } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, pl);
    expect(msg.parsed.from?.value).toEqual([{ name: 'Spike Sp. z o.o.', address: 'faktury@spike.example' }]);
    expect(msg.parsed.replyTo?.value).toEqual([{ name: '', address: 'anna.nowak@spike.example' }]);
  });
});

/** Grouped with `sep` (thousands) and `dec` (decimals), two decimals: written here, not taken from the code under test. */
function grouped(amount: number, sep: string, dec: string): string {
  const [int, frac] = Math.abs(amount).toFixed(2).split('.') as [string, string];
  let out = '';
  for (let i = 0; i < int.length; i++) out += (i > 0 && (int.length - i) % 3 === 0 ? sep : '') + int[i];
  return `${amount < 0 ? '-' : ''}${out}${dec}${frac}`;
}

const moveRecord = (move: Move) => w.sandbox.records('account.move').find((m) => m['id'] === move.id)!;

describe('what the customer receives', () => {
  it("Message-ID is <ic-<installation>.<invoice>@<sender's domain>> with no escapes, and Date is local time in the installation's zone", async () => {
    const pl = polishInvoice();
    const inst = await install({ attachments: { pln: 'none', foreign: 'none' }, timezone: 'Asia/Tokyo' });
    const before = Date.now();
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, pl);
    const headers = rawHeaders(msg);
    // The installation id is a UUID, the sandbox invoice id an integer: both go in as they are.
    expect(headers).toMatch(new RegExp(`^Message-ID: <ic-${inst.id}\\.${pl.id}@spike\\.example>$`, 'im'));
    expect(headers).not.toMatch(/^Message-ID:.*(=2D|\.local>)/im);
    // Tokyo has no daylight saving time: always +0900.
    const date = /^Date: (.+)$/im.exec(headers)?.[1] ?? '';
    expect(date).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0900$/);
    expect(Math.abs(Date.parse(date) - before)).toBeLessThan(120_000);
    // The ledger and the log carry the same id (the evidence search looks for it after a crash).
    const [entry] = (await world.ledger(w, inst)).filter((e) => e.invoiceId === String(pl.id));
    expect(entry.messageId).toBe(msg.parsed.messageId);
  });

  it('the connector template words a credit note as "faktura korygująca" naming the corrected invoice, with Polish amounts and dates', async () => {
    const credit = pick(
      'credit note of a Polish customer correcting an invoice',
      (m) => m.type === 'out_refund' && m.lang === 'pl_PL' && m.corrects !== null && m.currency === 'PLN',
    );
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'none', foreign: 'none' } });
    const { run: r, messages } = await run(inst, [credit.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, credit);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o.: faktura korygująca ${credit.name}`);
    const html = msg.parsed.html || '';
    expect(html).toContain(`fakturę korygującą <strong>${credit.name}</strong>`);
    expect(html).toContain(`do faktury ${credit.corrects}`);
    const [y, mo, d] = credit.issueDate.split('-');
    expect(html).toContain(`z dnia ${d}.${mo}.${y}`);
    const total = Number(moveRecord(credit)['amount_total']);
    expect(html).toContain(`${grouped(total, '\u00a0', ',')}\u00a0PLN`);
    expect(html).not.toContain('..');
  });

  it('the connector template speaks English to an en_US customer: "invoice", amounts as 1,234.56 and dates as 9 December 2026', async () => {
    const en = englishInvoice();
    const inst = await install({ emailTemplate: 'connector:invoice', attachments: { pln: 'none', foreign: 'none' } });
    const { run: r, messages } = await run(inst, [en.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, en);
    expect(msg.parsed.subject).toBe(`Spike Sp. z o.o.: invoice ${en.name}`);
    const rec = moveRecord(en);
    const html = msg.parsed.html || '';
    expect(html).toContain(`${grouped(Number(rec['amount_total']), ',', '.')}\u00a0${en.currency}`);
    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
    const [y, mo, d] = en.issueDate.split('-').map(Number) as [number, number, number];
    expect(html).toContain(`of ${d} ${months[mo - 1]} ${y}`);
    expect(html).not.toMatch(/\d{4}-\d{2}-\d{2}/);
  });

  it("the host's template prints amounts and dates as the customer's language does, and no double dot after the company name", async () => {
    const pl = polishInvoice();
    const inst = await install({ attachments: { pln: 'none', foreign: 'none' } });
    const { run: r, messages } = await run(inst, [pl.id]);
    expect(r.counts.sent).toBe(1);
    const rec = moveRecord(pl);
    const html = world.messageFor(messages, pl).parsed.html || '';
    expect(html).toContain(`<strong>${grouped(Number(rec['amount_total']), '\u00a0', ',')} PLN</strong>`);
    const due = String(rec['invoice_date_due']).split('-');
    expect(html).toContain(`do dnia ${due[2]}.${due[1]}.${due[0]}`);
    expect(html).not.toContain('o.o..');
  });
});

/**
 * Prints through whole runs: the sandbox host (Odoo JSON-RPC over real HTTP), a real SMTP server, a
 * real PostgreSQL and the connector composed as `npm start` composes it. Every PDF is read back from
 * the message the SMTP server received (pdftotext, pdftoppm + jsQR).
 * Scenarios: see test/e2e/prints-world.ts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PDFDocument } from 'pdf-lib';
import { decodeQr, pdfPages, pdfText, rasterPage, squash } from '../render/pdf-tools.ts';
import * as world from './prints-world.ts';
import type { Inst, Move, Rec, World } from './prints-world.ts';

let w: World;
let sandbox: World['sandbox'];
let smtp: World['smtp'];
let connector: World['connector'];

beforeAll(async () => {
  // KSEF_ENVIRONMENT=test: the QR codes must point at qr-test.ksef.mf.gov.pl (config -> compose -> renderer).
  w = await world.startWorld({ KSEF_ENVIRONMENT: 'test' });
  ({ sandbox, smtp, connector } = w);
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const pick = (what: string, predicate: (m: Move) => boolean) => world.pick(w, what, predicate);
const install = (settings: Rec, operator?: string) => world.install(w, settings, operator);
const run = (inst: Inst, due: number[]) => world.run(w, inst, due);
const logs = (inst: Inst) => world.logs(w, inst);
const ledger = (inst: Inst) => world.ledger(w, inst);
const { messageFor, safeName } = world;

describe('standard prints in a run', () => {
  it('a foreign-currency invoice shows its VAT in PLN with the host\'s rate, its date and its source', async () => {
    // A Polish customer billed in EUR at 23%: VAT that is not zero, converted to PLN.
    const eur = pick('EUR invoice with VAT', (m) => m.type === 'out_invoice' && m.currency === 'EUR' && m.amountTax > 0);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [eur.id]);
    expect(r.counts.sent).toBe(1);
    const msg = messageFor(messages, eur);
    expect(msg.parsed.attachments).toHaveLength(1);
    const att = msg.parsed.attachments[0]!;
    expect(att.filename).toBe(safeName(eur.name));
    const text = squash(await pdfText(att.content));
    expect(text).toContain('waluta obca');
    expect(text).toContain(eur.name);
    expect(text).toContain('Kwota VAT w');

    // "… po kursie 1 EUR = 4,2729 PLN z dnia 28.09.2026 (Odoo res.currency.rate)": the host's rate of that day.
    const m = /po kursie 1 EUR = (\d+,\d{4}) PLN z dnia (\d{2})\.(\d{2})\.(\d{4}) \(([^)]+)\)/.exec(text);
    expect(m, text).not.toBeNull();
    const [, printedRate, dd, mm, yyyy, source] = m!;
    const rateDate = `${yyyy}-${mm}-${dd}`;
    expect(rateDate <= eur.issueDate).toBe(true);
    expect(source).toBe('Odoo res.currency.rate');
    const hostRate = sandbox.records('res.currency.rate').find((x) => x['name'] === rateDate && Array.isArray(x['currency_id']) && x['currency_id'][1] === 'EUR');
    expect(hostRate).toBeDefined();
    expect(printedRate).toBe(Number(hostRate!['inverse_company_rate']).toFixed(4).replace('.', ','));

    // The VAT in PLN: the invoice's VAT times the rate, to the grosz (per-rate rounding: allow ±2 gr).
    const expected = Math.round(eur.amountTax * 100 * Number(hostRate!['inverse_company_rate']));
    const pln = (minor: number) => `${Math.floor(minor / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ')},${String(minor % 100).padStart(2, '0')}`;
    const candidates = [-2, -1, 0, 1, 2].map((d) => pln(expected + d));
    expect(candidates.some((c) => text.includes(c)), `${candidates.join(' | ')} in\n${text}`).toBe(true);
  });

  it('a credit note says "Faktura korygująca" and names the invoice it corrects', async () => {
    const refund = pick('credit note', (m) => m.type === 'out_refund' && m.corrects !== null);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [refund.id]);
    expect(r.counts.sent).toBe(1);
    const att = messageFor(messages, refund).parsed.attachments[0]!;
    expect(att.filename).toBe(safeName(refund.name));
    const text = squash(await pdfText(att.content));
    expect(text).toContain('Faktura korygująca');
    expect(text).toContain(refund.name);
    expect(text).toContain(refund.corrects!);
  });

  it('an accepted KSeF invoice carries the KOD I QR code (test environment) with the KSeF number under it', async () => {
    const accepted = world.pickGivingAddress(w, 'KSeF-accepted invoice', (m) => m.ksef === 'accepted' && m.ksefNumber !== null && m.ksefAttachment !== null);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [accepted.id]);
    expect(r.counts.sent).toBe(1);
    const pdf = messageFor(messages, accepted).parsed.attachments[0]!.content;
    const pages = await pdfPages(pdf);
    const last = pages.length;
    const lastText = squash(pages[last - 1]!);
    expect(lastText).toContain('Kod weryfikacyjny KSeF');
    expect(lastText).toContain(accepted.ksefNumber!);

    // The expected URL, computed here from the host's own XML and company NIP.
    const xml = sandbox.records('ir.attachment').find((a) => a['id'] === accepted.ksefAttachment)!;
    const hash = createHash('sha256').update(Buffer.from(String(xml['datas']), 'base64')).digest('base64url');
    const nip = String(sandbox.records('res.company')[0]!['vat']).replace(/^PL/, '');
    const [y, mo, d] = accepted.issueDate.split('-');
    const code = decodeQr(await rasterPage(pdf, last, 150));
    expect(code).toBe(`https://qr-test.ksef.mf.gov.pl/invoice/${nip}/${d}-${mo}-${y}/${hash}`);
  });

  it('an invoice sent to KSeF but not accepted waits for its number, logged once, and is not e-mailed', async () => {
    const waiting = world.pickGivingAddress(w, 'invoice waiting for KSeF', (m) => m.ksef !== null && m.ksef !== 'accepted' && m.ksefNumber === null);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const first = await run(inst, [waiting.id]);
    expect(first.run.counts.sent).toBe(0);
    expect(first.run.counts.skipped).toBe(1);
    const second = await run(inst, [waiting.id]);
    expect(second.run.counts.skipped).toBe(1);
    expect(second.messages).toHaveLength(0);
    const entries = (await logs(inst)).filter((e) => e.invoiceId === String(waiting.id));
    const waits = entries.filter((e) => e.event === 'invoice.skipped.waiting_for_ksef');
    expect(waits).toHaveLength(1);
    expect(waits[0].message).toMatch(/KSeF/);
    expect(await ledger(inst)).toEqual([]);
  });
});

describe('print choices', () => {
  it('PLN and foreign invoices take attachments.pln and attachments.foreign: pln=standard, foreign=none', async () => {
    const pln = pick('PLN invoice', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null);
    const eur = pick('EUR invoice', (m) => m.type === 'out_invoice' && m.currency === 'EUR');
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'none' } });
    const { run: r, messages } = await run(inst, [pln.id, eur.id]);
    expect(r.counts.sent).toBe(2);

    const plnMsg = messageFor(messages, pln);
    expect(plnMsg.parsed.attachments).toHaveLength(1);
    expect(plnMsg.parsed.attachments[0]!.contentType).toBe('application/pdf');
    expect(plnMsg.parsed.attachments[0]!.filename).toBe(safeName(pln.name));
    expect(plnMsg.parsed.attachments[0]!.filename).toMatch(/^FV-\d{4}-\d{5}\.pdf$/);

    // `none`: the template's content only.
    const eurMsg = messageFor(messages, eur);
    expect(eurMsg.parsed.attachments).toHaveLength(0);
    expect(eurMsg.parsed.html || '').toContain(eur.name);
    expect(eurMsg.parsed.text ?? '').toContain(eur.name);
  });

  it('a user print attaches the host\'s own PDF of the invoice', async () => {
    const report = sandbox.records('ir.actions.report').find((r) => r['report_name'] === 'account.report_invoice_with_payments')!;
    const options = await (async () => {
      const inst = await install({});
      return (await connector.api('GET', `/api/installations/${inst.id}/options/prints`, { token: inst.token })).body.options as { value: string }[];
    })();
    expect(options.map((o) => o.value)).toContain(`user:${report['id']}`);

    // an invoice the host has no stored PDF of: the host draws its report now
    const pln = pick('PLN invoice', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && !m.storedPdf);
    const inst = await install({ attachments: { pln: `user:${report['id']}`, foreign: 'none' } });
    const { run: r, messages } = await run(inst, [pln.id]);
    expect(r.counts.sent).toBe(1);
    const att = messageFor(messages, pln).parsed.attachments;
    expect(att).toHaveLength(1);
    expect(att[0]!.filename).toBe(safeName(pln.name));
    const text = squash(await pdfText(att[0]!.content));
    // The sandbox's report (Helvetica, no diacritics) — not our standard print.
    expect(text).toContain(`Faktura VAT ${pln.name}`);
    expect(text).not.toContain('Strona');
    expect((await PDFDocument.load(att[0]!.content, { updateMetadata: false })).getTitle()).toBe(`Faktura VAT ${pln.name}`);
  });

  it('an invoice whose user print the host cannot produce fails with a clear reason and is not sent without it', async () => {
    const report = sandbox.records('ir.actions.report').find((r) => r['report_name'] === 'account.report_invoice_with_payments')!;
    const pln = pick('PLN invoice', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && !m.storedPdf);
    const inst = await install({ attachments: { pln: `user:${report['id']}`, foreign: 'none' } });
    // Accepted in the settings, then the host stops offering it for invoices (the report now belongs to another model).
    sandbox.write('ir.actions.report', report['id'] as number, { model: 'sale.order' });
    const notesOf = () => sandbox.records('mail.message').filter((n) => n['model'] === 'account.move' && n['res_id'] === pln.id);
    const notesBefore = notesOf().length;
    try {
      const before = smtp.messages.length;
      const { run: r, messages } = await run(inst, [pln.id]);
      expect(r.counts.failed).toBe(1);
      expect(r.counts.sent).toBe(0);
      expect(messages).toHaveLength(0);
      expect(smtp.messages.length).toBe(before);
      const [entry] = await ledger(inst);
      expect(entry).toMatchObject({ invoiceId: String(pln.id), state: 'failed', reason: 'print_unavailable' });
      expect(entry.detail).toMatch(new RegExp(`no invoice print (user:)?${report['id']}\\b`));
      const failed = (await logs(inst)).filter((e) => e.event === 'invoice.failed' && e.invoiceId === String(pln.id));
      expect(failed).toHaveLength(1);
      // The host was told (a note on the invoice) and the invoice is not marked sent there.
      const newNotes = notesOf().slice(notesBefore);
      expect(newNotes.some((n) => /Invoice Courier/.test(String(n['body'])) && /print/i.test(String(n['body'])))).toBe(true);
      const move = sandbox.records('account.move').find((m) => m['id'] === pln.id)!;
      expect(move['is_move_sent']).toBe(false);
    } finally {
      sandbox.write('ir.actions.report', report['id'] as number, { model: 'account.move' });
    }
  });
});

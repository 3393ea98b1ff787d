/**
 * Prints through whole runs: the sandbox host (Odoo JSON-RPC over real HTTP), a real SMTP server, a
 * real PostgreSQL and the connector composed as `npm start` composes it. Every PDF is read back from
 * the message the SMTP server received (pdftotext, pdftoppm + jsQR).
 * Scenarios: see test/e2e/prints-world.ts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PDFDocument } from 'pdf-lib';
import { decodeQr, emptyBottom, pdfPages, pdfText, rasterPage, squash } from '../render/pdf-tools.ts';
import * as world from './prints-world.ts';
import type { Inst, Move, Rec, World } from './prints-world.ts';
const { m2o } = world;

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
const postedMovesWithEmail = () => world.postedMoves(w).filter((m) => m.email !== null);

describe('standard prints in a run', () => {
  it('a foreign-currency invoice: "Faktura VAT" with its currency beside it, the VAT in PLN the host booked, the host\'s rate (and no made-up source)', async () => {
    // A customer billed in EUR at 23%: VAT that is not zero, booked in PLN by the host.
    const eur = pick('EUR invoice with VAT', (m) => m.type === 'out_invoice' && m.currency === 'EUR' && m.amountTax > 0);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(inst, [eur.id]);
    expect(r.counts.sent).toBe(1);
    const msg = messageFor(messages, eur);
    expect(msg.parsed.attachments).toHaveLength(1);
    const att = msg.parsed.attachments[0]!;
    expect(att.filename).toBe(safeName(eur.name));
    const pages = await pdfPages(att.content);
    expect(squash(pages[0]!.split('\n')[0]!)).toMatch(/^Faktura VAT( \/ VAT invoice)? waluta( \/ currency)?: EUR /);
    const text = squash(pages.join('\n'));
    const flat = text.replace(/\s+/g, ' ');
    expect(text).not.toContain('waluta obca');
    expect(text).toContain(eur.name);
    expect(text).toContain('Kwota VAT w');

    // The VAT in PLN printed is what the host booked for the invoice (amount_tax_signed), to the grosz.
    const move = sandbox.records('account.move').find((x) => x['id'] === eur.id)!;
    const booked = Math.round(Math.abs(Number(move['amount_tax_signed'])) * 100);
    const pln = (minor: number) =>
      `${Math.floor(minor / 100)
        .toString()
        .replace(/\B(?=(\d{3})+(?!\d))/g, ' ')},${String(minor % 100).padStart(2, '0')}`;
    expect(text).toContain(pln(booked));

    // "… kurs 4,2729 PLN/EUR[ z dnia 28.09.2026].": the rate the invoice used (its invoice_currency_rate), with that
    // rate's date when the print gives one, and no "źródło": Odoo's rate table names no published source.
    const m = /Kwoty VAT w PLN [^;]+; kurs (\d+,\d{4}) PLN\/EUR(?: z dnia (\d{2})\.(\d{2})\.(\d{4}))?\./.exec(flat);
    expect(m, flat).not.toBeNull();
    expect(flat).not.toContain('źródło');
    const [, printedRate, dd, mm, yyyy] = m!;
    // The host's EUR rates of the invoice's own rate (its walk may give several days the same rate): the printed
    // date, when given, is one of them, and the printed rate is theirs.
    const used = sandbox
      .records('res.currency.rate')
      .filter((x) => Array.isArray(x['currency_id']) && x['currency_id'][1] === 'EUR' && Number(x['rate']) === Number(move['invoice_currency_rate']));
    expect(used.length).toBeGreaterThan(0);
    for (const rate of used) expect(printedRate).toBe(Number(rate['inverse_company_rate']).toFixed(4).replace('.', ','));
    if (yyyy !== undefined) expect(used.map((x) => x['name'])).toContain(`${yyyy}-${mm}-${dd}`);
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
    // Polish, or Polish beside English for a customer abroad
    expect(text).toMatch(new RegExp(`Dotyczy faktury( / Corrects invoice)?: ${refund.corrects!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    // the refund goes to the buyer: none of the seller's own accounts is printed next to "Do zwrotu"
    expect(text).toMatch(/Do zwrotu( \/ To be refunded)?: \d/);
    expect(text).not.toMatch(/Płatność|Numer rachunku|Tytuł przelewu/);
    const companyPartner = m2o(sandbox.records('res.company')[0]!['partner_id']);
    const sellerAccounts = sandbox.records('res.partner.bank').filter((b) => m2o(b['partner_id']) === companyPartner);
    expect(sellerAccounts.length).toBeGreaterThan(0);
    for (const b of sellerAccounts) expect(text).not.toContain(String(b['acc_number']));
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
    const hash = createHash('sha256')
      .update(Buffer.from(String(xml['datas']), 'base64'))
      .digest('base64url');
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

describe("the layout of the host's longer invoices, as a run sends them", () => {
  it('a two-page invoice leaves page 1 at most a quarter empty (a third for the bilingual foreign layout) and keeps the VAT summary with at least two lines', async () => {
    const productLines = (id: number) => sandbox.records('account.move.line').filter((l) => m2o(l['move_id']) === id && l['display_type'] === 'product').length;
    const moves = postedMovesWithEmail()
      .filter((m) => m.type === 'out_invoice' && m.ksef === null && productLines(m.id) >= 18 && productLines(m.id) <= 45)
      .slice(0, 8);
    expect(moves.length, 'the seed has invoices of 18 to 45 lines').toBeGreaterThanOrEqual(3);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const { run: r, messages } = await run(
      inst,
      moves.map((m) => m.id),
    );
    expect(r.counts.sent).toBe(moves.length);
    let twoPage = 0;
    for (const move of moves) {
      const pdf = messageFor(messages, move).parsed.attachments[0]!.content;
      const pages = await pdfPages(pdf);
      if (pages.length !== 2) continue;
      twoPage++;
      const summaryPage = pages.findIndex((p) => p.includes('Podsumowanie VAT')) + 1;
      expect(summaryPage, move.name).toBeGreaterThan(0);
      // the rows of the lines table on that page: numbered lines after the table head
      const body = pages[summaryPage - 1]!.split('Podsumowanie VAT')[0]!;
      const afterHead = body.slice(Math.max(0, body.indexOf('Nazwa towaru lub usługi')));
      const rows = afterHead.split('\n').filter((l) => /^\s*\d+ \S/.test(l)).length;
      expect(rows, `${move.name}: lines on the summary's page ${summaryPage}`).toBeGreaterThanOrEqual(2);
      expect(pages[summaryPage - 1], `${move.name}: the amount due with the summary`).toMatch(/Do zapłaty/);
      const bilingualForeign = move.currency !== 'PLN' && pages[0]!.includes(' / ');
      const empty = emptyBottom(await rasterPage(pdf, 1, 50), 841.89, 841.89 - 44);
      expect(empty, `${move.name}: empty bottom of page 1`).toBeLessThan(bilingualForeign ? 1 / 3 : 0.25);
    }
    expect(twoPage, 'some of them print on two pages').toBeGreaterThanOrEqual(1);
  });
});

describe('the product-code print option (setting stripProductCodes)', () => {
  /** The host's product lines of an invoice: Odoo names them "[default_code] name". */
  const codedLines = (id: number) =>
    sandbox
      .records('account.move.line')
      .filter((l) => m2o(l['move_id']) === id && l['display_type'] === 'product')
      .map((l) => /^(\[[^\]]+\]) (.+)$/.exec(String(l['name'])))
      .filter((x): x is RegExpExecArray => x !== null)
      .map(([, code, name]) => ({ code: code!, name: name! }));

  it('is on for a new installation: the print leaves out the host\'s "[code]" and keeps the name', async () => {
    const pln = pick('PLN invoice with coded lines', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && codedLines(m.id).length > 0);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } });
    const settings = await connector.api('GET', `/api/installations/${inst.id}/settings`, { token: inst.token });
    expect(settings.body.stripProductCodes).toBe(true);
    const { messages } = await run(inst, [pln.id]);
    const text = squash(await pdfText(messageFor(messages, pln).parsed.attachments[0]!.content)).replace(/\s+/g, ' ');
    for (const l of codedLines(pln.id)) {
      expect(text).not.toContain(l.code);
      expect(text).toContain(l.name.split(' ').slice(0, 3).join(' '));
    }
    // an invoice with a seller's account to pay into states the payment method
    expect(text).toContain('Sposób płatności: przelew');
  });

  it('turned off, the print keeps the codes as the host wrote them', async () => {
    const pln = pick('PLN invoice with coded lines', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && codedLines(m.id).length > 0);
    const inst = await install({ attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' }, stripProductCodes: false });
    const settings = await connector.api('GET', `/api/installations/${inst.id}/settings`, { token: inst.token });
    expect(settings.body.stripProductCodes).toBe(false);
    const { messages } = await run(inst, [pln.id]);
    const text = squash(await pdfText(messageFor(messages, pln).parsed.attachments[0]!.content));
    for (const l of codedLines(pln.id)) expect(text).toContain(l.code);
  });

  it('refuses a value that is not a boolean with 4xx naming the field', async () => {
    const inst = await install({});
    const res = await connector.api('PUT', `/api/installations/${inst.id}/settings`, { token: inst.token, body: { stripProductCodes: 'yes' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(res.body.error)).toContain('stripProductCodes');
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

  it("a user print attaches the host's own PDF of the invoice", async () => {
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
      // Nothing went to the customer (the operator's failure digest is the only message).
      expect(smtp.messages.slice(before).filter((m) => !/^Invoice Courier:/.test(m.parsed.subject ?? ''))).toHaveLength(0);
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

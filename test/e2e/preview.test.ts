/**
 * Previews through the HTTP API with real services (sandbox host, real SMTP server, PostgreSQL): the
 * PDF and the message a run would send for one invoice, and proof that a preview sends, claims,
 * records and logs nothing — then that a run sends exactly what the preview showed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfText } from '../render/pdf-tools.ts';
import * as world from './prints-world.ts';
import type { Inst, Move, World } from './prints-world.ts';

let w: World;

beforeAll(async () => {
  w = await world.startWorld();
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const previewPath = (inst: Inst, invoiceId: string | number, pdf = false) => `/api/installations/${inst.id}/invoices/${invoiceId}/preview${pdf ? '.pdf' : ''}`;

async function fetchPdf(
  inst: Inst,
  invoiceId: string | number,
  token = inst.token,
): Promise<{ status: number; type: string | null; disposition: string | null; bytes: Buffer; json: any }> {
  const res = await fetch(`${w.connector.url}${previewPath(inst, invoiceId, true)}`, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type');
  return {
    status: res.status,
    type,
    disposition: res.headers.get('content-disposition'),
    bytes,
    json: type?.includes('json') ? JSON.parse(bytes.toString('utf8')) : null,
  };
}

/** Everything a preview must leave alone: the ledger, the automation log, the SMTP server, the host's invoice. */
async function snapshot(inst: Inst, move: Move) {
  const hostMove = w.sandbox.records('account.move').find((m) => m['id'] === move.id)!;
  return {
    ledger: await world.ledger(w, inst),
    logs: await world.logs(w, inst),
    smtp: w.smtp.messages.length,
    runs: (await w.connector.api('GET', `/api/installations/${inst.id}/runs`, { token: inst.token })).body.runs,
    hostSent: hostMove['is_move_sent'],
    hostNotes: w.sandbox.records('mail.message').filter((n) => n['model'] === 'account.move' && n['res_id'] === move.id).length,
  };
}

describe('invoice previews', () => {
  let inst: Inst;
  let pln: Move;
  let eur: Move;
  let preview: any;
  let previewPdf: Buffer;

  beforeAll(async () => {
    inst = await world.install(w, { attachments: { pln: 'standard:invoice', foreign: 'none' } });
    pln = world.pick(w, 'PLN invoice of a Polish customer', (m) => m.type === 'out_invoice' && m.currency === 'PLN' && m.ksef === null && m.lang === 'pl_PL');
    eur = world.pick(w, 'EUR invoice', (m) => m.type === 'out_invoice' && m.currency === 'EUR');
    world.dueOnly(w, [pln.id, eur.id]);
  });

  it("answer only the installation's own token", async () => {
    const other = await world.install(w, {});
    for (const pdf of [false, true]) {
      const none = await w.connector.api('GET', previewPath(inst, pln.id, pdf));
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      const foreign = await w.connector.api('GET', previewPath(inst, pln.id, pdf), { token: other.token });
      expect(foreign.status).toBe(403);
      expect(foreign.body.error.code).toBe('forbidden');
    }
  });

  it('answer 404 not_found naming the invoice when the host has no such invoice', async () => {
    const json = await w.connector.api('GET', previewPath(inst, 987654), { token: inst.token });
    expect(json.status).toBe(404);
    expect(json.body.error.code).toBe('not_found');
    expect(json.body.error.field).toBe('invoiceId');
    expect(json.body.error.message).toContain('987654');
    const pdf = await fetchPdf(inst, 987654);
    expect(pdf.status).toBe(404);
    expect(pdf.json.error.code).toBe('not_found');
    expect(pdf.json.error.message).toContain('987654');
  });

  it('show the message a run would send — headers, HTML, text, attachment — and send, claim, record and log nothing', async () => {
    const before = await snapshot(inst, pln);
    const res = await w.connector.api('GET', previewPath(inst, pln.id), { token: inst.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    preview = res.body;
    // The decision with its sentence in the caller's language (Accept-Language; English by default), as the settings page shows it.
    expect(preview.decision).toEqual({ send: true, code: 'preview.send', params: {}, text: 'Would be sent.' });
    expect(preview.print).toBe('standard:invoice');
    const m = preview.message;
    // Message-ID on the sender's domain, only safe characters (no =2D escapes, never .local)
    expect(m.messageId).toMatch(/^<ic-[A-Za-z0-9-]+\.[A-Za-z0-9_-]+@spike\.example>$/);
    expect(m.from).toEqual({ name: 'Spike Sp. z o.o.', address: 'anna.nowak@spike.example' });
    expect(m.replyTo).toBeNull();
    expect(m.to.length).toBeGreaterThan(0);
    expect(m.subject).toContain(pln.name);
    expect(m.subject).not.toMatch(/[\r\n]/);
    expect(m.html).toContain('Dzień dobry');
    expect(m.text).toContain(pln.name);
    expect(m.text).not.toMatch(/<\/?(p|strong|div)\b/);
    expect(m.headers['X-Invoice-Courier-Invoice']).toBe(String(pln.id));
    expect(m.headers['X-Invoice-Courier-Installation']).toBe(inst.id);
    expect(m.attachment).toMatchObject({ filename: world.safeName(pln.name), warnings: [] });

    const pdf = await fetchPdf(inst, pln.id);
    expect(pdf.status).toBe(200);
    expect(pdf.type).toBe('application/pdf');
    expect(pdf.disposition).toContain(world.safeName(pln.name));
    expect(pdf.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.bytes.byteLength).toBe(m.attachment.size);
    expect(await pdfText(pdf.bytes)).toContain(pln.name);
    previewPdf = pdf.bytes;

    expect(await snapshot(inst, pln)).toEqual(before);
  });

  it('of an invoice whose print is "none": the message has no attachment, and the PDF preview is 422 naming the setting', async () => {
    const before = await snapshot(inst, eur);
    const res = await w.connector.api('GET', previewPath(inst, eur.id), { token: inst.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.print).toBe('none');
    expect(res.body.message.attachment).toBeNull();
    expect(res.body.message.html).toContain(eur.name);
    const pdf = await fetchPdf(inst, eur.id);
    expect(pdf.status).toBe(422);
    expect(pdf.json.error.code).toBe('print_unavailable');
    expect(pdf.json.error.field).toBe('attachments.foreign');
    expect(pdf.json.error.message).toMatch(/"none"/);
    expect(await snapshot(inst, eur)).toEqual(before);
  });

  it('equal what the run then sends: the same PDF bytes, subject, HTML, text, sender and Message-ID', async () => {
    expect(preview, 'the preview test ran first').toBeDefined();
    const { run, messages } = await world.run(w, inst, [pln.id]);
    expect(run.counts.sent).toBe(1);
    const sent = world.messageFor(messages, pln);
    const att = sent.parsed.attachments;
    expect(att).toHaveLength(1);
    expect(att[0]!.filename).toBe(preview.message.attachment.filename);
    expect(Buffer.compare(att[0]!.content, previewPdf)).toBe(0);
    expect(sent.parsed.subject).toBe(preview.message.subject);
    expect(sent.parsed.html).toBe(preview.message.html);
    expect((sent.parsed.text ?? '').trim()).toBe(preview.message.text.trim());
    expect(sent.parsed.messageId).toBe(preview.message.messageId);
    expect(sent.parsed.from?.value[0]).toMatchObject(preview.message.from);
    expect(sent.envelope.to.map((a) => a.toLowerCase()).sort()).toEqual(preview.message.to.map((a: string) => a.toLowerCase()).sort());

    // Afterwards the preview says why a run would not send it again.
    const again = await w.connector.api('GET', previewPath(inst, pln.id), { token: inst.token });
    expect(again.body.decision).toMatchObject({ send: false, reason: 'already_recorded' });
  });

  it('say why a run would not send an invoice now (waiting for KSeF) without logging it', async () => {
    const waiting = world.pickGivingAddress(w, 'invoice waiting for KSeF', (m) => m.ksef !== null && m.ksef !== 'accepted' && m.ksefNumber === null);
    world.dueOnly(w, [waiting.id]);
    const before = await snapshot(inst, waiting);
    const res = await w.connector.api('GET', previewPath(inst, waiting.id), { token: inst.token });
    expect(res.status).toBe(200);
    expect(res.body.decision).toMatchObject({ send: false, reason: 'waiting_for_ksef' });
    expect(await snapshot(inst, waiting)).toEqual(before);
  });

  it('are described in the OpenAPI document (JSON and application/pdf answers)', async () => {
    const doc = await w.connector.api('GET', '/docs/json');
    expect(doc.status).toBe(200);
    const json = doc.body.paths['/api/installations/{id}/invoices/{invoiceId}/preview'];
    const pdf = doc.body.paths['/api/installations/{id}/invoices/{invoiceId}/preview.pdf'];
    expect(json.get.responses['200'].content['application/json'].schema.properties).toHaveProperty('decision');
    expect(pdf.get.responses['200'].content['application/pdf'].schema).toEqual({ type: 'string', format: 'binary' });
    expect(pdf.get.responses['422']).toBeDefined();
  });

  it('answer 422 with the reason when the host cannot produce the user print', async () => {
    const report = w.sandbox.records('ir.actions.report').find((r) => r['report_name'] === 'account.report_invoice_with_payments')!;
    const userInst = await world.install(w, { attachments: { pln: `user:${report['id']}`, foreign: 'none' } });
    const ok = await fetchPdf(userInst, pln.id);
    expect(ok.status).toBe(200);
    expect(await pdfText(ok.bytes)).toContain(pln.name);
    w.sandbox.write('ir.actions.report', report['id'] as number, { model: 'sale.order' });
    try {
      const pdf = await fetchPdf(userInst, pln.id);
      expect(pdf.status).toBe(422);
      expect(pdf.json.error.code).toBe('print_unavailable');
      expect(pdf.json.error.message).toMatch(/print/);
      const json = await w.connector.api('GET', previewPath(userInst, pln.id), { token: userInst.token });
      expect(json.status).toBe(422);
      expect(json.body.error.code).toBe('print_unavailable');
    } finally {
      w.sandbox.write('ir.actions.report', report['id'] as number, { model: 'account.move' });
    }
  });
});

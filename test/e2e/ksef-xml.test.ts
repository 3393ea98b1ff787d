/**
 * The KSeF FA(3) XML beside the PDF, through the HTTP API: the sandbox host (Odoo with l10n_pl_edi over
 * real HTTP), a real SMTP server, a real PostgreSQL and the composed connector. Setting attachKsefXml on:
 * the received message carries the PDF and the host's XML byte for byte, and the PDF's KOD I (pdftoppm +
 * jsQR) carries the SHA-256 of exactly those bytes; off: only the PDF. An XML that no longer matches the
 * host's KSeF hash gives a print without a QR and a logged warning, never a wrong QR.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeQr, pdfText, rasterPage, squash } from '../render/pdf-tools.ts';
import * as world from './prints-world.ts';
import type { Inst, Move, Rec, World } from './prints-world.ts';

let w: World;

beforeAll(async () => {
  w = await world.startWorld({ KSEF_ENVIRONMENT: 'test' });
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const PRINTS = { attachments: { pln: 'standard:invoice', foreign: 'standard:invoice' } };
const install = (settings: Rec) => world.install(w, settings);
const run = (inst: Inst, due: number[]) => world.run(w, inst, due);

const used = new Set<number>();
/** An accepted KSeF invoice with its FA(3) XML, not used by another scenario. */
function ksefInvoice(what: string, currency = 'PLN'): Move {
  const m = world.pickGivingAddress(w, what, (x) => x.ksef === 'accepted' && x.ksefAttachment !== null && x.currency === currency && !used.has(x.id));
  used.add(m.id);
  return m;
}
function hostXml(m: Move): { name: string; bytes: Buffer } {
  const a = w.sandbox.records('ir.attachment').find((x) => x['id'] === m.ksefAttachment)!;
  return { name: String(a['name']), bytes: Buffer.from(String(a['datas']), 'base64') };
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64url');
function sellerNip(): string {
  const company = w.sandbox.records('res.company').find((c) => c['id'] === 1)!;
  return String(company['vat']).replace(/^PL/, '');
}
const kodI = (m: Move, hash: string): string => {
  const [y, mo, d] = m.issueDate.split('-');
  return `https://qr-test.ksef.mf.gov.pl/invoice/${sellerNip()}/${d}-${mo}-${y}/${hash}`;
};

describe('setting attachKsefXml', () => {
  it('is off by default, on when saved, and refuses a non-boolean with a 400 naming the field', async () => {
    const inst = await install(PRINTS);
    const got = await w.connector.api('GET', `/api/installations/${inst.id}/settings`, { token: inst.token });
    expect(got.body.attachKsefXml).toBe(false);
    const bad = await w.connector.api('PUT', `/api/installations/${inst.id}/settings`, { token: inst.token, body: { attachKsefXml: 'yes' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain('attachKsefXml');
    const ok = await w.connector.api('PUT', `/api/installations/${inst.id}/settings`, { token: inst.token, body: { attachKsefXml: true } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.attachKsefXml).toBe(true);
  });

  it("on: the message carries the PDF and the host's FA(3) XML byte for byte under its name, and the PDF's KOD I carries the SHA-256 of exactly those bytes", async () => {
    const m = ksefInvoice('accepted KSeF invoice with XML');
    const xml = hostXml(m);
    expect(xml.name).toBe(`FA3-${m.name.replaceAll('/', '_')}.xml`);
    const inst = await install({ ...PRINTS, attachKsefXml: true });
    const { run: r, messages } = await run(inst, [m.id]);
    expect(r.counts.sent).toBe(1);
    const msg = world.messageFor(messages, m);
    expect(msg.parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      [world.safeName(m.name), 'application/pdf'],
      [xml.name, 'application/xml'],
    ]);
    const sentXml = msg.parsed.attachments[1]!.content;
    expect(Buffer.compare(sentXml, xml.bytes)).toBe(0);
    // the host's stored KSeF hash is that of the same bytes
    const move = w.sandbox.records('account.move').find((x) => x['id'] === m.id)!;
    expect(move['l10n_pl_edi_hash']).toBe(sha(sentXml));
    const pdf = msg.parsed.attachments[0]!.content;
    expect(decodeQr(await rasterPage(pdf, 1, 150))).toBe(kodI(m, sha(sentXml)));
    expect(squash(await pdfText(pdf))).toContain(m.ksefNumber!);
  });

  it('on, a foreign-currency KSeF invoice: its XML (with P_14_xW and KursWaluty) goes out too and matches its QR', async () => {
    const m = ksefInvoice('EUR KSeF invoice with XML', 'EUR');
    const xml = hostXml(m);
    expect(xml.bytes.toString('utf8')).toMatch(/<P_14_(\d)W>\d+\.\d{2}<\/P_14_\1W>.*<KursWaluty>\d+\.\d+<\/KursWaluty>/s);
    const inst = await install({ ...PRINTS, attachKsefXml: true });
    const { messages } = await run(inst, [m.id]);
    const msg = world.messageFor(messages, m);
    const sent = msg.parsed.attachments.find((a) => a.filename === xml.name);
    expect(sent && Buffer.compare(sent.content, xml.bytes)).toBe(0);
    expect(decodeQr(await rasterPage(msg.parsed.attachments[0]!.content, 1, 150))).toBe(kodI(m, sha(xml.bytes)));
  });

  it("off: only the PDF, whose KOD I still carries the XML's hash", async () => {
    const m = ksefInvoice('accepted KSeF invoice with XML');
    const inst = await install(PRINTS);
    const { messages } = await run(inst, [m.id]);
    const msg = world.messageFor(messages, m);
    expect(msg.parsed.attachments.map((a) => a.contentType)).toEqual(['application/pdf']);
    expect(decodeQr(await rasterPage(msg.parsed.attachments[0]!.content, 1, 150))).toBe(kodI(m, sha(hostXml(m).bytes)));
  });

  it('the preview shows the XML a run would attach (name, size, hash) when on, none when off', async () => {
    const m = ksefInvoice('accepted KSeF invoice with XML');
    const xml = hostXml(m);
    const on = await install({ ...PRINTS, attachKsefXml: true });
    const p = await w.connector.api('GET', `/api/installations/${on.id}/invoices/${m.id}/preview`, { token: on.token });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body.message.ksefXml).toEqual({ filename: xml.name, size: xml.bytes.length, sha256: sha(xml.bytes) });
    expect(p.body.message.attachment.warnings).toEqual([]);
    const off = await install(PRINTS);
    const q = await w.connector.api('GET', `/api/installations/${off.id}/invoices/${m.id}/preview`, { token: off.token });
    expect(q.body.message.ksefXml).toBeNull();
  });

  it("a tampered XML (its SHA-256 no longer the host's KSeF hash): the print has no QR, the warning is logged, the XML still goes out unchanged from the host", async () => {
    const m = ksefInvoice('accepted KSeF invoice with XML');
    const original = hostXml(m);
    const tampered = Buffer.from(original.bytes.toString('utf8').replace('<P_15>', '<P_15>1'), 'utf8');
    w.sandbox.write('ir.attachment', m.ksefAttachment!, { datas: tampered.toString('base64') });
    try {
      const inst = await install({ ...PRINTS, attachKsefXml: true });
      const { run: r, messages } = await run(inst, [m.id]);
      expect(r.counts.sent).toBe(1);
      const msg = world.messageFor(messages, m);
      const pdf = msg.parsed.attachments[0]!.content;
      expect(decodeQr(await rasterPage(pdf, 1, 150))).toBeNull();
      const text = squash(await pdfText(pdf));
      expect(text).not.toContain('Kod weryfikacyjny KSeF');
      expect(text).toContain(m.ksefNumber!);
      expect(Buffer.compare(msg.parsed.attachments[1]!.content, tampered)).toBe(0);
      const warnings = (await world.logs(w, inst)).filter((e) => e.event === 'invoice.print_warning' && e.invoiceId === String(m.id));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].level).toBe('warning');
      expect(warnings[0].message).toContain(`does not match the SHA-256 of the attached XML ${original.name}`);
      expect(warnings[0]).toMatchObject({
        code: 'print.warning.ksef_hash_mismatch',
        params: { filename: original.name, hostHash: sha(original.bytes), actual: sha(tampered) },
      });
      // A Polish reader reads it in Polish, in the log and in the preview.
      const polish = async (path: string) => {
        const res = await fetch(`${w.connector.url}${path}`, { headers: { authorization: `Bearer ${inst.token}`, 'accept-language': 'pl' } });
        expect(res.status).toBe(200);
        return (await res.json()) as any;
      };
      const logged = (await polish(`/api/installations/${inst.id}/logs?limit=1000`)).entries.find((e: any) => e.event === 'invoice.print_warning');
      expect(logged.text).toContain(`nie zgadza się z SHA-256 załączonego pliku XML ${original.name}`);
      const preview = await polish(`/api/installations/${inst.id}/invoices/${m.id}/preview`);
      expect(preview.message.attachment.warnings).toEqual([{ code: 'print.warning.ksef_hash_mismatch', params: logged.params, text: logged.text }]);
    } finally {
      w.sandbox.write('ir.attachment', m.ksefAttachment!, { datas: original.bytes.toString('base64') });
    }
  });

  it('the OFFLINE invoice (XML, no KSeF number yet): held by a run, its preview print carries KOD I labelled OFFLINE', async () => {
    const m = world.pickGivingAddress(w, 'OFFLINE KSeF invoice', (x) => x.ksef === 'offline');
    const xml = hostXml(m);
    world.dueOnly(w, [m.id]);
    const inst = await install({ ...PRINTS, attachKsefXml: true });
    const p = await w.connector.api('GET', `/api/installations/${inst.id}/invoices/${m.id}/preview`, { token: inst.token });
    expect(p.body.decision).toMatchObject({ send: false, reason: 'waiting_for_ksef' });
    const res = await fetch(`${w.connector.url}/api/installations/${inst.id}/invoices/${m.id}/preview.pdf`, {
      headers: { authorization: `Bearer ${inst.token}` },
    });
    expect(res.status).toBe(200);
    const pdf = new Uint8Array(await res.arrayBuffer());
    expect(decodeQr(await rasterPage(pdf, 1, 150))).toBe(kodI(m, sha(xml.bytes)));
    const text = squash(await pdfText(pdf));
    expect(text.indexOf('OFFLINE')).toBeGreaterThan(text.indexOf('Kod weryfikacyjny KSeF'));
  });
});

/**
 * The sandbox host's own invoice print (`/report/pdf/account.report_invoice/<id>`), drawn with pdf-lib
 * and its built-in Helvetica (WinAnsi: Polish letters outside it are transliterated; it is the host's
 * print, not ours). Also a tiny hand-written PDF for seeded attachments, so seeding stays synchronous
 * and byte-for-byte deterministic.
 */
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import type { PDFFont, PDFPage } from 'pdf-lib';
import type { Env, Orm, Raw } from './orm.ts';

const TRANSLIT: Record<string, string> = {
  ą: 'a',
  ć: 'c',
  ę: 'e',
  ł: 'l',
  ń: 'n',
  ś: 's',
  ź: 'z',
  ż: 'z',
  Ą: 'A',
  Ć: 'C',
  Ę: 'E',
  Ł: 'L',
  Ń: 'N',
  Ś: 'S',
  Ź: 'Z',
  Ż: 'Z',
  ě: 'e',
  š: 's',
  č: 'c',
  ř: 'r',
  ž: 'z',
  ý: 'y',
  ů: 'u',
  ň: 'n',
  ť: 't',
  ď: 'd',
  Š: 'S',
  Č: 'C',
  Ř: 'R',
  Ž: 'Z',
  '„': '"',
  '”': '"',
  '“': '"',
  '–': '-',
  '—': '-',
  '×': 'x',
  '²': '2',
  '€': 'EUR',
};

/** Text that Helvetica/WinAnsi can encode. */
export function winAnsi(text: string): string {
  let out = '';
  for (const ch of text) {
    const t = TRANSLIT[ch];
    if (t !== undefined) out += t;
    else if (ch.charCodeAt(0) < 0x100) out += ch === '\n' || ch === '\t' ? ' ' : ch;
    else out += '?';
  }
  return out;
}

/** A minimal valid one-page PDF with the given ASCII lines (Helvetica), fully deterministic. */
export function minimalPdf(lines: string[]): Buffer {
  const esc = (s: string): string =>
    winAnsi(s)
      .replace(/[^\x20-\x7e]/g, '?')
      .replace(/([\\()])/g, '\\$1');
  const content = ['BT', '/F1 12 Tf', '14 TL', '50 790 Td', ...lines.map((l) => `(${esc(l)}) Tj T*`), 'ET'].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((obj, i) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${i + 1} 0 obj\n${obj}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

function m2oName(orm: Orm, env: Env, model: string, id: unknown): string {
  if (typeof id !== 'number') return '';
  const r = orm.get(model, id);
  return r ? orm.displayName(model, r, env) : '';
}

/** The host's print of one invoice. */
export async function invoicePdf(orm: Orm, env: Env, move: Raw): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const stamp = new Date(String(move.write_date || '2000-01-01 00:00:00').replace(' ', 'T') + 'Z');
  doc.setCreationDate(stamp);
  doc.setModificationDate(stamp);
  doc.setProducer('Sandbox host (Odoo 18.0 compatible)');
  doc.setCreator('Sandbox host');
  const title = `${move.move_type === 'out_refund' ? 'Faktura korygujaca' : 'Faktura VAT'} ${moveName(move)}`;
  doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const company = orm.get('res.company', move.company_id as number);
  const partner = orm.get('res.partner', move.partner_id as number);
  const commercial = orm.get('res.partner', move.commercial_partner_id as number) ?? partner;
  const currency = m2oName(orm, env, 'res.currency', move.currency_id);

  let page: PDFPage = doc.addPage([595, 842]);
  let y = 800;
  const text = (s: string, x: number, size = 9, f: PDFFont = font): void => {
    page.drawText(winAnsi(s), { x, y, size, font: f, color: rgb(0, 0, 0) });
  };
  const newline = (h = 12): void => {
    y -= h;
    if (y < 60) {
      page = doc.addPage([595, 842]);
      y = 800;
    }
  };
  text(title, 40, 16, bold);
  newline(22);
  text(`Data wystawienia: ${String(move.invoice_date || '')}`, 40);
  if (move.delivery_date) text(`Data sprzedazy: ${String(move.delivery_date)}`, 300);
  newline();
  text(`Termin platnosci: ${String(move.invoice_date_due || '')}`, 40);
  newline(20);
  text('Sprzedawca', 40, 10, bold);
  text('Nabywca', 300, 10, bold);
  newline();
  const seller = [
    String(company?.name ?? ''),
    `${String(company?.street ?? '')}`,
    `${String(company?.zip ?? '')} ${String(company?.city ?? '')}`,
    `NIP: ${String(company?.vat ?? '')}`,
  ];
  const buyer = [
    String(commercial?.name ?? ''),
    String(commercial?.street || ''),
    `${String(commercial?.zip || '')} ${String(commercial?.city || '')}`,
    `NIP/VAT: ${String(commercial?.vat || '')}`,
  ];
  for (let i = 0; i < 4; i++) {
    text(seller[i] as string, 40);
    text(buyer[i] as string, 300);
    newline();
  }
  newline(8);
  text('Lp.', 40, 8, bold);
  text('Nazwa', 62, 8, bold);
  text('Ilosc', 330, 8, bold);
  text('Cena netto', 380, 8, bold);
  text('Rabat', 440, 8, bold);
  text('Netto', 480, 8, bold);
  text('VAT', 540, 8, bold);
  newline();
  const lines = [...orm.table('account.move.line').values()]
    .filter((l) => l.move_id === move.id && ['product', 'line_section', 'line_note'].includes(l.display_type as string))
    .sort((a, b) => (a.sequence as number) - (b.sequence as number) || a.id - b.id);
  let n = 0;
  for (const l of lines) {
    const name = String(l.name || '').split('\n')[0] as string;
    if (l.display_type !== 'product') {
      text(name.slice(0, 90), 62, 8, l.display_type === 'line_section' ? bold : font);
      newline(11);
      continue;
    }
    n++;
    const taxes = ((l.tax_ids as number[]) ?? []).map((t) => String(orm.get('account.tax', t)?.invoice_label ?? '')).join(',');
    text(String(n), 40, 8);
    text(name.slice(0, 58), 62, 8);
    text(String(l.quantity), 330, 8);
    text((l.price_unit as number).toFixed(2), 380, 8);
    text(l.discount ? `${String(l.discount)}%` : '', 440, 8);
    text((l.price_subtotal as number).toFixed(2), 480, 8);
    text(taxes, 540, 8);
    newline(11);
  }
  newline(10);
  text(`Razem netto: ${(move.amount_untaxed as number).toFixed(2)} ${currency}`, 330, 9);
  newline();
  text(`VAT: ${(move.amount_tax as number).toFixed(2)} ${currency}`, 330, 9);
  newline();
  text(`Do zaplaty: ${(move.amount_total as number).toFixed(2)} ${currency}`, 330, 11, bold);
  newline(18);
  if (move.partner_bank_id) text(`Rachunek: ${m2oName(orm, env, 'res.partner.bank', move.partner_bank_id)}`, 40);
  if (move.l10n_pl_edi_number) {
    newline();
    text(`Numer KSeF: ${String(move.l10n_pl_edi_number)}`, 40);
  }
  return doc.save({ useObjectStreams: false });
}

function moveName(move: Raw): string {
  return move.name && move.name !== '/' ? String(move.name) : `(projekt ${move.id})`;
}

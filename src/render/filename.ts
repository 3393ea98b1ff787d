/**
 * The PDF attachment's file name, from the invoice number.
 *
 * Decision: Polish letters are transliterated to ASCII (ą→a, ł→l, Ż→Z …). Non-ASCII file names travel in
 * RFC 2231/2047 encodings that some mail clients, archivers and ERP inboxes still mangle; an ASCII name
 * survives everywhere and stays recognisable. Every other character outside [A-Za-z0-9._-] becomes "-"
 * ("FV/2026/0001" → "FV-2026-0001.pdf"), runs of "-" collapse, the name is at most 120 characters.
 * A draft without a number: "Faktura-projekt-<id>.pdf".
 */
import type { Invoice } from '../domain.ts';

const PL_MAP: Record<string, string> = {
  ą: 'a',
  ć: 'c',
  ę: 'e',
  ł: 'l',
  ń: 'n',
  ó: 'o',
  ś: 's',
  ź: 'z',
  ż: 'z',
  Ą: 'A',
  Ć: 'C',
  Ę: 'E',
  Ł: 'L',
  Ń: 'N',
  Ó: 'O',
  Ś: 'S',
  Ź: 'Z',
  Ż: 'Z',
};

/** ASCII-safe file name stem: transliterated, other characters replaced by "-". */
export function safeFileStem(text: string, maxLength = 120): string {
  const ascii = text
    .replace(/[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]/g, (c) => PL_MAP[c] ?? c)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');
  return ascii
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, maxLength)
    .replace(/[-.]+$/, '');
}

export function attachmentFileName(invoice: Pick<Invoice, 'id' | 'number'>): string {
  const stem = invoice.number && invoice.number !== '/' ? safeFileStem(invoice.number) : '';
  if (stem) return `${stem}.pdf`;
  return `Faktura-projekt-${safeFileStem(invoice.id, 60) || 'bez-numeru'}.pdf`;
}

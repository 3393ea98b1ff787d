/** The rights the connector needs on an Odoo host (the manifest's `permissions` for kind odoo; install checks the required ones). */
import type { HostPermission } from '../descriptor.ts';

export const ODOO_PERMISSIONS: readonly HostPermission[] = [
  {
    model: 'account.move',
    access: ['read', 'write'],
    credential: 'operator',
    why: { pl: 'Odczyt faktur sprzedaży; zapis znacznika „wysłano”.', en: 'Read sales invoices; write the "sent" flag.' },
  },
  { model: 'account.move.line', access: ['read'], credential: 'operator', why: { pl: 'Pozycje faktur.', en: 'Invoice lines.' } },
  { model: 'account.tax', access: ['read'], credential: 'operator', why: { pl: 'Stawki VAT na wydruku.', en: 'VAT rates on the print.' } },
  {
    model: 'res.partner',
    access: ['read'],
    credential: 'operator',
    why: { pl: 'Nabywcy, kontakty do faktur i ich adresy e-mail.', en: 'Customers, invoice contacts and their e-mail addresses.' },
  },
  {
    model: 'res.users',
    access: ['read'],
    credential: 'operator',
    why: { pl: 'Lista operatorów i adres nadawcy.', en: 'The operator list and the sender address.' },
  },
  {
    model: 'res.company',
    access: ['read'],
    credential: 'operator',
    why: { pl: 'Dane sprzedawcy i waluta firmy.', en: "Seller data and the company's currency." },
  },
  { model: 'res.currency', access: ['read'], credential: 'operator', why: { pl: 'Waluty faktur.', en: 'Invoice currencies.' } },
  { model: 'res.currency.rate', access: ['read'], credential: 'operator', why: { pl: 'Kurs do przeliczenia VAT na PLN.', en: 'The rate for VAT in PLN.' } },
  { model: 'mail.template', access: ['read'], credential: 'operator', why: { pl: 'Szablony wiadomości dla faktur.', en: 'Message templates for invoices.' } },
  {
    model: 'ir.mail_server',
    access: ['read'],
    credential: 'integration',
    why: { pl: 'Konta SMTP (czytać mogą tylko administratorzy).', en: 'SMTP accounts (only administrators may read them).' },
  },
  {
    model: 'ir.model.data',
    access: ['read'],
    credential: 'integration',
    why: {
      pl: 'Identyfikatory szablonów faktury i korekty oraz podtypu notatki (czytać mogą tylko administratorzy).',
      en: 'The ids of the invoice and credit-note templates and of the note subtype (only administrators may read them).',
    },
  },
  {
    model: 'fetchmail.server',
    access: ['read'],
    credential: 'integration',
    why: { pl: 'Konta IMAP do zapisu w folderze Robocze (tylko administratorzy).', en: 'IMAP accounts for saving drafts (administrators only).' },
  },
  { model: 'ir.actions.report', access: ['read'], credential: 'operator', why: { pl: 'Wydruki użytkownika.', en: 'User prints.' } },
  { model: 'ir.attachment', access: ['read'], credential: 'operator', why: { pl: 'Zapisane PDF faktur i XML KSeF.', en: 'Stored invoice PDFs and KSeF XML.' } },
  {
    model: 'mail.message',
    access: ['create'],
    credential: 'operator',
    why: { pl: 'Notatka na fakturze (przez message_post).', en: 'A note on the invoice (through message_post).' },
  },
  {
    model: 'account.move.send.wizard',
    access: ['create', 'read', 'unlink'],
    credential: 'operator',
    why: { pl: 'Treść wiadomości i wydruk przygotowane przez system.', en: "The host's own rendering of message and print." },
  },
  {
    model: 'ir.logging',
    access: ['create'],
    credential: 'integration',
    optional: true,
    why: { pl: 'Dziennik przebiegów w systemie.', en: "The run log in the host's log." },
  },
  {
    model: 'ir.actions.act_url',
    access: ['create', 'read', 'unlink'],
    credential: 'integration',
    optional: true,
    why: { pl: 'Pozycja menu otwierająca ustawienia i logi.', en: 'A menu entry that opens the settings and logs.' },
  },
  {
    model: 'ir.ui.menu',
    access: ['create', 'read', 'unlink'],
    credential: 'integration',
    optional: true,
    why: { pl: 'Pozycja menu otwierająca ustawienia i logi.', en: 'A menu entry that opens the settings and logs.' },
  },
];

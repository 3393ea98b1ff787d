/** The pages' own words (setting labels and help come from the settings schema, never from here). */
import type { PageLang } from './links.ts';

const STRINGS = {
  settingsTitle: { pl: 'Automatyczna wysyłka faktur – ustawienia', en: 'Invoice Courier – settings' },
  logsTitle: { pl: 'Automatyczna wysyłka faktur – logi', en: 'Invoice Courier – logs' },
  save: { pl: 'Zapisz', en: 'Save' },
  saved: { pl: 'Zapisano.', en: 'Saved.' },
  savedWithWarning: { pl: 'Zapisano – zobacz uwagi przy polach.', en: 'Saved – see the notes at the fields.' },
  datePlaceholder: { pl: 'RRRR-MM-DD', en: 'YYYY-MM-DD' },
  timePlaceholder: { pl: 'GG:MM', en: 'HH:MM' },
  invoiceSearch: { pl: 'np. FV/2026/00127', en: 'e.g. FV/2026/00127' },
  noMatches: { pl: 'Nie znaleziono faktury o takim numerze.', en: 'No invoice with such a number.' },
  chooseInvoice: { pl: 'Wpisz numer faktury i wybierz ją z listy.', en: 'Type an invoice number and pick it from the list.' },
  runNowDisabled: { pl: 'Wysyłka jest wyłączona – „Uruchom teraz” wyśle mimo to.', en: 'Sending is off – "Run now" sends anyway.' },
  currentRun: { pl: 'Bieżący przebieg', en: 'Current run' },
  noRun: { pl: 'Żaden przebieg jeszcze się nie odbył.', en: 'No run yet.' },
  lastRun: { pl: 'Ostatni przebieg', en: 'Last run' },
  allEvents: { pl: 'wszystkie zdarzenia', en: 'all events' },
  saving: { pl: 'Zapisywanie…', en: 'Saving…' },
  fixErrors: { pl: 'Popraw zaznaczone pola.', en: 'Please fix the marked fields.' },
  loading: { pl: 'Wczytywanie…', en: 'Loading…' },
  loadFailed: { pl: 'Nie udało się wczytać', en: 'Could not load' },
  passwordSet: { pl: 'ustawione – wpisz, aby zmienić', en: 'set – type to change' },
  passwordUnset: { pl: 'nieustawione', en: 'not set' },
  runNow: { pl: 'Uruchom teraz', en: 'Run now' },
  runQueued: { pl: 'Wysyłka uruchomiona. Postęp widać w logach.', en: 'Run started. Follow it in the logs.' },
  preview: { pl: 'Podgląd faktury', en: 'Invoice preview' },
  invoiceId: { pl: 'Identyfikator faktury', en: 'Invoice id' },
  previewMessage: { pl: 'Podgląd wiadomości', en: 'Preview message' },
  previewPdf: { pl: 'Podgląd PDF', en: 'Preview PDF' },
  previewUnavailable: { pl: 'Podgląd jest niedostępny w tej wersji.', en: 'Previews are not available in this version.' },
  subject: { pl: 'Temat', en: 'Subject' },
  to: { pl: 'Do', en: 'To' },
  from: { pl: 'Od', en: 'From' },
  wouldSend: { pl: 'Zostałaby wysłana', en: 'Would be sent' },
  wouldSkip: { pl: 'Nie zostałaby wysłana', en: 'Would not be sent' },
  noneOption: { pl: '(brak)', en: '(none)' },
  noAttachment: { pl: 'Bez załącznika', en: 'No attachment' },
  logs: { pl: 'Logi', en: 'Logs' },
  runs: { pl: 'Przebiegi', en: 'Runs' },
  filters: { pl: 'Filtry', en: 'Filters' },
  dateFrom: { pl: 'Od dnia', en: 'From day' },
  dateTo: { pl: 'Do dnia', en: 'To day' },
  level: { pl: 'Poziom / wynik', en: 'Level / outcome' },
  levelOnly: { pl: 'Poziom', en: 'Level' },
  any: { pl: 'wszystkie', en: 'all' },
  invoiceNumber: { pl: 'Numer faktury', en: 'Invoice number' },
  apply: { pl: 'Filtruj', en: 'Filter' },
  time: { pl: 'Czas', en: 'Time' },
  event: { pl: 'Zdarzenie', en: 'Event' },
  invoice: { pl: 'Faktura', en: 'Invoice' },
  message: { pl: 'Opis', en: 'Message' },
  noEntries: { pl: 'Brak wpisów.', en: 'No entries.' },
  started: { pl: 'Start', en: 'Started' },
  trigger: { pl: 'Uruchomienie', en: 'Trigger' },
  status: { pl: 'Stan', en: 'Status' },
  counts: { pl: 'Wyniki', en: 'Outcomes' },
  duration: { pl: 'Czas trwania', en: 'Duration' },
  progress: { pl: 'Postęp', en: 'Progress' },
  of: { pl: 'z', en: 'of' },
  more: { pl: 'Starsze wpisy', en: 'Older entries' },
  expiredTitle: { pl: 'Link wygasł lub jest nieprawidłowy', en: 'This link has expired or is not valid' },
  expiredText: {
    pl: 'Otwórz stronę ponownie z systemu, aby otrzymać nowy link.',
    en: 'Open the page again from the host to get a fresh link.',
  },
  dnsRecord: { pl: 'Rekord DNS do opublikowania', en: 'DNS record to publish' },
  dnsRecordHelp: {
    pl: 'Konto podpisuje wiadomości DKIM. Opublikuj ten rekord TXT w DNS domeny, aby odbiorcy mogli sprawdzić podpis.',
    en: "This account signs its messages with DKIM. Publish this TXT record in the domain's DNS so that receivers can verify the signature.",
  },
  dnsName: { pl: 'Nazwa', en: 'Name' },
  dnsType: { pl: 'Typ', en: 'Type' },
  dnsValue: { pl: 'Wartość', en: 'Value' },
  copy: { pl: 'Kopiuj', en: 'Copy' },
  copied: { pl: 'Skopiowano.', en: 'Copied.' },
  sessionExpired: { pl: 'Sesja wygasła – otwórz stronę ponownie.', en: 'The session has expired – open the page again.' },
} as const satisfies Record<string, Record<PageLang, string>>;

export type StringKey = keyof typeof STRINGS;

export function t(lang: PageLang, key: StringKey): string {
  return STRINGS[key][lang];
}

/** All strings in one language (for the page's script). */
export function strings(lang: PageLang): Record<StringKey, string> {
  return Object.fromEntries(Object.entries(STRINGS).map(([k, v]) => [k, v[lang]])) as Record<StringKey, string>;
}

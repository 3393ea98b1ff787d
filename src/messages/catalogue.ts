/**
 * Every sentence the connector shows a person, as a stable code with parameters plus its Polish and
 * English text. The API keeps the code and the parameters (for machines) and adds the sentence in the
 * caller's language; the pages show only sentences. One registry: a test fails when a code lacks a
 * text in either language or the two texts name different parameters.
 *
 * Texts use `{name}` placeholders. Host and server messages are never translated: they travel as a
 * `detail` parameter and are shown quoted.
 */

export type Lang = 'pl' | 'en';
export const LANGS: readonly Lang[] = ['pl', 'en'];

type Entry = { pl: string; en: string };

const SKIP_REASONS = {
  not_customer_invoice: { pl: 'to nie jest faktura sprzedaży dla klienta', en: 'it is not a customer invoice' },
  cancelled: { pl: 'faktura jest anulowana', en: 'the invoice is cancelled' },
  draft_not_wanted: { pl: 'faktura jest w buforze, a wysyłane są tylko zatwierdzone', en: 'the invoice is a draft and only confirmed ones are sent' },
  missing_date: { pl: 'faktura nie ma daty, według której się ją porównuje', en: 'the invoice has no date to compare' },
  before_from_date: { pl: 'data faktury jest wcześniejsza niż „Od daty”', en: 'the invoice is dated before "From date"' },
  host_marked_sent: { pl: 'system oznaczył ją już jako wysłaną', en: 'the host already marked it as sent' },
  host_is_sending: { pl: 'system właśnie ją wysyła', en: 'the host is sending it right now' },
  already_recorded: { pl: 'została już wysłana (jest w rejestrze wysyłek)', en: 'it was already sent (it is in the delivery record)' },
  in_progress: { pl: 'jej wysyłka właśnie trwa', en: 'its delivery is in progress' },
  retry_later: { pl: 'kolejna próba wysyłki jest zaplanowana później', en: 'the next attempt is scheduled later' },
  attempts_exhausted: { pl: 'wyczerpano liczbę prób wysyłki', en: 'all delivery attempts are used up' },
  no_recipient: { pl: 'nabywca nie ma adresu e-mail do faktur', en: 'the customer has no e-mail address for invoices' },
  no_consent: { pl: 'nabywca nie zgodził się na faktury e-mailem', en: 'the customer has not agreed to e-mailed invoices' },
  waiting_for_ksef: { pl: 'faktura czeka na numer KSeF', en: 'the invoice is waiting for its KSeF number' },
  ksef_rejected: { pl: 'KSeF odrzucił fakturę – popraw ją w systemie', en: 'KSeF rejected the invoice: correct it in the host' },
  host_read_failed: {
    pl: 'system nie podał danych potrzebnych do tej faktury (np. kursu waluty)',
    en: 'the host could not give data this invoice needs (e.g. its currency rate)',
  },
} as const satisfies Record<string, Entry>;
export type SkipReasonCode = keyof typeof SKIP_REASONS;
/** A skip reason's words (lower case, no full stop), for sentences built around it. */
export function skipReasonText(lang: Lang, reason: string): string {
  return (SKIP_REASONS as Record<string, Entry>)[reason]?.[lang] ?? reason;
}

const OUTCOME_REASONS = {
  no_recipient: SKIP_REASONS.no_recipient,
  no_consent: SKIP_REASONS.no_consent,
  waiting_for_ksef: SKIP_REASONS.waiting_for_ksef,
  host_read_failed: SKIP_REASONS.host_read_failed,
  attempts_exhausted: SKIP_REASONS.attempts_exhausted,
  invalid_recipient: { pl: 'adres odbiorcy jest nieprawidłowy', en: 'the recipient address is not valid' },
  print_unavailable: { pl: 'nie udało się przygotować wydruku', en: 'the print could not be produced' },
  render_failed: { pl: 'nie udało się przygotować wiadomości', en: 'the message could not be prepared' },
  smtp_temporary: { pl: 'serwer poczty chwilowo odmówił', en: 'the mail server refused for now' },
  smtp_permanent: { pl: 'serwer poczty odrzucił wiadomość', en: 'the mail server rejected the message' },
  smtp_auth: { pl: 'serwer poczty nie przyjął logowania', en: 'the mail server refused the login' },
  account_unusable: { pl: 'konta e-mail nie da się użyć w obecnej konfiguracji', en: 'the e-mail account cannot be used as configured' },
  imap_failed: { pl: 'zapis w folderze Robocze się nie udał', en: 'saving to Drafts failed' },
  interrupted: { pl: 'wysyłka została przerwana', en: 'the delivery was interrupted' },
} as const satisfies Record<string, Entry>;
export type OutcomeReasonCode = keyof typeof OUTCOME_REASONS;

const prefixed = <P extends string, T extends Record<string, Entry>>(prefix: P, entries: T) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [`${prefix}${k}`, v])) as { [K in keyof T & string as `${P}${K}`]: Entry };

const skipSentences = Object.fromEntries(Object.entries(SKIP_REASONS).map(([k, v]) => [k, { pl: `Pominięto: ${v.pl}.`, en: `Skipped: ${v.en}.` }])) as Record<
  SkipReasonCode,
  Entry
>;
const previewSkip = Object.fromEntries(
  Object.entries(SKIP_REASONS).map(([k, v]) => [k, { pl: `Nie zostałaby wysłana: ${v.pl}.`, en: `Would not be sent: ${v.en}.` }]),
) as Record<SkipReasonCode, Entry>;

/**
 * What a standard print could not print as the invoice says, or printed from a second source (render
 * warnings, src/render/print.ts). The run logs each as `invoice.print_warning` and the preview shows them.
 * Amounts in the parameters are already formatted (`1 234,56 PLN`).
 */
const PRINT_WARNINGS = {
  correction_without_original: {
    pl: 'System nie podał faktury korygowanej; wydruk korekty nie może się do niej odnieść.',
    en: 'The host gave no corrected invoice; the print of the credit note cannot refer to it.',
  },
  net_differs: {
    pl: 'Z pozycji wychodzi netto {lines}, a system podaje {host}; wydrukowano kwotę z systemu.',
    en: "The lines give net {lines} but the host says {host}; the host's figure is printed.",
  },
  vat_differs: {
    pl: 'Z pozycji wychodzi VAT {lines}, a system podaje {host}; wydrukowano kwotę z systemu.',
    en: "The lines give VAT {lines} but the host says {host}; the host's figure is printed.",
  },
  gross_differs: {
    pl: 'Z pozycji wychodzi brutto {lines}, a system podaje {host}; wydrukowano kwotę z systemu.',
    en: "The lines give gross {lines} but the host says {host}; the host's figure is printed.",
  },
  booked_vat_missing_for_rate: {
    pl: 'Księgowanie w systemie nie ma VAT w PLN dla stawki {rate}; ten wiersz wydruku go nie pokazuje.',
    en: "The host's booking has no VAT in PLN for the rate {rate}; that row shows none.",
  },
  booked_vat_sum_differs: {
    pl: 'VAT zaksięgowany według stawek sumuje się do {byRates}, a zaksięgowany VAT wynosi {booked}; jako sumę wydrukowano zaksięgowany VAT.',
    en: "The host's booked VAT per rate adds up to {byRates} but its booked VAT is {booked}; the booked VAT is printed as the total.",
  },
  booked_in_other_currency: {
    pl: 'System zaksięgował fakturę w {currency}, nie w PLN; VAT w PLN przeliczono po kursie z systemu.',
    en: "The host booked it in {currency}, not PLN; the VAT in PLN is converted at the host's rate instead.",
  },
  vat_pln_converted: {
    pl: 'Faktura w {currency}: system nie podał kwot zaksięgowanych w PLN; VAT w PLN przeliczono przy wydruku po kursie z systemu.',
    en: "Invoice in {currency}: the host gave no booked PLN amounts; the VAT in PLN is converted at the host's rate when printing.",
  },
  no_exchange_rate: {
    pl: 'Faktura w {currency}: system nie podał kursu waluty; wydruk nie pokazuje VAT w PLN.',
    en: 'Invoice in {currency}: the host gave no exchange rate; the print shows no VAT in PLN.',
  },
  ksef_hash_mismatch: {
    pl: 'Skrót KSeF {hostHash} nie zgadza się z SHA-256 załączonego pliku XML {filename} ({actual}); nie wydrukowano kodu QR KSeF.',
    en: 'The KSeF hash {hostHash} does not match the SHA-256 of the attached XML {filename} ({actual}); no KSeF QR code printed.',
  },
  ksef_no_hash: {
    pl: 'Numer KSeF jest znany, ale system nie podał skrótu XML; nie wydrukowano kodu QR KSeF.',
    en: 'KSeF number known but no XML hash; no KSeF QR code printed.',
  },
  ksef_no_nip_or_date: {
    pl: 'Brak NIP sprzedawcy lub daty wystawienia; nie wydrukowano kodu QR KSeF.',
    en: 'No seller NIP or issue date; no KSeF QR code printed.',
  },
  ksef_qr_invalid: {
    pl: 'Danych do kodu QR KSeF nie da się użyć („{detail}”); nie wydrukowano kodu QR KSeF.',
    en: 'The data for the KSeF QR code cannot be used ("{detail}"); no KSeF QR code printed.',
  },
} as const satisfies Record<string, Entry>;
export type PrintWarningCode = `print.warning.${keyof typeof PRINT_WARNINGS}`;

/** A render warning: a print warning's code with its parameters (the renderer's answer beside the PDF). */
export interface PrintWarning {
  code: PrintWarningCode;
  params: Record<string, string>;
}

export function printWarning(code: PrintWarningCode, params: Record<string, string> = {}): PrintWarning {
  return { code, params };
}

export const CATALOGUE = {
  // ---- settings: field problems (checks without the host) ----
  'settings.time_format': { pl: 'Podaj godzinę w formacie GG:MM (00:00–23:59).', en: 'Enter a time as HH:MM (00:00–23:59).' },
  'settings.until_before_start': {
    pl: 'Godzina „Do godziny” nie może być wcześniejsza niż godzina rozpoczęcia {startAt}.',
    en: 'The end time must not be earlier than the start time {startAt}.',
  },
  'settings.repeat_unknown': { pl: 'Wybierz jeden z odstępów: {allowed}.', en: 'Choose one of the intervals: {allowed}.' },
  'settings.date_format': { pl: 'Podaj datę w formacie RRRR-MM-DD.', en: 'Enter a date as YYYY-MM-DD.' },
  'settings.date_invalid': { pl: 'Taki dzień nie istnieje w kalendarzu: {value}.', en: 'There is no such day in the calendar: {value}.' },
  'settings.timezone_unknown': {
    pl: '„{value}” nie jest strefą czasową z listy IANA (np. Europe/Warsaw).',
    en: '"{value}" is not an IANA time zone (e.g. Europe/Warsaw).',
  },
  'settings.print_format': {
    pl: 'Wybierz wydruk standardowy, wydruk użytkownika albo brak załącznika.',
    en: 'Choose a standard print, a user print or no attachment.',
  },
  'settings.print_unknown': { pl: 'Nie ma wydruku standardowego „{id}” (dostępne: {known}).', en: 'There is no standard print "{id}" (known: {known}).' },
  'settings.operator_required': {
    pl: 'Wybierz operatora – jest wymagany, gdy wysyłka jest włączona.',
    en: 'Choose an operator: one is required when sending is on.',
  },
  'settings.email_account_required': {
    pl: 'Wybierz konto e-mail – jest wymagane, gdy wysyłka jest włączona.',
    en: 'Choose an e-mail account: one is required when sending is on.',
  },
  'settings.email_template_required': {
    pl: 'Wybierz szablon e-mail – jest wymagany, gdy wysyłka jest włączona.',
    en: 'Choose an e-mail template: one is required when sending is on.',
  },
  'settings.from_date_future': {
    pl: 'Data „Od daty” ({date}) jest w przyszłości: do tego dnia nic nie zostanie wysłane.',
    en: '"From date" ({date}) is in the future: nothing is sent before that day.',
  },
  // ---- settings: problems found with the host ----
  'settings.operator_password_needed': {
    pl: 'Podaj hasło (lub klucz API) nowego operatora „{operator}”.',
    en: 'Enter the password (or API key) of the new operator "{operator}".',
  },
  'settings.operator_password_missing': { pl: 'Operator nie ma zapisanego hasła – podaj je.', en: 'The operator has no password stored: enter it.' },
  'settings.operator_login_refused': {
    pl: 'Operator „{operator}” nie może zalogować się do systemu tym hasłem.',
    en: 'The operator "{operator}" cannot log in to the host with this password.',
  },
  'settings.operator_unknown': { pl: 'W systemie nie ma użytkownika o loginie „{login}”.', en: 'The host has no user with the login "{login}".' },
  'settings.email_account_unavailable': {
    pl: 'Konto e-mail {account} nie jest aktywne albo operator „{operator}” nie ma do niego dostępu.',
    en: 'The e-mail account {account} is not active or the operator "{operator}" cannot use it.',
  },
  'settings.drafts_need_imap': {
    pl: 'Zapis w folderze Robocze wymaga IMAP, a konto e-mail „{account}” nie ma ustawień IMAP.',
    en: 'Saving to Drafts needs IMAP, and the e-mail account "{account}" has no IMAP settings.',
  },
  'settings.template_unknown': {
    pl: 'Szablon {template} nie istnieje albo nie jest szablonem faktury sprzedaży.',
    en: 'The template {template} does not exist or is not a sales-invoice template.',
  },
  'settings.print_not_on_host': { pl: 'W systemie nie ma wydruku {print}.', en: 'The host has no print {print}.' },
  // ---- install handshake ----
  'install.credentials_refused': { pl: 'System odrzucił te dane logowania: „{detail}”.', en: 'The host refused these credentials: "{detail}".' },
  'install.host_unreachable': { pl: 'System nie odpowiada: „{detail}”.', en: 'The host does not answer: "{detail}".' },
  'install.no_company': { pl: 'W systemie nie ma takiej firmy: „{detail}”.', en: 'The host has no such company: "{detail}".' },
  'install.no_database': { pl: 'W systemie nie ma takiej bazy danych: „{detail}”.', en: 'The host has no such database: "{detail}".' },
  'install.not_this_host': { pl: 'Pod tym adresem nie ma systemu tego rodzaju: „{detail}”.', en: 'No host of this kind answers at this URL: "{detail}".' },
  'install.no_rights': {
    pl: 'Użytkownik integracji nie ma uprawnień, których potrzebuje łącznik: „{detail}”.',
    en: 'The integration user lacks rights the connector needs: "{detail}".',
  },
  'install.handshake_refused': { pl: 'System odrzucił połączenie: „{detail}”.', en: 'The host refused the handshake: "{detail}".' },
  'install.missing_right': {
    pl: 'Użytkownik integracji „{login}” nie może wykonać {access} na {model} {reason}',
    en: 'The integration user "{login}" may not {access} {model} {reason}',
  },
  'install.version_unsupported': {
    pl: 'Odoo {version} nie jest obsługiwane (wymagane Odoo {minimum} lub nowsze).',
    en: 'Odoo {version} is not supported (Odoo {minimum} or later is needed).',
  },
  // ---- request shape (JSON schema) ----
  'validation.required': { pl: 'To pole jest wymagane.', en: 'This field is required.' },
  'validation.unknown_field': { pl: 'Nieznane pole „{name}”.', en: 'Unknown field "{name}".' },
  'validation.type': { pl: 'Nieprawidłowy rodzaj wartości (oczekiwano: {expected}).', en: 'Wrong kind of value (expected: {expected}).' },
  'validation.too_long': { pl: 'Za długie: najwyżej {limit} znaków.', en: 'Too long: at most {limit} characters.' },
  'validation.too_short': { pl: 'Za krótkie: co najmniej {limit} znaków.', en: 'Too short: at least {limit} characters.' },
  'validation.choice': { pl: 'Wybierz jedną z dostępnych wartości.', en: 'Choose one of the offered values.' },
  'validation.range': { pl: 'Wartość spoza dozwolonego zakresu ({limit}).', en: 'Value out of range ({limit}).' },
  'validation.format': { pl: 'Nieprawidłowy format.', en: 'Invalid format.' },
  'validation.invalid': { pl: 'Nieprawidłowa wartość.', en: 'Invalid value.' },
  'validation.nul': { pl: 'Wartość nie może zawierać znaku NUL.', en: 'The value must not contain a NUL character.' },
  'validation.date_range': { pl: 'Data poza obsługiwanym zakresem.', en: 'The date is out of the supported range.' },
  'validation.range_reversed': { pl: 'Początek zakresu jest późniejszy niż koniec.', en: 'The start of the range is after its end.' },
  // ---- other errors the pages may show ----
  'error.session_expired': { pl: 'Sesja wygasła – otwórz stronę ponownie.', en: 'The session has expired: open the page again.' },
  'error.not_found': { pl: 'Nie znaleziono.', en: 'Not found.' },
  'error.host_unavailable': { pl: 'System nie odpowiada; spróbuj za chwilę.', en: 'The host does not answer; try again shortly.' },
  'error.internal': { pl: 'Wystąpił błąd po stronie łącznika.', en: 'The connector hit an internal error.' },
  'error.other': { pl: 'Operacja się nie udała: „{detail}”.', en: 'The operation failed: "{detail}".' },
  'error.invoice_not_found': { pl: 'W systemie nie ma faktury {invoice}.', en: 'The host has no invoice {invoice}.' },
  // ---- runs ----
  'run.status.running': { pl: 'w toku', en: 'running' },
  'run.status.completed': { pl: 'zakończony', en: 'completed' },
  'run.status.failed': { pl: 'przerwany błędem', en: 'failed' },
  'run.status.interrupted': { pl: 'przerwany (proces zakończył się w trakcie)', en: 'interrupted (its process ended mid-run)' },
  'run.trigger.schedule': { pl: 'według harmonogramu', en: 'scheduled' },
  'run.trigger.catch_up': { pl: 'nadrobienie pominiętego terminu', en: 'catch-up of a missed slot' },
  'run.trigger.manual': { pl: 'ręcznie („Uruchom teraz”)', en: 'manual ("Run now")' },
  'run.trigger.hint': { pl: 'na sygnał z systemu', en: 'on a hint from the host' },
  'run.counts': {
    pl: 'wysłane: {sent}, robocze: {drafted}, pominięte: {skipped}, błędy: {failed}, do ponowienia: {retry}, niepewne: {uncertain}',
    en: 'sent: {sent}, drafted: {drafted}, skipped: {skipped}, failed: {failed}, to retry: {retry}, uncertain: {uncertain}',
  },
  'run.progress': { pl: '{processed} z {total}', en: '{processed} of {total}' },
  'run.estimate': { pl: 'zostało ok. {time}', en: 'about {time} left' },
  'run.counting': { pl: 'liczenie faktur…', en: 'counting invoices…' },
  // ---- log events (the pipeline's `event`, sentence from its `data`) ----
  'log.run.started': { pl: 'Rozpoczęto przebieg ({trigger}).', en: 'Run started ({trigger}).' },
  'log.run.completed': { pl: 'Przebieg zakończony: {counts}.', en: 'Run completed: {counts}.' },
  'log.run.completed_with_error': { pl: 'Przebieg przerwany błędem: {counts}.', en: 'Run ended with an error: {counts}.' },
  'log.run.failed': { pl: 'Przebieg przerwany błędem: „{detail}”.', en: 'Run failed: "{detail}".' },
  'log.run.progress': { pl: 'Postęp przebiegu: {processed} z {total}.', en: 'Run progress: {processed} of {total}.' },
  'log.operator.auth_failed': {
    pl: 'Operator nie może już zalogować się do systemu; przebieg zatrzymano. Zmień hasło w ustawieniach.',
    en: 'The operator can no longer log in to the host; the run stopped. Update the password in the settings.',
  },
  'log.delivery.auth_failed': {
    pl: 'Serwer poczty odrzucił dane logowania konta e-mail; przebieg zatrzymano (żadnej faktury nie oznaczono jako wysłanej): „{detail}”.',
    en: 'The mail server refused the e-mail account\'s credentials; the run stopped (no invoice was marked as sent): "{detail}".',
  },
  'log.delivery.account_unusable': {
    pl: 'Konta e-mail nie da się użyć w obecnej konfiguracji; przebieg zatrzymano (żadnej faktury nie oznaczono): „{detail}”.',
    en: 'The e-mail account cannot be used as configured; the run stopped (no invoice was marked): "{detail}".',
  },
  'log.host.menu_failed': {
    pl: 'Nie udało się dodać pozycji menu łącznika w systemie: „{detail}”.',
    en: 'The connector\'s menu entry could not be made in the host: "{detail}".',
  },
  'log.run.digest_sent': { pl: 'Wysłano zestawienie błędów na adres {to} ({invoices} faktur).', en: 'Failure digest sent to {to} ({invoices} invoice(s)).' },
  'log.run.digest_skipped': { pl: 'Nie wysłano zestawienia błędów: „{detail}”.', en: 'No failure digest was sent: "{detail}".' },
  'log.writeback.delayed': {
    pl: 'Nie udało się zapisać wyników w systemie; ponowienie przy następnym przebiegu: „{detail}”.',
    en: 'Writing the outcomes back to the host failed; retried on the next run: "{detail}".',
  },
  'log.invoice.sent': { pl: 'Wysłano do: {to}.', en: 'Sent to {to}.' },
  'log.invoice.sent_partly': { pl: 'Wysłano do: {to}; odrzucone adresy: {refused}.', en: 'Sent to {to}; refused: {refused}.' },
  'log.invoice.sent_confirmed': { pl: 'Wysłano (potwierdzone w skrzynce).', en: 'Sent (confirmed in the mailbox).' },
  'log.invoice.drafted': { pl: 'Zapisano w folderze Robocze dla: {to}.', en: 'Saved in Drafts for {to}.' },
  'log.invoice.drafted_confirmed': { pl: 'Zapisano w folderze Robocze (potwierdzone w skrzynce).', en: 'Saved in Drafts (confirmed in the mailbox).' },
  'log.invoice.failed': { pl: 'Nie wysłano: {reason}.', en: 'Not sent: {reason}.' },
  'log.invoice.retry': { pl: 'Nie wysłano teraz, będzie ponowione: {reason}.', en: 'Not sent now, will retry: {reason}.' },
  'log.invoice.uncertain': {
    pl: 'Nie wiadomo, czy wiadomość dotarła (połączenie zerwane po przekazaniu). Zdecyduj, czy wysłać ponownie.',
    en: 'It is unknown whether the message arrived (the connection dropped after hand-over). Decide whether to re-send.',
  },
  'log.invoice.new_version': {
    pl: 'Wysłany wcześniej projekt faktury został zatwierdzony; faktura zostanie wysłana jeszcze raz, jeden raz, jako zatwierdzona (wersja {version}).',
    en: 'The draft e-mailed earlier was posted; the confirmed invoice is e-mailed once more (version {version}).',
  },
  'log.run.split': {
    pl: 'Przebieg podzielono na {pages} stron(y) ({invoices} faktur); każdy proces konektora może wysyłać ich część.',
    en: 'The run was split into {pages} pages ({invoices} invoices); any connector process may send a share of them.',
  },
  'log.run.unsettled': {
    pl: 'Przebieg nie rozliczył wszystkich pobranych faktur: „{detail}”.',
    en: 'The run did not settle every invoice it took: "{detail}".',
  },
  'log.run.host_log_failed': {
    pl: 'Nie udało się zapisać przebiegu w dzienniku systemu: „{detail}”.',
    en: 'The run could not be recorded in the host\'s log: "{detail}".',
  },
  'log.invoice.changed_after_sending': {
    pl: 'Faktura zmieniła się po wysłaniu; nie zostanie wysłana ponownie automatycznie.',
    en: 'The invoice changed after it was e-mailed; it is not sent again automatically.',
  },
  'log.invoice.invalid_recipients': { pl: 'Pominięto nieprawidłowe adresy e-mail: {addresses}.', en: 'Invalid e-mail addresses left out: {addresses}.' },
  'log.invoice.print_warning': { pl: 'Uwaga do wydruku: „{detail}”.', en: 'Print warning: "{detail}".' },
  'log.invoice.bounced': {
    pl: 'Wiadomość do {address} wróciła jako niedoręczona ({status}): „{diagnostic}”. Popraw adres u nabywcy i wyślij ponownie.',
    en: 'The message to {address} bounced ({status}): "{diagnostic}". Correct the customer\'s address and re-send.',
  },
  'log.invoice.delivery_delayed': {
    pl: 'Doręczenie do {address} opóźnia się (serwer ponawia): „{diagnostic}”.',
    en: 'Delivery to {address} is delayed (the server keeps trying): "{diagnostic}".',
  },
  'log.invoice.bounce_note_failed': {
    pl: 'Nie udało się dopisać w systemie notatki o niedoręczeniu do {address}: „{detail}”.',
    en: 'The note about the bounce of {address} could not be written in the host: "{detail}".',
  },
  'log.run.bounce_check_failed': {
    pl: 'Nie udało się odczytać raportów o niedoręczeniu ze skrzynki: „{detail}”.',
    en: 'Delivery reports could not be read from the mailbox: "{detail}".',
  },
  'log.run.bounces_checked': {
    pl: 'Odczytano raporty o doręczeniu: {read}; zapisane zwroty: {bounced}; niedotyczące wysłanych stąd wiadomości: {ignored}.',
    en: 'Delivery reports read: {read}; bounces recorded: {bounced}; not about messages sent from here: {ignored}.',
  },
  'filter.event.invoice.bounced': { pl: 'Niedoręczone (zwroty)', en: 'Bounced' },
  'log.invoice.resend_allowed': {
    pl: 'Zezwolono na ponowną wysyłkę; następny przebieg ją wyśle.',
    en: 'A person allowed this invoice to be sent again; the next run sends it.',
  },
  'log.webhook.received': { pl: 'Sygnał z systemu: {type} ({action}).', en: 'Webhook from the host: {type} ({action}).' },
  'log.unknown': { pl: 'Zdarzenie {event}: „{detail}”.', en: 'Event {event}: "{detail}".' },
  ...prefixed('log.invoice.skipped.', skipSentences),
  ...prefixed('reason.', OUTCOME_REASONS),
  // ---- preview decisions ----
  'preview.send': { pl: 'Zostałaby wysłana.', en: 'Would be sent.' },
  'preview.print_none': {
    pl: 'Dla faktur w walucie {currency} wybrano „brak załącznika”: faktura zostałaby wysłana bez PDF.',
    en: 'The print for {currency} invoices is "none" (no attachment): the invoice would go out without a PDF.',
  },
  'preview.print_failed': {
    pl: 'Nie udało się przygotować wydruku faktury {invoice}: „{detail}”.',
    en: 'The print of invoice {invoice} could not be produced: "{detail}".',
  },
  'preview.settings_incomplete': {
    pl: 'Ustawienia są niepełne: wybierz operatora, konto e-mail i szablon.',
    en: 'The settings are incomplete: choose the operator, the e-mail account and the template.',
  },
  'preview.template_not_rendered': {
    pl: 'System nie przygotował treści wiadomości dla faktury {invoice}.',
    en: 'The host did not render the message for invoice {invoice}.',
  },
  ...prefixed('preview.skip.', previewSkip),
  // ---- the logs page's filter ----
  'filter.event.invoice.sent': { pl: 'Wysłane', en: 'Sent' },
  'filter.event.invoice.drafted': { pl: 'Zapisane w folderze Robocze', en: 'Saved as drafts' },
  'filter.event.invoice.failed': { pl: 'Nieudane', en: 'Failed' },
  'filter.event.invoice.retry': { pl: 'Do ponowienia', en: 'To retry' },
  'filter.event.invoice.uncertain': { pl: 'Niepewne (decyzja osoby)', en: 'Uncertain (a person decides)' },
  'filter.event.run.completed': { pl: 'Zakończone przebiegi', en: 'Finished runs' },
  'filter.skipped': { pl: 'Pominięte: {reason}', en: 'Skipped: {reason}' },
  // ---- render warnings of the standard prints ----
  ...prefixed('print.warning.', PRINT_WARNINGS),
  // ---- log levels ----
  'level.info': { pl: 'informacja', en: 'info' },
  'level.warning': { pl: 'ostrzeżenie', en: 'warning' },
  'level.error': { pl: 'błąd', en: 'error' },
} as const satisfies Record<string, Entry>;

export type MessageCode = keyof typeof CATALOGUE;
export type Params = Record<string, unknown>;

/** A message for machines and people: its code, its parameters, the sentence. */
export interface Message {
  code: MessageCode;
  params: Params;
  text: string;
}

export function isMessageCode(code: string): code is MessageCode {
  return Object.hasOwn(CATALOGUE, code);
}

function paramText(value: unknown, lang: Lang): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => paramText(v, lang)).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The sentence of `code` in `lang` with its `{name}` placeholders filled from `params`. */
export function render(lang: Lang, code: MessageCode, params: Params = {}): string {
  const text: string = CATALOGUE[code][lang];
  return text.replace(/\{([a-zA-Z0-9_]+)\}/g, (_m, name: string) => paramText(params[name], lang));
}

export function message(lang: Lang, code: MessageCode, params: Params = {}): Message {
  return { code, params, text: render(lang, code, params) };
}

/** The placeholders a text names, sorted (for the catalogue's own test). */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\{([a-zA-Z0-9_]+)\}/g)].map((m) => m[1]!))].sort();
}

/**
 * The language of an `Accept-Language` header: the first of pl/en by quality, else `fallback`.
 * `pl-PL;q=0.9, en;q=0.8` is Polish.
 */
export function langOf(acceptLanguage: string | undefined, fallback: Lang = 'en'): Lang {
  if (!acceptLanguage) return fallback;
  const ranked = acceptLanguage
    .split(',')
    .map((part, i) => {
      const [tag, ...rest] = part.trim().split(';');
      const q = rest.map((r) => /^\s*q=([0-9.]+)\s*$/.exec(r)?.[1]).find(Boolean);
      return { lang: (tag ?? '').trim().toLowerCase().split('-')[0], q: q === undefined ? 1 : Number(q), i };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return (ranked.find((x) => x.lang === 'pl' || x.lang === 'en')?.lang as Lang | undefined) ?? fallback;
}

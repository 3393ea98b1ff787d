/**
 * The whole embedded experience in a real browser (playwright-core driving Debian's chromium), in
 * Polish: the sandbox host's Extensions screen enables the connector and embeds its settings and logs
 * pages (640 px high iframes, as the host shows them); a connector-managed account with DKIM, chosen,
 * shows the DNS TXT record to publish; a person enters a wrong time, an impossible day
 * and "save to Drafts" for an account without IMAP and sees every error at once, in Polish, at its
 * field; fixes them and sees the confirmation next to the Save button inside the iframe's viewport;
 * picks business days only and sees when the next run starts (and which days off come first), in Polish,
 * under the schedule fields; presses "run now" and watches the progress bar move about once a second;
 * filters the logs by an invoice number; previews an invoice picked by its number. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { DateTime } from 'luxon';
import type { Frame, Page } from 'playwright-core';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { ARTIFACTS_DIR, CHROMIUM_INSTALL, chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';

const hasChromium = chromiumPath() !== null;
if (!hasChromium) console.warn(`[skipped] browser test: chromium is not installed (${CHROMIUM_INSTALL})`);

const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 30 }).toISODate()!;
const UI_TIMEOUT = 60_000;
/**
 * Many invoices in small pages: the pipeline records progress after an invoice at most once a second,
 * so the run must last well over five seconds for the bar to be seen moving five times.
 */
const INVOICES = 320;
const PAGE_SIZE = 20;

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let browser: TestBrowser | null = null;
let page: Page;

/** A screenshot of the page, and of one embedded frame's element when given (iframes can be blank in full-page shots). */
async function shot(name: string, frame?: string) {
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, `browser-${name}.png`), fullPage: true });
  if (frame) await page.locator(frame).screenshot({ path: path.join(ARTIFACTS_DIR, `browser-${name}-frame.png`) });
}

function frameNamed(name: string): Frame {
  const f = page.frame({ name });
  if (!f) throw new Error(`no frame ${name}`);
  return f;
}

/** True when the element is fully inside its frame's own viewport (what a person sees in the 640 px iframe). */
async function inFrameViewport(frame: Frame, selector: string): Promise<boolean> {
  return frame.locator(selector).evaluate((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= el.ownerDocument.defaultView!.innerHeight;
  });
}

describe.skipIf(!hasChromium)('in a real browser, in Polish: Extensions screen -> settings -> run now -> logs -> preview', () => {
  beforeAll(async () => {
    // 250 ms per message: the 320-invoice run lasts 7 s or more however fast the machine, so the page
    // (polling each second) can see its progress move.
    smtp = await startTestSmtpServer({ faults: { replyDelayMs: 250 } });
    connector = await startTestConnector({ pipeline: { pageSize: PAGE_SIZE } });
    sandbox = await startSandboxHost({
      port: 0,
      smtp: { host: '127.0.0.1', port: smtp.port },
      invoiceCount: INVOICES,
      extensions: { connectorUrl: connector.url },
    });
    browser = await launchBrowser();
    page = await browser!.context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
  });

  afterAll(async () => {
    await browser?.close();
    await connector?.close();
    await sandbox?.stop();
    await smtp?.stop();
  });

  it('shows every settings error at once in Polish at its field, confirms a save in view, and shows the run moving', { timeout: 300_000 }, async () => {
    // 1. The Extensions screen offers only "Włącz" until sending is on.
    await page.goto(`${sandbox.url}/extensions?lang=pl`);
    await expect.poll(() => page.locator('[data-extension="invoice-courier"]').getAttribute('data-state')).toBe('available');
    expect(await page.locator('#ext-disable').count()).toBe(0);
    await page.click('#ext-enable');
    await page.waitForSelector('[data-state="installed"]');
    const installed = sandbox.extensions!.installed()!;
    expect(installed.id).toMatch(/^[0-9a-f-]{36}$/);

    // 2. The embedded settings page, in Polish: the time zone is picked from the IANA list.
    const settings = page.frameLocator('#settings-frame');
    await settings.locator('form#settings-form[data-ready="true"]').waitFor();
    expect(await settings.locator('html').getAttribute('lang')).toBe('pl');
    expect(await settings.locator('[name="timezone"]').inputValue()).toBe('Europe/Warsaw');
    expect(await settings.locator('#timezones option').count()).toBeGreaterThan(300);
    // A connector-managed account that signs with DKIM (offered after the host's own; the list reloads with the operator).
    const privateKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const managed = await connector.api('POST', `/api/installations/${installed.id}/managed/email-accounts`, {
      token: installed.apiToken,
      body: {
        name: 'Faktury (DKIM)',
        fromAddress: 'faktury@firma.example',
        smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none', user: null, password: null },
        dkim: { domain: 'firma.example', selector: 'courier', privateKey },
      },
    });
    expect(managed.status, JSON.stringify(managed.body)).toBe(201);
    await settings.locator('[name="operator"]').selectOption('ksiegowa');
    // Chosen, it shows the DNS TXT record to publish, in Polish, copyable.
    const managedOption = settings.locator(`select[name="emailAccount"] option[value="${managed.body.id}"]`);
    await managedOption.waitFor({ state: 'attached' });
    await settings.locator('[name="emailAccount"]').selectOption(managed.body.id);
    const dkim = settings.locator('#dkim-record');
    await dkim.waitFor({ state: 'visible' });
    expect(await dkim.locator('h3').textContent()).toBe('Rekord DNS do opublikowania');
    expect(await settings.locator('#dkim-name').inputValue()).toBe('courier._domainkey.firma.example');
    expect(await settings.locator('#dkim-type').textContent()).toBe('TXT');
    expect(await settings.locator('#dkim-value').inputValue()).toBe(managed.body.dkim.dnsRecord.value);
    await settings.locator('#dkim-record button[data-copy="dkim-value"]').click();
    await expect.poll(() => settings.locator('#dkim-copied').textContent()).toBe('Skopiowano.');
    await shot('0-dkim-record', '#settings-frame');
    const sandboxSmtp = settings.locator('select[name="emailAccount"] option', { hasText: 'Sandbox SMTP' });
    await sandboxSmtp.first().waitFor({ state: 'attached' });
    await settings.locator('[name="emailAccount"]').selectOption((await sandboxSmtp.first().getAttribute('value'))!);
    // The host's own account: no DKIM record of ours to publish.
    await dkim.waitFor({ state: 'hidden' });
    await settings.locator('[name="enabled"]').check();
    await settings.locator('[name="operatorPassword"]').fill('ksiegowa');
    // A wrong time, an impossible day and Drafts for an account without IMAP.
    await settings.locator('[name="schedule.startAt"]').fill('25:00');
    await settings.locator('[name="fromDate"]').fill('2026-02-31');
    await settings.locator('[name="delivery"]').selectOption('save_draft');
    // The page says so as it is typed...
    const startError = settings.locator('[data-error-for="schedule.startAt"]');
    const dateError = settings.locator('[data-error-for="fromDate"]');
    await expect.poll(() => startError.textContent()).toBe('Podaj godzinę w formacie GG:MM (00:00–23:59).');
    await expect.poll(() => dateError.textContent()).toBe('Taki dzień nie istnieje w kalendarzu: 2026-02-31.');
    await settings.locator('#save').click();

    // 3. ...and the server answers every problem at once, in Polish, each at its field; nothing is saved.
    const deliveryError = settings.locator('[data-error-for="delivery"]');
    await deliveryError.waitFor({ state: 'visible' });
    expect(await deliveryError.textContent()).toMatch(/^Zapis w folderze Robocze wymaga IMAP, a konto e-mail „Sandbox SMTP/);
    expect(await startError.isVisible()).toBe(true);
    expect(await startError.textContent()).toBe('Podaj godzinę w formacie GG:MM (00:00–23:59).');
    expect(await dateError.isVisible()).toBe(true);
    expect(await dateError.textContent()).toBe('Taki dzień nie istnieje w kalendarzu: 2026-02-31.');
    for (const f of ['schedule.startAt', 'fromDate', 'delivery']) expect(await settings.locator(`[name="${f}"]`).getAttribute('aria-invalid'), f).toBe('true');
    expect(await settings.locator('#save-status').textContent()).toBe('Popraw zaznaczone pola.');
    expect(await settings.locator('body').textContent()).not.toMatch(/must match|pattern|needs IMAP/);
    await shot('1-all-errors', '#settings-frame');
    const unsaved = await connector.api('GET', `/api/installations/${installed.id}/settings`, { token: installed.apiToken });
    expect(unsaved.body.enabled).toBe(false);

    // 4. Fixed: saved, and the confirmation is next to the Save button, inside the iframe's viewport.
    await settings.locator('[name="schedule.startAt"]').fill('08:00');
    await settings.locator('[name="schedule.until"]').fill('18:00');
    await settings.locator('[name="fromDate"]').fill(fromDate);
    await settings.locator('[name="delivery"]').selectOption('send_now');
    await settings.locator('[name="schedule.days"]').selectOption('business_days');
    await settings.locator('#save').click();
    await expect.poll(() => settings.locator('#save-status').textContent(), { timeout: UI_TIMEOUT }).toBe('Zapisano.');
    expect(await inFrameViewport(frameNamed('settings'), '#save-status')).toBe(true);
    expect(await startError.isHidden()).toBe(true);
    expect(await dateError.isHidden()).toBe(true);
    expect(await settings.locator('[name="operatorPassword"]').inputValue()).toBe('');
    const saved = await connector.api('GET', `/api/installations/${installed.id}/settings`, { token: installed.apiToken });
    expect(saved.body).toMatchObject({
      enabled: true,
      operator: 'ksiegowa',
      fromDate,
      delivery: 'send_now',
      schedule: { startAt: '08:00', until: '18:00', days: 'business_days' },
      operatorPassword: { set: true },
    });
    // The schedule preview under the schedule fields, refreshed by the save: the next business day's window, in Polish.
    const schedulePreview = settings.locator('#schedule-preview');
    await expect.poll(() => schedulePreview.getAttribute('data-days'), { timeout: UI_TIMEOUT }).toBe('business_days');
    const schedule = await connector.api('GET', `/api/installations/${installed.id}/schedule`, { token: installed.apiToken });
    expect(schedule.body.days).toBe('business_days');
    expect(await schedulePreview.isVisible()).toBe(true);
    expect(await schedulePreview.textContent()).toBe(schedule.body.message.pl);
    expect(await schedulePreview.textContent()).toMatch(/^Następna wysyłka: (poniedziałek|wtorek|środa|czwartek|piątek) \d{2}\.\d{2} \d{2}:\d{2}/);
    expect(await schedulePreview.getAttribute('data-next-run-at')).toBe(schedule.body.nextRunAt);
    // It sits in the schedule's fieldset, after its last field.
    expect(await settings.locator('fieldset:has([name="schedule.startAt"]) #schedule-preview').count()).toBe(1);
    await shot('2-saved', '#settings-frame');

    // 5. Run now: the logs page's progress bar shows the run while it goes and moves.
    const logs = page.frameLocator('#logs-frame');
    const since = Date.now();
    await settings.locator('#run-now').click();
    await settings.locator('#run-status[data-state="queued"]').waitFor();
    const current = logs.locator('#current-run');
    await logs.locator('#current-run[data-state="running"]').waitFor({ timeout: UI_TIMEOUT });
    expect(await logs.locator('#run-progress').isVisible()).toBe(true);
    await shot('3-progress', '#logs-frame');
    const run = await connector.waitForRun(installed.id, installed.apiToken, { trigger: 'manual', since, timeoutMs: 180_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(PAGE_SIZE * 2);
    await expect.poll(() => current.getAttribute('data-state'), { timeout: UI_TIMEOUT }).toBe('completed');
    // Progress is recorded after an invoice, at most once a second; the page (polling each second) saw it move at least five times.
    const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
    expect(Number(await current.getAttribute('data-updates')), `progress seen moving during a ${seconds} s run`).toBeGreaterThanOrEqual(5);
    expect(await logs.locator('#run-progress-text').textContent()).toBe(`${run.processed} z ${run.total} · zakończony`);

    // The runs table and the entries speak Polish.
    const runRow = logs.locator(`#runs tr[data-run-id="${run.id}"][data-status="completed"]`);
    await runRow.waitFor({ timeout: UI_TIMEOUT });
    expect(await runRow.locator('.counts').textContent()).toContain(`wysłane: ${run.counts.sent}`);
    expect(await runRow.locator('.progress').textContent()).toBe(`${run.processed} z ${run.total}`);
    expect(await runRow.locator('td').nth(1).textContent()).toBe('ręcznie („Uruchom teraz”)');
    expect(await runRow.locator('td').nth(2).textContent()).toBe('zakończony');
    const sentRows = logs.locator('#entries tr[data-event="invoice.sent"]');
    await expect.poll(() => sentRows.count(), { timeout: UI_TIMEOUT }).toBeGreaterThan(0);
    expect(await sentRows.first().locator('td.message').textContent()).toMatch(/^Wysłano do: /);
    // The time column stays on one line.
    const timeCell = sentRows.first().locator('td.time');
    expect(await timeCell.evaluate((td) => td.ownerDocument.defaultView!.getComputedStyle(td).whiteSpace)).toBe('nowrap');
    const link = sentRows.first().locator('td.invoice a');
    expect(await link.getAttribute('href')).toMatch(new RegExp(`^${sandbox.url}/odoo/action-account\\.action_move_out_invoice_type/\\d+$`));

    // 6. The logs filtered by an invoice number show that invoice only, in Polish.
    const number = (await link.textContent())!;
    await logs.locator('#filter-invoice').fill(number);
    await logs.locator('#filters button[type="submit"]').click();
    await expect.poll(async () => (await logs.locator('#entries tr[data-event] td.invoice').allTextContents()).every((t) => t === number)).toBe(true);
    expect(await logs.locator('#entries tr[data-event="invoice.sent"]').count()).toBe(1);
    expect(await logs.locator('#entries tr[data-event="invoice.sent"] td.message').textContent()).toMatch(/^Wysłano do: /);
    await shot('4-logs-filtered', '#logs-frame');

    // A refused filter says why in Polish and leaves no old results on screen.
    await logs.locator('#filter-invoice').fill('');
    await logs.locator('#filter-from').fill(DateTime.now().toISODate()!);
    await logs.locator('#filter-to').fill('2000-01-01');
    await logs.locator('#filters button[type="submit"]').click();
    await expect.poll(() => logs.locator('#filter-error').textContent()).toBe('Początek zakresu jest późniejszy niż koniec.');
    expect(await logs.locator('#entries tbody tr').count()).toBe(0);

    // Every message arrived at the SMTP server, once each.
    await smtp.waitForMessages(run.counts.sent, 60_000);
    const ids = smtp.messages.map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(run.counts.sent);
  });

  it('previews an invoice picked by its number (search as you type: number, customer, date)', { timeout: 120_000 }, async () => {
    const move = sandbox.records('account.move').find((m) => m['state'] === 'posted' && m['move_type'] === 'out_invoice')!;
    const number = String(move['name']);
    const settings = page.frameLocator('#settings-frame');
    await settings.locator('#preview-invoice').pressSequentially(number.slice(-5), { delay: 30 });
    const option = settings.locator(`#preview-matches li[data-invoice-id="${String(move['id'])}"]`);
    await option.waitFor({ state: 'visible' });
    expect(await option.textContent()).toContain(number);
    // the invoice's date as a Polish reader writes it, never the ISO form
    expect(await option.locator('span').textContent()).toMatch(/ · \d{2}\.\d{2}\.\d{4}$/);
    await shot('5-preview-search', '#settings-frame');
    await option.click();
    expect(await settings.locator('#preview-invoice').inputValue()).toBe(number);
    await settings.locator('#preview-message').click();
    await expect.poll(() => settings.locator('#preview-result').textContent(), { timeout: UI_TIMEOUT }).toContain(number);
    expect(await settings.locator('#preview-result dd[data-code]').textContent()).toMatch(/^(Zostałaby wysłana\.|Nie zostałaby wysłana: )/);
    expect(await settings.locator('#preview-result').textContent()).not.toMatch(/already_recorded/);
    await settings.locator('#preview-pdf').click();
    await expect.poll(async () => Number(await settings.locator('#preview-frame').getAttribute('data-bytes')), { timeout: UI_TIMEOUT }).toBeGreaterThan(1000);
    await shot('6-preview', '#settings-frame');

    // A typed number with no invoice behind it says so (and never that an id is missing).
    await settings.locator('#preview-invoice').fill('FV/1999/99999');
    await settings.locator('#preview-message').click();
    await expect.poll(() => settings.locator('#preview-error').textContent()).toBe('Nie znaleziono faktury o takim numerze.');
  });
});

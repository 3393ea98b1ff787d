/**
 * The whole embedded experience in a real browser (playwright-core driving Debian's chromium):
 * the sandbox host's Extensions screen enables the connector through its install endpoint and embeds
 * the connector's settings and logs pages; a person changes the settings (a validation error shows
 * next to its field, then is fixed), presses "run now", watches the run in the logs page, and the
 * messages arrive at a real SMTP server. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { DateTime } from 'luxon';
import type { Page } from 'playwright-core';
import { startSandboxHost, type SandboxHost } from '../../src/connector/sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { ARTIFACTS_DIR, CHROMIUM_INSTALL, chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';

const hasChromium = chromiumPath() !== null;
if (!hasChromium) console.warn(`[skipped] browser test: chromium is not installed (${CHROMIUM_INSTALL})`);

const fromDate = DateTime.now().setZone('Europe/Warsaw').minus({ days: 30 }).toISODate()!;
const UI_TIMEOUT = 60_000;

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

describe.skipIf(!hasChromium)('in a real browser: Extensions screen -> settings -> run now -> logs -> mail', () => {
  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    connector = await startTestConnector();
    sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: 40, extensions: { connectorUrl: connector.url } });
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

  it('enables the connector, edits its settings, runs it and shows the run in the logs', { timeout: 240_000 }, async () => {
    // 1. The Extensions screen lists the connector from its manifest; "Enable" installs it.
    await page.goto(`${sandbox.url}/extensions?lang=en`);
    await expect.poll(() => page.locator('[data-extension="invoice-courier"]').getAttribute('data-state')).toBe('available');
    await page.click('#ext-enable');
    await page.waitForSelector('[data-state="installed"]');
    const installed = sandbox.extensions!.installed()!;
    expect(installed.id).toMatch(/^[0-9a-f-]{36}$/);

    // 2. The embedded settings page: every field loaded, option lists filled live.
    const settings = page.frameLocator('#settings-frame');
    await settings.locator('form#settings-form[data-ready="true"]').waitFor();
    await expect.poll(() => settings.locator('[name="operatorPassword"]').getAttribute('placeholder')).toMatch(/set/);
    await settings.locator('[name="operator"]').selectOption('ksiegowa');
    const sandboxSmtp = settings.locator('select[name="emailAccount"] option', { hasText: 'Sandbox SMTP' });
    await sandboxSmtp.first().waitFor({ state: 'attached' });
    await settings.locator('[name="emailAccount"]').selectOption((await sandboxSmtp.first().getAttribute('value'))!);
    await settings.locator('[name="enabled"]').check();
    await settings.locator('[name="operatorPassword"]').fill('ksiegowa');
    await settings.locator('[name="delivery"]').selectOption('send_now');
    await settings.locator('[name="documents"]').selectOption('confirmed_only');
    await settings.locator('[name="dateBasis"]').selectOption('issue_date');
    await settings.locator('[name="fromDate"]').fill(fromDate);
    await settings.locator('[name="attachments.pln"]').selectOption('standard:invoice');
    await settings.locator('[name="schedule.startAt"]').fill('08:00');
    await settings.locator('[name="schedule.until"]').fill('07:00');
    await settings.locator('#save').click();

    // 3. The API's validation message appears next to its field; nothing was saved.
    const untilError = settings.locator('[data-error-for="schedule.until"]');
    await untilError.waitFor({ state: 'visible' });
    expect(await untilError.textContent()).toMatch(/08:00/);
    expect(await settings.locator('[name="schedule.until"]').getAttribute('aria-invalid')).toBe('true');
    await shot('1-validation-error');
    const unsaved = await connector.api('GET', `/api/installations/${installed.id}/settings`, { token: installed.apiToken });
    expect(unsaved.body.enabled).toBe(false);

    // 4. Fixed: saved; the password stays write-only (shown as set, never as a value).
    await settings.locator('[name="schedule.until"]').fill('18:00');
    await settings.locator('#save').click();
    await expect.poll(() => settings.locator('#form-status').textContent(), { timeout: UI_TIMEOUT }).toBe('Saved.');
    expect(await untilError.isHidden()).toBe(true);
    expect(await settings.locator('[name="operatorPassword"]').inputValue()).toBe('');
    const saved = await connector.api('GET', `/api/installations/${installed.id}/settings`, { token: installed.apiToken });
    expect(saved.body).toMatchObject({ enabled: true, operator: 'ksiegowa', fromDate, schedule: { startAt: '08:00', until: '18:00' }, operatorPassword: { set: true } });
    await shot('2-saved');

    // 5. Run now; the logs page shows the run (progress, then its counts) and its entries.
    const since = Date.now();
    await settings.locator('#run-now').click();
    await settings.locator('#run-status[data-state="queued"]').waitFor();
    const run = await connector.waitForRun(installed.id, installed.apiToken, { trigger: 'manual', since, timeoutMs: 120_000 });
    expect(run.status, JSON.stringify(run)).toBe('completed');
    expect(run.counts.sent).toBeGreaterThan(0);

    const logs = page.frameLocator('#logs-frame');
    const runRow = logs.locator(`#runs tr[data-run-id="${run.id}"][data-status="completed"]`);
    await runRow.waitFor({ timeout: UI_TIMEOUT });
    expect(await runRow.locator('.counts').textContent()).toContain(`sent: ${run.counts.sent}`);
    expect(await runRow.locator('.progress').textContent()).toBe(`${run.processed} of ${run.total}`);
    const sentRows = logs.locator('#entries tr[data-event="invoice.sent"]');
    await expect.poll(() => sentRows.count(), { timeout: UI_TIMEOUT }).toBe(run.counts.sent);
    const link = sentRows.first().locator('td.invoice a');
    expect(await link.getAttribute('href')).toMatch(new RegExp(`^${sandbox.url}/odoo/action-account\\.action_move_out_invoice_type/\\d+$`));
    await shot('3-logs', '#logs-frame');

    // The filter by invoice number narrows the list to that invoice.
    const number = (await link.textContent())!;
    await logs.locator('#filter-invoice').fill(number);
    await logs.locator('#filters button[type="submit"]').click();
    await expect.poll(async () => (await logs.locator('#entries tr[data-event] td.invoice').allTextContents()).every((t) => t === number)).toBe(true);
    expect(await logs.locator('#entries tr[data-event="invoice.sent"]').count()).toBe(1);

    // 6. Every message arrived at the SMTP server, once each.
    await smtp.waitForMessages(run.counts.sent, 30_000);
    expect(smtp.messages).toHaveLength(run.counts.sent);
    const ids = smtp.messages.map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(ids.length);

    // 7. The invoice link leads to the invoice in the host.
    const invoicePage = await browser!.context.newPage();
    await invoicePage.goto((await link.getAttribute('href'))!);
    expect(await invoicePage.locator('#invoice-name').textContent()).toBe(number);
    await invoicePage.close();
  });

  it('previews the message and the PDF of a chosen invoice in the settings page', { timeout: 120_000 }, async () => {
    const move = sandbox.records('account.move').find((m) => m['state'] === 'posted' && m['move_type'] === 'out_invoice')!;
    const settings = page.frameLocator('#settings-frame');
    await settings.locator('#preview-invoice').fill(String(move['id']));
    await settings.locator('#preview-message').click();
    await expect.poll(() => settings.locator('#preview-result').textContent(), { timeout: UI_TIMEOUT }).toContain(String(move['name']));
    await settings.locator('#preview-pdf').click();
    await expect.poll(async () => Number(await settings.locator('#preview-frame').getAttribute('data-bytes')), { timeout: UI_TIMEOUT }).toBeGreaterThan(1000);
    await shot('4-preview', '#settings-frame');
  });
});

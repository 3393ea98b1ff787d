/**
 * The settings page's live option lists in a real browser, as a bookkeeper reads them: names, never the
 * host's internal ids ("standard:invoice", "user:223", a template's database id), the "no attachment"
 * print in the page's language; the operator keeps the login people know them by. Invoices found by
 * number show their day as the reader writes it (18.11.2026, 18/11/2026), not in ISO form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startSandboxHost, type SandboxHost } from '../../sandbox/index.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { startTestConnector, type TestConnector } from '../support/connector.ts';
import { CHROMIUM_INSTALL, chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';

const hasChromium = chromiumPath() !== null;
if (!hasChromium) console.warn(`[skipped] browser options test: chromium is not installed (${CHROMIUM_INSTALL})`);

let smtp: TestSmtpServer;
let sandbox: SandboxHost;
let connector: TestConnector;
let browser: TestBrowser | null = null;
let page: Page;
let install: { id: string; token: string };

async function optionTexts(lang: 'pl' | 'en', name: string): Promise<string[]> {
  const links = await connector.api('POST', `/api/installations/${install.id}/page-links`, { token: install.token, body: { lang } });
  expect(links.status).toBe(200);
  await page.goto(links.body.settingsUrl);
  const select = page.locator(`select[name="${name}"][data-loaded="true"]`);
  await select.waitFor({ state: 'attached', timeout: 30_000 });
  return select.locator('option').allTextContents();
}

describe.skipIf(!hasChromium)('the settings page option lists in a browser', () => {
  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    connector = await startTestConnector();
    sandbox = await startSandboxHost({ port: 0, smtp: { host: '127.0.0.1', port: smtp.port }, invoiceCount: 5 });
    const res = await connector.api('POST', '/api/installations', {
      body: { hostKind: 'odoo', hostUrl: sandbox.url, database: sandbox.database, integration: { login: 'admin', secret: 'admin' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    install = { id: res.body.id, token: res.body.apiToken };
    browser = await launchBrowser();
    page = await browser!.context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await connector?.close();
    await sandbox?.stop();
    await smtp?.stop();
  });

  it('shows prints and templates by name, without the internal ids, and "no attachment" in the page language', { timeout: 120_000 }, async () => {
    const prints = await optionTexts('pl', 'attachments.pln');
    expect(prints).toContain('Faktura VAT — wydruk polski');
    expect(prints).toContain('Bez załącznika');
    expect(prints.join('\n')).not.toMatch(/\((standard|user|connector):[^)]*\)|\(none\)|no attachment/);
    const templates = await optionTexts('pl', 'emailTemplate');
    expect(templates).toContain('Faktura dla klienta');
    expect(templates.join('\n')).not.toMatch(/\(\d+\)|\(connector:/);
    // Every option still reads differently from the others in its list.
    expect(new Set(templates).size).toBe(templates.length);
    expect(new Set(prints).size).toBe(prints.length);
    const operators = await optionTexts('pl', 'operator');
    expect(operators).toContain('Administrator (admin)');
    const english = await optionTexts('en', 'attachments.foreign');
    expect(english).toContain('No attachment');
    expect(english.join('\n')).not.toContain('Bez załącznika');
  });

  it("lists invoices found by number with the invoice's day as the page's reader writes it", { timeout: 120_000 }, async () => {
    const move = sandbox.records('account.move').find((m) => m['state'] === 'posted' && m['move_type'] === 'out_invoice')!;
    const number = String(move['name']);
    const iso = String(move['invoice_date']);
    for (const [lang, day] of [
      ['pl', `${iso.slice(8, 10)}.${iso.slice(5, 7)}.${iso.slice(0, 4)}`],
      ['en', `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`],
    ] as const) {
      await optionTexts(lang, 'operator');
      await page.locator('#preview-invoice').pressSequentially(number, { delay: 20 });
      const option = page.locator(`#preview-matches li[data-invoice-id="${String(move['id'])}"]`);
      await option.waitFor({ state: 'visible', timeout: 30_000 });
      const text = (await option.locator('span').textContent()) ?? '';
      expect(text.endsWith(` · ${day}`), text).toBe(true);
      expect(text).not.toContain(iso);
    }
  });

  it('fits the logs and settings pages into a 640 px wide frame (no sideways scrolling), runs and entries listed', { timeout: 120_000 }, async () => {
    const run = await connector.api('POST', `/api/installations/${install.id}/runs`, { token: install.token, body: {} });
    expect(run.status).toBe(202);
    await expect
      .poll(async () => (await connector.api('GET', `/api/installations/${install.id}/runs/current`, { token: install.token })).body.run?.status, {
        timeout: 60_000,
      })
      .toMatch(/^(completed|failed)$/);
    await page.setViewportSize({ width: 640, height: 800 });
    try {
      const links = await connector.api('POST', `/api/installations/${install.id}/page-links`, { token: install.token, body: { lang: 'pl' } });
      for (const url of [links.body.logsUrl as string, links.body.settingsUrl as string]) {
        await page.goto(url);
        if (url === links.body.logsUrl) await page.locator('#runs tbody tr').first().waitFor({ timeout: 30_000 });
        else await page.locator('select[name="attachments.pln"][data-loaded="true"]').waitFor({ state: 'attached', timeout: 30_000 });
        expect(await page.locator('html').evaluate((el) => el.scrollWidth), url.split('?')[0]).toBeLessThanOrEqual(640);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 1000 });
    }
  });
});

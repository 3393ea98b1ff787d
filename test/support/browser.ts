/**
 * A real browser for end-to-end tests: playwright-core driving Debian's chromium (/usr/bin/chromium,
 * or CHROMIUM_PATH), headless, with a fresh profile. Returns null when chromium is not installed, so
 * the test can say how to get it (`apt-get install -y chromium`).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_INSTALL = 'apt-get install -y chromium';
export const ARTIFACTS_DIR = path.resolve('test-artifacts');

export function chromiumPath(): string | null {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p)) ?? null;
}

export interface TestBrowser {
  /** A persistent context on a fresh profile directory (playwright passes it as --user-data-dir). */
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser | null> {
  const executablePath = chromiumPath();
  if (!executablePath) return null;
  const profile = mkdtempSync(path.join(tmpdir(), 'ic-chromium-'));
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    viewport: { width: 1280, height: 1000 },
    headless: true,
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

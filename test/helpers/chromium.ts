/**
 * Debian's Chromium driven by playwright-core, the one way the browser tests start it: headless,
 * a fresh profile, and the flags that keep it off the network (this machine has none but
 * loopback, and Chromium's background connections would only be refused).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A node:test `skip` value: false when Chromium is installed, else the reason. */
export function chromiumSkip(): false | string {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/** Runs `use` with a fresh headless Chromium context, then closes it and removes its profile. */
export async function withChromium<T>(
  use: (context: BrowserContext) => Promise<T>,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<T> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'decoupled-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ...options,
  });
  try {
    return await use(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

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

/** WebGL2 (float render targets) and a WebGPU adapter from SwiftShader, on machines with no GPU. */
export const SWIFTSHADER_GPU_ARGS = [
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
];

/** A node:test `skip` value: false when Chromium is installed, else the reason. */
export function chromiumSkip(): false | string {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/**
 * Runs `use` with a fresh headless Chromium context, then closes it and removes its profile.
 * `gpu: true` gives the page SwiftShader's WebGL2 and WebGPU instead of no GPU at all.
 */
export async function withChromium<T>(
  use: (context: BrowserContext) => Promise<T>,
  options: { viewport?: { width: number; height: number }; gpu?: boolean } = {},
): Promise<T> {
  const { gpu = false, ...contextOptions } = options;
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'decoupled-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      ...(gpu ? SWIFTSHADER_GPU_ARGS : ['--disable-gpu']),
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ...contextOptions,
  });
  try {
    return await use(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

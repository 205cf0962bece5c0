/**
 * Serves a page script to Chromium for the GPU tests, the browser bench and the browser example's
 * test: esbuild bundles the built entry (with tfjs and decoupled/tfjs), a 127.0.0.1 HTTP server
 * serves it at /page.js under a minimal HTML page, plus any other files (which may replace both),
 * and Chromium opens it with SwiftShader's WebGL2 and WebGPU (test/helpers/chromium.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { bundlePage } from '../../examples/browser/serve.js';
import { withChromium } from '../helpers/chromium.js';

export interface ServeOptions {
  /** The built page script to bundle as /page.js (or give '/page.js' in `files`). */
  entry?: string;
  /** Files by URL path ('/' is an empty page loading /page.js unless given). */
  files?: Record<string, { type: string; body: Buffer | string }>;
}

/** Bundles `entry`, serves it and runs `use` with a page opened on it; closes everything after. */
export async function withGpuPage<T>(
  options: ServeOptions,
  use: (page: Page, errors: string[]) => Promise<T>,
): Promise<T> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>decoupled</title>' +
    '<script type="module" src="/page.js"></script>';
  const files: Record<string, { type: string; body: Buffer | string }> = {
    '/': { type: 'text/html', body: html },
  };
  if (options.entry) {
    files['/page.js'] = { type: 'text/javascript', body: await bundlePage(options.entry) };
  }
  Object.assign(files, options.files);
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (file) res.writeHead(200, { 'content-type': file.type }).end(file.body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await withChromium(
      async (context) => {
        const page = context.pages()[0] ?? (await context.newPage());
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`http://127.0.0.1:${port}/`);
        return await use(page, errors);
      },
      { gpu: true },
    );
  } finally {
    server.close();
  }
}

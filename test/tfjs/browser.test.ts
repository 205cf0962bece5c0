/**
 * decoupled/tfjs in a browser: esbuild bundles the built page script (dist/test/tfjs/browser-page.js,
 * importing decoupled's dist/tfjs) with tfjs; a 127.0.0.1 HTTP server serves it; playwright-core
 * drives Debian's /usr/bin/chromium, which trains a small model with AdamW by model.fit on the cpu
 * and the wasm backends (the fused kernel on tfjs-backend-wasm's memory). The page's losses and
 * final weights must equal the same runs in Node (same tfjs kernels, same optimizer).
 * Skipped only when /usr/bin/chromium is absent (CI installs it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW } from '#decoupled/tfjs/index.js';
import { bundlePage } from '../../examples/browser/serve.js';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';
import { type TaskResult, trainTask } from './browser-task.js';
import { useBackend } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** tfjs-backend-wasm's .wasm binaries, served to the page under /wasm/. */
const WASM_DIR = dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm')));

test('Chromium trains a small model with AdamW from the bundle, as Node does', {
  skip: chromiumSkip(),
  timeout: 60_000,
}, async () => {
  const script = await bundlePage(join(here, 'browser-page.js'));
  const html =
    '<!doctype html><meta charset="utf-8"><title>decoupled/tfjs</title>' +
    '<script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    const wasm = /^\/wasm\/(tfjs-backend-wasm[a-z-]*\.wasm)$/.exec(req.url ?? '');
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (wasm) {
      const body = readFileSync(join(WASM_DIR, wasm[1]));
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(body);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await withChromium(async (context) => {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${port}/`);
      const handle = await page.waitForFunction(
        () => {
          const w = globalThis as unknown as { __result?: unknown; __error?: string };
          return w.__result ?? (w.__error ? { error: w.__error } : null);
        },
        null,
        { timeout: 45_000 },
      );
      const inPage = (await handle.jsonValue()) as TaskResult[] & { error?: string };
      assert.equal(inPage.error, undefined, inPage.error);
      assert.deepEqual(errors, []);
      assert.deepEqual(
        inPage.map((r) => r.backend),
        ['cpu', 'wasm'],
      );
      for (const r of inPage) {
        assert.equal(r.iterations, 15 * 8);
        assert.ok(r.losses[14] < r.losses[0] / 3, `${r.backend}: loss falls: ${r.losses}`);
        assert.ok(r.accuracy > 0.9, `${r.backend}: training accuracy ${r.accuracy}`);
      }
      for (const [i, backend] of (['cpu', 'wasm'] as const).entries()) {
        await useBackend(backend);
        const inNode = await trainTask(tf, tfl, AdamW);
        assert.deepEqual(inPage[i].losses, inNode.losses, `${backend} losses`);
        assert.deepEqual(inPage[i].weights, inNode.weights, `${backend} weights`);
      }
    });
  } finally {
    server.close();
  }
});

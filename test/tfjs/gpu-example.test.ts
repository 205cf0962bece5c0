/**
 * The browser example (examples/browser) in Chromium with SwiftShader's WebGL2: it trains a small
 * CNN on a Fashion-MNIST sample made from the real IDX files, with AdamW and a cosine schedule, and
 * the loss must fall. Skipped when Chromium or the data set is absent.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_DATA_DIRS } from '#harness/experiments/data/index.js';
import { exampleFiles } from '../../examples/browser/serve.js';
import { chromiumSkip } from '../helpers/chromium.js';
import { withGpuPage } from './gpu-server.js';

const DATA = DEFAULT_DATA_DIRS['fashion-mnist'];
/** Images in the test's sample (the example serves 512 by default): 8 batches of 32 per epoch. */
const COUNT = 256;
const BATCHES = 3 * (COUNT / 32);

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

test('examples/browser trains a CNN on Fashion-MNIST with AdamW on WebGL; the loss falls', {
  skip: chromiumSkip() || (existsSync(DATA) ? false : `${DATA} is absent`),
  timeout: 120_000,
}, async () => {
  const files = await exampleFiles(DATA, COUNT);
  await withGpuPage({ files }, async (page, errors) => {
    const handle = await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as { __example?: { done: boolean; error: string } })
          .__example;
        return s && (s.done || s.error) ? s : null;
      },
      null,
      { timeout: 100_000 },
    );
    const state = (await handle.jsonValue()) as unknown as {
      backend: string;
      losses: number[];
      error: string;
    };
    assert.equal(state.error, '');
    assert.deepEqual(errors, []);
    assert.equal(state.backend, 'webgl');
    assert.equal(state.losses.length, BATCHES);
    const first = mean(state.losses.slice(0, 3));
    const last = mean(state.losses.slice(-3));
    assert.ok(last < 0.8 * first, `loss falls: first batches ${first}, last ${last}`);
    const status = await page.textContent('#status');
    assert.match(status ?? '', new RegExp(`^done: ${BATCHES} batches on webgl`));
  });
});

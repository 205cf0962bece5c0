/**
 * decoupled/tfjs on the GPU backends, in Chromium with SwiftShader's WebGL2 and WebGPU: every
 * optimizer and option against the core (20 steps, within 1e-5 relative: GPU arithmetic need not
 * round as PyTorch's order does), no backend read during applyGradients (one with nonFinite
 * 'error'), the step control (finite check, norm, skip count) against a reference, a small
 * model.fit, and save to IndexedDB, load and resume.
 * Skipped only when /usr/bin/chromium is absent (CI installs it).
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { chromiumSkip } from '../helpers/chromium.js';
import {
  CASES,
  type CaseResult,
  type ControlResult,
  controlMismatches,
  STEPS,
} from './gpu-cases.js';
import { withGpuPage } from './gpu-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const BACKENDS = ['webgl', 'webgpu'] as const;

/** Calls `__gpu[fn](backend)` in the page. */
function call<T>(page: Page, fn: string, backend: string): Promise<T> {
  return page.evaluate(
    ([f, b]) =>
      (globalThis as unknown as Record<string, Record<string, (b: string) => T>>).__gpu[f](b),
    [fn, backend] as const,
  );
}

interface Resumed {
  straight: number[][];
  resumed: number[][];
  iterationsAfterLoad: number;
  iterations: number;
  optimizer: string;
}

test('decoupled/tfjs on webgl and webgpu in Chromium', {
  skip: chromiumSkip(),
  timeout: 120_000,
}, async (t) => {
  await withGpuPage({ entry: join(here, 'gpu-page.js') }, async (page, errors) => {
    await page.waitForFunction(() => '__gpu' in globalThis, null, { timeout: 30_000 });
    for (const backend of BACKENDS) {
      await t.test(`${backend}: every optimizer and option against the core, 0 reads`, async () => {
        const results = await call<CaseResult[]>(page, 'cases', backend);
        assert.deepEqual(
          results.map((r) => r.name),
          CASES.map((c) => c.name),
        );
        for (const r of results) {
          assert.equal(r.steps, STEPS);
          assert.ok(r.changed, `${r.name}: the parameters moved`);
          assert.ok(r.relativeError <= 1e-5, `${r.name}: relative error ${r.relativeError}`);
          assert.equal(r.reads, 0, `${r.name}: backend reads in ${STEPS} applyGradients`);
        }
      });
      await t.test(`${backend}: the step control against the reference`, async () => {
        const results = await call<ControlResult[]>(page, 'controls', backend);
        assert.ok(results.length > 60);
        assert.deepEqual(controlMismatches(results), []);
      });
      if (backend === 'webgl') {
        // decoupled's webgl programs are packed (4 elements a texel); gradients may come in
        // either layout, and WEBGL_PACK off makes them unpacked.
        await t.test(
          'webgl: unpacked gradients, and WEBGL_PACK off, against the core',
          async () => {
            const r = await call<{ mixed: CaseResult[]; unpacked: CaseResult[] }>(
              page,
              'layouts',
              backend,
            );
            for (const [layout, results] of Object.entries(r)) {
              assert.equal(results.length, CASES.length);
              for (const c of results) {
                const name = `${layout}: ${c.name}`;
                assert.ok(c.changed, `${name}: the parameters moved`);
                assert.ok(c.relativeError <= 1e-5, `${name}: relative error ${c.relativeError}`);
                assert.equal(c.reads, 0, `${name}: backend reads`);
              }
            }
          },
        );
        await t.test('webgl: the step control over packed and unpacked gradients', async () => {
          const results = await call<ControlResult[]>(page, 'controlsMixed', backend);
          assert.ok(results.length > 60);
          assert.deepEqual(controlMismatches(results), []);
        });
      }
      // tfjs-backend-webgpu's dataSync reads through an OffscreenCanvas, which under headless
      // SwiftShader returns zeros for a tensor on the GPU and loses the WebGPU instance after: the
      // one synchronous read of 'error' cannot be checked there (WebGPU has no other).
      const syncReads = backend !== 'webgpu';
      await t.test(
        `${backend}: nonFinite 'error' reads once per step, throws before writing`,
        {
          skip: syncReads ? false : 'dataSync returns zeros on webgpu under SwiftShader',
        },
        async () => {
          const r = await call<{
            readsPerStep: number;
            error: string;
            before: number[];
            after: number[];
            iterations: number;
          }>(page, 'errorPolicy', backend);
          assert.equal(r.readsPerStep, 1);
          assert.equal(r.error, 'NonFiniteGradientError');
          assert.deepEqual(r.after, r.before);
          assert.equal(r.iterations, 1);
        },
      );
      await t.test(`${backend}: model.fit trains`, async () => {
        const r = await call<{ backend: string; losses: number[]; iterations: number }>(
          page,
          'fit',
          backend,
        );
        assert.equal(r.backend, backend);
        assert.equal(r.iterations, 8 * 3);
        assert.ok(r.losses[7] < r.losses[0] / 2, `loss falls: ${r.losses}`);
      });
      await t.test(`${backend}: save to IndexedDB, load and resume is exact`, async () => {
        const r = await call<Resumed>(page, 'resume', backend);
        assert.equal(r.optimizer, 'decoupled.AdamW');
        assert.equal(r.iterationsAfterLoad, 2 * 2);
        assert.equal(r.iterations, 3 * 2);
        assert.deepEqual(r.resumed, r.straight);
      });
    }
    assert.deepEqual(errors, []);
  });
});

/**
 * The generic on-device path (tfjs/gpu/ops-update.ts, device-step.ts) that any backend without
 * a fused kernel runs (tfjs-node's `tensorflow`, custom backends), in Node on a custom backend:
 * tfjs-backend-cpu under another name with cpu's kernels but not the optimizer's, so the step is
 * composed from tf ops. Every GPU test case against the core (20 steps, 1e-5 relative), no read
 * through the engine during applyGradients (cpu's kernels read their inputs on the host, so the
 * engine's read/readSync are counted, not the backend's), nonFinite 'error' reading once per
 * step, and the step control against a reference.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteGradientError } from '#decoupled/core/errors.js';
import { ADAM_KERNEL, AdamW } from '#decoupled/tfjs/index.js';
import {
  CASES,
  controlMismatches,
  countReads,
  runCase,
  runControlCases,
  STEPS,
} from './gpu-cases.js';
import { OPS_ONLY, useOpsOnlyBackend } from './helpers.js';

before(async () => {
  await useOpsOnlyBackend();
  assert.equal(tf.getKernel(ADAM_KERNEL, OPS_ONLY), undefined, 'no fused kernel');
});

describe('the update from tf ops on a backend without fused kernels', () => {
  for (const [i, c] of CASES.entries()) {
    test(c.name, async () => {
      const r = await runCase(tf, c, 100 + i, tf.engine());
      assert.ok(r.changed, 'the parameters moved');
      assert.ok(r.relativeError <= 1e-5, `relative error ${r.relativeError}`);
      assert.equal(r.reads, 0, `backend reads in ${STEPS} applyGradients`);
    });
  }

  test('the step control against the reference', async () => {
    const results = await runControlCases(tf);
    assert.ok(results.length > 60);
    assert.deepEqual(controlMismatches(results), []);
  });

  test("nonFinite 'error' reads once per step and throws before writing", async () => {
    const v = tf.variable(tf.tensor([1, 2, 3, 4]), true, 'ops-error/v');
    const opt = new AdamW({ lr: 0.1 });
    const good = tf.tensor([0.5, -0.5, 0.25, 1]);
    const counter = countReads(tf, tf.engine());
    opt.applyGradients({ [v.name]: good });
    counter.restore();
    assert.equal(counter.count(), 1);
    const before = Array.from(await v.data());
    const bad = tf.tensor([0.5, Number.NaN, 0.25, 1]);
    assert.throws(
      () => opt.applyGradients({ [v.name]: bad }),
      (e) => e instanceof NonFiniteGradientError && e.paramIndex === 0 && e.elementIndex === 1,
    );
    assert.deepEqual(Array.from(await v.data()), before);
    assert.equal(opt.iterations, 1);
    opt.dispose();
    tf.dispose([v, good, bad]);
  });

  test("'skip' and clipNorm keep their numbers on the device until read", async () => {
    const v = tf.variable(tf.tensor([1, 2, 3, 4]), true, 'ops-skip/v');
    const opt = new AdamW({ lr: 0.1, nonFinite: 'skip', clipNorm: 1 });
    const grads = [
      tf.tensor([3, 0, 0, 4]),
      tf.tensor([0.5, Number.NaN, 0.25, 1]),
      tf.tensor([0, 0, 0, 0.5]),
    ];
    const counter = countReads(tf, tf.engine());
    for (const g of grads) opt.applyGradients({ [v.name]: g });
    counter.restore();
    assert.equal(counter.count(), 0);
    assert.equal(opt.skippedSteps, 1);
    assert.equal(opt.lastGradNorm, 0.5);
    // Skipped on the device, the step still counts (docs/tfjs.md).
    assert.equal(opt.iterations, 3);
    opt.dispose();
    tf.dispose([v, ...grads]);
  });
});

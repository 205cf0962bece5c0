/**
 * ema and accumulate on the on-device path (tf ops, no readback), in Node on the ops-only backend
 * (cpu's kernels under another name: ./helpers.ts): the averages follow the rule of
 * src/core/ema.ts written out here, bit for bit, over the device's own weights; accumulate equals
 * the device optimizer fed the mean; nothing is read back; 'skip' and 'error' as documented.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteGradientError } from '#decoupled/core/errors.js';
import { AdamW, SGDW } from '#decoupled/tfjs/index.js';
import { countReads } from './gpu-cases.js';
import { useOpsOnlyBackend } from './helpers.js';
import { applyTo, CLASSES, makeVariables, problem, runTfjs, tfjsAverages } from './trajectory.js';

const f = Math.fround;

before(useOpsOnlyBackend);

/** The averages of a weight sequence by the rule (Keras's a_1 = theta_1, or optax's debias). */
function expectedAverages(weights: number[][], decay: number, debias: boolean): number[][] {
  const d = f(decay);
  const c = debias ? f(1 - decay) : f(1 - d);
  let e = weights[0].map(() => 0);
  return weights.map((theta, i) => {
    const t = i + 1;
    e = t === 1 && !debias ? theta.slice() : e.map((x, j) => f(f(d * x) + f(c * theta[j])));
    return debias ? e.map((x) => f(x / f(1 - decay ** t))) : e.slice();
  });
}

describe('ema and accumulate on the device path', () => {
  test("the averages follow the rule over the device's weights, bit for bit", () => {
    for (const c of CLASSES) {
      for (const debias of [false, true]) {
        const { init, grads } = problem(300, 6);
        const trace = runTfjs(c.tfjs({ ema: { decay: 0.85, debias } }), init, grads, true);
        for (const name of Object.keys(init)) {
          const expected = expectedAverages(
            trace.weights.map((w) => w[name]),
            0.85,
            debias,
          );
          assert.deepEqual(
            trace.averages.map((a) => a[name]),
            expected,
            `${c.name} ${name} debias ${debias}`,
          );
        }
      }
    }
  });

  test('accumulate equals the device optimizer fed the mean gradient, bit for bit', () => {
    for (const c of CLASSES) {
      const k = 3;
      const { init, grads } = problem(301, 2 * k);
      const a = runTfjs(c.tfjs({ accumulate: k, clipNorm: 0.7 }), init, grads, false);
      const means = [0, k].map((from) => {
        const mean: Record<string, Float32Array> = {};
        for (const name of Object.keys(init)) {
          const s = grads[from][name].slice();
          for (let i = from + 1; i < from + k; i++) {
            s.forEach((x, j) => {
              s[j] = f(x + grads[i][name][j]);
            });
          }
          mean[name] = s.map((x) => f(x / k));
        }
        return mean;
      });
      const b = runTfjs(c.tfjs({ clipNorm: 0.7 }), init, means, false);
      assert.deepEqual([a.weights[k - 1], a.weights[2 * k - 1]], b.weights, c.name);
    }
  });

  test("no reads; a step skipped on the device ('skip') leaves the averages as they are", () => {
    const { init, grads } = problem(302, 7, 4);
    const opt = new AdamW({ lr: 0.05, nonFinite: 'skip', ema: { decay: 0.9 }, accumulate: 2 });
    const vars = makeVariables(init);
    const counter = countReads(tf, tf.engine());
    for (const g of grads.slice(0, 4)) applyTo(opt, vars, g);
    counter.restore();
    assert.equal(counter.count(), 0, 'no backend reads in applyGradients');
    const before = tfjsAverages(opt, vars);
    // Calls 4 (NaN) and 5 make a window whose mean is not finite: skipped whole (docs/tfjs.md).
    applyTo(opt, vars, grads[4]);
    applyTo(opt, vars, grads[5]);
    assert.deepEqual(tfjsAverages(opt, vars), before);
    assert.equal(opt.skippedSteps, 1);
    assert.equal(opt.iterations, 3, 'the skipped step counts, as on the device without ema');
    opt.dispose();
    tf.dispose(Object.values(vars));
  });

  test("'error' reads one scalar per call and throws at the bad call; the window stays", () => {
    const { init, grads } = problem(303, 3, 1);
    const opt = new SGDW({ lr: 0.1, momentum: 0.9, accumulate: 2 });
    const vars = makeVariables(init);
    const counter = countReads(tf, tf.engine());
    applyTo(opt, vars, grads[0]);
    counter.restore();
    assert.equal(counter.count(), 1);
    assert.throws(() => applyTo(opt, vars, grads[1]), NonFiniteGradientError);
    assert.equal(opt.accumulatedCalls, 1);
    applyTo(opt, vars, grads[2]);
    assert.equal(opt.iterations, 1);
    opt.dispose();
    tf.dispose(Object.values(vars));
  });
});

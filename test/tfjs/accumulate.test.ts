/**
 * Gradient accumulation (`accumulate: k`) in decoupled/tfjs, on cpu and wasm:
 *  - bit for bit the un-accumulated tfjs optimizer fed the mean gradient, the mean formed as the
 *    core forms it (s = g_1; s = f(s + g_i); f(s / k)), with clipNorm clipping that mean;
 *  - bit for bit the core with the same options (weights and averages after every call), with
 *    ema and nonFinite 'skip' (a skipped call is not counted);
 *  - model.fit: each batch is a call, the weights move only at the window's last batch, and the
 *    run equals one fed the mean of fit's own gradients; exact resume mid-window; errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { NonFiniteGradientError, OptionError } from '#decoupled/core/errors.js';
import { AdamW, type DecoupledOptimizer, SGD, SGDW } from '#decoupled/tfjs/index.js';
import { prng, randomArray, useBackend } from './helpers.js';
import {
  applyTo,
  CLASSES,
  makeVariables,
  problem,
  runCore,
  runTfjs,
  straightAndResumed,
} from './trajectory.js';

const f = Math.fround;

/** The window means of `grads`, windows of k calls, by the core's rule written out. */
function windowMeans(grads: Record<string, Float32Array>[], k: number) {
  const means: Record<string, Float32Array>[] = [];
  for (let from = 0; from + k <= grads.length; from += k) {
    const mean: Record<string, Float32Array> = {};
    for (const name of Object.keys(grads[from])) {
      const s = grads[from][name].slice();
      for (let c = from + 1; c < from + k; c++) {
        const g = grads[c][name];
        for (let j = 0; j < s.length; j++) s[j] = f(s[j] + g[j]);
      }
      mean[name] = s.map((x) => f(x / k));
    }
    means.push(mean);
  }
  return means;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`accumulate on ${backend}`, () => {
    test('equals the un-accumulated optimizer fed the mean gradient, bit for bit (with clipNorm)', async () => {
      await useBackend(backend);
      for (const [i, c] of CLASSES.entries()) {
        for (const k of [2, 3]) {
          for (const clipNorm of [undefined, 0.5]) {
            const { init, grads } = problem(100 + i, 3 * k);
            const clip = clipNorm === undefined ? {} : { clipNorm };
            const accumulated = runTfjs(c.tfjs({ accumulate: k, ...clip }), init, grads, false);
            const means = windowMeans(grads, k);
            const fed = runTfjs(c.tfjs(clip), init, means, false);
            const what = `${c.name}, k ${k}, clipNorm ${clipNorm}`;
            // The weights after each window's last call are those after each mean step...
            assert.deepEqual(
              accumulated.weights.filter((_, call) => (call + 1) % k === 0),
              fed.weights,
              what,
            );
            // ...and do not move in between.
            accumulated.weights.forEach((w, call) => {
              const before = call < k ? null : accumulated.weights[call - (call % k) - 1];
              if (call % k !== k - 1 && before) assert.deepEqual(w, before, `${what} call ${call}`);
            });
          }
        }
      }
    });

    test("equals the core's accumulate, with ema and nonFinite 'skip', after every call", async () => {
      await useBackend(backend);
      for (const [i, c] of CLASSES.entries()) {
        const extra = {
          accumulate: 3,
          ema: { decay: 0.8, debias: i % 2 === 0, every: i % 3 === 0 ? 2 : undefined },
          nonFinite: 'skip',
        };
        // Call 4 has a NaN: skipped, so windows are calls 0-2, 3 5 6, 7-9.
        const { init, grads } = problem(200 + i, 10, 4);
        const a = runTfjs(c.tfjs(extra), init, grads, true);
        const b = runCore((g) => c.core(g as never, extra), init, grads, true);
        assert.deepEqual(a.weights, b.weights, `${c.name}: weights`);
        assert.deepEqual(a.averages, b.averages, `${c.name}: averages`);
        assert.notDeepEqual(a.weights[9], a.weights[6], 'the last window applied');
      }
    });
  });
}

describe('accumulate: steps, state, errors', () => {
  test('the schedule counts applied steps; accumulatedCalls counts the window', async () => {
    await useBackend('cpu');
    const seen: number[] = [];
    const schedule = (t: number) => {
      seen.push(t);
      return 1 / (1 + t);
    };
    const opt = new SGD({ lr: 0.1, accumulate: 4, schedule });
    const { init, grads } = problem(3, 9);
    const vars = makeVariables(init);
    const calls: number[] = [];
    for (const g of grads) {
      applyTo(opt, vars, g);
      calls.push(opt.accumulatedCalls);
    }
    assert.deepEqual(calls, [1, 2, 3, 0, 1, 2, 3, 0, 1]);
    assert.equal(opt.iterations, 2);
    assert.deepEqual([...new Set(seen)], [0, 1], 'planned at steps 0 and 1 only');
    opt.dispose();
    tf.dispose(Object.values(vars));
  });

  test('getWeights/setWeights mid-window: the resumed run is bit-identical', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const make = () =>
        new SGDW({ lr: 0.1, momentum: 0.9, weightDecay: 0.1, accumulate: 3, ema: { decay: 0.5 } });
      const { init, grads } = problem(4, 10);
      const r = await straightAndResumed(make, init, grads, 5);
      const saved = r.saved;
      assert.deepEqual(saved.at(-1)?.name, 'accumulate_calls');
      assert.equal(saved.at(-1)?.tensor.dataSync()[0], 2);
      assert.ok(saved.some((w) => w.name.endsWith('/accumulated_grad')));
      assert.deepEqual(r.restored, { calls: 2, iterations: 1 });
      assert.deepEqual(r.resumed, r.straight, `${backend}: weights and averages`);
      // A partial window cannot go to an optimizer that would drop it.
      const other = new SGDW({ lr: 0.1, momentum: 0.9 });
      await assert.rejects(
        other.setWeights(saved),
        (e: unknown) =>
          e instanceof OptionError &&
          /weightValues 'accumulate_calls' must be 0 for an optimizer without accumulate/.test(
            e.message,
          ),
      );
      const shorter = new SGDW({ lr: 0.1, momentum: 0.9, accumulate: 2 });
      await assert.rejects(
        shorter.setWeights(saved),
        /weightValues 'accumulate_calls' must be an integer >= 0 and <= 1; received 2/,
      );
      tf.dispose(saved.map((w) => w.tensor));
      for (const opt of [other, shorter]) opt.dispose();
    }
  });

  test("nonFinite 'error' throws at the bad call and keeps the window", async () => {
    await useBackend('wasm');
    const { init, grads } = problem(5, 4, 1);
    const opt = new AdamW({ lr: 0.1, accumulate: 2 });
    const vars = makeVariables(init);
    applyTo(opt, vars, grads[0]);
    assert.throws(() => applyTo(opt, vars, grads[1]), NonFiniteGradientError);
    assert.equal(opt.accumulatedCalls, 1);
    applyTo(opt, vars, grads[2]);
    assert.equal(opt.iterations, 1);
    // The same as the window of calls 0 and 2.
    const fed = new AdamW({ lr: 0.1 });
    const other = makeVariables(init);
    applyTo(fed, other, windowMeans([grads[0], grads[2]], 2)[0]);
    for (const name of Object.keys(vars)) {
      assert.deepEqual(Array.from(vars[name].dataSync()), Array.from(other[name].dataSync()));
    }
    for (const o of [opt, fed]) o.dispose();
    tf.dispose([...Object.values(vars), ...Object.values(other)]);
  });

  test('a window must name the same variables at every call', async () => {
    await useBackend('cpu');
    const a = tf.variable(tf.ones([2]), true, 'window/a');
    const b = tf.variable(tf.ones([2]), true, 'window/b');
    const opt = new SGD({ lr: 0.1, accumulate: 2 });
    const g = tf.ones([2]);
    opt.applyGradients({ [a.name]: g, [b.name]: g });
    assert.throws(
      () => opt.applyGradients({ [a.name]: g }),
      (e) =>
        e instanceof OptionError &&
        /variableGradients must be the same variables at every call of a window of 2 \(window\/a, window\/b\); received "window\/a"/.test(
          e.message,
        ),
    );
    assert.deepEqual(Array.from(a.dataSync()), [1, 1]);
    opt.dispose();
    tf.dispose([a, b, g]);
  });

  test('bad values give OptionErrors naming the option, the value and what is allowed', () => {
    for (const bad of [0, 1.5, -2, Number.NaN, '2']) {
      assert.throws(
        () => new AdamW({ accumulate: bad as number }),
        (e: unknown) =>
          e instanceof OptionError &&
          /^AdamW: accumulate must be an integer >= 1; received /.test(e.message),
        String(bad),
      );
    }
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`model.fit on ${backend}: each batch is a call; the run equals one fed the mean of fit's gradients`, async () => {
    await useBackend(backend);
    const rand = prng(21);
    const x = tf.tensor2d(randomArray(rand, 48 * 6), [48, 6]);
    const labels = Array.from({ length: 48 }, () => Math.floor(rand() * 3));
    const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({
            inputShape: [6],
            units: 8,
            activation: 'relu',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
          }),
          tfl.layers.batchNormalization(),
          tfl.layers.dense({
            units: 3,
            activation: 'softmax',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }),
          }),
        ],
      });
    const options = { lr: 0.02, weightDecay: 0.1, clipNorm: 2 };
    const k = 3;
    const accumulating = new AdamW({ ...options, accumulate: k, ema: { decay: 0.9 } });
    const a = build();
    a.compile({ optimizer: accumulating, loss: 'categoricalCrossentropy' });
    const kernel = () => Array.from(a.getWeights()[0].dataSync());
    const snapshots: number[][] = [kernel()];
    const fitArgs = { batchSize: 8, epochs: 2, shuffle: false, verbose: 0 } as const;
    await a.fit(x, y, {
      ...fitArgs,
      callbacks: {
        onBatchEnd: async () => {
          snapshots.push(kernel());
        },
      },
    });
    // 12 batches: steps after batches 3, 6, 9, 12 only (snapshot b is after batch b).
    assert.equal(accumulating.iterations, 12 / k);
    for (let batch = 1; batch <= 12; batch++) {
      const moved = JSON.stringify(snapshots[batch]) !== JSON.stringify(snapshots[batch - 1]);
      assert.equal(moved, batch % k === 0, `batch ${batch}`);
    }

    // The same fit, with an un-accumulated optimizer fed the mean of every k of fit's gradients.
    const fed = new AdamW({ ...options, ema: { decay: 0.9 } }) as DecoupledOptimizer;
    const apply = fed.applyGradients.bind(fed);
    let window: Record<string, Float32Array>[] = [];
    fed.applyGradients = (grads) => {
      const list = Array.isArray(grads)
        ? grads
        : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
      window.push(
        Object.fromEntries(
          list.map((g) => [g.name, (g.tensor.dataSync() as Float32Array).slice()]),
        ),
      );
      if (window.length < k) return;
      const mean = windowMeans(window, k)[0];
      window = [];
      const tensors = list.map((g) => ({
        name: g.name,
        tensor: tf.tensor(mean[g.name], g.tensor.shape),
      }));
      apply(tensors);
      tf.dispose(tensors.map((t) => t.tensor));
    };
    const b = build();
    b.compile({ optimizer: fed, loss: 'categoricalCrossentropy' });
    await b.fit(x, y, fitArgs);
    const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(weights(a), weights(b), 'model weights and BN statistics');
    const averaged = (o: DecoupledOptimizer) =>
      o.averages().map(({ tensor }) => {
        const values = Array.from(tensor.dataSync());
        tensor.dispose();
        return values;
      });
    assert.deepEqual(averaged(accumulating), averaged(fed), 'averages');
    a.dispose();
    b.dispose();
    tf.dispose([x, y]);
  });
}

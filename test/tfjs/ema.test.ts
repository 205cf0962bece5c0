/**
 * Weight averaging (`ema`) in decoupled/tfjs: the core's weights and averages bit for bit after
 * every step on cpu and wasm (every optimizer class, both rules, `every`), closed forms (step 1;
 * a constant weight), swapAverages, exact resume through getWeights/setWeights (also while
 * swapped) and through model.save, getConfig, no leaked tensors, and option errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { EmaOptions } from '#decoupled/core/ema.js';
import { OptionError } from '#decoupled/core/errors.js';
import {
  Adam,
  AdamW,
  AdamWR,
  type DecoupledOptimizer,
  SGD,
  SGDW,
  SGDWR,
} from '#decoupled/tfjs/index.js';
import { prng, randomArray, useBackend } from './helpers.js';
import {
  applyTo,
  CLASSES,
  makeVariables,
  problem,
  RESTARTS as restarts,
  runCore,
  runTfjs,
  savedWeights,
  straightAndResumed,
  tfjsAverages,
} from './trajectory.js';

const EMAS: EmaOptions[] = [
  { decay: 0.9 },
  { decay: 0.95, debias: true },
  { decay: 0.8, every: 3 },
  { decay: 0.7, every: 2, debias: true },
];
const STEPS = 7;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`ema on ${backend}: the core's weights and averages after every step`, () => {
    for (const [i, c] of CLASSES.entries()) {
      test(c.name, async () => {
        await useBackend(backend);
        for (const [j, ema] of EMAS.entries()) {
          const { init, grads } = problem(10 * i + j, STEPS);
          const a = runTfjs(c.tfjs({ ema }), init, grads, true);
          const b = runCore((g) => c.core(g as never, { ema }), init, grads, true);
          const what = JSON.stringify(ema);
          assert.deepEqual(a.weights, b.weights, `${what}: weights`);
          assert.deepEqual(a.averages, b.averages, `${what}: averages`);
          assert.notDeepEqual(a.averages.at(-1), a.weights.at(-1), `${what}: averages differ`);
        }
      });
    }
  });
}

/** Distance in float32 steps between two float32 values of the same sign. */
function ulps(x: number, y: number): number {
  const bits = new Int32Array(Float32Array.of(x, y).buffer);
  return Math.abs(bits[0] - bits[1]);
}

describe('ema: closed forms', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    test(`${backend}: after step 1 the average is the weight (Keras rule exactly, debias within 1 ulp)`, async () => {
      await useBackend(backend);
      for (const debias of [false, true]) {
        for (const decay of [0.9, 0.999, 0.3]) {
          const { init, grads } = problem(3, 1);
          const opt = new AdamW({ lr: 0.1, ema: { decay, debias } });
          const vars = makeVariables(init);
          applyTo(opt, vars, grads[0]);
          const averages = tfjsAverages(opt, vars);
          for (const [name, v] of Object.entries(vars)) {
            const w = Array.from(v.dataSync());
            if (!debias) assert.deepEqual(averages[name], w, `${name} decay ${decay}`);
            // e_1 / (1 - d) = (1 - d) theta / (1 - d): two roundings, at most one ulp apart.
            else {
              averages[name].forEach((x, k) => {
                assert.ok(ulps(x, w[k]) <= 1, `${name}[${k}]`);
              });
            }
          }
          opt.dispose();
          tf.dispose(Object.values(vars));
        }
      }
    });

    test(`${backend}: a constant weight (lr 0) averages to itself within float32 rounding`, async () => {
      await useBackend(backend);
      for (const debias of [false, true]) {
        const { init, grads } = problem(4, 30);
        const opt = new SGD({ lr: 0, ema: { decay: 0.9, debias } });
        const vars = makeVariables(init);
        for (const g of grads) applyTo(opt, vars, g);
        const averages = tfjsAverages(opt, vars);
        // Each update rounds 3 times (2^-24 relative each) and old errors shrink by d, so
        // |err| <= (3 / (1 - d) + 2) 2^-24 |theta| (the 2: f(1 - d) and the debias division).
        const bound = (3 / (1 - 0.9) + 2) * 2 ** -24;
        for (const [name, theta] of Object.entries(init)) {
          assert.deepEqual(Array.from(vars[name].dataSync()), Array.from(theta), 'unchanged');
          averages[name].forEach((x, k) => {
            assert.ok(Math.abs(x - theta[k]) <= bound * Math.abs(theta[k]), `${name}[${k}]`);
          });
        }
        opt.dispose();
        tf.dispose(Object.values(vars));
      }
    });
  }
});

describe('ema: swapAverages', () => {
  test('swaps the averages in and the weights back bit for bit; no step while swapped', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const { init, grads } = problem(5, 4);
      const opt = new SGDW({ lr: 0.1, momentum: 0.9, ema: { decay: 0.8, debias: true } });
      const vars = makeVariables(init);
      for (const g of grads) applyTo(opt, vars, g);
      const trained = Object.values(vars).map((v) => Array.from(v.dataSync()));
      const averages = tfjsAverages(opt, vars);
      const tensors = tf.memory().numTensors;
      opt.swapAverages();
      assert.equal(opt.averagesSwapped, true);
      for (const [name, v] of Object.entries(vars)) {
        assert.deepEqual(Array.from(v.dataSync()), averages[name], `${backend} ${name} swapped in`);
      }
      assert.throws(
        () => applyTo(opt, vars, grads[0]),
        (e) => e instanceof OptionError && /swapAverages must be swapped back/.test(e.message),
      );
      opt.swapAverages();
      assert.equal(opt.averagesSwapped, false);
      assert.deepEqual(
        Object.values(vars).map((v) => Array.from(v.dataSync())),
        trained,
        `${backend}: the trained weights are back`,
      );
      assert.equal(tf.memory().numTensors, tensors, 'swapping in and out leaves no tensors');
      opt.dispose();
      tf.dispose(Object.values(vars));
    }
  });

  test('`every: k` overwrites the weights with the averages after steps k, 2k, ...', async () => {
    await useBackend('wasm');
    const { init, grads } = problem(6, 4);
    const opt = new AdamW({ lr: 0.05, ema: { decay: 0.5, every: 2 } });
    const vars = makeVariables(init);
    for (const [t, g] of grads.entries()) {
      applyTo(opt, vars, g);
      const averages = tfjsAverages(opt, vars);
      const weights = Array.from(vars['dense/kernel'].dataSync());
      const same = JSON.stringify(weights) === JSON.stringify(averages['dense/kernel']);
      // (After step 1 the Keras rule's average is the weight anyway.)
      if (t > 0) assert.equal(same, (t + 1) % 2 === 0, `step ${t + 1}`);
    }
    opt.dispose();
    tf.dispose(Object.values(vars));
  });
});

describe('ema: state', () => {
  test('getWeights/setWeights carry the averages: a resume continues bit for bit', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const make = () =>
        new AdamW({ lr: 0.02, weightDecay: 0.1, ema: { decay: 0.9, debias: true, every: 4 } });
      const { init, grads } = problem(7, 9);
      const r = await straightAndResumed(make, init, grads, 5);
      assert.deepEqual(
        r.saved.map((w) => w.name.replace(/_\d+\//, '/')),
        [
          'iter',
          ...['dense/kernel', 'dense/bias'].flatMap((v) =>
            ['exp_avg', 'exp_avg_sq', 'ema'].map((s) => `${v}/${s}`),
          ),
        ],
      );
      tf.dispose(r.saved.map((w) => w.tensor));
      assert.deepEqual(r.resumed, r.straight, `${backend}: weights and averages`);
    }
  });

  test('a state saved while swapped restores swapped; swapAverages(variables) puts the weights back', async () => {
    await useBackend('cpu');
    const make = () => new SGD({ lr: 0.1, momentum: 0.5, ema: { decay: 0.6 } });
    const { init, grads } = problem(8, 5);
    const first = make();
    const a = makeVariables(init);
    for (const g of grads.slice(0, 3)) applyTo(first, a, g);
    const trained = Object.values(a).map((v) => Array.from(v.dataSync()));
    first.swapAverages();
    const saved = await savedWeights(first);
    assert.ok(saved.some((w) => w.name.endsWith('/ema_backup')));
    // As after loading a model saved while swapped: new variables hold the averages.
    const b = makeVariables(init);
    for (const name of Object.keys(a)) b[name].assign(a[name]);
    const second = make();
    await second.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    assert.equal(second.averagesSwapped, true);
    assert.throws(() => applyTo(second, b, grads[3]), /swapAverages must be swapped back/);
    assert.throws(
      () => second.swapAverages(),
      (e) =>
        e instanceof OptionError &&
        /variables must be given \(the model's variables\)/.test(e.message),
    );
    second.swapAverages(Object.values(b));
    assert.deepEqual(
      Object.values(b).map((v) => Array.from(v.dataSync())),
      trained,
    );
    // Both continue alike.
    first.swapAverages();
    for (const g of grads.slice(3)) {
      applyTo(first, a, g);
      applyTo(second, b, g);
    }
    for (const name of Object.keys(a)) {
      assert.deepEqual(Array.from(b[name].dataSync()), Array.from(a[name].dataSync()), name);
    }
    assert.deepEqual(tfjsAverages(second, b), tfjsAverages(first, a));
    for (const opt of [first, second]) opt.dispose();
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  });

  test('getConfig holds ema and accumulate; fromConfig rebuilds the same optimizer', async () => {
    await useBackend('cpu');
    const opt = new SGDWR({
      lr: 0.1,
      momentum: 0.9,
      ...restarts,
      ema: { decay: 0.99, debias: true, every: 10 },
      accumulate: 4,
    });
    const config = opt.getConfig();
    assert.deepEqual(config.ema, { decay: 0.99, debias: true, every: 10 });
    assert.equal(config.accumulate, 4);
    const [cls, fromConfig] =
      tf.serialization.SerializationMap.getMap().classNameMap[opt.getClassName()];
    assert.deepEqual(fromConfig(cls, config).getConfig(), config);
    const plain = new AdamW().getConfig();
    assert.equal(plain.ema, null);
    assert.equal(plain.accumulate, 1);
    assert.deepEqual(new AdamW({ ema: true }).getConfig().ema, { decay: 0.99, debias: false });
  });

  test('ema and accumulate survive model.save({ includeOptimizer }): a resume mid-window is exact', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const rand = prng(9);
      const x = tf.tensor2d(randomArray(rand, 40 * 6), [40, 6]);
      const y = tf.tensor2d(randomArray(rand, 40 * 2), [40, 2]);
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({
            inputShape: [6],
            units: 5,
            activation: 'tanh',
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
          }),
          tfl.layers.dense({
            units: 2,
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
          }),
        ],
      });
      const opt = new AdamW({ lr: 0.05, clipNorm: 1, ema: { decay: 0.9 }, accumulate: 3 });
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      // 5 batches per epoch: the window of 3 calls straddles the save.
      const fitArgs = { batchSize: 8, epochs: 1, shuffle: false, verbose: 0 } as const;
      await model.fit(x, y, fitArgs);
      assert.equal(opt.accumulatedCalls, 2);
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
        { includeOptimizer: true },
      );
      await model.fit(x, y, fitArgs);
      const art = artifacts as tf.io.ModelArtifacts;
      const loaded = await tfl.loadLayersModel(
        tf.io.fromMemory({
          ...art,
          trainingConfig: JSON.parse(JSON.stringify(art.trainingConfig)),
        }),
      );
      const resumed = loaded.optimizer as DecoupledOptimizer;
      assert.deepEqual(resumed.getConfig(), opt.getConfig());
      assert.equal(resumed.accumulatedCalls, 2);
      await loaded.fit(x, y, fitArgs);
      const weights = (m: tfl.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(weights(loaded), weights(model), `${backend}: weights`);
      assert.equal(resumed.iterations, opt.iterations);
      const averaged = (o: DecoupledOptimizer) =>
        o.averages().map(({ tensor }) => {
          const values = Array.from(tensor.dataSync());
          tensor.dispose();
          return values;
        });
      assert.deepEqual(averaged(resumed), averaged(opt), `${backend}: averages`);
      model.dispose();
      loaded.dispose();
      tf.dispose([x, y]);
    }
  });
});

describe('ema: memory and errors', () => {
  test('steps, averages() and swaps leave the tensor count unchanged', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const { init, grads } = problem(12, 12);
      const opt = new AdamW({
        lr: 0.01,
        amsgrad: true,
        clipNorm: 0.5,
        ema: { decay: 0.9, every: 3, debias: true },
        accumulate: 2,
      });
      const vars = makeVariables(init);
      for (const g of grads.slice(0, 4)) applyTo(opt, vars, g);
      // getWeights' call count is a variable made once, like the slots.
      await opt.getWeights().then((w) => w[0].tensor.dispose());
      const tensors = tf.memory().numTensors;
      for (const g of grads.slice(4)) {
        applyTo(opt, vars, g);
        tf.dispose(opt.averages().map((a) => a.tensor));
        opt.swapAverages();
        opt.swapAverages();
      }
      await opt.getWeights().then((w) => w[0].tensor.dispose());
      assert.equal(tf.memory().numTensors, tensors, backend);
      opt.dispose();
      tf.dispose(Object.values(vars));
    }
  });

  test('bad values give OptionErrors naming the option, the value and what is allowed', () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => new AdamW({ ema: 'yes' as never }),
        /^AdamW: ema must be true, false or \{ decay, every, debias \}; received "yes"$/,
      ],
      [
        () => new SGDW({ ema: { decay: 1 } }),
        /^SGDW: ema.decay must be a finite number >= 0 and < 1; received 1$/,
      ],
      [
        () => new Adam({ ema: { decay: 0.9, every: 0 } }),
        /^Adam: ema.every must be an integer >= 1; received 0$/,
      ],
      [() => new SGD({ ema: { debias: 1 as never } }), /^SGD: ema.debias must be true or false/],
      [
        () => new AdamW({ ema: { momentum: 0.9 } as never }),
        /AdamW: .*ema\.momentum.*decay, every, debias/,
      ],
      [
        () => new AdamWR({ lr: 0.1, ...restarts, ema: -1 as never }),
        /^AdamWR: ema must be true, false or/,
      ],
      [
        () => new AdamW().averages(),
        /^AdamW: ema must be set \(ema: true or \{ decay \}\) to call averages\(\)/,
      ],
      [
        () => new SGDWR({ ...restarts }).swapAverages(),
        /^SGDWR: ema must be set .* to call swapAverages\(\)/,
      ],
      [
        () => new AdamW({ ema: true }).swapAverages([3] as never),
        /^AdamW.swapAverages: variables must be an array of tf.Variable/,
      ],
    ];
    for (const [make, message] of cases) {
      assert.throws(make, (e: unknown) => e instanceof OptionError && message.test(e.message));
    }
  });
});

/**
 * ScheduleFreeAdamW and ScheduleFreeSGD in decoupled/tfjs against the core's (which
 * test/core/schedule-free.test.ts holds bit for bit to the reference on PyTorch 1.13): the same
 * steps, train() and eval() on the same data give the same parameters bit for bit on cpu and wasm,
 * and on a backend without the host path (tf ops, nothing read back). Also: getWeights/setWeights
 * and model.save/loadLayersModel resume exactly in both modes, model.fit trains, no tensors leak,
 * and bad options or calls throw OptionErrors naming option, value and what is allowed.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { clipGradNorm } from '#decoupled/core/clip.js';
import { OptionError } from '#decoupled/core/errors.js';
import { groupParams, orderByGroups } from '#decoupled/core/param-groups.js';
import {
  ScheduleFreeAdamW as CoreScheduleFreeAdamW,
  ScheduleFreeSGD as CoreScheduleFreeSGD,
  lerpInPlace,
} from '#decoupled/core/schedule-free.js';
import { lerpOps } from '#decoupled/tfjs/gpu/schedule-free-ops.js';
import {
  AdamW,
  ScheduleFreeAdamW,
  ScheduleFreeOptimizer,
  ScheduleFreeSGD,
} from '#decoupled/tfjs/index.js';
import { countReads } from './gpu-cases.js';
import { prng, randomArray, registerOpsOnlyBackend, saveToMemory, useBackend } from './helpers.js';

type Event = 'step' | 'nan' | 'eval' | 'train';
type CoreOptimizer = CoreScheduleFreeAdamW | CoreScheduleFreeSGD;

interface Case {
  name: string;
  tfjs: () => ScheduleFreeOptimizer;
  core: (groups: ReturnType<typeof groupParams>) => CoreOptimizer;
  clipNorm?: number;
}

/** The same options on both sides (tfjs-only options added to the tfjs side). */
function pair(
  name: string,
  options: Record<string, unknown>,
  sgd = false,
  clipNorm?: number,
): Case {
  const tfjsOptions = { ...options, ...(clipNorm ? { clipNorm } : {}), nonFinite: 'skip' };
  const coreOptions = { ...options, nonFinite: 'skip' };
  return {
    name,
    tfjs: () =>
      sgd ? new ScheduleFreeSGD(tfjsOptions as never) : new ScheduleFreeAdamW(tfjsOptions as never),
    core: (g) =>
      sgd
        ? new CoreScheduleFreeSGD(g as never, coreOptions as never)
        : new CoreScheduleFreeAdamW(g as never, coreOptions as never),
    clipNorm,
  };
}

const CASES: Case[] = [
  pair('AdamW, defaults', {}),
  pair('AdamW, warmup, decay, r, weightLrPower, betas, eps', {
    lr: 0.01,
    warmupSteps: 3,
    weightDecay: 0.1,
    r: 0.5,
    weightLrPower: 1,
    betas: [0.85, 0.99],
    eps: 1e-6,
  }),
  pair('AdamW, maximize, clipNorm', { lr: 0.02, maximize: true, weightDecay: 0.05 }, false, 1),
  pair('SGD, defaults', {}, true),
  pair(
    'SGD, momentum 0.5, warmup, decay',
    { lr: 0.3, momentum: 0.5, warmupSteps: 2, weightDecay: 0.01 },
    true,
  ),
  // Warmup with r and weightLrPower: c = w_t / W stays >= 0.5 for the first four steps.
  pair(
    'SGD, lr 2, warmup 4, r 1, weightLrPower 3',
    { lr: 2, warmupSteps: 4, r: 1, weightLrPower: 3 },
    true,
  ),
];

/** A decayed kernel and an excluded bias (the core's rank rule). */
const SHAPES: Record<string, number[]> = { 'sf/kernel': [5, 7], 'sf/bias': [7] };
/** Steps in both modes, no-op switches, and a NaN step ('skip': skipped by both). */
const EVENTS: Event[] = [
  'eval',
  'step',
  'step',
  'step',
  'eval',
  'eval',
  'train',
  'step',
  'nan',
  'step',
  'train',
  'eval',
  'train',
  'step',
  'eval',
];

/**
 * Runs `c` through `events` on the active backend and on the core; after every event, the tfjs
 * variables must equal the core's parameters bit for bit. Returns the reads of `readsOf` (an
 * engine or backend) counted during applyGradients, train() and eval().
 */
function runBoth(c: Case, seed: number, readsOf?: object, events = EVENTS): number {
  const rand = prng(seed);
  const vars: Record<string, tf.Variable> = {};
  const named = Object.entries(SHAPES).map(([name, shape]) => {
    const init = randomArray(rand, tf.util.sizeFromShape(shape));
    vars[name] = tf.variable(tf.tensor(init, shape), true, `${name}_${seed}_${tf.getBackend()}`);
    return [name, { values: init.slice(), shape }] as const;
  });
  const groups = groupParams(named);
  const coreParams = Object.fromEntries(named.map(([name, p]) => [name, p.values]));
  const core = c.core(groups);
  const opt = c.tfjs();
  let reads = 0;
  for (const [k, event] of events.entries()) {
    const counter = readsOf ? countReads(tf, readsOf) : null;
    if (event === 'eval' || event === 'train') {
      try {
        opt[event]();
      } finally {
        counter?.restore();
      }
      core[event]();
    } else {
      const grads: Record<string, Float32Array> = {};
      for (const [name, shape] of Object.entries(SHAPES)) {
        grads[name] = randomArray(rand, tf.util.sizeFromShape(shape), 2);
      }
      if (event === 'nan') grads['sf/bias'][2] = Number.NaN;
      const tensors = Object.entries(grads).map(([name, g]) => ({
        name: vars[name].name,
        tensor: tf.tensor(g, SHAPES[name]),
      }));
      if (core.mode === 'train') {
        try {
          opt.applyGradients(tensors);
        } finally {
          counter?.restore();
        }
        const ordered = orderByGroups(groups, grads);
        if (c.clipNorm !== undefined && event !== 'nan') clipGradNorm(ordered, c.clipNorm);
        core.step(ordered);
      } else {
        counter?.restore();
      }
      tf.dispose(tensors.map((t) => t.tensor));
    }
    reads += counter?.count() ?? 0;
    assert.equal(opt.mode, core.mode);
    assert.equal(opt.iterations, core.stepCount);
    for (const name of Object.keys(SHAPES)) {
      assert.deepEqual(
        Array.from(vars[name].dataSync()),
        Array.from(coreParams[name]),
        `${c.name}: ${name} after event ${k} (${event})`,
      );
    }
  }
  assert.notEqual(core.stepCount, 0);
  opt.dispose();
  tf.dispose(Object.values(vars));
  return reads;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`schedule-free in decoupled/tfjs on ${backend}: the core's trajectory, bit for bit`, () => {
    for (const [i, c] of CASES.entries()) {
      test(c.name, async () => {
        await useBackend(backend);
        runBoth(c, 20 + i);
      });
    }
  });
}

describe('schedule-free from tf ops (a backend without the host path, as webgl or webgpu)', () => {
  const BACKEND = 'sf-ops-only';
  before(() => registerOpsOnlyBackend(BACKEND));
  for (const [i, c] of CASES.entries()) {
    test(`${c.name}: bit for bit (cpu's kernels round each op to float32), 0 reads`, async () => {
      assert.ok(await tf.setBackend(BACKEND));
      // A step skipped on a device still counts (docs/tfjs.md), so no NaN step here.
      const reads = runBoth(
        c,
        40 + i,
        tf.engine(),
        EVENTS.filter((e) => e !== 'nan'),
      );
      assert.equal(reads, 0, 'engine reads in applyGradients, train() and eval()');
    });
  }

  test('lerpOps is the core lerp bit for bit, both forms (w < 0.5, negative w included)', async () => {
    assert.ok(await tf.setBackend(BACKEND));
    const rand = prng(77);
    const a = randomArray(rand, 20000, 3);
    const b = randomArray(rand, 20000, 3);
    for (const w of [-1.5, 1 - 1 / 0.9, 0.1, 0.4999, 0.5, 0.7, 0.94, 1]) {
      const expected = a.slice();
      lerpInPlace(expected, b, w);
      const got = tf.tidy(() => lerpOps(tf.tensor(a), tf.tensor(b), w).dataSync());
      assert.deepEqual(Array.from(got), Array.from(expected), `w = ${w}`);
    }
  });

  test("nonFinite 'skip': the step keeps y, z and v by a select, and still counts", async () => {
    assert.ok(await tf.setBackend(BACKEND));
    const v = tf.variable(tf.tensor([1, 2, 3, 4]), true, 'sf-ops-skip/v');
    const opt = new ScheduleFreeAdamW({ lr: 0.1, nonFinite: 'skip' });
    const good = tf.tensor([0.5, -0.5, 0.25, 1]);
    const bad = tf.tensor([0.5, Number.NaN, 0.25, 1]);
    opt.applyGradients({ [v.name]: good });
    const before = [
      Array.from(v.dataSync()),
      ...(await opt.getWeights()).slice(2).map((w) => Array.from(w.tensor.dataSync())),
    ];
    const counter = countReads(tf, tf.engine());
    opt.applyGradients({ [v.name]: bad });
    counter.restore();
    assert.equal(counter.count(), 0);
    const after = [
      Array.from(v.dataSync()),
      ...(await opt.getWeights()).slice(2).map((w) => Array.from(w.tensor.dataSync())),
    ];
    assert.deepEqual(after, before);
    assert.equal(opt.skippedSteps, 1);
    assert.equal(opt.iterations, 2);
    opt.dispose();
    tf.dispose([v, good, bad]);
  });
});

/** Two variables (a kernel and a bias) and a step function feeding them seeded gradients. */
function problem(backend: string, tag: string, seed = 3) {
  const rand = prng(seed);
  const kernel = tf.variable(tf.tensor(randomArray(rand, 12), [3, 4]), true, `${tag}/k/${backend}`);
  const bias = tf.variable(tf.tensor(randomArray(rand, 4), [4]), true, `${tag}/b/${backend}`);
  const grads = Array.from({ length: 10 }, () => [randomArray(rand, 12), randomArray(rand, 4)]);
  const step = (opt: ScheduleFreeOptimizer, k: number) => {
    const t = [tf.tensor(grads[k][0], [3, 4]), tf.tensor(grads[k][1], [4])];
    opt.applyGradients({ [kernel.name]: t[0], [bias.name]: t[1] });
    tf.dispose(t);
  };
  const values = () => [kernel, bias].map((v) => Array.from(v.dataSync()));
  return { kernel, bias, step, values };
}

describe('schedule-free: state, switching, errors', () => {
  const make = () => new ScheduleFreeAdamW({ lr: 0.05, warmupSteps: 2, weightDecay: 0.1, r: 1 });

  test('getWeights/setWeights resume exactly, saved in train or in eval mode', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      for (const mode of ['train', 'eval'] as const) {
        const a = problem(backend, `resume-a-${mode}`);
        const straight = make();
        for (let k = 0; k < 4; k++) a.step(straight, k);
        straight.eval();
        straight.train();
        for (let k = 4; k < 10; k++) a.step(straight, k);
        straight.eval();
        const b = problem(backend, `resume-b-${mode}`);
        const first = make();
        for (let k = 0; k < 4; k++) b.step(first, k);
        if (mode === 'eval') first.eval();
        const saved = await first.getWeights();
        assert.deepEqual(
          saved.map((w) => w.name),
          [
            'iter',
            'scheduleFree',
            ...[b.kernel, b.bias].flatMap((v) => [`${v.name}/exp_avg_sq`, `${v.name}/z`]),
          ],
        );
        const copies = saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
        const second = make();
        await second.setWeights(copies);
        tf.dispose(copies.map((c) => c.tensor));
        first.dispose();
        assert.equal(second.mode, mode);
        assert.equal(second.iterations, 4);
        if (mode === 'eval') {
          // The restored z is matched to its variables by the first step, or by train(variables).
          assert.throws(() => second.train(), /variables/);
          second.train([b.kernel, b.bias]);
        } else {
          second.eval([b.kernel, b.bias]);
          second.train();
        }
        for (let k = 4; k < 10; k++) b.step(second, k);
        second.eval();
        assert.deepEqual(b.values(), a.values(), `${backend}, saved in ${mode} mode`);
        second.dispose();
        straight.dispose();
        tf.dispose([a.kernel, a.bias, b.kernel, b.bias]);
      }
    }
  });

  test('a step in eval mode throws and changes nothing; train/eval before a step are no-ops', async () => {
    await useBackend('cpu');
    const p = problem('cpu', 'mode');
    const opt = make();
    const start = p.values();
    opt.eval();
    opt.train();
    assert.deepEqual(p.values(), start);
    opt.eval();
    assert.throws(
      () => p.step(opt, 0),
      (e) =>
        e instanceof OptionError &&
        /ScheduleFreeAdamW\.applyGradients: mode must be 'train' \(call train\(\) before step\); received "eval"/.test(
          e.message,
        ),
    );
    assert.deepEqual(p.values(), start);
    assert.equal(opt.iterations, 0);
    opt.train();
    p.step(opt, 0);
    assert.equal(opt.iterations, 1);
    opt.dispose();
    tf.dispose([p.kernel, p.bias]);
  });

  test('no tensor leaks: steps, switches, getWeights, setWeights, dispose', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const p = problem(backend, 'leak');
      const before = tf.memory().numTensors;
      const opt = make();
      for (let k = 0; k < 3; k++) p.step(opt, k);
      opt.eval();
      opt.train();
      const weights = await opt.getWeights();
      const copies = weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      weights[0].tensor.dispose(); // 'iter' is the caller's (as with tfjs' own optimizers)
      await opt.getWeights().then((w) => w[0].tensor.dispose());
      const other = make();
      await other.setWeights(copies);
      tf.dispose(copies.map((c) => c.tensor));
      p.step(other, 3);
      other.eval();
      opt.dispose();
      other.dispose();
      assert.equal(tf.memory().numTensors, before, backend);
      tf.dispose([p.kernel, p.bias]);
    }
  });

  test('bad options and calls throw OptionErrors naming option, value and what is allowed', async () => {
    await useBackend('cpu');
    const bad: [() => unknown, RegExp][] = [
      [
        () => new ScheduleFreeAdamW({ betas: [0, 0.999] }),
        /ScheduleFreeAdamW: betas\[0\] must be .*> 0.*received 0/,
      ],
      [
        () => new ScheduleFreeAdamW({ warmupSteps: 1.5 }),
        /warmupSteps must be an integer >= 0; received 1\.5/,
      ],
      [() => new ScheduleFreeAdamW({ r: -1 }), /r must be .*>= 0; received -1/],
      [
        () => new ScheduleFreeAdamW({ weightLrPower: Number.NaN }),
        /weightLrPower must be .*received NaN/,
      ],
      [
        () => new ScheduleFreeSGD({ momentum: 1 }),
        /ScheduleFreeSGD: momentum must be .*< 1; received 1/,
      ],
      [() => new ScheduleFreeAdamW({ amsgrad: true } as never), /unknown option amsgrad/],
      // Known options of the other classes, refused here (schedule-free averages its iterates).
      [
        () => new ScheduleFreeAdamW({ ema: { decay: 0.999 } } as never),
        /ScheduleFreeAdamW: ema must be not given: ScheduleFreeAdamW takes no ema; received/,
      ],
      [
        () => new ScheduleFreeSGD({ accumulate: 2 } as never),
        /ScheduleFreeSGD: accumulate must be not given \(1\).*; received 2/,
      ],
      [() => new ScheduleFreeSGD({ nesterov: true } as never), /unknown option nesterov/],
      [() => new ScheduleFreeAdamW({ clipNorm: 0 }), /clipNorm must be .*> 0; received 0/],
      [() => new ScheduleFreeAdamW({ params: [] } as never), /params must be not given/],
    ];
    for (const [make, pattern] of bad) {
      assert.throws(
        make,
        (e) => e instanceof OptionError && pattern.test(e.message),
        String(pattern),
      );
    }
    const opt = new ScheduleFreeSGD();
    await assert.rejects(
      opt.setWeights([{ name: 'iter', tensor: tf.scalar(1, 'int32') }]),
      (e) =>
        e instanceof OptionError && /weightValues must be the list from getWeights/.test(e.message),
    );
    const state = (words: number[]) => ({
      name: 'scheduleFree',
      tensor: tf.tensor1d(words, 'int32'),
    });
    await assert.rejects(
      opt.setWeights([{ name: 'iter', tensor: tf.scalar(1, 'int32') }, state([0, 1])]),
      /weightValues 'scheduleFree' must be an int32 tensor of 9 words/,
    );
    await assert.rejects(
      opt.setWeights([
        { name: 'iter', tensor: tf.scalar(1, 'int32') },
        state([7, 0, 0, 0, 0, 0, 0, 0, 0]),
      ]),
      /ScheduleFreeSGD\.setWeights: state\.extra\["scheduleFree\.mode"\] must be one of 'train', 'eval'; received 7/,
    );
    await assert.rejects(
      opt.setWeights([
        { name: 'iter', tensor: tf.scalar(1, 'int32') },
        state([0, 0, 0, 0, 0, 0, 0, 0, 0]),
        { name: 'v/exp_avg_sq', tensor: tf.zeros([2]) },
      ]),
      /weightValues name must be '<variable>\/<slot>' with slot z; received "v\/exp_avg_sq"/,
    );
    assert.equal(opt.iterations, 0, 'a rejected list changes nothing');
    assert.throws(() => opt.eval([42] as never), /variables must be/);
    opt.dispose();
  });

  test('getConfig / fromConfig round trip, registered as decoupled.ScheduleFree*', async () => {
    await useBackend('cpu');
    // tf.Optimizer's instanceof is duck-typed; these classes check the prototype chain.
    assert.equal(new AdamW() instanceof ScheduleFreeOptimizer, false);
    assert.equal(new ScheduleFreeSGD() instanceof ScheduleFreeAdamW, false);
    assert.equal(new ScheduleFreeSGD() instanceof ScheduleFreeOptimizer, true);
    for (const opt of [
      new ScheduleFreeAdamW({
        lr: 0.01,
        warmupSteps: 5,
        r: 0.5,
        weightLrPower: 1,
        clipNorm: 2,
        excludeFromDecay: { patterns: ['emb_'] },
      }),
      new ScheduleFreeSGD({ lr: 2, momentum: 0.95, weightDecay: 1e-4, nonFinite: 'skip' }),
    ]) {
      const config = opt.getConfig();
      const [cls, fromConfig] =
        tf.serialization.SerializationMap.getMap().classNameMap[opt.getClassName()];
      assert.match(opt.getClassName(), /^decoupled\.ScheduleFree(AdamW|SGD)$/);
      assert.deepEqual(fromConfig(cls, config).getConfig(), config);
    }
  });
});

/** A small MLP with BatchNormalization (moving statistics that follow y in training). */
function bnModel(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [6],
        units: 16,
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.batchNormalization({ momentum: 0.9 }),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

/** Three separable blobs in 6 dimensions. */
function blobs(n: number) {
  const rand = prng(9);
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const xs = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) xs[i * 6 + j] = (j % 3 === labels[i] ? 1.5 : 0) + (rand() - 0.5);
  }
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
  return { x: tf.tensor2d(xs, [n, 6]), y };
}

const weightsOf = (model: tfl.LayersModel) =>
  model.getWeights().map((w) => Array.from(w.dataSync()));

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`schedule-free in tfjs-layers on ${backend}`, () => {
    test('model.fit trains; eval() with BatchNorm statistics recomputed; fit in eval mode throws', async () => {
      await useBackend(backend);
      const { x, y } = blobs(96);
      const model = bnModel(1);
      const opt = new ScheduleFreeAdamW({ lr: 0.02, warmupSteps: 6 });
      model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const history = await model.fit(x, y, {
        batchSize: 32,
        epochs: 6,
        shuffle: false,
        verbose: 0,
      });
      const losses = history.history.loss as number[];
      assert.ok(losses[5] < losses[0] / 2, `loss falls: ${losses}`);
      assert.equal(opt.iterations, 18);
      opt.eval();
      // Recompute the BatchNorm statistics at x: forward passes in training mode, no steps.
      for (let k = 0; k < 20; k++) {
        tf.tidy(() => {
          model.apply(x, { training: true });
        });
      }
      const [, accuracy] = model.evaluate(x, y) as tf.Scalar[];
      assert.ok(accuracy.dataSync()[0] > 0.9, `accuracy at x ${accuracy.dataSync()[0]}`);
      await assert.rejects(
        model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0 }),
        (e) => e instanceof OptionError && /mode must be 'train'/.test(e.message),
      );
      opt.train();
      await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0 });
      assert.equal(opt.iterations, 21);
      model.dispose();
      tf.dispose([x, y]);
    });

    for (const mode of ['train', 'eval'] as const) {
      test(`model.save({ includeOptimizer }) in ${mode} mode, load, fit again == uninterrupted`, async () => {
        await useBackend(backend);
        const { x, y } = blobs(48);
        const fitArgs = { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 } as const;
        const model = bnModel(2);
        const opt = new ScheduleFreeSGD({
          lr: 0.5,
          warmupSteps: 3,
          weightDecay: 1e-3,
          clipNorm: 5,
        });
        model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
        await model.fit(x, y, fitArgs);
        if (mode === 'eval') opt.eval();
        const artifacts = await saveToMemory(model);
        opt.train();
        await model.fit(x, y, fitArgs);
        const uninterrupted = weightsOf(model);

        const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
        const resumed = loaded.optimizer as ScheduleFreeSGD;
        assert.ok(resumed instanceof ScheduleFreeSGD);
        assert.equal(resumed.iterations, 6);
        assert.equal(resumed.mode, mode);
        assert.deepEqual(resumed.getConfig(), opt.getConfig());
        resumed.train(loaded.trainableWeights);
        await loaded.fit(x, y, fitArgs);
        assert.deepEqual(weightsOf(loaded), uninterrupted);
        model.dispose();
        loaded.dispose();
        tf.dispose([x, y]);
      });
    }
  });
}

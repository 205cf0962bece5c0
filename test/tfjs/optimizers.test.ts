/**
 * The tfjs optimizers against the core (same data, same trajectory, on cpu and wasm), and their
 * options: decay exclusion, clipping, the nonFinite policy, state, errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Adam as CoreAdam } from '#decoupled/core/adam.js';
import { AdamW as CoreAdamW } from '#decoupled/core/adamw.js';
import { clipGradNorm } from '#decoupled/core/clip.js';
import { NonFiniteGradientError, OptionError } from '#decoupled/core/errors.js';
import {
  type AdamStepScalars,
  adamReferenceUpdate,
  type SgdScalars,
  sgdReferenceUpdate,
} from '#decoupled/core/kernels.js';
import { groupParams, orderByGroups } from '#decoupled/core/param-groups.js';
import { AdamWR as CoreAdamWR, SGDWR as CoreSGDWR } from '#decoupled/core/restarts.js';
import { cosine, stepDecay } from '#decoupled/core/schedules.js';
import { SGD as CoreSGD } from '#decoupled/core/sgd.js';
import { SGDW as CoreSGDW } from '#decoupled/core/sgdw.js';
import { wasmKernels } from '#decoupled/kernels/wasm.js';
import {
  ADAM_KERNEL,
  Adam,
  AdamW,
  AdamWR,
  type DecoupledOptimizer,
  registerOptimizerKernels,
  SGD,
  SGD_KERNEL,
  SGDW,
  SGDWR,
} from '#decoupled/tfjs/index.js';
import { prng, randomArray, useBackend } from './helpers.js';

interface CoreLike {
  step(grads: Float32Array[]): boolean;
}

interface Case {
  name: string;
  tfjs: () => DecoupledOptimizer;
  core: (groups: ReturnType<typeof groupParams>) => CoreLike;
}

const restarts = { lambdaNorm: 0.05, batchSize: 10, datasetSize: 40, t0: 1, tMult: 2 };

const cases: Case[] = [
  {
    name: 'AdamW, cosine schedule',
    tfjs: () => new AdamW({ lr: 0.01, weightDecay: 0.1, schedule: cosine({ total: 6 }) }),
    core: (g) => new CoreAdamW(g, { lr: 0.01, weightDecay: 0.1, schedule: cosine({ total: 6 }) }),
  },
  {
    name: "AdamW, amsgrad, maximize, decayScale 'schedule', step decay",
    tfjs: () =>
      new AdamW({
        lr: 0.02,
        amsgrad: true,
        maximize: true,
        decayScale: 'schedule',
        weightDecay: 0.2,
        schedule: stepDecay({ milestones: [2, 4], gamma: 0.5 }),
      }),
    core: (g) =>
      new CoreAdamW(g, {
        lr: 0.02,
        amsgrad: true,
        maximize: true,
        decayScale: 'schedule',
        weightDecay: 0.2,
        schedule: stepDecay({ milestones: [2, 4], gamma: 0.5 }),
      }),
  },
  {
    name: 'Adam with L2',
    tfjs: () => new Adam({ lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99], eps: 1e-6 }),
    core: (g) => new CoreAdam(g, { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99], eps: 1e-6 }),
  },
  {
    name: 'SGDW, nesterov',
    tfjs: () => new SGDW({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.05 }),
    core: (g) => new CoreSGDW(g, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.05 }),
  },
  {
    name: 'SGD, momentum with dampening, L2',
    tfjs: () => new SGD({ lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
    core: (g) => new CoreSGD(g, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
  },
  {
    name: 'AdamW, cautiousDecay',
    tfjs: () => new AdamW({ lr: 0.05, weightDecay: 0.5, cautiousDecay: true }),
    core: (g) => new CoreAdamW(g, { lr: 0.05, weightDecay: 0.5, cautiousDecay: true }),
  },
  {
    name: "SGDW, cautiousDecay, momentum, decayScale 'schedule'",
    tfjs: () =>
      new SGDW({
        lr: 0.1,
        momentum: 0.9,
        weightDecay: 0.3,
        cautiousDecay: true,
        decayScale: 'schedule',
      }),
    core: (g) =>
      new CoreSGDW(g, {
        lr: 0.1,
        momentum: 0.9,
        weightDecay: 0.3,
        cautiousDecay: true,
        decayScale: 'schedule',
      }),
  },
  {
    name: 'AdamWR',
    tfjs: () => new AdamWR({ lr: 0.01, ...restarts }),
    core: (g) => new CoreAdamWR(g, { lr: 0.01, ...restarts }),
  },
  {
    name: 'SGDWR',
    tfjs: () => new SGDWR({ lr: 0.1, momentum: 0.9, ...restarts }),
    core: (g) => new CoreSGDWR(g, { lr: 0.1, momentum: 0.9, ...restarts }),
  },
];

const SHAPES: Record<string, number[]> = { 'dense/kernel': [5, 7], 'dense/bias': [7] };
const STEPS = 7;

/** Runs `c` for STEPS steps on the active backend and on the core; returns both final params. */
function runBoth(c: Case, seed: number) {
  const rand = prng(seed);
  const init: Record<string, Float32Array> = {};
  const vars: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    init[name] = randomArray(rand, tf.util.sizeFromShape(shape));
    vars[name] = tf.variable(
      tf.tensor(init[name], shape),
      true,
      `${name}_${seed}_${tf.getBackend()}`,
    );
  }
  const coreParams: Record<string, Float32Array> = {};
  const groups = groupParams(
    Object.entries(SHAPES).map(([name, shape]) => {
      coreParams[name] = init[name].slice();
      return [name, { values: coreParams[name], shape }] as const;
    }),
  );
  const core = c.core(groups);
  const opt = c.tfjs();
  for (let s = 0; s < STEPS; s++) {
    const grads: Record<string, Float32Array> = {};
    for (const [name, shape] of Object.entries(SHAPES)) {
      grads[name] = randomArray(rand, tf.util.sizeFromShape(shape));
    }
    const tensors = Object.entries(grads).map(([name, g]) => ({
      name: vars[name].name,
      tensor: tf.tensor(g, SHAPES[name]),
    }));
    opt.applyGradients(tensors);
    tf.dispose(tensors.map((t) => t.tensor));
    core.step(orderByGroups(groups, grads));
  }
  const out = Object.keys(SHAPES).map((name) => ({
    name,
    tfjs: Array.from(vars[name].dataSync()),
    core: Array.from(coreParams[name]),
  }));
  opt.dispose();
  tf.dispose(Object.values(vars));
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`tfjs optimizers on ${backend}: the core's trajectory`, () => {
    for (const c of cases) {
      test(c.name, async () => {
        await useBackend(backend);
        for (const r of runBoth(c, 7)) {
          // Same float32 operations in the same order: equal bit for bit.
          assert.deepEqual(r.tfjs, r.core, `${r.name} after ${STEPS} steps`);
          assert.notDeepEqual(r.tfjs, [], 'params were read');
        }
      });
    }
  });
}

test('a backend without the fused kernels runs the core loops through dataSync', async () => {
  await useBackend('cpu');
  try {
    for (const c of [cases[1], cases[4]]) {
      const withoutKernels: Case = {
        ...c,
        tfjs: () => {
          const opt = c.tfjs(); // registers the kernels: remove them after
          tf.unregisterKernel(ADAM_KERNEL, 'cpu');
          tf.unregisterKernel(SGD_KERNEL, 'cpu');
          return opt;
        },
      };
      for (const r of runBoth(withoutKernels, 9)) assert.deepEqual(r.tfjs, r.core, r.name);
      assert.equal(tf.getKernel(ADAM_KERNEL, 'cpu'), undefined, 'ran without the kernel');
    }
  } finally {
    registerOptimizerKernels();
  }
});

describe('tfjs optimizers: options and state', () => {
  test('decay exclusion: default rule, patterns, predicate, useDefaultRule', async () => {
    await useBackend('cpu');
    const kernel = tf.variable(tf.ones([2, 2]), true, 'ex/dense/kernel');
    const bias = tf.variable(tf.ones([2]), true, 'ex/dense/bias');
    const gamma = tf.variable(tf.ones([2]), true, 'ex/layer_norm/gamma');
    const embed = tf.variable(tf.ones([2, 2]), true, 'ex/embedding/embeddings');
    const all = [kernel, bias, gamma, embed];
    const run = (opt: DecoupledOptimizer) => {
      for (const v of all) v.assign(tf.ones(v.shape));
      // A zero gradient: AdamW's Adam part is 0, so only the decay moves a weight.
      opt.applyGradients(all.map((v) => ({ name: v.name, tensor: tf.zerosLike(v) })));
      return all.map((v) => v.dataSync()[0]);
    };
    const decayed = Math.fround(1 - 0.5 * 0.1);
    assert.deepEqual(run(new AdamW({ lr: 0.5, weightDecay: 0.1 })), [decayed, 1, 1, decayed]);
    assert.deepEqual(
      run(new AdamW({ lr: 0.5, weightDecay: 0.1, excludeFromDecay: { patterns: ['embedding'] } })),
      [decayed, 1, 1, 1],
    );
    assert.deepEqual(
      run(new AdamW({ lr: 0.5, weightDecay: 0.1, excludeFromDecay: { patterns: [/kernel$/] } })),
      [1, 1, 1, decayed],
    );
    assert.deepEqual(
      run(
        new AdamW({
          lr: 0.5,
          weightDecay: 0.1,
          excludeFromDecay: { useDefaultRule: false, predicate: (name) => name.includes('gamma') },
        }),
      ),
      [decayed, decayed, 1, decayed],
    );
    const opt = new AdamW();
    assert.equal(opt.isExcludedFromDecay('bn/moving_mean', [4]), true);
    assert.equal(opt.isExcludedFromDecay('conv/kernel', [3, 3, 1, 4]), false);
    tf.dispose(all);
  });

  test('clipNorm scales the gradients as the core clipGradNorm does', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const rand = prng(3);
      const init = randomArray(rand, 30);
      const v = tf.variable(tf.tensor(init, [5, 6]), true, `clip/kernel/${backend}`);
      const g = randomArray(rand, 30, 4);
      const opt = new SGD({ lr: 0.1, clipNorm: 0.5 });
      const gt = tf.tensor(g, [5, 6]);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      assert.deepEqual(
        Array.from(gt.dataSync()),
        Array.from(g),
        "the caller's gradient is unchanged",
      );
      const expected = init.slice();
      const clipped = g.slice();
      const norm = clipGradNorm([clipped], 0.5);
      new CoreSGD([expected], { lr: 0.1 }).step([clipped]);
      assert.ok(norm > 0.5);
      assert.equal(opt.lastGradNorm, norm);
      assert.deepEqual(Array.from(v.dataSync()), Array.from(expected));
      tf.dispose([v, gt]);
    }
  });

  test("nonFinite: 'error' changes nothing, 'skip' skips the step", async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const v = tf.variable(tf.ones([3]), true, `nf/${backend}`);
      const bad = [{ name: v.name, tensor: tf.tensor([1, Number.NaN, 2]) }];
      const opt = new AdamW({ lr: 0.1 });
      assert.throws(() => opt.applyGradients(bad), NonFiniteGradientError);
      assert.deepEqual(Array.from(v.dataSync()), [1, 1, 1]);
      assert.equal(opt.iterations, 0);
      const skipping = new AdamW({ lr: 0.1, nonFinite: 'skip' });
      skipping.applyGradients(bad);
      assert.equal(skipping.skippedSteps, 1);
      assert.equal(skipping.iterations, 0);
      assert.deepEqual(Array.from(v.dataSync()), [1, 1, 1]);
      tf.dispose([v, bad[0].tensor]);
    }
  });

  test('getWeights/setWeights carry the step count and every slot: resume is exact', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const make = () =>
        new AdamW({ lr: 0.01, amsgrad: true, schedule: cosine({ total: 10 }), weightDecay: 0.1 });
      const rand = prng(11);
      const init = randomArray(rand, 12);
      const grads = Array.from({ length: 8 }, () => randomArray(rand, 12));
      const a = tf.variable(tf.tensor(init, [3, 4]), true, `resume/a/${backend}`);
      const b = tf.variable(tf.tensor(init, [3, 4]), true, `resume/b/${backend}`);
      const step = (opt: DecoupledOptimizer, v: tf.Variable, g: Float32Array) => {
        const t = tf.tensor(g, [3, 4]);
        opt.applyGradients({ [v.name]: t });
        t.dispose();
      };
      const straight = make();
      for (const g of grads) step(straight, a, g);
      const first = make();
      for (const g of grads.slice(0, 5)) step(first, b, g);
      const saved = await first.getWeights();
      assert.deepEqual(
        saved.map((w) => w.name),
        ['iter', ...['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'].map((s) => `${b.name}/${s}`)],
      );
      // A fresh optimizer (as after loading a model) continues where the first stopped.
      const copies = saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      const second = make();
      await second.setWeights(copies);
      tf.dispose(copies.map((c) => c.tensor));
      first.dispose();
      assert.equal(second.iterations, 5);
      for (const g of grads.slice(5)) step(second, b, g);
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([a, b]);
    }
  });

  test('restored state binds by name without the _N suffix, then by order; shapes must agree', async () => {
    await useBackend('cpu');
    const a = tf.variable(tf.ones([2, 3]), true, 'bind/dense/kernel');
    const b = tf.variable(tf.ones([3]), true, 'bind/other');
    const opt = new SGD({ lr: 0.1, momentum: 0.5 });
    const gA = tf.fill([2, 3], 2);
    const gB = tf.fill([3], 4);
    opt.applyGradients([
      { name: b.name, tensor: gB },
      { name: a.name, tensor: gA },
    ]);
    const saved = await opt.getWeights();
    // Renamed as on a reload (kernel -> kernel_1), an unrelated name, and a different order.
    const a1 = tf.variable(a.clone(), true, 'bind/dense/kernel_1');
    const b1 = tf.variable(b.clone(), true, 'bind/renamed');
    const resumed = new SGD({ lr: 0.1, momentum: 0.5 });
    await resumed.setWeights(saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
    resumed.applyGradients([
      { name: a1.name, tensor: gA },
      { name: b1.name, tensor: gB },
    ]);
    opt.applyGradients([
      { name: a.name, tensor: gA },
      { name: b.name, tensor: gB },
    ]);
    assert.deepEqual(Array.from(a1.dataSync()), Array.from(a.dataSync()));
    assert.deepEqual(Array.from(b1.dataSync()), Array.from(b.dataSync()));
    const wrong = new SGD({ lr: 0.1, momentum: 0.5 });
    await wrong.setWeights(saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
    const c = tf.variable(tf.ones([4]), true, 'bind/c');
    assert.throws(
      () => wrong.applyGradients([{ name: c.name, tensor: tf.ones([4]) }]),
      /restored state 'bind\/other' shape must be the shape of variable 'bind\/c'/,
    );
    tf.dispose([a, b, a1, b1, c, gA, gB]);
  });

  test('setWeights checks every entry before it replaces or allocates anything', async () => {
    await useBackend('cpu');
    const x = tf.variable(tf.ones([3]), true, 'restore-check/x');
    const opt = new AdamW({ lr: 0.1 });
    const g = tf.fill([3], 0.5);
    opt.applyGradients([{ name: x.name, tensor: g }]);
    const before = (await opt.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    const iter = tf.scalar(7, 'int32');
    const good = tf.fill([3], 2);
    const tensors = tf.memory().numTensors;
    const bad = [
      { name: 'iter', tensor: iter },
      { name: 'restore-check/x/exp_avg', tensor: good },
      { name: 'restore-check/x/momentum', tensor: good },
    ];
    await assert.rejects(opt.setWeights(bad), /weightValues name must be '<variable>\/<slot>'/);
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(opt.iterations, 1);
    const after = (await opt.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    assert.deepEqual(after, before);
    opt.dispose();
    tf.dispose([x, g, iter, good]);
  });

  test('minimize updates the trainable variables it is given or finds', async () => {
    await useBackend('cpu');
    const x = tf.variable(tf.tensor([3, -2]), true, 'minimize/x');
    const opt = new SGD({ lr: 0.25 });
    for (let i = 0; i < 20; i++) opt.minimize(() => tf.sum(tf.square(x)), false, [x]);
    // x <- x - 0.25 * 2x = x / 2 each step.
    assert.deepEqual(Array.from(x.dataSync()), [3 / 2 ** 20, -2 / 2 ** 20]);
    x.dispose();
  });

  test('bad options give errors naming the option, the value and what is allowed', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => new AdamW({ lr: -1 }), /AdamW: lr must be a finite number >= 0; received -1/],
      [() => new AdamW({ clipNorm: 0 }), /clipNorm must be a finite number > 0; received 0/],
      [
        () => new AdamW({ lr: 1, lrr: 2 } as never),
        /AdamW: .*lrr.*lr, .*clipNorm, excludeFromDecay/,
      ],
      [() => new AdamW({ params: [] } as never), /params must be not given: tfjs optimizers take/],
      [() => new SGD({ nesterov: true }), /nesterov must be used only with momentum > 0/],
      [
        () => new AdamW({ excludeFromDecay: { patterns: [3] } } as never),
        /excludeFromDecay.patterns must be an array of strings and RegExps; received \[3\]/,
      ],
      [
        () => new AdamW({ excludeFromDecay: { bias: true } } as never),
        /excludeFromDecay\.bias.*patterns, predicate, useDefaultRule/,
      ],
      [
        () => new AdamWR({ lr: 0.1, ...restarts, weightDecay: 0.1 } as never),
        /weightDecay must be not given: AdamWR sets it/,
      ],
      [
        () => new AdamWR({ lr: 0.1 } as never),
        /AdamWR: lambdaNorm must be a finite number >= 0; received undefined/,
      ],
      [
        () => new AdamW({ excludeFromDecay: { predicate: () => true } }).getConfig(),
        /excludeFromDecay.predicate must be absent for a saved optimizer/,
      ],
      [
        () => new AdamW({ schedule: (t: number) => 1 / (1 + t) }).getConfig(),
        /schedule must be a number or a schedule from decoupled \(with a config\)/,
      ],
    ];
    for (const [make, message] of cases) {
      assert.throws(make, (e: unknown) => e instanceof OptionError && message.test(e.message));
    }
  });

  test('applyGradients rejects a gradient of the wrong shape before writing anything', async () => {
    await useBackend('cpu');
    const a = tf.variable(tf.ones([2]), true, 'shape/a');
    const b = tf.variable(tf.ones([3]), true, 'shape/b');
    const opt = new AdamW({ lr: 0.1 });
    assert.throws(
      () => opt.applyGradients({ [a.name]: tf.ones([2]), [b.name]: tf.ones([2]) }),
      /gradient of 'shape\/b' shape must be the variable's shape \[3\]; received \[2\]/,
    );
    assert.deepEqual(Array.from(a.dataSync()), [1, 1]);
    assert.equal(opt.iterations, 0);
    tf.dispose([a, b]);
  });
});

/**
 * The calling convention (kernels/abi.ts) on its edge cases: the tfjs kernels on cpu and wasm
 * and the core's WASM kernels give the reference loop's bits. Before the convention was one
 * module, the tfjs wasm kernel set the L2 flag for an l2 that rounds to 0 in float32 (0 * Infinity
 * then made m and v NaN) and had no bc2Sqrt range guard.
 */
describe('one calling convention: tfjs kernels and core kernels agree on its edge cases', () => {
  const n = 100; // above the length below which the core's WASM path runs the reference loop
  const edgeArrays = () => {
    const rand = prng(5);
    const p = randomArray(rand, n);
    const g = randomArray(rand, n);
    p.set([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0]);
    g.set([-0, 0.5, -0, 0.25], 4);
    return { p, g, m: randomArray(rand, n, 0.1), v: randomArray(rand, n, 0.1).map(Math.abs) };
  };
  const adamBase = {
    stepSize: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    biasCorrection2Sqrt: 0.05,
    l2: 0,
    decayFactor: 1,
    amsgrad: false,
    maximize: false,
  };
  const adamCases: [string, AdamStepScalars][] = [
    ['l2 that rounds to 0 in float32', { ...adamBase, l2: 1e-50 }],
    ['bc2Sqrt below 2^-126 (subnormal)', { ...adamBase, biasCorrection2Sqrt: 1e-39 }],
    ['bc2Sqrt above 1', { ...adamBase, biasCorrection2Sqrt: 3.7, maximize: true }],
    ['amsgrad with l2 and decay', { ...adamBase, l2: 0.01, decayFactor: 0.999, amsgrad: true }],
  ];
  const sgdBase = {
    lr: 0.01,
    momentum: 0.9,
    dampening: 0.1,
    nesterov: true,
    l2: 0,
    decayFactor: 1,
    maximize: false,
  };
  const sgdCases: [string, SgdScalars][] = [
    ['l2 that rounds to 0 in float32', { ...sgdBase, l2: 1e-50, firstStep: false }],
    ['first step, l2 that rounds to 0', { ...sgdBase, l2: 1e-50, firstStep: true }],
    ['no momentum, nesterov and firstStep set', { ...sgdBase, momentum: 0, firstStep: true }],
  ];
  const bits = (a: Float32Array | tf.Tensor) =>
    Array.from(a instanceof tf.Tensor ? a.dataSync() : a);

  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [name, s] of adamCases) {
      test(`Adam on ${backend}: ${name}`, async () => {
        await useBackend(backend);
        const a = edgeArrays();
        const vMax = a.v.map((x) => x * 2);
        const ref = { p: a.p.slice(), m: a.m.slice(), v: a.v.slice(), vMax: vMax.slice() };
        adamReferenceUpdate(ref.p, a.g, ref.m, ref.v, ref.vMax, s);
        const core = { p: a.p.slice(), m: a.m.slice(), v: a.v.slice(), vMax: vMax.slice() };
        wasmKernels.adam(core.p, a.g, core.m, core.v, core.vMax, s);
        const t = {
          param: tf.tensor(a.p),
          grad: tf.tensor(a.g),
          m: tf.tensor(a.m),
          v: tf.tensor(a.v),
          vMax: tf.tensor(vMax),
        };
        const { vMax: vMaxTensor, ...withoutVMax } = t;
        const inputs = s.amsgrad ? { ...withoutVMax, vMax: vMaxTensor } : withoutVMax;
        const out = tf.engine().runKernel(ADAM_KERNEL, inputs as never, { ...s }) as
          | tf.Tensor
          | tf.Tensor[];
        const param = out instanceof tf.Tensor ? out : t.param;
        for (const [slot, expected] of Object.entries(ref)) {
          const got = slot === 'p' ? param : t[slot as 'm' | 'v' | 'vMax'];
          if (slot === 'vMax' && !s.amsgrad) continue;
          assert.deepEqual(bits(got), bits(expected), `tfjs ${backend} ${slot}`);
          assert.deepEqual(bits(core[slot as keyof typeof core]), bits(expected), `core ${slot}`);
        }
        assert.ok(!ref.m.some(Number.isNaN), 'the reference keeps m finite');
        tf.dispose([...Object.values(t), param]);
      });
    }
    for (const [name, s] of sgdCases) {
      test(`SGD on ${backend}: ${name}`, async () => {
        await useBackend(backend);
        const a = edgeArrays();
        const buf = s.momentum !== 0 ? a.m : null;
        const ref = { p: a.p.slice(), buf: buf?.slice() ?? null };
        sgdReferenceUpdate(ref.p, a.g, ref.buf, s);
        const core = { p: a.p.slice(), buf: buf?.slice() ?? null };
        wasmKernels.sgd(core.p, a.g, core.buf, s);
        const t = { param: tf.tensor(a.p), grad: tf.tensor(a.g), buf: buf && tf.tensor(buf) };
        const inputs = t.buf ? t : { param: t.param, grad: t.grad };
        const out = tf.engine().runKernel(SGD_KERNEL, inputs as never, { ...s }) as
          | tf.Tensor
          | tf.Tensor[];
        const param = out instanceof tf.Tensor ? out : t.param;
        assert.deepEqual(bits(param), bits(ref.p), `tfjs ${backend} param`);
        assert.deepEqual(bits(core.p), bits(ref.p), 'core param');
        if (t.buf && ref.buf && core.buf) {
          assert.deepEqual(bits(t.buf), bits(ref.buf), `tfjs ${backend} buf`);
          assert.deepEqual(bits(core.buf), bits(ref.buf), 'core buf');
        }
        tf.dispose([t.param, t.grad, param, ...(t.buf ? [t.buf] : [])]);
      });
    }
  }
});

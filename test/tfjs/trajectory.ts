/**
 * Runs a tfjs optimizer and a core optimizer on the same weights and gradients, call by call, and
 * records the weights (and the averages, with `ema`) after every call, by variable name, for the
 * tests of ema and accumulate (./ema.test.ts, ./accumulate.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Adam as CoreAdam } from '#decoupled/core/adam.js';
import { AdamW as CoreAdamW } from '#decoupled/core/adamw.js';
import { groupParams, orderByGroups } from '#decoupled/core/param-groups.js';
import { AdamWR as CoreAdamWR, SGDWR as CoreSGDWR } from '#decoupled/core/restarts.js';
import { cosine } from '#decoupled/core/schedules.js';
import { SGD as CoreSGD } from '#decoupled/core/sgd.js';
import { SGDW as CoreSGDW } from '#decoupled/core/sgdw.js';
import {
  Adam,
  AdamW,
  AdamWR,
  type DecoupledOptimizer,
  SGD,
  SGDW,
  SGDWR,
} from '#decoupled/tfjs/index.js';
import { prng, randomArray } from './helpers.js';

export const SHAPES: Record<string, number[]> = { 'dense/kernel': [5, 7], 'dense/bias': [7] };
const NAMES = Object.keys(SHAPES);

/** Per call, per variable name: weights, and averages when asked for. */
export interface Trace {
  weights: Record<string, number[]>[];
  averages: Record<string, number[]>[];
}

/** The seeded start and the gradients of `calls` calls (call `nanAt` has a NaN in its bias). */
export function problem(seed: number, calls: number, nanAt = -1) {
  const rand = prng(seed);
  const init: Record<string, Float32Array> = {};
  for (const name of NAMES) init[name] = randomArray(rand, tf.util.sizeFromShape(SHAPES[name]));
  const grads = Array.from({ length: calls }, (_, c) => {
    const g: Record<string, Float32Array> = {};
    for (const name of NAMES) g[name] = randomArray(rand, tf.util.sizeFromShape(SHAPES[name]), 2);
    if (c === nanAt) g['dense/bias'][3] = Number.NaN;
    return g;
  });
  return { init, grads };
}

let serial = 0;

/** Variables named `<name>_<n>` holding `init`; dispose them after. */
export function makeVariables(init: Record<string, Float32Array>): Record<string, tf.Variable> {
  serial++;
  const vars: Record<string, tf.Variable> = {};
  for (const name of NAMES) {
    vars[name] = tf.variable(tf.tensor(init[name], SHAPES[name]), true, `${name}_${serial}`);
  }
  return vars;
}

/** One applyGradients with `g` (by name) on `vars`; the gradient tensors are disposed after. */
export function applyTo(
  opt: DecoupledOptimizer,
  vars: Record<string, tf.Variable>,
  g: Record<string, Float32Array>,
) {
  const tensors = NAMES.map((name) => ({
    name: vars[name].name,
    tensor: tf.tensor(g[name], SHAPES[name]),
  }));
  try {
    opt.applyGradients(tensors);
  } finally {
    tf.dispose(tensors.map((t) => t.tensor));
  }
}

/** The averages of a tfjs optimizer by name (read and disposed). */
export function tfjsAverages(
  opt: DecoupledOptimizer,
  vars: Record<string, tf.Variable>,
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { name, tensor } of opt.averages()) {
    const key = NAMES.find((n) => vars[n].name === name) as string;
    out[key] = Array.from(tensor.dataSync());
    tensor.dispose();
  }
  return out;
}

/** Runs `opt` over every call of `grads` from `init`; records after each call. */
export function runTfjs(
  opt: DecoupledOptimizer,
  init: Record<string, Float32Array>,
  grads: Record<string, Float32Array>[],
  withAverages: boolean,
): Trace {
  const vars = makeVariables(init);
  const trace: Trace = { weights: [], averages: [] };
  for (const g of grads) {
    applyTo(opt, vars, g);
    trace.weights.push(Object.fromEntries(NAMES.map((n) => [n, Array.from(vars[n].dataSync())])));
    if (withAverages) trace.averages.push(tfjsAverages(opt, vars));
  }
  opt.dispose();
  tf.dispose(Object.values(vars));
  return trace;
}

/** A copy of getWeights' list (the caller owns it), as a saved file would be. */
export async function savedWeights(opt: DecoupledOptimizer) {
  return (await opt.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
}

/**
 * One run of `make()` over every call, and one saved after `at` calls (`saved`: the copies its
 * getWeights gave, the caller's to dispose) and continued by a new `make()` from setWeights.
 * Returns both runs' weights and averages by name, and the resumed optimizer.
 */
export async function straightAndResumed(
  make: () => DecoupledOptimizer,
  init: Record<string, Float32Array>,
  grads: Record<string, Float32Array>[],
  at: number,
) {
  const straight = make();
  const a = makeVariables(init);
  for (const g of grads) applyTo(straight, a, g);
  const first = make();
  const b = makeVariables(init);
  for (const g of grads.slice(0, at)) applyTo(first, b, g);
  const saved = await savedWeights(first);
  first.dispose();
  const resumed = make();
  await resumed.setWeights(saved);
  const restored = { calls: resumed.accumulatedCalls, iterations: resumed.iterations };
  for (const g of grads.slice(at)) applyTo(resumed, b, g);
  const weights = (vars: Record<string, tf.Variable>) =>
    Object.fromEntries(NAMES.map((n) => [n, Array.from(vars[n].dataSync())]));
  const out = {
    saved,
    restored,
    straight: { weights: weights(a), averages: tfjsAverages(straight, a) },
    resumed: { weights: weights(b), averages: tfjsAverages(resumed, b) },
  };
  for (const opt of [straight, resumed]) opt.dispose();
  tf.dispose([...Object.values(a), ...Object.values(b)]);
  return out;
}

/** The core side: `make` builds the optimizer on the decay groups of the same parameters. */
export interface CoreLike {
  step(grads: Float32Array[]): boolean;
  averages(): Float32Array[];
}

export function runCore(
  make: (groups: ReturnType<typeof groupParams>) => CoreLike,
  init: Record<string, Float32Array>,
  grads: Record<string, Float32Array>[],
  withAverages: boolean,
): Trace {
  const params: Record<string, Float32Array> = {};
  const groups = groupParams(
    NAMES.map((name) => {
      params[name] = init[name].slice();
      return [name, { values: params[name], shape: SHAPES[name] }] as const;
    }),
  );
  const order = groups.flatMap((g) => g.names);
  const core = make(groups);
  const trace: Trace = { weights: [], averages: [] };
  for (const g of grads) {
    core.step(orderByGroups(groups, g));
    trace.weights.push(Object.fromEntries(NAMES.map((n) => [n, Array.from(params[n])])));
    if (withAverages) {
      const averages = core.averages();
      trace.averages.push(Object.fromEntries(order.map((n, i) => [n, Array.from(averages[i])])));
    }
  }
  return trace;
}

export const RESTARTS = { lambdaNorm: 0.05, batchSize: 10, datasetSize: 40, t0: 1, tMult: 2 };

/** Every class with options of its own, built with `extra` (ema, accumulate, nonFinite). */
export const CLASSES: {
  name: string;
  tfjs: (extra: object) => DecoupledOptimizer;
  core: (g: never, extra: object) => CoreLike;
}[] = [
  {
    name: 'AdamW, cosine',
    tfjs: (e) => new AdamW({ lr: 0.01, weightDecay: 0.1, schedule: cosine({ total: 8 }), ...e }),
    core: (g, e) =>
      new CoreAdamW(g, { lr: 0.01, weightDecay: 0.1, schedule: cosine({ total: 8 }), ...e }),
  },
  {
    name: 'Adam with L2',
    tfjs: (e) => new Adam({ lr: 0.01, weightDecay: 0.05, ...e }),
    core: (g, e) => new CoreAdam(g, { lr: 0.01, weightDecay: 0.05, ...e }),
  },
  {
    name: 'SGDW, nesterov',
    tfjs: (e) => new SGDW({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.05, ...e }),
    core: (g, e) =>
      new CoreSGDW(g, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.05, ...e }),
  },
  {
    name: 'SGD, momentum, L2',
    tfjs: (e) => new SGD({ lr: 0.05, momentum: 0.9, weightDecay: 0.01, ...e }),
    core: (g, e) => new CoreSGD(g, { lr: 0.05, momentum: 0.9, weightDecay: 0.01, ...e }),
  },
  {
    name: 'AdamWR',
    tfjs: (e) => new AdamWR({ lr: 0.01, ...RESTARTS, ...e }),
    core: (g, e) => new CoreAdamWR(g, { lr: 0.01, ...RESTARTS, ...e }),
  },
  {
    name: 'SGDWR',
    tfjs: (e) => new SGDWR({ lr: 0.1, momentum: 0.9, ...RESTARTS, ...e }),
    core: (g, e) => new CoreSGDWR(g, { lr: 0.1, momentum: 0.9, ...RESTARTS, ...e }),
  },
];

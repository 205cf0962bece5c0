/**
 * The optimizer cases of the GPU tests (test/tfjs/gpu.test.ts, run in Chromium by
 * test/tfjs/gpu-page.ts), and the run that compares one against the core: the same seeded
 * parameters and gradients through a tfjs optimizer on the active backend and through the core
 * optimizer on Float32Arrays, counting the backend's reads during every applyGradients.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { Adam as CoreAdam } from '#decoupled/core/adam.js';
import { AdamW as CoreAdamW } from '#decoupled/core/adamw.js';
import { clipGradNorm } from '#decoupled/core/clip.js';
import { groupParams, orderByGroups } from '#decoupled/core/param-groups.js';
import { AdamWR as CoreAdamWR, SGDWR as CoreSGDWR } from '#decoupled/core/restarts.js';
import {
  ScheduleFreeAdamW as CoreScheduleFreeAdamW,
  ScheduleFreeSGD as CoreScheduleFreeSGD,
} from '#decoupled/core/schedule-free.js';
import { cosine, stepDecay } from '#decoupled/core/schedules.js';
import { SGD as CoreSGD } from '#decoupled/core/sgd.js';
import { SGDW as CoreSGDW } from '#decoupled/core/sgdw.js';
import * as decoupled from '#decoupled/tfjs/index.js';
import { prng } from './browser-task.js';

interface CoreLike {
  stepCount: number;
  step(grads: Float32Array[]): boolean;
}

export interface GpuCase {
  name: string;
  tfjs: () => tfc.Optimizer;
  core: (groups: ReturnType<typeof groupParams>) => CoreLike;
  /** Global-norm clipping applied to the core's gradients (the tfjs optimizer gets clipNorm). */
  clipNorm?: number;
  /** A step whose gradient holds a NaN (nonFinite 'skip' cases). */
  nanAt?: number;
}

export interface CaseResult {
  name: string;
  /** Largest max|tfjs - core| / max|core| over the parameters after the last step. */
  relativeError: number;
  /** Backend reads (read + readSync) during all the applyGradients calls. */
  reads: number;
  steps: number;
  /** Parameters that changed from their initial values (a check that the steps did something). */
  changed: boolean;
}

const restarts = { lambdaNorm: 0.05, batchSize: 10, datasetSize: 40, t0: 1, tMult: 2 };
const sched = () => stepDecay({ milestones: [5, 12], gamma: 0.5 });

/** Options given to both sides; each case lists the family member and its options once. */
function pair(
  name: string,
  Tfjs: new (o: never) => tfc.Optimizer,
  Core: new (g: never, o: never) => CoreLike,
  options: () => Record<string, unknown>,
  extra: Partial<GpuCase> = {},
): GpuCase {
  const tfjsExtra: Record<string, unknown> = {};
  if (extra.clipNorm !== undefined) tfjsExtra.clipNorm = extra.clipNorm;
  // 'skip' (the browser default docs/tfjs.md recommends) checks on the device and reads nothing.
  tfjsExtra.nonFinite = 'skip';
  return {
    name,
    tfjs: () => new Tfjs({ ...options(), ...tfjsExtra } as never),
    core: (g) => new Core(g as never, options() as never),
    ...extra,
  };
}

export const CASES: GpuCase[] = [
  pair('AdamW, cosine', decoupled.AdamW, CoreAdamW, () => ({
    lr: 0.01,
    weightDecay: 0.1,
    schedule: cosine({ total: 20 }),
  })),
  pair("AdamW, amsgrad, maximize, decayScale 'schedule'", decoupled.AdamW, CoreAdamW, () => ({
    lr: 0.02,
    amsgrad: true,
    maximize: true,
    decayScale: 'schedule',
    weightDecay: 0.2,
    schedule: sched(),
  })),
  pair('Adam with L2, betas, eps', decoupled.Adam, CoreAdam, () => ({
    lr: 0.01,
    weightDecay: 0.05,
    betas: [0.8, 0.99],
    eps: 1e-6,
  })),
  pair('Adam, amsgrad, no decay', decoupled.Adam, CoreAdam, () => ({ lr: 0.01, amsgrad: true })),
  pair('AdamWR', decoupled.AdamWR, CoreAdamWR, () => ({ lr: 0.01, ...restarts })),
  pair('SGD, plain', decoupled.SGD, CoreSGD, () => ({ lr: 0.05 })),
  pair('SGD, momentum, dampening, L2, maximize', decoupled.SGD, CoreSGD, () => ({
    lr: 0.05,
    momentum: 0.9,
    dampening: 0.1,
    weightDecay: 0.01,
    maximize: true,
  })),
  pair('SGD, nesterov', decoupled.SGD, CoreSGD, () => ({
    lr: 0.05,
    momentum: 0.8,
    nesterov: true,
  })),
  pair('SGDW, nesterov, schedule', decoupled.SGDW, CoreSGDW, () => ({
    lr: 0.05,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 0.05,
    schedule: sched(),
  })),
  pair("SGDW, decayScale 'schedule'", decoupled.SGDW, CoreSGDW, () => ({
    lr: 0.05,
    momentum: 0.5,
    weightDecay: 0.1,
    decayScale: 'schedule',
  })),
  pair('SGDWR', decoupled.SGDWR, CoreSGDWR, () => ({ lr: 0.1, momentum: 0.9, ...restarts })),
  pair('AdamW, clipNorm', decoupled.AdamW, CoreAdamW, () => ({ lr: 0.01 }), { clipNorm: 2 }),
  pair('SGDW, momentum, clipNorm', decoupled.SGDW, CoreSGDW, () => ({ lr: 0.05, momentum: 0.9 }), {
    clipNorm: 2,
  }),
  pair(
    'ScheduleFreeAdamW, warmup, decay, r, clipNorm',
    decoupled.ScheduleFreeAdamW,
    CoreScheduleFreeAdamW,
    () => ({ lr: 0.01, warmupSteps: 4, weightDecay: 0.1, r: 0.5 }),
    { clipNorm: 2 },
  ),
  pair(
    'ScheduleFreeSGD, warmup, weightLrPower',
    decoupled.ScheduleFreeSGD,
    CoreScheduleFreeSGD,
    () => ({
      lr: 0.5,
      warmupSteps: 3,
      weightLrPower: 1,
    }),
  ),
  pair("AdamW, nonFinite 'skip'", decoupled.AdamW, CoreAdamW, () => ({ lr: 0.01 }), { nanAt: 6 }),
  pair(
    "SGD, momentum, nonFinite 'skip', clipNorm",
    decoupled.SGD,
    CoreSGD,
    () => ({ lr: 0.05, momentum: 0.9 }),
    { nanAt: 6, clipNorm: 2 },
  ),
  // ema and accumulate as tf ops on the device; `every` copies the averages into the weights.
  pair('AdamW, ema (debias, every 3), accumulate 2', decoupled.AdamW, CoreAdamW, () => ({
    lr: 0.01,
    weightDecay: 0.1,
    ema: { decay: 0.9, debias: true, every: 3 },
    accumulate: 2,
  })),
  pair('SGDW, momentum, ema (every 2), accumulate 3', decoupled.SGDW, CoreSGDW, () => ({
    lr: 0.05,
    momentum: 0.9,
    ema: { decay: 0.8, every: 2 },
    accumulate: 3,
  })),
];

/** A decayed kernel, an excluded bias, a conv kernel and a larger matrix. */
export const SHAPES: Record<string, number[]> = {
  'dense/kernel': [5, 7],
  'dense/bias': [7],
  'conv/kernel': [3, 3, 2, 4],
  'big/kernel': [64, 33],
};
export const STEPS = 20;

function randomArray(rand: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

/**
 * Wraps the read and readSync of `target` (default: the active backend) to count calls; returns
 * the count and an undo. A backend that keeps its data on the host (cpu) reads its own data in
 * its kernels; there the engine's read and readSync, which every download goes through, are the
 * ones to count.
 */
export function countReads(
  tf: typeof tfc,
  target: object = tf.backend(),
): { count: () => number; restore: () => void } {
  const backend = target as unknown as Record<string, (...args: unknown[]) => unknown>;
  let reads = 0;
  const originals = { read: backend.read, readSync: backend.readSync };
  for (const key of ['read', 'readSync'] as const) {
    const original = originals[key];
    backend[key] = function (this: unknown, ...args: unknown[]) {
      reads++;
      return original.apply(this, args);
    };
  }
  return {
    count: () => reads,
    restore: () => {
      backend.read = originals.read;
      backend.readSync = originals.readSync;
    },
  };
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Runs `c` for STEPS steps on the active backend and on the core. */
export async function runCase(
  tf: typeof tfc,
  c: GpuCase,
  seed: number,
  readsOf: object = tf.backend(),
): Promise<CaseResult> {
  const rand = prng(seed);
  const init: Record<string, Float32Array> = {};
  const vars: Record<string, tfc.Variable> = {};
  const coreParams: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    init[name] = randomArray(rand, tf.util.sizeFromShape(shape));
    coreParams[name] = init[name].slice();
    vars[name] = tf.variable(tf.tensor(init[name], shape), true, `${name}_${seed}`);
  }
  const groups = groupParams(
    Object.entries(SHAPES).map(
      ([name, shape]) => [name, { values: coreParams[name], shape }] as const,
    ),
  );
  const core = c.core(groups);
  const opt = c.tfjs();
  let reads = 0;
  for (let s = 0; s < STEPS; s++) {
    const grads: Record<string, Float32Array> = {};
    for (const [name, shape] of Object.entries(SHAPES)) {
      grads[name] = randomArray(rand, tf.util.sizeFromShape(shape));
    }
    if (s === c.nanAt) grads['conv/kernel'][3] = Number.NaN;
    const tensors = Object.entries(grads).map(([name, g]) => ({
      name: vars[name].name,
      tensor: tf.tensor(g, SHAPES[name]),
    }));
    const counter = countReads(tf, readsOf);
    try {
      opt.applyGradients(tensors);
    } finally {
      counter.restore();
    }
    reads += counter.count();
    tf.dispose(tensors.map((t) => t.tensor));
    const ordered = orderByGroups(groups, grads);
    if (s === c.nanAt) {
      // On the device a skipped step keeps every value and still counts (docs/tfjs.md).
      core.stepCount++;
      continue;
    }
    if (c.clipNorm !== undefined) clipGradNorm(ordered, c.clipNorm);
    core.step(ordered);
  }
  let relative = 0;
  let changed = false;
  for (const name of Object.keys(SHAPES)) {
    const values = await vars[name].data();
    relative = Math.max(relative, relativeError(values, coreParams[name]));
    changed ||= values.some((x, i) => x !== init[name][i]);
  }
  opt.dispose();
  tf.dispose(Object.values(vars));
  return { name: c.name, relativeError: relative, reads, steps: STEPS, changed };
}

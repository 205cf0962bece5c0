/**
 * The optimizer cases of the GPU tests (test/tfjs/gpu.test.ts, run in Chromium by
 * test/tfjs/gpu-page.ts), and the run that compares one against the core: the same seeded
 * parameters and gradients through a tfjs optimizer on the active backend and through the core
 * optimizer on Float32Arrays, counting the backend's reads during every applyGradients.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { Adam as CoreAdam } from '#decoupled/core/adam.js';
import { AdamW as CoreAdamW } from '#decoupled/core/adamw.js';
import { clipCoefficient, clipGradNorm } from '#decoupled/core/clip.js';
import { groupParams, orderByGroups } from '#decoupled/core/param-groups.js';
import { AdamWR as CoreAdamWR, SGDWR as CoreSGDWR } from '#decoupled/core/restarts.js';
import {
  ScheduleFreeAdamW as CoreScheduleFreeAdamW,
  ScheduleFreeSGD as CoreScheduleFreeSGD,
} from '#decoupled/core/schedule-free.js';
import { cosine, stepDecay } from '#decoupled/core/schedules.js';
import { SGD as CoreSGD } from '#decoupled/core/sgd.js';
import { SGDW as CoreSGDW } from '#decoupled/core/sgdw.js';
import { STATE, STATE_SIZE } from '#decoupled/tfjs/gpu/control.js';
import { deviceControl } from '#decoupled/tfjs/gpu/device-step.js';
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
  /** A non-finite element in one gradient of one step (nonFinite 'skip' cases). */
  bad?: BadElement;
}

/** Where a step's gradient is not finite: `value` at `index` (-1: the last) of `variable`. */
export interface BadElement {
  step: number;
  variable: string;
  index: number;
  value: number;
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
  pair(
    "AdamW, nonFinite 'skip': NaN in a later element",
    decoupled.AdamW,
    CoreAdamW,
    () => ({ lr: 0.01 }),
    {
      bad: { step: 6, variable: 'conv/kernel', index: 3, value: Number.NaN },
    },
  ),
  pair(
    "SGD, momentum, nonFinite 'skip', clipNorm: NaN in a later element",
    decoupled.SGD,
    CoreSGD,
    () => ({ lr: 0.05, momentum: 0.9 }),
    { bad: { step: 6, variable: 'conv/kernel', index: 3, value: Number.NaN }, clipNorm: 2 },
  ),
  pair(
    "AdamW, nonFinite 'skip': +Inf in the first element, first step",
    decoupled.AdamW,
    CoreAdamW,
    () => ({ lr: 0.01, weightDecay: 0.1 }),
    { bad: { step: 0, variable: 'dense/kernel', index: 0, value: Number.POSITIVE_INFINITY } },
  ),
  pair(
    "AdamW, amsgrad, nonFinite 'skip', clipNorm: -Inf in the last element",
    decoupled.AdamW,
    CoreAdamW,
    () => ({ lr: 0.01, amsgrad: true }),
    {
      bad: { step: 9, variable: 'big/kernel', index: -1, value: Number.NEGATIVE_INFINITY },
      clipNorm: 2,
    },
  ),
  pair(
    "SGDW, nesterov, nonFinite 'skip': -Inf in the first element of a bias",
    decoupled.SGDW,
    CoreSGDW,
    () => ({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.05 }),
    { bad: { step: 4, variable: 'dense/bias', index: 0, value: Number.NEGATIVE_INFINITY } },
  ),
  pair(
    "Adam with L2, nonFinite 'skip', clipNorm: +Inf in a later element, last step",
    decoupled.Adam,
    CoreAdam,
    () => ({ lr: 0.01, weightDecay: 0.05 }),
    {
      bad: { step: 19, variable: 'dense/kernel', index: 17, value: Number.POSITIVE_INFINITY },
      clipNorm: 1,
    },
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

/**
 * A decayed kernel, an excluded bias, a conv kernel, a larger matrix and a scalar (odd shapes and
 * ranks 0-4: webgl's packed programs leave lanes past an odd dimension unused).
 */
export const SHAPES: Record<string, number[]> = {
  'dense/kernel': [5, 7],
  'dense/bias': [7],
  'conv/kernel': [3, 3, 2, 4],
  'big/kernel': [64, 33],
  'scale/alpha': [],
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

/**
 * Puts `t` on the GPU as an unpacked texture, as an unpacked op's output would be (webgl; tfjs
 * otherwise uploads a tensor in the layout of the first program reading it: a packed one for
 * decoupled's programs). A no-op on other backends.
 */
export function uploadUnpacked(tf: typeof tfc, t: tfc.Tensor): void {
  const backend = tf.backend() as unknown as { uploadToGPU?: (dataId: tfc.DataId) => void };
  backend.uploadToGPU?.(t.dataId);
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

/**
 * Runs `c` for STEPS steps on the active backend and on the core; `unpackedGrads`: every other
 * gradient comes in an unpacked texture (uploadUnpacked).
 */
export async function runCase(
  tf: typeof tfc,
  c: GpuCase,
  seed: number,
  readsOf: object = tf.backend(),
  unpackedGrads = false,
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
    const bad = c.bad?.step === s ? c.bad : null;
    if (bad) {
      const g = grads[bad.variable];
      g[bad.index < 0 ? g.length + bad.index : bad.index] = bad.value;
    }
    const tensors = Object.entries(grads).map(([name, g]) => ({
      name: vars[name].name,
      tensor: tf.tensor(g, SHAPES[name]),
    }));
    if (unpackedGrads)
      for (const [i, t] of tensors.entries()) if (i % 2) uploadUnpacked(tf, t.tensor);
    const counter = countReads(tf, readsOf);
    try {
      opt.applyGradients(tensors);
    } finally {
      counter.restore();
    }
    reads += counter.count();
    tf.dispose(tensors.map((t) => t.tensor));
    const ordered = orderByGroups(groups, grads);
    if (bad) {
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

/**
 * The step control (src/tfjs/gpu/control.ts) on its own, against a reference computed here: 17
 * gradients (more than one webgl program's 15 textures and one webgpu dispatch's 7 buffers) of
 * odd and even sizes, one of 2^20 + 3 elements (combine passes on both backends), with a NaN, +Inf
 * or -Inf at the first, a middle or the last element of the first, a middle or the last
 * variable; also finite gradients whose float32 sum of squares overflows, and NaN with Inf. The
 * states chain through `prev`, so the skip count is checked too.
 */
export const CONTROL_SIZES = [
  5,
  2 ** 20 + 3,
  7,
  64,
  3,
  65536,
  1,
  2,
  100,
  33,
  4,
  9,
  16,
  1000,
  12,
  8,
  6,
];

const CONTROL_SETTINGS = [
  { clipNorm: null, nonFinite: 'skip' },
  { clipNorm: 1, nonFinite: 'skip' }, // clips: the norm is about 590
  { clipNorm: 1e4, nonFinite: 'skip' },
  { clipNorm: 1, nonFinite: 'ignore' },
] as const;

/** The bad elements of the control steps: [variable, index (-1: last), value]. */
const CONTROL_BAD: [number, number, number][] = [];
for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
  for (const [variable, index] of [
    [0, 0],
    [1, -1],
    [1, 500_001],
    [5, 0],
    [16, 3],
  ]) {
    CONTROL_BAD.push([variable, index, value]);
  }
}

export interface ControlResult {
  name: string;
  /** The state vector the device computed, and the reference's. */
  got: number[];
  want: number[];
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The reference state: the core's clip rule (src/core/clip.ts) on the float64 norm, except that a
 * sum of squares beyond float32's range is Inf, as the device's float32 accumulation makes it
 * (such a step is not skipped, and not clipped: the core, in float64, would clip it).
 */
function referenceState(
  arrays: Float32Array[],
  clipNorm: number | null,
  checkFinite: boolean,
  skippedBefore: number,
): number[] {
  let nan = false;
  let inf = false;
  let squares = 0;
  for (const a of arrays) {
    for (const x of a) {
      nan ||= Number.isNaN(x);
      inf ||= x === Number.POSITIVE_INFINITY || x === Number.NEGATIVE_INFINITY;
      squares += x * x;
    }
  }
  const finite = checkFinite && (nan || inf) ? 0 : 1;
  let norm = 0;
  let scale = 1;
  if (clipNorm !== null) {
    norm = nan
      ? Number.NaN
      : inf || squares > FLOAT32_MAX
        ? Number.POSITIVE_INFINITY
        : Math.sqrt(squares);
    scale = clipCoefficient(norm, clipNorm) ?? 1;
  }
  const state = new Array<number>(STATE_SIZE);
  state[STATE.control] = finite ? scale : 0;
  state[STATE.finite] = finite;
  state[STATE.norm] = norm;
  state[STATE.skipped] = skippedBefore + 1 - finite;
  return state;
}

/**
 * Every control step of every setting on the active backend (reads with data(), after each);
 * `unpacked`: every other gradient comes in an unpacked texture (uploadUnpacked).
 */
export async function runControlCases(tf: typeof tfc, unpacked = false): Promise<ControlResult[]> {
  const rand = prng(7);
  const base = CONTROL_SIZES.map((n) => randomArray(rand, n));
  const tensor = (a: Float32Array, i: number) => {
    const t = tf.tensor1d(a);
    if (unpacked && i % 2) uploadUnpacked(tf, t);
    return t;
  };
  const baseTensors = base.map(tensor);
  const steps: { name: string; arrays: Float32Array[] }[] = [{ name: 'finite', arrays: base }];
  for (const [variable, index, value] of CONTROL_BAD) {
    const arrays = [...base];
    arrays[variable] = base[variable].slice();
    arrays[variable][index < 0 ? arrays[variable].length + index : index] = value;
    steps.push({ name: `${value} at [${variable}][${index}]`, arrays });
  }
  const overflow = [...base];
  overflow[3] = base[3].map((x, i) => (i === 10 ? 3e19 : x));
  steps.push({ name: 'finite, sum of squares overflows', arrays: overflow });
  const both = [...base];
  both[2] = base[2].map((x, i) => (i === 1 ? Number.POSITIVE_INFINITY : x));
  both[6] = Float32Array.of(Number.NaN);
  steps.push({ name: 'NaN and +Inf', arrays: both }, { name: 'finite again', arrays: base });
  const results: ControlResult[] = [];
  for (const { clipNorm, nonFinite } of CONTROL_SETTINGS) {
    let prev: tfc.Tensor | null = null;
    let skipped = 0;
    for (const step of steps) {
      const tensors = step.arrays.map((a, i) => (a === base[i] ? baseTensors[i] : tensor(a, i)));
      const state: tfc.Tensor = tf.tidy(() => {
        const control = deviceControl(tensors, clipNorm, nonFinite, prev);
        return tf.keep(control.state as tfc.Tensor);
      });
      const got = Array.from(await state.data());
      const want = referenceState(step.arrays, clipNorm, nonFinite !== 'ignore', skipped);
      skipped = want[STATE.skipped];
      results.push({ name: `clipNorm ${clipNorm}, '${nonFinite}': ${step.name}`, got, want });
      tf.dispose(tensors.filter((t, i) => t !== baseTensors[i]));
      prev?.dispose();
      prev = state;
    }
    prev?.dispose();
  }
  tf.dispose(baseTensors);
  return results;
}

/**
 * The steps whose state differs from the reference: NaN, +-Inf and the flags and counts exactly,
 * the norm and the multiplier within 1e-5 relative (float32 sums in the device's order).
 */
export function controlMismatches(results: readonly ControlResult[]): string[] {
  const close = (a: number, b: number) =>
    Object.is(a, b) || (Number.isFinite(b) && Math.abs(a - b) <= 1e-5 * Math.abs(b));
  const exact = [STATE.finite, STATE.skipped] as number[];
  return results
    .filter((r) =>
      r.got.some((x, i) => (exact.includes(i) ? x !== r.want[i] : !close(x, r.want[i]))),
    )
    .map((r) => `${r.name}: got [${r.got}], want [${r.want}]`);
}

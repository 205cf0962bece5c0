/**
 * The kernel calling convention, written once: how a step's scalars (AdamStepScalars,
 * SgdStepScalars of src/core/kernels.ts, computed by the core's planStep) become the flags and the
 * float32 arguments of the fused kernels (src/kernels/assembly/index.ts). Every caller uses it: the
 * core's WASM kernels (./wasm.ts), the tfjs cpu and wasm kernels (src/tfjs/backend-kernels.ts), and
 * any later GPU path, which can upload `AdamKernelArgs` / `SgdKernelArgs` as uniforms unchanged.
 *
 * Adam arguments (each rounded to float32 exactly as the reference loop rounds it):
 *   decay = f(decayFactor), l2 = f(l2), beta1, 1 - beta1, beta2, 1 - beta2,
 *   bc2Sqrt = f(sqrt(1 - beta2^t)), eps, negStepSize = f(-lr_t / (1 - beta1^t))
 *   flags = MAXIMIZE | AMSGRAD (when a vMax slot is passed) | L2 (when f(l2) != 0)
 *           | CAUTIOUS (cautiousDecay: decay only where m theta >= 0)
 * SGD arguments:
 *   decay, l2, momentum, oneMinusDampening = f(1 - dampening), negLr = f(-lr_t)
 *   flags = MAXIMIZE | L2 (when f(l2) != 0) | MOMENTUM (when a buffer is passed)
 *           | NESTEROV and FIRST_STEP (only with MOMENTUM) | CAUTIOUS (decay only where d theta >= 0)
 * Schedule-free arguments (ScheduleFreeScalars; SGD passes the AdamW-only ones as 0, 1, 1, 0):
 *   weightDecay, c = f(ckp1), oneMinusC = f(1 - c), yStep, negLr = f(-lr_t),
 *   beta2, oneMinusBeta2, bc2 = f(1 - beta2^t), eps
 *   flags = MAXIMIZE | SECOND_MOMENT (AdamW, when a v slot is passed) | DECAY (when f(lambda) != 0)
 *           | LERP_HIGH (when !(c < 0.5): lerp's b - (b - a)(1 - c) form, as PyTorch picks it)
 *
 * The L2 and DECAY flags are decided after rounding, as the reference does: an l2 that rounds to 0
 * in float32 adds nothing (adding f(0 * theta) would turn -0 into +0 and Infinity into NaN).
 * The kernels divide by bc2Sqrt (Adam) and bc2 (schedule-free) through a float64 reciprocal, exact
 * only for a float32 divisor in [2^-126, 1] (`reciprocalExact`); `adamKernelExact` and
 * `scheduleFreeKernelExact` say when the fused kernel may run, else callers run the reference loop.
 * The core's sqrt(1 - beta2^t) and 1 - beta2^t are always in range; direct callers may not be.
 */
import type { AdamStepScalars, ScheduleFreeScalars, SgdStepScalars } from '../core/kernels.js';

const f = Math.fround;

/** Flag bits of the kernels (same values as in the AssemblyScript source). */
export const FLAG = {
  maximize: 1,
  amsgrad: 2,
  l2: 4,
  momentum: 8,
  nesterov: 16,
  firstStep: 32,
  cautious: 64,
  secondMoment: 128,
  decay: 256,
  lerpHigh: 512,
} as const;

/** The scalar arguments of the Adam kernel, in the export's order after the pointers and length. */
export type AdamKernelArgs = [
  decay: number,
  l2: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  bc2Sqrt: number,
  eps: number,
  negStepSize: number,
  flags: number,
];

/** The scalar arguments of the SGD kernel, in the export's order after the pointers and length. */
export type SgdKernelArgs = [
  decay: number,
  l2: number,
  momentum: number,
  oneMinusDampening: number,
  negLr: number,
  flags: number,
];

/**
 * The schedule-free kernel's scalar arguments, in the export's order after the pointers and
 * length.
 */
export type ScheduleFreeKernelArgs = [
  weightDecay: number,
  c: number,
  oneMinusC: number,
  yStep: number,
  negLr: number,
  beta2: number,
  oneMinusBeta2: number,
  bc2: number,
  eps: number,
  flags: number,
];

/**
 * True if dividing a float32 by float32 `y` through f32(f64(x) * f64(1 / y)) gives the correctly
 * rounded quotient for every float32 x: y in [2^-126, 1] (proof: src/kernels/assembly/index.ts).
 */
export function reciprocalExact(y: number): boolean {
  const d = f(y);
  return d >= 2 ** -126 && d <= 1;
}

/** True if the fused Adam kernel gives the reference loop's bits for `s` (bc2Sqrt in range). */
export function adamKernelExact(s: AdamStepScalars): boolean {
  return reciprocalExact(s.biasCorrection2Sqrt);
}

/** True if the fused schedule-free kernel gives the reference loop's bits (bc2 in range). */
export function scheduleFreeKernelExact(s: ScheduleFreeScalars): boolean {
  return s.adam === null || reciprocalExact(s.adam.biasCorrection2);
}

/** The Adam kernel's scalar arguments; `withVMax`: a vMax slot is passed (amsgrad). */
export function adamArgs(s: AdamStepScalars, withVMax: boolean): AdamKernelArgs {
  const l2 = f(s.l2);
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (s.amsgrad && withVMax ? FLAG.amsgrad : 0) |
    (l2 !== 0 ? FLAG.l2 : 0) |
    (s.cautious ? FLAG.cautious : 0);
  return [
    f(s.decayFactor),
    l2,
    f(s.beta1),
    f(1 - s.beta1),
    f(s.beta2),
    f(1 - s.beta2),
    f(s.biasCorrection2Sqrt),
    f(s.eps),
    f(-s.stepSize),
    flags,
  ];
}

/**
 * The SGD kernel's scalar arguments; `withBuffer`: a momentum buffer is passed (momentum != 0),
 * `firstStep`: the buffer is set to the gradient (see firstMomentumStep in src/core/sgd.ts).
 */
export function sgdArgs(s: SgdStepScalars, withBuffer: boolean, firstStep: boolean): SgdKernelArgs {
  const l2 = f(s.l2);
  const momentum = withBuffer && s.momentum !== 0;
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (l2 !== 0 ? FLAG.l2 : 0) |
    (momentum ? FLAG.momentum : 0) |
    (momentum && s.nesterov ? FLAG.nesterov : 0) |
    (momentum && firstStep ? FLAG.firstStep : 0) |
    (s.cautious ? FLAG.cautious : 0);
  return [f(s.decayFactor), l2, f(s.momentum), f(1 - s.dampening), f(-s.lr), flags];
}

/**
 * The schedule-free kernel's scalar arguments; `withV`: a second-moment slot is passed (it is used
 * only when `s.adam` is set, as in scheduleFreeReferenceUpdate).
 */
export function scheduleFreeArgs(s: ScheduleFreeScalars, withV: boolean): ScheduleFreeKernelArgs {
  const wd = f(s.weightDecay);
  const c = f(s.ckp1);
  const adam = withV ? s.adam : null;
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (adam ? FLAG.secondMoment : 0) |
    (wd !== 0 ? FLAG.decay : 0) |
    (c < 0.5 ? 0 : FLAG.lerpHigh);
  const beta2 = adam?.beta2 ?? 0;
  return [
    wd,
    c,
    f(1 - c),
    f(s.yStep),
    f(-s.lr),
    f(beta2),
    f(1 - beta2),
    f(adam?.biasCorrection2 ?? 1),
    f(adam?.eps ?? 0),
    flags,
  ];
}

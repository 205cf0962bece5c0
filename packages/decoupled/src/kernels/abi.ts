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
 *
 * The L2 flag is decided after rounding, as the reference does: an l2 that rounds to 0 in float32
 * adds nothing (adding f(0 * theta) would turn -0 into +0 and Infinity into NaN).
 * The kernel divides by bc2Sqrt through a float64 reciprocal, exact only for f(bc2Sqrt) in
 * [2^-126, 1]; `adamKernelExact` says when the fused kernel may run, else callers run the
 * reference loop. sqrt(1 - beta2^t) from the core is always in range; direct callers may not be.
 */
import type { AdamStepScalars, SgdStepScalars } from '../core/kernels.js';

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

/** True if the fused Adam kernel gives the reference loop's bits for `s` (bc2Sqrt in range). */
export function adamKernelExact(s: AdamStepScalars): boolean {
  const bc2 = f(s.biasCorrection2Sqrt);
  return bc2 >= 2 ** -126 && bc2 <= 1;
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

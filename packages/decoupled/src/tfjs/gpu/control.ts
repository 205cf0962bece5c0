/**
 * The step control of the GPU backends, as one kernel (CONTROL_KERNEL: ./webgl-control.ts,
 * ./webgpu-control.ts; the same from tf ops for other backends in ./ops-update.ts). It reads every
 * gradient once, in one pass for the whole step, and writes the step's state, a float32 vector:
 *
 *   state[CONTROL]  the gradient multiplier c of the step, 0 for a skipped step
 *   state[FINITE]   1 if every element of every gradient is finite, else 0 (1 when unchecked)
 *   state[NORM]     n = sqrt(sum_i sum(g_i^2)) (clipNorm only, else 0): NaN if some element is
 *                   NaN, else Inf if some is +-Inf (or the sum overflows), as the sum of squares is
 *   state[SKIPPED]  the previous state's SKIPPED + (1 - FINITE): steps skipped so far
 *
 *   c = clipNorm / (n + 1e-6) if n is finite and that is < 1, else 1   (src/core/clip.ts's rule)
 *   control = FINITE ? c : 0
 *
 * The update kernels read state[CONTROL] as their `control` input: 0 keeps the old parameter and
 * slots (a select, so a NaN cannot leak), else the gradient is multiplied by it. So a step with
 * the check costs one pass over the gradients and a small reduction, and no select pass.
 *
 * Non-finite is tested on the bits, (bits & 0x7fffffff) >= 0x7f800000 (> for NaN), because shader
 * compilers may assume IEEE special values away from isnan/isinf and from arithmetic. The passes
 * carry partial results as one float: a partial sum of squares (>= 0, or +Inf on overflow) where
 * every element was finite, else -1 (some +-Inf, no NaN) or -2 (some NaN); two partials a, b
 * combine as (a < 0 || b < 0) ? min(a, b) : a + b.
 */

/** Kernel name; inputs x0, x1, ... (the gradients, any shape) and `prev` (the last state, if
 * any); attrs `clipNorm` (0: no clipping) and `checkFinite`; output: the state. */
export const CONTROL_KERNEL = 'DecoupledStepControl';

/** Where each value sits in the state vector. */
export const STATE = { control: 0, finite: 1, norm: 2, skipped: 3 } as const;
export const STATE_SIZE = 4;

/** The kernel's attrs. */
export interface ControlAttrs {
  /** The clipping threshold, 0 for none. */
  clipNorm: number;
  checkFinite: boolean;
}

/**
 * Reference update loops: the readable specification of each optimizer's per-element math, and the
 * oracle that the fused WASM kernels are tested against. Every operation is rounded to float32
 * (Math.fround) in the order PyTorch 1.13's single-tensor loop applies it, so a float32 SIMD kernel
 * that follows the same order agrees bit for bit.
 *
 * Adam (Kingma & Ba; PyTorch `_single_tensor_adam`/`_single_tensor_adamw`), step t >= 1:
 *   theta <- theta * decayFactor                      (decoupled decay; 1 for none; cautious:
 *                                                      only where m theta_old >= 0, see below)
 *   g     <- (maximize ? -g : g) + l2 * theta         (coupled L2; 0 for none)
 *   m     <- beta1 m + (1 - beta1) g
 *   v     <- beta2 v + (1 - beta2) g^2
 *   vmax  <- max(vmax, v)                             (amsgrad only)
 *   theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)
 *
 * SGD with momentum (PyTorch `_single_tensor_sgd`):
 *   theta <- theta * decayFactor
 *   g     <- (maximize ? -g : g) + l2 * theta
 *   b     <- first step ? g : momentum b + (1 - dampening) g
 *   d     <- nesterov ? g + momentum b : b             (d = g when momentum = 0)
 *   theta <- theta - lr d                              (cautious: decay only where d theta_old >= 0)
 *
 * Cautious decay (arXiv 2510.12402, `cautious` in the scalars): the step subtracts a multiple of u
 * (Adam: m, whose sign is that of m_hat / (sqrt(v_hat) + eps); SGD: d), and theta is decayed only
 * where u theta_old >= 0, i.e. u = 0, theta_old = 0 or both have the same sign; elsewhere the
 * undecayed theta_old enters the step. `sameDirection` is that test.
 *
 * Schedule-free AdamW / SGD (facebookresearch/schedule_free, single-tensor branch; the step's
 * scalars and the train/eval switch: ./schedule-free.ts), y = the parameter, z its base sequence:
 *   g <- maximize ? -g : g
 *   v <- beta2 v + (1 - beta2) g^2;  g <- g / (sqrt(v / (1 - beta2^t)) + eps)   (AdamW only)
 *   g <- g + lambda_t y                                 (decay at y; skipped when lambda_t = 0)
 *   y <- lerp(y, z, c) + yStep g                        (c = ckp1, yStep = lr_t (beta (1 - c) - 1))
 *   z <- z + (-lr_t) g
 * with `lerp` PyTorch 1.13's two-sided form (see there).
 */

const f = Math.fround;

/**
 * The scalars of one Adam-family step for one parameter group, computed by the core's planStep in
 * float64 (every kernel rounds them to float32 the same way: src/kernels/abi.ts). This is the whole
 * per-step input of the update besides the arrays; a GPU kernel takes the same values as uniforms.
 */
export interface AdamStepScalars {
  /** lr_t / (1 - beta1^t), with lr_t = lr * eta_t and t the 1-based step. */
  readonly stepSize: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** sqrt(1 - beta2^t). */
  readonly biasCorrection2Sqrt: number;
  /** Coupled L2 factor lambda_t added to the gradient (Adam); 0 for AdamW. */
  readonly l2: number;
  /** Multiplier applied to theta before the update (AdamW: src/core/decay.ts); 1 for Adam. */
  readonly decayFactor: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  /** Cautious decay: decayFactor applies only where m theta >= 0 (AdamW `cautiousDecay`). */
  readonly cautious?: boolean;
}

/** The Adam kernels' scalars (the name the public API has always used). */
export type AdamScalars = AdamStepScalars;

/**
 * The scalars of one SGD-family step for one parameter group (planStep; float64, rounded by the
 * kernels as src/kernels/abi.ts says). Whether it is a parameter's first momentum step is decided
 * per parameter (firstMomentumStep in ./sgd.ts), so it is not here but in SgdScalars.
 */
export interface SgdStepScalars {
  /** lr_t = lr * eta_t. */
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  /** Coupled L2 factor lambda_t (SGD); 0 for SGDW. */
  readonly l2: number;
  /** Multiplier applied to theta before the update (SGDW); 1 for SGD. */
  readonly decayFactor: number;
  readonly maximize: boolean;
  /** Cautious decay: decayFactor applies only where d theta >= 0 (SGDW `cautiousDecay`). */
  readonly cautious?: boolean;
}

/** The scalars of one SGD kernel call: the group's step scalars and the parameter's first-step bit. */
export interface SgdScalars extends SgdStepScalars {
  /** True on the first step, when the momentum buffer is set to the gradient. */
  readonly firstStep: boolean;
}

/** Updates one parameter tensor in place. `vMax` is used only when `s.amsgrad`. */
export type AdamUpdate = (
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array | null,
  s: AdamScalars,
) => void;

/** Updates one parameter tensor in place. `buf` is used only when `s.momentum > 0`. */
export type SgdUpdate = (
  p: Float32Array,
  g: Float32Array,
  buf: Float32Array | null,
  s: SgdScalars,
) => void;

/**
 * The scalars of one schedule-free step for one parameter group (planned in float64 by
 * ./schedule-free.ts; the kernels round them as src/kernels/abi.ts says).
 */
export interface ScheduleFreeScalars {
  /** lr_t, warmup included. */
  readonly lr: number;
  /** c = w_t / W, the weight of z in y's interpolation. */
  readonly ckp1: number;
  /** lr_t (beta (1 - c) - 1), the coefficient of the gradient in y's update. */
  readonly yStep: number;
  /** lambda_t, added to the gradient as lambda_t y; 0 for none. */
  readonly weightDecay: number;
  /** Adam's second moment (ScheduleFreeAdamW): biasCorrection2 = 1 - beta2^t; null for SGD. */
  readonly adam: { beta2: number; eps: number; biasCorrection2: number } | null;
  readonly maximize: boolean;
}

/**
 * One schedule-free step on one parameter, in place: y (the parameter), z, and `v` (Adam's second
 * moment, used only when `s.adam` is set; null for SGD).
 */
export type ScheduleFreeUpdate = (
  y: Float32Array,
  g: Float32Array,
  z: Float32Array,
  v: Float32Array | null,
  s: ScheduleFreeScalars,
) => void;

/** The update loops an optimizer runs; the kernels layer supplies faster ones. */
export interface UpdateKernels {
  readonly name: string;
  readonly adam: AdamUpdate;
  readonly sgd: SgdUpdate;
  /** Schedule-free step (optional: without it the optimizer runs scheduleFreeReferenceUpdate). */
  readonly scheduleFree?: ScheduleFreeUpdate;
  /** True if every element is finite: a fast path for the non-finite check (optional). */
  readonly allFinite?: (a: Float32Array) => boolean;
  /** A zeroed state array for `param`, placed where the kernel runs fastest (optional). */
  readonly allocateState?: (param: Float32Array) => Float32Array;
}

/** u theta >= 0 for float32 u, theta: a zero, or the same sign (cautious decay applies). */
export function sameDirection(u: number, theta: number): boolean {
  return u === 0 || theta === 0 || u < 0 === theta < 0;
}

export const adamReferenceUpdate: AdamUpdate = (p, g, m, v, vMax, s) => {
  const decay = f(s.decayFactor);
  const l2 = f(s.l2);
  const beta1 = f(s.beta1);
  const oneMinusBeta1 = f(1 - s.beta1);
  const beta2 = f(s.beta2);
  const oneMinusBeta2 = f(1 - s.beta2);
  const bc2Sqrt = f(s.biasCorrection2Sqrt);
  const eps = f(s.eps);
  const negStepSize = f(-s.stepSize);
  const useMax = s.amsgrad && vMax !== null;
  const cautious = s.cautious === true;
  for (let i = 0; i < p.length; i++) {
    const old = p[i];
    let theta = decay === 1 ? old : f(old * decay);
    let grad = s.maximize ? -g[i] : g[i];
    if (l2 !== 0) grad = f(grad + f(l2 * theta));
    const mi = f(f(m[i] * beta1) + f(oneMinusBeta1 * grad));
    const vi = f(f(v[i] * beta2) + f(f(oneMinusBeta2 * grad) * grad));
    if (cautious && !sameDirection(mi, old)) theta = old;
    m[i] = mi;
    v[i] = vi;
    let second = vi;
    if (useMax) {
      second = Math.max(vMax[i], vi);
      vMax[i] = second;
    }
    const denom = f(f(f(Math.sqrt(second)) / bc2Sqrt) + eps);
    theta = f(theta + f(f(negStepSize * mi) / denom));
    p[i] = theta;
  }
};

export const sgdReferenceUpdate: SgdUpdate = (p, g, buf, s) => {
  const decay = f(s.decayFactor);
  const l2 = f(s.l2);
  const momentum = f(s.momentum);
  const oneMinusDampening = f(1 - s.dampening);
  const negLr = f(-s.lr);
  const useMomentum = s.momentum !== 0 && buf !== null;
  const cautious = s.cautious === true;
  for (let i = 0; i < p.length; i++) {
    const old = p[i];
    let theta = decay === 1 ? old : f(old * decay);
    let grad = s.maximize ? -g[i] : g[i];
    if (l2 !== 0) grad = f(grad + f(l2 * theta));
    let direction = grad;
    if (useMomentum) {
      const b = s.firstStep ? grad : f(f(buf[i] * momentum) + f(oneMinusDampening * grad));
      buf[i] = b;
      direction = s.nesterov ? f(grad + f(momentum * b)) : b;
    }
    if (cautious && !sameDirection(direction, old)) theta = old;
    p[i] = f(theta + f(negLr * direction));
  }
};

/**
 * PyTorch 1.13's float32 lerp a + w (b - a) with a scalar weight `w` (already rounded to float32).
 * Its CPU kernel tests `w < 0.5`, not |w| < 0.5: negative weights (eval()) take the first form
 * (checked against torch.lerp on 10^5 random pairs for w = -1.5, -2.33, 0.7).
 */
export function lerp(a: number, b: number, w: number): number {
  return w < 0.5 ? f(a + f(w * f(b - a))) : f(b - f(f(b - a) * f(1 - w)));
}

export const scheduleFreeReferenceUpdate: ScheduleFreeUpdate = (y, g, z, v, s) => {
  const wd = f(s.weightDecay);
  const c = f(s.ckp1);
  const yStep = f(s.yStep);
  const negLr = f(-s.lr);
  const adam = s.adam !== null && v !== null;
  const beta2 = f(s.adam?.beta2 ?? 0);
  const oneMinusBeta2 = f(1 - (s.adam?.beta2 ?? 0));
  const bc2 = f(s.adam?.biasCorrection2 ?? 1);
  const eps = f(s.adam?.eps ?? 0);
  for (let i = 0; i < y.length; i++) {
    let grad = s.maximize ? -g[i] : g[i];
    if (adam) {
      const vi = f(f(v[i] * beta2) + f(f(oneMinusBeta2 * grad) * grad));
      v[i] = vi;
      grad = f(grad / f(f(Math.sqrt(f(vi / bc2))) + eps));
    }
    const yi = y[i];
    if (wd !== 0) grad = f(grad + f(wd * yi));
    y[i] = f(lerp(yi, z[i], c) + f(yStep * grad));
    z[i] = f(z[i] + f(negLr * grad));
  }
};

/**
 * Index and value of the first NaN or infinite element of `a`, or null: the one non-finite scan of
 * the core and the tfjs optimizers. `allFinite` is an optional fast check (a SIMD scan) tried first.
 */
export function firstNonFinite(
  a: Float32Array,
  allFinite?: (a: Float32Array) => boolean,
): [number, number] | null {
  if (allFinite?.(a)) return null;
  let sum = 0;
  // A sum of x * 0 is NaN exactly when some x is NaN or infinite: one fast pass, then locate.
  for (let i = 0; i < a.length; i++) sum += a[i] * 0;
  if (sum === 0) return null;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return [i, a[i]];
  return null;
}

/** The plain JavaScript loops above, usable everywhere. */
export const referenceKernels: UpdateKernels = {
  name: 'reference',
  adam: adamReferenceUpdate,
  sgd: sgdReferenceUpdate,
  scheduleFree: scheduleFreeReferenceUpdate,
};

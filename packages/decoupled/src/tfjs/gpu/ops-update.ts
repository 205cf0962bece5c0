/**
 * The on-device step for backends whose memory the host does not read: the step's global checks
 * as tf ops, and the core's update (src/core/kernels.ts) composed from tf ops for backends with no
 * fused kernel (tfjs-node's `tensorflow`, custom backends). Nothing here reads data back.
 *
 * The step control: one float32 scalar c that the update multiplies every gradient by,
 *
 *   n  = sqrt(sum_i sum(g_i^2))                        (clipNorm only; accumulated in float32)
 *   c  = clipNorm / (n + 1e-6) if n is finite and that is < 1, else 1   (src/core/clip.ts's rule)
 *   ok = every element of every g_i is finite           (nonFinite 'skip' / 'error' only;
 *                                                        webgl: ./finite-rows.ts's pass)
 *   control = ok ? c : 0
 *
 * control = 0 marks a skipped step: the updates then return the old parameter and slots unchanged
 * (a select, not arithmetic, so NaN in the gradient cannot leak). Multiplying by c = 1 is exact.
 * The updates take the step's scalars through the kernel calling convention (./args.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamParts, SgdParts } from './args.js';

/** The step's device-side scalars (all float32 scalars, owned by the caller's tidy scope). */
export interface StepControl {
  /** The gradient multiplier, 0 for a skipped step; null when neither clip nor check applies. */
  control: tf.Scalar | null;
  /** The global gradient norm before clipping (clipNorm only). */
  norm: tf.Scalar | null;
  /** 1 if every gradient is finite, else 0 (when checked). */
  finite: tf.Scalar | null;
}

/** Computes the control scalar of one step; call inside tf.tidy. */
export function stepControl(
  grads: readonly tf.Tensor[],
  options: { clipNorm: number | null; checkFinite: boolean },
): StepControl {
  let norm: tf.Scalar | null = null;
  let scale: tf.Scalar | null = null;
  if (options.clipNorm !== null) {
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    norm = tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares)) as tf.Scalar;
    const coefficient = tf.div(options.clipNorm, tf.add(norm, 1e-6));
    const clips = tf.logicalAnd(tf.isFinite(norm), tf.less(coefficient, 1));
    scale = tf.where(clips, coefficient, tf.onesLike(coefficient)) as tf.Scalar;
  }
  let finite: tf.Scalar | null = null;
  if (options.checkFinite) {
    finite = allFinite(grads);
  }
  let control: tf.Scalar | null = scale ?? finite;
  if (scale && finite) control = tf.where(tf.notEqual(finite, 0), scale, tf.zerosLike(scale));
  return { control, norm, finite };
}

/**
 * The one-pass finite check of the GPU backends (./finite-rows.ts): inputs x0, x1, ... (the
 * gradients, flat); outputs float32 tensors whose min is 1 if every element is finite, else 0.
 */
export const FINITE_FLAGS_KERNEL = 'DecoupledFiniteFlags';

const SCALE_DOWN = 2 ** -100;

/** 1 if every element of every tensor is finite, else 0, as a float32 scalar. */
function allFinite(grads: readonly tf.Tensor[]): tf.Scalar {
  let flags: tf.Tensor[];
  if (tf.getKernel(FINITE_FLAGS_KERNEL, tf.getBackend())) {
    const inputs: tf.NamedTensorMap = {};
    for (const [i, g] of grads.entries()) inputs[`x${i}`] = tf.reshape(g, [-1]);
    flags = tf.engine().runKernel(FINITE_FLAGS_KERNEL, inputs) as tf.Tensor[];
    return tf.min(flags.length === 1 ? flags[0] : tf.concat(flags)) as tf.Scalar;
  }
  // sum_i sum(g_i * 2^-100) is finite exactly when every element is: a finite element scaled so
  // cannot overflow the sum (n < 2^100), and Inf and NaN propagate through the products and sums.
  const sums = grads.map((g) => tf.sum(tf.mul(g, SCALE_DOWN)));
  const total = sums.length === 1 ? sums[0] : tf.addN(sums);
  // A select, not a cast: tfjs-backend-webgpu 4.22 casts bool to float32 by relabeling the int32
  // buffer, whose bits a shader reading f32 would misread.
  return tf.where(tf.isFinite(total), tf.onesLike(total), tf.zerosLike(total)) as tf.Scalar;
}

/** Tensors of one Adam-family update: the parameter and its slots (vMax for amsgrad). */
export interface AdamTensors {
  param: tf.Tensor;
  grad: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  vMax?: tf.Tensor;
  control?: tf.Scalar | null;
}

/** Tensors of one SGD-family update (buf when momentum > 0). */
export interface SgdTensors {
  param: tf.Tensor;
  grad: tf.Tensor;
  buf?: tf.Tensor;
  control?: tf.Scalar | null;
}

/** The effective gradient: (maximize ? -g : g) * control + l2 * theta. */
function effectiveGrad(
  grad: tf.Tensor,
  theta: tf.Tensor,
  p: { maximize: boolean; useL2: boolean; uniforms: { l2: number } },
  control: tf.Scalar | null | undefined,
): tf.Tensor {
  let g = p.maximize ? tf.neg(grad) : grad;
  if (control) g = tf.mul(g, control);
  return p.useL2 ? tf.add(g, tf.mul(theta, p.uniforms.l2)) : g;
}

/** Keeps `old` where the step is skipped (control = 0). */
export function selectStep(control: tf.Scalar | null | undefined, next: tf.Tensor, old: tf.Tensor) {
  return control ? tf.where(tf.notEqual(control, 0), next, old) : next;
}

/** Adam family from tf ops; returns [param, m, v, vMax?] as new tensors. Call inside tf.tidy. */
export function adamUpdateOps(t: AdamTensors, p: AdamParts): tf.Tensor[] {
  const u = p.uniforms;
  const theta = p.useDecay ? tf.mul(t.param, u.decay) : t.param;
  const g = effectiveGrad(t.grad, theta, p, t.control);
  const m = tf.add(tf.mul(t.m, u.beta1), tf.mul(g, u.oneMinusBeta1));
  const v = tf.add(tf.mul(t.v, u.beta2), tf.mul(tf.mul(g, u.oneMinusBeta2), g));
  const vMax = p.amsgrad && t.vMax ? tf.maximum(t.vMax, v) : null;
  const denom = tf.add(tf.div(tf.sqrt(vMax ?? v), u.bc2Sqrt), u.eps);
  const param = tf.add(theta, tf.div(tf.mul(m, u.negStepSize), denom));
  const out = [
    selectStep(t.control, param, t.param),
    selectStep(t.control, m, t.m),
    selectStep(t.control, v, t.v),
  ];
  if (vMax && t.vMax) out.push(selectStep(t.control, vMax, t.vMax));
  return out;
}

/** SGD family from tf ops; returns [param, buf?] as new tensors. Call inside tf.tidy. */
export function sgdUpdateOps(t: SgdTensors, p: SgdParts): tf.Tensor[] {
  const u = p.uniforms;
  const theta = p.useDecay ? tf.mul(t.param, u.decay) : t.param;
  const g = effectiveGrad(t.grad, theta, p, t.control);
  if (!p.momentum || !t.buf) {
    return [selectStep(t.control, tf.add(theta, tf.mul(g, u.negLr)), t.param)];
  }
  const buf = p.firstStep ? g : tf.add(tf.mul(t.buf, u.momentum), tf.mul(g, u.oneMinusDampening));
  const direction = p.nesterov ? tf.add(g, tf.mul(buf, u.momentum)) : buf;
  const param = tf.add(theta, tf.mul(direction, u.negLr));
  return [selectStep(t.control, param, t.param), selectStep(t.control, buf, t.buf)];
}

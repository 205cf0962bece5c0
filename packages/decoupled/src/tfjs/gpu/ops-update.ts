/**
 * The on-device step for backends whose memory the host does not read: the step control
 * (./control.ts) as tf ops for backends without its kernel, and the core's update
 * (src/core/kernels.ts) composed from tf ops for backends with no fused kernel (tfjs-node's
 * `tensorflow`, custom backends). Nothing here reads data back.
 *
 * The step control from tf ops computes ./control.ts's state, with the all-finite flag as
 *
 *   ok = sum_i sum(g_i * 2^-100) is finite
 *
 * which is exactly "every element is finite": a finite element scaled so cannot overflow the sum
 * (n < 2^100 elements), and Inf and NaN propagate through the products and sums. The norm is
 * tfjs' sum of squares (accumulated in float32).
 *
 * control = 0 marks a skipped step: the updates then return the old parameter and slots unchanged
 * (a select, not arithmetic, so NaN in the gradient cannot leak). Multiplying by c = 1 is exact.
 * The updates take the step's scalars through the kernel calling convention (./args.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamParts, SgdParts } from './args.js';
import { STATE, STATE_SIZE } from './control.js';

/** The step's device-side control (owned by the caller's tidy scope). */
export interface StepControl {
  /**
   * The gradient multiplier, 0 for a skipped step: a scalar (from tf ops), or the state itself,
   * whose element 0 it is (the GPU kernels read it there); null when neither clip nor check
   * applies.
   */
  control: tf.Tensor | null;
  /** The step's state vector (./control.ts); null when neither clip nor check applies. */
  state: tf.Tensor | null;
}

const SCALE_DOWN = 2 ** -100;

/**
 * The step control from tf ops (clipNorm, the check, or both), after the state `prev` of the last
 * step (null if none); call inside tf.tidy.
 */
export function stepControl(
  grads: readonly tf.Tensor[],
  options: { clipNorm: number | null; checkFinite: boolean },
  prev: tf.Tensor | null,
): StepControl {
  let norm: tf.Scalar = tf.scalar(0);
  let scale: tf.Scalar = tf.scalar(1);
  if (options.clipNorm !== null) {
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    norm = tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares)) as tf.Scalar;
    const coefficient = tf.div(options.clipNorm, tf.add(norm, 1e-6));
    const clips = tf.logicalAnd(tf.isFinite(norm), tf.less(coefficient, 1));
    scale = tf.where(clips, coefficient, scale) as tf.Scalar;
  }
  let finite: tf.Scalar = tf.scalar(1);
  let control = scale;
  if (options.checkFinite) {
    const sums = grads.map((g) => tf.sum(tf.mul(g, SCALE_DOWN)));
    const total = sums.length === 1 ? sums[0] : tf.addN(sums);
    // A select, not a cast: tfjs-backend-webgpu 4.22 casts bool to float32 by relabeling the
    // int32 buffer, whose bits a shader reading f32 would misread.
    const ok = tf.isFinite(total);
    finite = tf.where(ok, finite, tf.scalar(0)) as tf.Scalar;
    control = tf.where(ok, scale, tf.scalar(0)) as tf.Scalar;
  }
  const before = prev ? tf.reshape(tf.slice(prev, [STATE.skipped], [1]), []) : tf.scalar(0);
  const values: tf.Scalar[] = new Array(STATE_SIZE);
  values[STATE.control] = control;
  values[STATE.finite] = finite;
  values[STATE.norm] = norm;
  values[STATE.skipped] = tf.add(before, tf.sub(1, finite));
  return { control, state: tf.stack(values) };
}

/** Tensors of one Adam-family update: the parameter and its slots (vMax for amsgrad). */
export interface AdamTensors {
  param: tf.Tensor;
  grad: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  vMax?: tf.Tensor;
  control?: tf.Tensor | null;
}

/** Tensors of one SGD-family update (buf when momentum > 0). */
export interface SgdTensors {
  param: tf.Tensor;
  grad: tf.Tensor;
  buf?: tf.Tensor;
  control?: tf.Tensor | null;
}

/** The effective gradient: (maximize ? -g : g) * control + l2 * theta. */
function effectiveGrad(
  grad: tf.Tensor,
  theta: tf.Tensor,
  p: { maximize: boolean; useL2: boolean; uniforms: { l2: number } },
  control: tf.Tensor | null | undefined,
): tf.Tensor {
  let g = p.maximize ? tf.neg(grad) : grad;
  if (control) g = tf.mul(g, multiplierOf(control));
  return p.useL2 ? tf.add(g, tf.mul(theta, p.uniforms.l2)) : g;
}

/**
 * The step's gradient multiplier from `control`: a scalar (tf ops' control) as it is, or element
 * STATE.control of the state vector (the control kernel's), for the updates composed from tf ops.
 */
export function multiplierOf(control: tf.Tensor): tf.Tensor {
  return control.size === 1 ? control : tf.reshape(tf.slice(control, [STATE.control], [1]), []);
}

/** Keeps `old` where the step is skipped (control = 0). */
export function selectStep(control: tf.Tensor | null | undefined, next: tf.Tensor, old: tf.Tensor) {
  return control ? tf.where(tf.notEqual(multiplierOf(control), 0), next, old) : next;
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

/**
 * Schedule-free AdamW and SGD (src/core/schedule-free.ts) composed from tf ops, for the backends
 * whose memory the host does not read (webgl, webgpu, tfjs-node's `tensorflow`, custom backends):
 * the core's per-element step and its train()/eval() switch, in the core's float32 operation order,
 * with nothing read back. With y the parameter, g the gradient and the step's scalars planned by
 * the core (lr_t, c, yStep = lr_t (beta (1 - c) - 1), lambda_t, Adam's beta2, eps and 1 - beta2^t):
 *
 *   g  = (maximize ? -g : g) * control                      (./device-step.ts's control scalar)
 *   AdamW: v = beta2 v + ((1 - beta2) g) g;  g = g / (sqrt(v / (1 - beta2^t)) + eps)
 *   g  = g + lambda_t y                                      (only when lambda_t != 0)
 *   y  = lerp(y, z, c) + yStep g;   z = z + (-lr_t) g
 *
 * and lerp(a, b, w) = a + w (b - a) if w < 0.5, else b - (b - a) (1 - w): PyTorch 1.13's rule,
 * which the core follows. A step with control = 0 (a non-finite gradient under 'skip') keeps y, z
 * and v by a select. Each scalar becomes a float32 tensor, as the core rounds it (Math.fround), so
 * on a backend that rounds every op to float32 (tfjs-backend-cpu's kernels) this is the core's
 * result bit for bit; a GPU may round differently within float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ScheduleFreeStepScalars } from '../../core/schedule-free.js';
import { multiplierOf, selectStep } from './ops-update.js';

/** One variable's tensors: the parameter y, its gradient, z, and Adam's v (AdamW only). */
export interface ScheduleFreeTensors {
  y: tf.Tensor;
  grad: tf.Tensor;
  z: tf.Tensor;
  v: tf.Tensor | null;
  control: tf.Tensor | null;
}

/** lerp(a, b, w) with a host weight, in PyTorch 1.13's two forms (see the module comment). */
export function lerpOps(a: tf.Tensor, b: tf.Tensor, weight: number): tf.Tensor {
  const w = Math.fround(weight);
  return w < 0.5 ? tf.add(a, tf.mul(tf.sub(b, a), w)) : tf.sub(b, tf.mul(tf.sub(b, a), 1 - w));
}

/** One step; returns [y, z, v?] as new tensors. Call inside tf.tidy. */
export function scheduleFreeUpdateOps(
  t: ScheduleFreeTensors,
  s: ScheduleFreeStepScalars,
): tf.Tensor[] {
  let g = s.maximize ? tf.neg(t.grad) : t.grad;
  if (t.control) g = tf.mul(g, multiplierOf(t.control));
  let v: tf.Tensor | null = null;
  if (s.adam && t.v) {
    const { beta2, eps, biasCorrection2 } = s.adam;
    v = tf.add(tf.mul(t.v, beta2), tf.mul(tf.mul(g, 1 - beta2), g));
    g = tf.div(g, tf.add(tf.sqrt(tf.div(v, biasCorrection2)), eps));
  }
  if (Math.fround(s.weightDecay) !== 0) g = tf.add(g, tf.mul(t.y, s.weightDecay));
  const y = tf.add(lerpOps(t.y, t.z, s.ckp1), tf.mul(g, s.yStep));
  const z = tf.add(t.z, tf.mul(g, -s.lr));
  const out = [selectStep(t.control, y, t.y), selectStep(t.control, z, t.z)];
  if (v && t.v) out.push(selectStep(t.control, v, t.v));
  return out;
}

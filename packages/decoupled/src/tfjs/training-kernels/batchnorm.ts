/**
 * BatchNorm in training mode as two fused wasm kernels over the channels-last layout (C innermost,
 * M = size / C elements per channel), replacing tfjs-layers' graph of moments + batchNorm (about
 * 40 kernels per layer, forward and backward). The passes are the SIMD loops of assembly/index.ts.
 *
 * Forward, one statistics pass and one output pass:
 *   mean_c = (1/M) sum x,  var_c = (1/M) sum x^2 - mean_c^2  (biased, float64 sums, as tf.moments)
 *   y = gamma_c (x - mean_c) / sqrt(var_c + eps) + beta_c
 * Backward, one reduction pass and one output pass, with s = 1/sqrt(var + eps), xhat = (x - mean) s:
 *   dbeta = sum dy,  dgamma = sum dy xhat = s sum dy (x - mean)
 *   dx = gamma s (dy - dbeta/M - xhat dgamma/M) + dmean/M + 2 dvar (x - mean)/M
 * where dmean and dvar are the gradients reaching the mean and variance outputs (zero when they
 * only feed the moving averages, as in tfjs-layers). Output passes centre x first (x - mean), so a
 * large mean does not cancel in float32.
 *
 * Threads (simd.ts): the output passes split over rows; the reduction pass stays on one thread
 * (see channelSums).
 */

import type { TensorInfo } from '@tensorflow/tfjs-core';
import { PASS_WORK, runSplit, simdOn } from './simd.js';
import { f32, type KernelArgs, ptr, type Scratch, withScratch } from './wasm-backend.js';

export const BATCH_NORM_TRAINING = 'DecoupledBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'DecoupledBatchNormTrainingGrad';

function channels(x: TensorInfo): { c: number; m: number } {
  const c = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  return { c, m: c === 0 ? 0 : size / c };
}

/**
 * acc[k] = sum_r a[r,k], acc[c + k] = sum_r a[r,k] (b[r,k] - shift[k]) in float64, in scratch
 * memory, on the calling thread: split over channels, every thread streams all rows, and measured
 * on 2 threads the pass took 0.7-1.1x the time of one (blocks of rows would change the sums'
 * order, hence their bits).
 */
function channelSums(
  s: Scratch,
  a: number,
  b: number,
  shift: number,
  m: number,
  c: number,
): Float64Array {
  const acc = s.alloc([4 * c]);
  simdOn(s.backend).channelSums(a, b, shift, m, c, ptr(s.backend, acc));
  return new Float64Array(f32(s.backend, acc).buffer, ptr(s.backend, acc), 2 * c);
}

/** out[r,k] = (x[r,k] - mean[k]) u[k] + dy[r,k] v[k] + w[k] (dy = 0: no middle term); threads take rows. */
function centredAffine(
  s: Scratch,
  [out, x, mean, u, dy, v, w]: number[],
  m: number,
  c: number,
): void {
  const rowBytes = 4 * c;
  runSplit(s.backend, 'centredAffine', m * c * PASS_WORK, [{ count: m, unit: 1 }], (r0, r1) => [
    out + r0 * rowBytes,
    x + r0 * rowBytes,
    mean,
    u,
    dy === 0 ? 0 : dy + r0 * rowBytes,
    v,
    w,
    r1 - r0,
    c,
  ]);
}

/** Forward: inputs x [..., C], scale [C], offset [C]; outputs y, mean [C], variance [C]. */
export function batchNormTraining({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const { x, scale, offset } = inputs;
  const epsilon = attrs.epsilon as number;
  const { c, m } = channels(x);
  const y = backend.makeOutput(x.shape, 'float32');
  const meanOut = backend.makeOutput([c], 'float32');
  const varOut = backend.makeOutput([c], 'float32');
  withScratch(backend, (s) => {
    const zeros = s.alloc([c]);
    const u = s.alloc([c]);
    f32(backend, zeros).fill(0);
    const px = ptr(backend, x);
    const sums = channelSums(s, px, px, ptr(backend, zeros), m, c);
    const gamma = f32(backend, scale);
    const mean = f32(backend, meanOut);
    const variance = f32(backend, varOut);
    const us = f32(backend, u);
    for (let k = 0; k < c; k++) {
      const mu = sums[k] / m;
      const v = Math.max(sums[c + k] / m - mu * mu, 0);
      mean[k] = mu;
      variance[k] = v;
      us[k] = gamma[k] / Math.sqrt(v + epsilon);
    }
    const [py, pm, pu, pb] = [y, meanOut, u, offset].map((t) => ptr(backend, t));
    centredAffine(s, [py, px, pm, pu, 0, 0, pb], m, c);
    return y;
  });
  return [y, meanOut, varOut];
}

/**
 * Backward: inputs dy, x, scale, mean, variance, dmean, dvariance; outputs dx, dscale, doffset.
 */
export function batchNormTrainingGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const { x, dy } = inputs;
  const epsilon = attrs.epsilon as number;
  const { c, m } = channels(x);
  const dxOut = backend.makeOutput(x.shape, 'float32');
  const dscaleOut = backend.makeOutput([c], 'float32');
  const doffsetOut = backend.makeOutput([c], 'float32');
  withScratch(backend, (s) => {
    const coef = s.alloc([3, c]); // u (x - mean), v (dy), w (constant) of the dx pass
    const [pdy, px, pm] = [dy, x, inputs.mean].map((t) => ptr(backend, t));
    const sums = channelSums(s, pdy, px, pm, m, c);
    const gamma = f32(backend, inputs.scale);
    const variance = f32(backend, inputs.variance);
    const dmean = f32(backend, inputs.dmean);
    const dvar = f32(backend, inputs.dvariance);
    const dscale = f32(backend, dscaleOut);
    const doffset = f32(backend, doffsetOut);
    const k = f32(backend, coef);
    for (let j = 0; j < c; j++) {
      const sd = 1 / Math.sqrt(variance[j] + epsilon);
      const dbeta = sums[j];
      const dgamma = sd * sums[c + j];
      doffset[j] = dbeta;
      dscale[j] = dgamma;
      const gs = gamma[j] * sd;
      k[j] = (-gs * sd * dgamma + 2 * dvar[j]) / m;
      k[c + j] = gs;
      k[2 * c + j] = (-gs * dbeta + dmean[j]) / m;
    }
    const pk = ptr(backend, coef);
    centredAffine(s, [ptr(backend, dxOut), px, pm, pk, pdy, pk + 4 * c, pk + 8 * c], m, c);
    return dxOut;
  });
  return [dxOut, dscaleOut, doffsetOut];
}

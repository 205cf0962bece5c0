/**
 * One-kernel gradients for ops whose tfjs gradient is several full-size kernels, used on the wasm
 * backend (the registered gradient of tfjs-core runs everywhere else):
 *
 * - Relu: dx = dy * step(x) in tfjs (Step, Cast, Multiply); here dx = x > 0 ? dy : 0 in one SIMD
 *   pass (same values; a NaN x gives 0 here, NaN in tfjs).
 * - Mean over a contiguous run of axes (global average pooling reduces H, W of NHWC): tfjs makes a
 *   full-size ones tensor, multiplies and divides; here dx[o, m, i] = dy[o, i] / M by block copies,
 *   for x viewed as [outer, M, inner] with the M reduced elements in the middle.
 */

import type { GradConfig, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { PASS_WORK, runSplit } from './simd.js';
import { f32, type KernelArgs, ptr } from './wasm-backend.js';

export const RELU_GRAD = 'DecoupledReluGrad';
export const MEAN_GRAD = 'DecoupledMeanGrad';

/** ReluGrad kernel: inputs dy, x (same shape) -> dx. */
export function reluGrad({ inputs, backend }: KernelArgs): TensorInfo {
  const { dy, x } = inputs;
  const dx = backend.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  const [pdy, px, pdx] = [dy, x, dx].map((t) => ptr(backend, t));
  // Threads take blocks of whole cache lines (16 floats).
  runSplit(backend, 'reluGrad', n * PASS_WORK, [{ count: n, unit: 16 }], (a, b) => [
    pdy + 4 * a,
    px + 4 * a,
    pdx + 4 * a,
    b - a,
  ]);
  return dx;
}

/** [outer, reduced, inner] of `shape` if `axes` are one contiguous run, else null. */
export function middleRun(shape: number[], axes: number[]): [number, number, number] | null {
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.some((a, i) => a !== sorted[0] + i)) return null;
  const first = sorted[0];
  const end = sorted[sorted.length - 1] + 1;
  const size = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
  return [size(0, first), size(first, end), size(end, shape.length)];
}

/** MeanGrad kernel: inputs dy (the Mean's output, any keepDims), attrs shape and axes -> dx. */
export function meanGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const shape = attrs.shape as number[];
  const [outer, reduced, inner] = middleRun(shape, attrs.axes as number[]) as number[];
  const dx = backend.makeOutput(shape, 'float32');
  const src = f32(backend, inputs.dy);
  const dst = f32(backend, dx);
  const row = new Float32Array(inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) row[i] = src[o * inner + i] / reduced;
    const base = o * reduced * inner;
    for (let m = 0; m < reduced; m++) dst.set(row, base + m * inner);
  }
  return dx;
}

function onWasm(t: Tensor): boolean {
  return tf.getBackend() === 'wasm' && t.dtype === 'float32';
}

/** Wraps tfjs-core's gradient of `kernelName`: the fused one on wasm, the original elsewhere. */
function override(
  kernelName: string,
  fused: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => Tensor | null,
): void {
  const original = tf.getGradient(kernelName);
  if (original === undefined || (original as { fusedOnWasm?: boolean }).fusedOnWasm) return;
  const config: GradConfig & { fusedOnWasm: boolean } = {
    ...original,
    fusedOnWasm: true,
    gradFunc: (dy, saved, attrs) => {
      const d = Array.isArray(dy) ? null : fused(dy, saved, attrs);
      if (d === null) return original.gradFunc(dy, saved, attrs);
      return { x: () => d };
    },
  };
  tf.registerGradient(config);
}

/**
 * Installs the fused Relu and Mean gradients. Call after tfjs-core's gradients are registered
 * (importing @tensorflow/tfjs-layers or @tensorflow/tfjs does it); idempotent.
 */
export function installFusedGradients(): void {
  override('Relu', (dy, [x]) =>
    onWasm(x) && onWasm(dy) ? (tf.engine().runKernel(RELU_GRAD, { dy, x }) as Tensor) : null,
  );
  override('Mean', (dy, [x], attrs) => {
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    if (!onWasm(x) || !onWasm(dy) || middleRun(x.shape, axes) === null) return null;
    return tf.engine().runKernel(MEAN_GRAD, { dy }, { shape: x.shape, axes }) as Tensor;
  });
}

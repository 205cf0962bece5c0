/**
 * Faster paths for shipped wasm kernels that dominate a training step, each falling back to the
 * shipped kernel outside its fast case:
 *
 * - BatchMatMul with transposeA/transposeB: the shipped kernel is fast only without transposes
 *   (about 13x slower with them, and a dense layer's backward pass uses both), so the operands are
 *   transposed first by the wasm Transpose kernel: A^T B = matmul(transpose(A), B).
 * - Tile (used by the BatchNorm gradient to broadcast 1/sqrt(var + eps)): block copies,
 *   out[i] = x[i mod shape], built innermost axis first and doubled with copyWithin.
 * - Sum and Mean over a leading or trailing run of axes (BatchNorm statistics and gradients reduce
 *   N,H,W of NHWC): one pass with float64 accumulators, s[c] = sum_i x[i, c] or s[i] = sum_c x[i, c].
 * - Identity: shares the buffer (reference count + 1) instead of copying it.
 * (Elementwise Multiply/Add/Sub are not wrapped: the shipped XNNPACK versions beat a JS loop ~7x.)
 */

import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import { f32, type KernelArgs, transpose, withScratch } from './wasm-backend.js';

type Fallback = KernelConfig['kernelFunc'];
export type WrappedKernel = (args: KernelArgs, fallback: Fallback) => TensorInfo;

function callFallback(fallback: Fallback, args: KernelArgs): TensorInfo {
  return fallback(args as unknown as Parameters<Fallback>[0]) as TensorInfo;
}

/** BatchMatMul: materialize transposes, then run the shipped kernel untransposed. */
export const batchMatMul: WrappedKernel = (args, fallback) => {
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const { a, b } = args.inputs;
  if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return callFallback(fallback, args);
  }
  return withScratch(args.backend, (s) => {
    const swapLast = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return transpose(s, t, perm);
    };
    const inputs = { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b };
    const attrs: NamedAttrMap = { ...args.attrs, transposeA: false, transposeB: false };
    const out = callFallback(fallback, { inputs, backend: args.backend, attrs });
    return s.keep(out);
  });
};

/** Tile: out[i_0..i_r] = x[i_0 mod d_0, ..., i_r mod d_r]. */
export const tile: WrappedKernel = (args, fallback) => {
  const { x } = args.inputs;
  const reps = args.attrs.reps as number[];
  if (x.dtype === 'string' || x.dtype === 'complex64' || x.shape.length === 0) {
    return callFallback(fallback, args);
  }
  const { backend } = args;
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const srcStride = util.computeStrides(x.shape);
  const dstStride = util.computeStrides(outShape);
  const fill = (dim: number, s: number, d: number): void => {
    const n = x.shape[dim];
    if (dim === rank - 1) {
      dst.set(src.subarray(s, s + n), d);
    } else {
      for (let i = 0; i < n; i++) fill(dim + 1, s + i * srcStride[dim], d + i * dstStride[dim]);
    }
    // Repeat the filled block [d, d + n * stride) reps[dim] times, doubling each copy.
    const block = n * (dim === rank - 1 ? 1 : dstStride[dim]);
    let have = 1;
    while (have < reps[dim]) {
      const copies = Math.min(have, reps[dim] - have);
      dst.copyWithin(d + have * block, d, d + copies * block);
      have += copies;
    }
  };
  fill(0, 0, 0);
  return out;
};

/** [outer, inner] if `axes` are exactly the leading ('lead') or trailing ('trail') axes. */
function axesRun(
  shape: number[],
  axes: number[],
): { kind: 'lead' | 'trail'; rows: number; cols: number } | null {
  const rank = shape.length;
  const sorted = [...axes].sort((p, q) => p - q);
  const k = sorted.length;
  if (k === 0 || k === rank) {
    return k === 0 ? null : { kind: 'trail', rows: 1, cols: util.sizeFromShape(shape) };
  }
  const lead = sorted.every((a, i) => a === i);
  const trail = sorted.every((a, i) => a === rank - k + i);
  if (!lead && !trail) return null;
  const split = lead ? k : rank - k;
  return {
    kind: lead ? 'lead' : 'trail',
    rows: util.sizeFromShape(shape.slice(0, split)),
    cols: util.sizeFromShape(shape.slice(split)),
  };
}

function reduce(args: KernelArgs, fallback: Fallback, mean: boolean): TensorInfo {
  const { x } = args.inputs;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== 'float32') return callFallback(fallback, args);
  const axes = util.parseAxisParam(axis, x.shape);
  const run = axesRun(x.shape, axes);
  if (run === null) return callFallback(fallback, args);
  const [reducedShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const outShape = keepDims ? backend_util.expandShapeToKeepDim(reducedShape, axes) : reducedShape;
  const { backend } = args;
  const out = backend.makeOutput(outShape, 'float32');
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const { rows, cols } = run;
  if (run.kind === 'lead') {
    const acc = new Float64Array(cols);
    let i = 0;
    // Four rows per pass: a quarter of the accumulator traffic (rows are often only 16-64 wide).
    for (; i + 4 <= rows; i += 4) {
      const b0 = i * cols;
      const b1 = b0 + cols;
      const b2 = b1 + cols;
      const b3 = b2 + cols;
      for (let c = 0; c < cols; c++) {
        acc[c] += src[b0 + c] + src[b1 + c] + (src[b2 + c] + src[b3 + c]);
      }
    }
    for (; i < rows; i++) {
      const base = i * cols;
      for (let c = 0; c < cols; c++) acc[c] += src[base + c];
    }
    const scale = mean ? 1 / rows : 1;
    for (let c = 0; c < cols; c++) dst[c] = acc[c] * scale;
  } else {
    const scale = mean ? 1 / cols : 1;
    for (let i = 0; i < rows; i++) {
      const base = i * cols;
      let acc = 0;
      for (let c = 0; c < cols; c++) acc += src[base + c];
      dst[i] = acc * scale;
    }
  }
  return out;
}

/**
 * Identity shares the input's buffer (one more reference) instead of copying it, as the cpu
 * backend does: tensors are immutable, and training graphs clone activations many times per step.
 */
export const identity: WrappedKernel = (args, fallback) => {
  const { x } = args.inputs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return callFallback(fallback, args);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

export const sum: WrappedKernel = (args, fallback) => reduce(args, fallback, false);
export const mean: WrappedKernel = (args, fallback) => reduce(args, fallback, true);

/**
 * MaxPoolGrad and AvgPoolGrad for tfjs-backend-wasm as typed-array loops over the wasm heap
 * (NHWC, channels innermost, so each window step is a contiguous run of C floats).
 *
 * Max pool: dx[argmax of window(o)] += dy[o], where the argmax is the first maximum in row-major
 * window order over the in-bounds positions only (padding never wins), as in tfjs's cpu backend.
 * The shipped wasm MaxPoolGrad drops gradients for 'same' pools with stride 2 and a 3x3 window.
 * The common unpadded 2x2 stride-2 pool runs as a SIMD loop (assembly/index.ts, same rule: a later
 * window element wins only if strictly greater).
 *
 * Average pool: dx[p] += dy[o] / count(o) for every in-bounds p in window(o), where count(o) is the
 * number of in-bounds positions. That is the derivative of the forward AvgPool of both the wasm and
 * cpu backends, which average over in-bounds positions only. (tfjs's cpu AvgPoolGrad divides by the
 * full window size instead, so it differs from this at padded borders.)
 */

import type { AvgPoolGradAttrs, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { PASS_WORK, runSplit } from './simd.js';
import { f32, type KernelArgs, ptr } from './wasm-backend.js';

type Shape4 = [number, number, number, number];

/** MaxPoolGrad: dy [N,Ho,Wo,C], input [N,H,W,C] -> dx [N,H,W,C]. */
export function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(
    input.shape as Shape4,
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(input.shape, 'float32');
  const inBounds = top === 0 && left === 0 && 2 * ho <= h && 2 * wo <= w;
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && inBounds) {
    const [px, pdy, pdx] = [input, dy, out].map((t) => ptr(backend, t));
    // Threads take whole images.
    const image = 4 * h * w * c;
    const pooled = 4 * ho * wo * c;
    runSplit(
      backend,
      'maxPoolGrad2x2',
      n * h * w * c * PASS_WORK,
      [{ count: n, unit: 1 }],
      (b0, b1) => [px + b0 * image, pdy + b0 * pooled, pdx + b0 * image, b1 - b0, h, w, c, ho, wo],
    );
    return out;
  }
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const dx = f32(backend, out);
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      const r0 = o * sh - top;
      // In-bounds window rows r0 + i*dh for i in [iLo, iHi).
      const iLo = r0 < 0 ? Math.ceil(-r0 / dh) : 0;
      const iHi = Math.min(Math.ceil(fh / dh), Math.ceil((h - r0) / dh));
      for (let q = 0; q < wo; q++) {
        const c0 = q * sw - left;
        const jLo = c0 < 0 ? Math.ceil(-c0 / dw) : 0;
        const jHi = Math.min(Math.ceil(fw / dw), Math.ceil((w - c0) / dw));
        const gBase = ((b * ho + o) * wo + q) * c;
        for (let d = 0; d < c; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let i = iLo; i < iHi; i++) {
            const rowBase = (b * h + r0 + i * dh) * w;
            for (let j = jLo; j < jHi; j++) {
              const idx = (rowBase + c0 + j * dw) * c + d;
              const v = x[idx];
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + d];
        }
      }
    }
  }
  return out;
}

/** AvgPoolGrad: dy [N,Ho,Wo,C], input [N,H,W,C] -> dx [N,H,W,C]. */
export function avgPoolGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { filterSize, strides, pad } = attrs as unknown as AvgPoolGradAttrs;
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(input.shape as Shape4, filterSize, strides, 1, pad);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(input.shape, 'float32');
  const g = f32(backend, dy);
  const dx = f32(backend, out);
  dx.fill(0);
  const share = new Float32Array(c);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      const rLo = Math.max(o * sh - top, 0);
      const rHi = Math.min(o * sh - top + fh, h);
      for (let q = 0; q < wo; q++) {
        const cLo = Math.max(q * sw - left, 0);
        const cHi = Math.min(q * sw - left + fw, w);
        const count = (rHi - rLo) * (cHi - cLo);
        if (count <= 0) continue;
        const gBase = ((b * ho + o) * wo + q) * c;
        for (let d = 0; d < c; d++) share[d] = g[gBase + d] / count;
        for (let r = rLo; r < rHi; r++) {
          for (let col = cLo; col < cHi; col++) {
            const base = ((b * h + r) * w + col) * c;
            for (let d = 0; d < c; d++) dx[base + d] += share[d];
          }
        }
      }
    }
  }
  return out;
}

/**
 * DepthwiseConv2dNative gradients for tfjs-backend-wasm as typed-array loops over the wasm heap.
 *
 * Forward (NHWC, channel multiplier m, stride s, dilation d, top/left padding p):
 *   y[n,o,c*m+k] = sum_i x[n, o*s - p + i*d, c] w[i,c,k]   (one spatial axis written)
 * Filter gradient: dw[i,c,k] = sum_{n,o} x[n, o*s - p + i*d, c] dy[n,o,c*m+k].
 * Input gradient:  dx[n,h,c] = sum_{o,i: o*s - p + i*d = h} sum_k dy[n,o,c*m+k] w[i,c,k].
 */

import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { f32, type KernelArgs } from './wasm-backend.js';

type Shape4 = [number, number, number, number];

/** DepthwiseConv2dNativeBackpropFilter: x [N,H,W,C], dy [N,Ho,Wo,C*m] -> dw [kh,kw,C,m]. */
export function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    inputs.x.shape as Shape4,
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outChannels: co } = info;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const m = co / c;
  const out = backend.makeOutput(filterShape, 'float32');
  const x = f32(backend, inputs.x);
  const g = f32(backend, inputs.dy);
  const dwv = f32(backend, out);
  dwv.fill(0);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      for (let q = 0; q < wo; q++) {
        const gBase = ((b * ho + o) * wo + q) * co;
        for (let i = 0; i < kh; i++) {
          const r = o * sh - top + i * dh;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const col = q * sw - left + j * dw;
            if (col < 0 || col >= w) continue;
            const xBase = ((b * h + r) * w + col) * c;
            const wBase = (i * kw + j) * co;
            if (m === 1) {
              for (let d = 0; d < c; d++) dwv[wBase + d] += x[xBase + d] * g[gBase + d];
            } else {
              for (let d = 0; d < c; d++) {
                const xv = x[xBase + d];
                for (let k = 0; k < m; k++) dwv[wBase + d * m + k] += xv * g[gBase + d * m + k];
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/** DepthwiseConv2dNativeBackpropInput: dy [N,Ho,Wo,C*m], w [kh,kw,C,m] -> dx [N,H,W,C]. */
export function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    inputs.filter.shape as Shape4,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outChannels: co } = info;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const m = co / c;
  const out = backend.makeOutput(inputShape, 'float32');
  const g = f32(backend, inputs.dy);
  const wv = f32(backend, inputs.filter);
  const dx = f32(backend, out);
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      for (let q = 0; q < wo; q++) {
        const gBase = ((b * ho + o) * wo + q) * co;
        for (let i = 0; i < kh; i++) {
          const r = o * sh - top + i * dh;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const col = q * sw - left + j * dw;
            if (col < 0 || col >= w) continue;
            const xBase = ((b * h + r) * w + col) * c;
            const wBase = (i * kw + j) * co;
            if (m === 1) {
              for (let d = 0; d < c; d++) dx[xBase + d] += g[gBase + d] * wv[wBase + d];
            } else {
              for (let d = 0; d < c; d++) {
                let acc = 0;
                for (let k = 0; k < m; k++) acc += g[gBase + d * m + k] * wv[wBase + d * m + k];
                dx[xBase + d] += acc;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

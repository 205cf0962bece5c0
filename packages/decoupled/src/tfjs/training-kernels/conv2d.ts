/**
 * Conv2D gradients for tfjs-backend-wasm, built from the backend's own XNNPACK forward Conv2D.
 *
 * Forward (NHWC, stride s, top/left padding p): y[n,o,c] = sum_{i,ci} x[n, o*s - p + i, ci] w[i,ci,c]
 * (one spatial axis written; the other is the same).
 *
 * Filter gradient, dw[i,ci,c] = sum_{n,o} x[n, o*s - p + i, ci] dy[n,o,c], is a forward conv in
 * which the roles swap: x transposed to [Ci,H,W,N] is the input (batch Ci, channels N), dy
 * transposed to [Ho,Wo,N,Co] is the filter, dilated by s, and the output [Ci,kh,kw,Co] is
 * transposed back to [kh,kw,Ci,Co].
 *
 * Input gradient, dx[n,h,ci] = sum_{o,i: o*s - p + i = h} dy[n,o,c] w[i,ci,c], is a stride-1 forward
 * conv of dy (zero-inserted s-1 times between rows when s > 1, padded by kh-1-p) with the
 * spatially flipped filter wf[j,c,ci] = w[kh-1-j,ci,c].
 */

import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  FusedConv2DAttrs,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { isThreaded, runSplit, trainingThreads } from './simd.js';
import {
  f32,
  type KernelArgs,
  NCHW_TO_NHWC,
  NHWC_TO_NCHW,
  ptr,
  reshaped,
  type Scratch,
  transpose,
  withScratch,
} from './wasm-backend.js';
import type { WrappedKernel } from './wrapped.js';

type Pad = Conv2DBackpropFilterAttrs['pad'];
type ExplicitPadding = Extract<Pad, number[][]>;
type Shape4 = [number, number, number, number];

/** Explicit NCHW paddings re-indexed for NHWC; named paddings are layout-free. */
export function padToNhwc(pad: Pad, dataFormat: 'NHWC' | 'NCHW'): Pad {
  if (dataFormat === 'NCHW' && Array.isArray(pad)) {
    return [[0, 0], pad[2], pad[3], [0, 0]] as ExplicitPadding;
  }
  return pad;
}

function explicit(top: number, bottom: number, left: number, right: number): ExplicitPadding {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ] as ExplicitPadding;
}

function conv(
  s: Scratch,
  x: TensorInfo,
  filter: TensorInfo,
  dilations: [number, number],
  pad: ExplicitPadding | 'valid',
): TensorInfo {
  return s.run('Conv2D', { x, filter }, { strides: [1, 1], dilations, pad, dataFormat: 'NHWC' });
}

/** Conv2DBackpropFilter: x [N,H,W,Ci], dy [N,Ho,Wo,Co] -> dw [kh,kw,Ci,Co]. */
export function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  return withScratch(backend, (s) => {
    const nchw = dataFormat === 'NCHW';
    const x = nchw ? transpose(s, inputs.x, NCHW_TO_NHWC) : inputs.x;
    const dy = nchw ? transpose(s, inputs.dy, NCHW_TO_NHWC) : inputs.dy;
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filterShape,
      strides,
      1,
      padToNhwc(pad, dataFormat),
      dimRoundingMode,
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const { inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
    const { top, left } = info.padInfo;
    const { batchSize: n, inChannels: ci, outChannels: co } = info;
    if (co % 4 === 0 && convGradientTuning.directFilter) {
      const dw = s.alloc(filterShape);
      const size = kh * kw * ci * co;
      // Threads take blocks of input channels with all their taps: whole rows of dw, whole 4 x 8
      // tiles, and each x and dy row loaded once per block serves all taps. Every block streams
      // all of dy, so one block per thread (measured on one thread: 2 blocks cost 2-18% more than
      // one call, 4 blocks 7-25%, 9 taps 4-19%). Each row pixel adds into dw, so with threads the
      // sums go to a 64-byte aligned copy: a cache line shared at a block boundary cost 45%.
      const threaded = trainingThreads(backend) > 1;
      const aligned = threaded ? s.alloc([size + 16]) : dw;
      const [px, pdy] = [x, dy].map((t) => ptr(backend, t));
      const pdw = threaded ? (ptr(backend, aligned) + 63) & ~63 : ptr(backend, dw);
      const axes = [
        { count: ci, unit: 4 },
        { count: kh * kw, unit: 1 }, // split only with too few input channels (the first layer)
      ];
      runSplit(
        backend,
        'convFilterGrad',
        n * ho * wo * kh * kw * ci * co,
        axes,
        (a0, a1, t0, t1) => [
          px,
          pdy,
          pdw,
          n,
          h,
          w,
          ci,
          ho,
          wo,
          co,
          kh,
          kw,
          sh,
          sw,
          top,
          left,
          t0,
          t1,
          a0,
          a1,
        ],
        1,
      );
      if (threaded) f32(backend, dw).set(new Float32Array(f32(backend, aligned).buffer, pdw, size));
      return dw;
    }
    if (useMatmulPath(info.inChannels, kh, kw)) {
      const cols = im2colT(s, x, info);
      const k = kh * kw * info.inChannels;
      const p = info.batchSize * ho * wo;
      const dw = s.run(
        'BatchMatMul',
        { a: reshaped(cols, [1, k, p]), b: reshaped(dy, [1, p, info.outChannels]) },
        { transposeA: false, transposeB: false },
      );
      s.keep(dw);
      return reshaped(dw, filterShape);
    }
    // Padding after the input that makes the output exactly kh x kw; negative means the last
    // rows/columns of x never meet dy, so they are cropped instead.
    const bottom = kh + (ho - 1) * sh - h - top;
    const right = kw + (wo - 1) * sw - w - left;
    let xt = transpose(s, x, [3, 1, 2, 0]); // [Ci,H,W,N]
    if (bottom < 0 || right < 0) {
      const [ci, , , n] = xt.shape;
      xt = s.run(
        'Slice',
        { x: xt },
        { begin: [0, 0, 0, 0], size: [ci, h + Math.min(bottom, 0), w + Math.min(right, 0), n] },
      );
    }
    const dyt = transpose(s, dy, [1, 2, 0, 3]); // [Ho,Wo,N,Co]
    const g = conv(
      s,
      xt,
      dyt,
      [sh, sw],
      explicit(top, Math.max(bottom, 0), left, Math.max(right, 0)),
    ); // [Ci,kh,kw,Co]
    return transpose(s, g, [1, 2, 0, 3]);
  });
}

/**
 * With few input channels (the first layer: K = kh*kw*Ci is small) a convolution with dy is a poor
 * GEMM for XNNPACK (K or the output channels tiny), so the gradients go through im2col / col2im and
 * one well-shaped matmul instead:
 *   dw [K,Co] = cols^T [K,P] dy [P,Co],   dx = col2im(dy [P,Co] w^T [Co,K]),   P = N*Ho*Wo.
 */
function useMatmulPath(inChannels: number, kh: number, kw: number): boolean {
  return kh * kw * inChannels <= convGradientTuning.matmulMaxPatch;
}

/**
 * Route switches, exposed so tests can force each route: the largest patch size kh*kw*Ci that
 * takes the im2col/col2im route (measured: faster up to ~32, slower from ~144 on), and whether the
 * SIMD loops run the filter gradient and the forward conv (Co % 4 == 0 only).
 */
export const convGradientTuning = { matmulMaxPatch: 32, directFilter: true, directForward: true };

type ConvInfo = ReturnType<typeof backend_util.computeConv2DInfo>;

/** cols[k, p] = x at patch row k = (i*kw + j)*Ci + ci of output pixel p (0 in padding). */
function im2colT(s: Scratch, x: TensorInfo, info: ConvInfo): TensorInfo {
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: ho,
    outWidth: wo,
  } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const p = n * ho * wo;
  const out = s.alloc([kh * kw * ci, p]);
  const src = f32(s.backend, x);
  const dst = f32(s.backend, out);
  dst.fill(0);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let a = 0; a < ci; a++) {
        const rowBase = ((i * kw + j) * ci + a) * p;
        for (let b = 0; b < n; b++) {
          for (let o = 0; o < ho; o++) {
            const r = o * sh - top + i;
            if (r < 0 || r >= h) continue;
            const dBase = rowBase + (b * ho + o) * wo;
            const sBase = (b * h + r) * w;
            for (let q = 0; q < wo; q++) {
              const col = q * sw - left + j;
              if (col >= 0 && col < w) dst[dBase + q] = src[(sBase + col) * ci + a];
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * dx[n, o*s - p + i, q*s - p + j, ci] += cols[pixel (n,o,q), (i*kw + j)*Ci + ci] (SIMD loop; threads
 * take blocks of dx rows).
 */
function col2im(s: Scratch, cols: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const out = s.alloc([n, h, w, ci]);
  if (n * h * w * ci === 0) return out;
  const [pc, pdx] = [cols, out].map((t) => ptr(s.backend, t));
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  runSplit(
    s.backend,
    'col2im',
    n * ho * wo * kh * kw * ci,
    [{ count: n * h, unit: 1 }],
    (r0, r1) => [pc, pdx, n, h, w, ci, ho, wo, kh, kw, sh, sw, top, left, r0, r1],
  );
  return out;
}

/** w [kh,kw,Ci,Co] -> wf [kh,kw,Co,Ci] with both spatial axes reversed. */
function flipFilter(s: Scratch, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const out = s.alloc([kh, kw, co, ci]);
  const src = f32(s.backend, filter);
  const dst = f32(s.backend, out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const sBase = ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      const dBase = (i * kw + j) * co * ci;
      for (let a = 0; a < ci; a++) {
        for (let c = 0; c < co; c++) dst[dBase + c * ci + a] = src[sBase + a * co + c];
      }
    }
  }
  return out;
}

/**
 * dy [N,Ho,Wo,C] placed at rows o*sh + offH and columns o*sw + offW of a zeroed [N,hp,wp,C] buffer;
 * entries falling outside are dropped (they only ever met padding in the forward pass).
 */
export function dilateAndPad(
  s: Scratch,
  dy: TensorInfo,
  strides: [number, number],
  offsets: [number, number],
  size: [number, number],
): TensorInfo {
  const [n, ho, wo, c] = dy.shape;
  const [sh, sw] = strides;
  const [offH, offW] = offsets;
  const [hp, wp] = size;
  const out = s.alloc([n, hp, wp, c]);
  const src = f32(s.backend, dy);
  const dst = f32(s.backend, out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      const r = o * sh + offH;
      if (r < 0 || r >= hp) continue;
      for (let q = 0; q < wo; q++) {
        const col = q * sw + offW;
        if (col < 0 || col >= wp) continue;
        const sIdx = ((b * ho + o) * wo + q) * c;
        dst.set(src.subarray(sIdx, sIdx + c), ((b * hp + r) * wp + col) * c);
      }
    }
  }
  return out;
}

/** Conv2DBackpropInput: dy [N,Ho,Wo,Co], w [kh,kw,Ci,Co] -> dx [N,H,W,Ci]. */
export function conv2dBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as Conv2DBackpropInputAttrs;
  return withScratch(backend, (s) => {
    const nchw = dataFormat === 'NCHW';
    const dy = nchw ? transpose(s, inputs.dy, NCHW_TO_NHWC) : inputs.dy;
    const xShape = (nchw ? NCHW_TO_NHWC.map((a) => inputShape[a]) : inputShape) as Shape4;
    const info = backend_util.computeConv2DInfo(
      xShape,
      inputs.filter.shape as Shape4,
      strides,
      1,
      padToNhwc(pad, dataFormat),
      dimRoundingMode,
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const { inHeight: h, inWidth: w, outHeight: ho, outWidth: wo } = info;
    // Strided: col2im touches each dy once, where a conv over zero-inserted dy wastes s^2 work.
    if (useMatmulPath(info.inChannels, kh, kw) || sh > 1 || sw > 1) {
      const k = kh * kw * info.inChannels;
      const p = info.batchSize * ho * wo;
      const cols = s.run(
        'BatchMatMul',
        {
          a: reshaped(dy, [1, p, info.outChannels]),
          b: reshaped(inputs.filter, [1, k, info.outChannels]),
        },
        { transposeA: false, transposeB: true },
      );
      const dx = col2im(s, cols, info);
      return nchw ? transpose(s, dx, NHWC_TO_NCHW) : dx;
    }
    const wf = flipFilter(s, inputs.filter);
    const padTop = kh - 1 - info.padInfo.top;
    const padLeft = kw - 1 - info.padInfo.left;
    const padBottom = h + kh - 1 - ho - padTop;
    const padRight = w + kw - 1 - wo - padLeft;
    let dx: TensorInfo;
    if (sh === 1 && sw === 1 && Math.min(padTop, padLeft, padBottom, padRight) >= 0) {
      // XNNPACK pads on the fly: no copy of dy.
      dx = conv(s, dy, wf, [1, 1], explicit(padTop, padBottom, padLeft, padRight));
    } else {
      const p = dilateAndPad(s, dy, [sh, sw], [padTop, padLeft], [h + kh - 1, w + kw - 1]);
      dx = conv(s, p, wf, [1, 1], 'valid');
    }
    return nchw ? transpose(s, dx, NHWC_TO_NCHW) : dx;
  });
}

/**
 * Conv2D and FusedConv2D without bias or activation (the harness's convs: useBias false, BN after)
 * as the SIMD loop of assembly/index.ts (4 pixels x 8 channels register tiles, no packing), when
 * NHWC, dilation 1 and Co % 4 == 0, on the single-threaded backend or the threaded one with the
 * training kernels' threads (output rows split over them); anything else goes to the shipped
 * XNNPACK kernel. On the ResNet-8 shapes it is about as fast as XNNPACK (0.9-1.0x of its CPU time
 * per call), whose operator is re-created and the filter re-packed whenever the filter tensor is
 * new, i.e. on every training step.
 */
export const directConv2d: WrappedKernel = (args, fallback) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const attrs = args.attrs as unknown as FusedConv2DAttrs;
  const activation = attrs.activation ?? 'linear';
  if (
    !convGradientTuning.directForward ||
    // On the threaded backend without threads of ours, XNNPACK's conv uses the threads and this
    // loop would not.
    (isThreaded(args.backend) && trainingThreads(args.backend) === 1) ||
    bias !== undefined ||
    preluActivationWeights !== undefined ||
    activation !== 'linear' ||
    attrs.dataFormat === 'NCHW' ||
    x.dtype !== 'float32' ||
    filter.shape[3] % 4 !== 0
  ) {
    return fallback(args as unknown as Parameters<typeof fallback>[0]) as TensorInfo;
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    return fallback(args as unknown as Parameters<typeof fallback>[0]) as TensorInfo;
  }
  const { backend } = args;
  const y = backend.makeOutput(info.outShape, 'float32');
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const [px, pw, py] = [x, filter, y].map((t) => ptr(backend, t));
  runSplit(
    backend,
    'conv2d',
    n * ho * wo * co * kh * kw * ci,
    [{ count: n * ho, unit: 1 }],
    (r0, r1) => [px, pw, py, n, h, w, ci, ho, wo, co, kh, kw, sh, sw, top, left, r0, r1],
  );
  return y;
};

/**
 * UnsortedSegmentSum for tfjs-backend-wasm (the gradient of gather, e.g. of an embedding lookup):
 *   out[k, ...] = sum_{i: ids[i] = k} x[i, ...],  k in [0, numSegments)
 * where ids may have any rank r and indexes the first r axes of x. Ids outside [0, numSegments)
 * are dropped, as in TensorFlow.
 */

import type { TensorInfo, UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';
import type { KernelArgs } from './wasm-backend.js';

export function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const { x, segmentIds } = inputs;
  const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const inner = rest.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...rest], x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let i = 0; i < rows; i++) {
    const k = ids[i];
    if (k < 0 || k >= numSegments) continue;
    const sBase = i * inner;
    const dBase = k * inner;
    for (let e = 0; e < inner; e++) dst[dBase + e] += src[sBase + e];
  }
  return out;
}

/**
 * Training kernels for tfjs-backend-wasm: the gradient kernels it lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum) and faster or corrected versions of
 * those it ships (Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad). The convolution gradients run on
 * the backend's own XNNPACK forward Conv2D (see conv2d.ts); the rest are loops over the wasm heap.
 *
 * Call `registerWasmTrainingKernels()` after importing '@tensorflow/tfjs-backend-wasm' (a later
 * import of that package would re-register its own versions of the three shipped kernels).
 */

import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { conv2dBackpropFilter, conv2dBackpropInput } from './conv2d.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise.js';
import { avgPoolGrad, maxPoolGrad } from './pool.js';
import { unsortedSegmentSum } from './segment.js';

const kernels: ReadonlyArray<[string, unknown]> = [
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['Conv2DBackpropInput', conv2dBackpropInput],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
  ['MaxPoolGrad', maxPoolGrad],
  ['AvgPoolGrad', avgPoolGrad],
  ['UnsortedSegmentSum', unsortedSegmentSum],
];

/** Names of the kernels this module registers for the 'wasm' backend. */
export const wasmTrainingKernelNames: readonly string[] = kernels.map(([name]) => name);

/**
 * Registers the training kernels for the 'wasm' backend, replacing any registered under the same
 * names. Idempotent: kernels that are already ours are left alone.
 */
export function registerWasmTrainingKernels(): void {
  for (const [kernelName, fn] of kernels) {
    const kernelFunc = fn as KernelFunc;
    const current = getKernel(kernelName, 'wasm');
    if (current?.kernelFunc === kernelFunc) continue;
    if (current !== undefined) unregisterKernel(kernelName, 'wasm');
    const config: KernelConfig = { kernelName, backendName: 'wasm', kernelFunc };
    registerKernel(config);
  }
}

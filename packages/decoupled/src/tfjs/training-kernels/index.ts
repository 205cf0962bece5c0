/**
 * Training kernels for tfjs-backend-wasm: the gradient kernels it lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum), faster or corrected versions of
 * gradient kernels it ships (Conv2DBackpropInput, MaxPoolGrad, AvgPoolGrad), and fast paths for the
 * shipped kernels that dominate a CNN training step (BatchMatMul with transposes, Tile, Sum, Mean,
 * Identity),
 * which fall back to the shipped kernel outside their fast case. The convolution gradients run on
 * the backend's own XNNPACK forward Conv2D (see conv2d.ts); the rest are loops over the wasm heap.
 *
 * Call `registerWasmTrainingKernels()` after importing '@tensorflow/tfjs-backend-wasm': the fast
 * paths wrap kernels that package registers, and a later import of it would re-register its own
 * versions of the kernels replaced here.
 */

import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTraining,
  batchNormTrainingGrad,
} from './batchnorm.js';
import { installFusedBatchNorm } from './batchnorm-layer.js';
import { conv2dBackpropFilter, conv2dBackpropInput, directConv2d } from './conv2d.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise.js';
import { installFusedGradients, MEAN_GRAD, meanGrad, RELU_GRAD, reluGrad } from './gradients.js';
import { avgPoolGrad, maxPoolGrad } from './pool.js';
import { unsortedSegmentSum } from './segment.js';
import type { KernelArgs } from './wasm-backend.js';
import { batchMatMul, identity, mean, sum, tile, type WrappedKernel } from './wrapped.js';

const replacements: ReadonlyArray<[string, unknown]> = [
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['Conv2DBackpropInput', conv2dBackpropInput],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
  ['MaxPoolGrad', maxPoolGrad],
  ['AvgPoolGrad', avgPoolGrad],
  ['UnsortedSegmentSum', unsortedSegmentSum],
  [BATCH_NORM_TRAINING, batchNormTraining],
  [BATCH_NORM_TRAINING_GRAD, batchNormTrainingGrad],
  [RELU_GRAD, reluGrad],
  [MEAN_GRAD, meanGrad],
];

const fastPaths: ReadonlyArray<[string, WrappedKernel]> = [
  ['BatchMatMul', batchMatMul],
  ['Tile', tile],
  ['Sum', sum],
  ['Mean', mean],
  ['Identity', identity],
  ['Conv2D', directConv2d],
  ['FusedConv2D', directConv2d],
];

const ours = new Set<KernelFunc>();

function install(config: KernelConfig): void {
  if (getKernel(config.kernelName, 'wasm') !== undefined) {
    unregisterKernel(config.kernelName, 'wasm');
  }
  registerKernel(config);
  ours.add(config.kernelFunc);
}

/**
 * Registers the training kernels for the 'wasm' backend, replacing any registered under the same
 * names. Idempotent: kernels that are already ours are left alone.
 */
export function registerWasmTrainingKernels(): void {
  for (const [kernelName, fn] of replacements) {
    if (ours.has(getKernel(kernelName, 'wasm')?.kernelFunc as KernelFunc)) continue;
    install({ kernelName, backendName: 'wasm', kernelFunc: fn as KernelFunc });
  }
  for (const [kernelName, fast] of fastPaths) {
    const shipped = getKernel(kernelName, 'wasm');
    // Nothing to speed up until tfjs-backend-wasm is loaded; already ours means done.
    if (shipped === undefined || ours.has(shipped.kernelFunc)) continue;
    const fallback = shipped.kernelFunc;
    const kernelFunc = ((args: KernelArgs) => fast(args, fallback)) as unknown as KernelFunc;
    // The shipped setup (cwrap of its wasm function) still runs when the backend initializes.
    install({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: shipped.setupFunc });
  }
  installFusedBatchNorm();
  installFusedGradients();
}

export { batchNormTraining as batchNormTrainingOp, setFusedBatchNorm } from './batchnorm-layer.js';

/**
 * The fused update kernels of the GPU backends, registered under the same kernel names as the cpu
 * and wasm ones (DecoupledAdamUpdate, DecoupledSgdUpdate) for `webgl` (./webgl-update.ts) and
 * `webgpu` (./webgpu-update.ts). Inputs: param, grad, the slots (Adam: m, v, [vMax]; SGD: [buf])
 * and the optional step `control` (./control.ts's state: the kernels read its element 0); attrs:
 * the step's scalars. Outputs: the new parameter as a new tensor, then the new slots in input
 * order, except where the kernel updates the slots in place (webgpu; see SLOTS_IN_PLACE). Also
 * the step control kernel, CONTROL_KERNEL (./webgl-control.ts, ./webgpu-control.ts). None reads
 * data back. The backends are reached through the kernel's `backend` argument, so this module
 * imports neither backend package.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamStepScalars, SgdScalars } from '../../core/kernels.js';
import { adamParts, sgdParts } from './args.js';
import { CONTROL_KERNEL, type ControlAttrs } from './control.js';
import { stepControlWebGL } from './webgl-control.js';
import { adamUpdateWebGL, sgdUpdateWebGL, type WebGLBackend } from './webgl-update.js';
import { stepControlWebGPU } from './webgpu-control.js';
import { adamUpdateWebGPU, sgdUpdateWebGPU, type WebGPUBackend } from './webgpu-update.js';

/** The backends with a fused GPU update kernel. */
export const DEVICE_KERNEL_BACKENDS = ['webgl', 'webgpu'] as const;

/** The backends whose kernel updates the slots in place (they must not share their data). */
export const SLOTS_IN_PLACE: readonly string[] = ['webgpu'];

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Inputs = Record<string, tf.TensorInfo | undefined>;

/** An Adam kernel call's tensors, and its scalars (attrs) through the calling convention. */
function adam(inputs: KernelArgs['inputs'], attrs: KernelArgs['attrs']) {
  const { param, grad, m, v, vMax, control } = inputs as Inputs & {
    param: tf.TensorInfo;
    grad: tf.TensorInfo;
    m: tf.TensorInfo;
    v: tf.TensorInfo;
  };
  const parts = adamParts(attrs as unknown as AdamStepScalars, vMax !== undefined);
  return [{ param, grad, m, v, vMax, control }, parts] as const;
}

/** An SGD kernel call's tensors and scalars (attrs: SgdScalars, with the first-step bit). */
function sgd(inputs: KernelArgs['inputs'], attrs: KernelArgs['attrs']) {
  const { param, grad, buf, control } = inputs as Inputs & {
    param: tf.TensorInfo;
    grad: tf.TensorInfo;
  };
  const parts = sgdParts(attrs as unknown as SgdScalars, buf !== undefined);
  return [{ param, grad, buf, control }, parts] as const;
}

/** A control kernel call's gradients (x0, x1, ... in order), last state and attrs. */
function control(inputs: KernelArgs['inputs'], attrs: KernelArgs['attrs']) {
  const all = inputs as Inputs;
  const xs: tf.TensorInfo[] = [];
  for (let i = 0; all[`x${i}`] !== undefined; i++) xs.push(all[`x${i}`] as tf.TensorInfo);
  return [xs, all.prev ?? null, attrs as unknown as ControlAttrs] as const;
}

/** Per backend: the Adam update, the SGD update and the step control. */
const KERNELS: Record<
  (typeof DEVICE_KERNEL_BACKENDS)[number],
  [tf.KernelFunc, tf.KernelFunc, tf.KernelFunc]
> = {
  webgl: [
    ({ inputs, backend, attrs }: KernelArgs) =>
      adamUpdateWebGL(backend as unknown as WebGLBackend, ...adam(inputs, attrs)),
    ({ inputs, backend, attrs }: KernelArgs) =>
      sgdUpdateWebGL(backend as unknown as WebGLBackend, ...sgd(inputs, attrs)),
    ({ inputs, backend, attrs }: KernelArgs) =>
      stepControlWebGL(backend as unknown as WebGLBackend, ...control(inputs, attrs)),
  ],
  webgpu: [
    ({ inputs, backend, attrs }: KernelArgs) =>
      adamUpdateWebGPU(backend as unknown as WebGPUBackend, ...adam(inputs, attrs)),
    ({ inputs, backend, attrs }: KernelArgs) =>
      sgdUpdateWebGPU(backend as unknown as WebGPUBackend, ...sgd(inputs, attrs)),
    ({ inputs, backend, attrs }: KernelArgs) =>
      stepControlWebGPU(backend as unknown as WebGPUBackend, ...control(inputs, attrs)),
  ],
};

/**
 * Registers the webgl and webgpu update kernels under `adamName` and `sgdName`, and their step
 * control under CONTROL_KERNEL (idempotent).
 */
export function registerGpuKernels(adamName: string, sgdName: string): void {
  for (const backendName of DEVICE_KERNEL_BACKENDS) {
    const [adam, sgd, control] = KERNELS[backendName];
    for (const [kernelName, kernelFunc] of [
      [adamName, adam],
      [sgdName, sgd],
      [CONTROL_KERNEL, control],
    ] as const) {
      if (!tf.getKernel(kernelName, backendName)) {
        tf.registerKernel({ kernelName, backendName, kernelFunc });
      }
    }
  }
}

export { adamUpdateOps, type StepControl, sgdUpdateOps, stepControl } from './ops-update.js';

/** Shared set-up of the tfjs tests: backends, a seeded PRNG, variables from arrays. */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
// Gradients of the ops: tfjs-core's node bundle registers none; tfjs-layers' registers them all.
import '@tensorflow/tfjs-layers';
import { ADAM_KERNEL, SGD_KERNEL } from '#decoupled/tfjs/index.js';

/** Switches to `name` ('cpu' or 'wasm') and waits until it is ready. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialize`);
  await tf.ready();
}

/** A backend that runs the optimizer's on-device path in Node: cpu's kernels but not the fused
 * optimizer kernels, under another name (so decoupled/tfjs treats it as a device backend). */
export const OPS_ONLY = 'ops-only';

/** Registers (once) and switches to the OPS_ONLY backend. */
export async function useOpsOnlyBackend(): Promise<void> {
  if (!tf.findBackendFactory(OPS_ONLY)) {
    tf.registerBackend(OPS_ONLY, () => new MathBackendCPU(), 0);
    for (const kernel of tf.getKernelsForBackend('cpu')) {
      if (kernel.kernelName === ADAM_KERNEL || kernel.kernelName === SGD_KERNEL) continue;
      tf.registerKernel({ ...kernel, backendName: OPS_ONLY });
    }
  }
  if (!(await tf.setBackend(OPS_ONLY))) throw new Error(`backend ${OPS_ONLY} failed`);
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [-scale, scale). */
export function randomArray(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

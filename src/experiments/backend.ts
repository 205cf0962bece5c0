/**
 * Selects the tfjs backend for training: 'wasm' (tfjs-backend-wasm with the project's training
 * kernels, the practical choice in Node) or 'cpu' (the pure-JS reference backend, slow but exact).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from './config.js';

/** Loads, registers and activates `name`; safe to call repeatedly. */
export async function useBackend(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmTrainingKernels } = await import('../tfjs/training-kernels/index.js');
    registerWasmTrainingKernels();
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tfjs backend '${name}' failed to initialize`);
  }
  await tf.ready();
}

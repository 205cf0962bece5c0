/**
 * Selects the tfjs backend for training: 'wasm' (tfjs-backend-wasm with the project's training
 * kernels, the practical choice in Node; its threaded build when `threads` > 1) or 'cpu' (the
 * pure-JS reference backend, slow but exact).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from './config.js';

/**
 * Loads, registers and activates `name`; safe to call repeatedly. `threads` > 1 starts the wasm
 * backend's threaded build with that many threads for XNNPACK and for the training kernels
 * (initWasmBackendThreaded). A backend is per process: asking for
 * another thread count than the running wasm backend's is an error.
 */
export async function useBackend(name: BackendName, threads = 1): Promise<void> {
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { initWasmBackendThreaded, registerWasmTrainingKernels } = await import('decoupled/tfjs');
    registerWasmTrainingKernels();
    if (threads > 1 && !('wasm' in tf.engine().registry)) await initWasmBackendThreaded(threads);
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new Error(`tfjs backend '${name}' failed to initialize`);
  }
  await tf.ready();
  if (name === 'wasm') {
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    if (getThreadsCount() !== threads) {
      throw new Error(
        `threads: this process's wasm backend runs ${getThreadsCount()} thread(s) and a ` +
          `backend is per process, so it cannot run ${threads}`,
      );
    }
  }
}

/**
 * The kernels layer: fused one-pass WASM SIMD optimizer kernels (AdamW, Adam-L2, SGD, SGDW), arena
 * memory that lets steps run in place, and optional worker threads. `initKernels()` picks the
 * fastest available kernels (the reference loops where WebAssembly SIMD is missing) and starts the
 * threads; `wasmKernels` works synchronously without it, on one thread.
 */

import { OptionError } from '../core/errors.js';
import { referenceKernels, type UpdateKernels } from '../core/kernels.js';
import { sharedMemorySupported } from './module.js';
import {
  getThreadPool,
  type KernelThreadOptions,
  setThreadPool,
  wasmKernels,
  wasmKernelsSupported,
} from './wasm.js';

export {
  type ArenaOptions,
  arenaOf,
  createArena,
  KernelArena,
} from './arena.js';
export { sharedMemorySupported } from './module.js';
export {
  type KernelThreadOptions,
  type WasmKernels,
  wasmKernels,
  wasmKernelsSupported,
} from './wasm.js';

/** Threads a step may use, counting the caller (1 until initKernels starts more). */
export function kernelThreads(): number {
  return (getThreadPool()?.workers ?? 0) + 1;
}

/**
 * Returns the kernels to use by default (wasmKernels, or the reference loops without WebAssembly
 * SIMD) after starting `threads` worker threads where possible (Node with shared memory; browsers
 * run on one thread for now). threads: 'auto' (default) uses every available core; 1 stops them.
 */
export async function initKernels(options: KernelThreadOptions = {}): Promise<UpdateKernels> {
  const requested = options.threads ?? 'auto';
  if (requested !== 'auto' && (!Number.isInteger(requested) || requested < 1)) {
    throw new OptionError('threads', requested, "an integer >= 1 or 'auto'", 'initKernels');
  }
  const min = options.minParallelLength;
  if (min !== undefined && (!Number.isInteger(min) || min < 1)) {
    throw new OptionError('minParallelLength', min, 'an integer >= 1', 'initKernels');
  }
  if (!wasmKernelsSupported()) return referenceKernels;
  // The Node-only spawner is imported only on Node, so browser bundles never run it.
  const threadsNode = isNodeRuntime() ? await import('./threads-node.js') : null;
  let threads = requested === 'auto' ? ((await threadsNode?.availableCores()) ?? 1) : requested;
  if (!threadsNode || !sharedMemorySupported()) threads = 1;
  const current = getThreadPool();
  if ((current?.workers ?? 0) + 1 !== threads) {
    setThreadPool(null);
    await current?.close();
    if (threads > 1 && threadsNode) setThreadPool(await threadsNode.startNodePool(threads - 1));
  }
  setThreadPool(getThreadPool(), min);
  return wasmKernels;
}

function isNodeRuntime(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Stops the kernel threads (steps then run on the calling thread). */
export async function shutdownKernels(): Promise<void> {
  const current = getThreadPool();
  setThreadPool(null);
  await current?.close();
}

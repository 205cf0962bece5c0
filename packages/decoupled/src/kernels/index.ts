/**
 * The kernels layer: fused one-pass WASM SIMD optimizer kernels (AdamW, Adam-L2, SGD, SGDW,
 * schedule-free AdamW and SGD), arena memory that lets steps run in place, and optional worker
 * threads. `initKernels()` picks the fastest available kernels (the reference loops where
 * WebAssembly SIMD is missing) and starts the threads; `wasmKernels` works synchronously without
 * it, on one thread.
 */

import { OptionError } from '../core/errors.js';
import { referenceKernels, type UpdateKernels } from '../core/kernels.js';
import { sharedMemorySupported } from './module.js';
import { followKernelMemories, isNode } from './threads.js';
import {
  getThreadPool,
  type KernelThreadOptions,
  setThreadPool,
  wasmKernels,
  wasmKernelsSupported,
} from './wasm.js';

export {
  type AdamKernelArgs,
  adamArgs,
  adamKernelExact,
  FLAG,
  reciprocalExact,
  type ScheduleFreeKernelArgs,
  type SgdKernelArgs,
  scheduleFreeArgs,
  scheduleFreeKernelExact,
  sgdArgs,
} from './abi.js';
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
 * SIMD) after starting `threads` worker threads where possible: worker_threads on Node, Web Workers
 * on cross-origin-isolated pages; one thread elsewhere. threads: 'auto' (default) uses every
 * available core; 1 stops them.
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
  // The Node-only spawner is imported only on Node, so browser bundles never run it; elsewhere Web
  // Workers are used when the page is cross-origin isolated (shared memory).
  const threadsNode = isNode() ? await import('./threads-node.js') : null;
  const threadsWeb = threadsNode ? null : await import('./threads-web.js');
  const web = threadsWeb?.webThreadsSupported() ?? false;
  const cores = threadsNode ? await threadsNode.availableCores() : web ? threadsWeb!.webCores() : 1;
  let threads = requested === 'auto' ? cores : requested;
  if (!sharedMemorySupported() || (!threadsNode && !web)) threads = 1;
  const current = getThreadPool();
  if ((current?.workers ?? 0) + 1 !== threads) {
    setThreadPool(null);
    await current?.close();
    if (threads > 1) {
      setThreadPool(
        followKernelMemories(
          threadsNode
            ? await threadsNode.startNodePool(threads - 1)
            : await threadsWeb!.startWebPool(threads - 1),
        ),
      );
    }
  }
  setThreadPool(getThreadPool(), min);
  return wasmKernels;
}

/** Stops the kernel threads (steps then run on the calling thread). */
export async function shutdownKernels(): Promise<void> {
  const current = getThreadPool();
  setThreadPool(null);
  await current?.close();
}

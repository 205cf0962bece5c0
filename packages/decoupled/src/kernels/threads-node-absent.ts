/**
 * What `#kernel-threads-node` resolves to outside the `node` condition (browser bundles): one core
 * and no Node worker threads. initKernels never asks for them off Node; a Node process running a
 * bundle built for the browser gets this clear error instead of a failed import of node:os.
 */
import type { KernelThreadPool } from './threads.js';

/** One core: this build has no Node worker threads. */
export async function availableCores(): Promise<number> {
  return 1;
}

/** Always throws: the package was resolved without the `node` condition. */
export async function startNodePool(workers: number): Promise<KernelThreadPool> {
  throw new Error(
    `initKernels: cannot start ${workers} Node worker thread(s) in a build resolved without the ` +
      "'node' condition (a browser bundle); bundle for Node, or use threads: 1",
  );
}

/**
 * The runtime-neutral side of kernel threads: a pool runs one kernel call per worker on disjoint
 * ranges of tensors in a shared WebAssembly memory while the calling thread runs its own range,
 * then blocks until all are done. Spawning workers is runtime specific (./threads-node.ts); this
 * module only defines the contract and splits work.
 */

/** Worker threads that run kernels over registered shared memories. */
export interface KernelThreadPool {
  /** Number of workers (the calling thread is one more). */
  readonly workers: number;
  /** True if the workers know memory `memoryId` (it is shared and not released). */
  has(memoryId: number): boolean;
  /**
   * Posts `calls[i]` (args of the kernel export `fn` on memory `memoryId`) to worker i, runs
   * `own()` on the calling thread, and returns once every worker has finished. Throws if a worker
   * failed.
   */
  run(memoryId: number, fn: 'adam' | 'sgd', calls: number[][], own: () => void): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** Splits [0, n) into `parts` ranges whose starts are multiples of 16 elements (a cache line). */
export function splitRange(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const end = i === parts - 1 ? n : Math.min(n, Math.floor((n * (i + 1)) / parts / 16) * 16);
    if (end > start) out.push([start, end]);
    start = Math.max(start, end);
  }
  return out;
}

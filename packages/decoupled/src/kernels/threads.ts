/**
 * The runtime-neutral side of kernel threads: a pool runs one kernel call per worker on disjoint
 * ranges of tensors in a shared WebAssembly memory while the calling thread runs its own range,
 * then blocks until all are done. Spawning workers is runtime specific (./threads-node.ts); this
 * module only defines the contract and splits work.
 */

import { type KernelMemory, onSharedMemory } from './arena.js';
import type { UpdateExport } from './module.js';

/** True when running on Node (where worker_threads exists). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

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
  run(memoryId: number, fn: UpdateExport, calls: number[][], own: () => void): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** What a pool needs of one worker, whatever the runtime. */
export interface KernelWorkerPort {
  postMessage(message: unknown): void;
}

/**
 * The pool over started workers: keeps them told of every shared kernel memory, posts one call
 * per worker, runs the caller's own share, then waits on the completion counter `done`
 * ([finished calls, failed flag]). `waitWhile(done, count)` blocks while done[0] === count, for at
 * most about a second (Atomics.wait where allowed, a spin elsewhere).
 */
export function sharedMemoryPool(
  list: readonly KernelWorkerPort[],
  done: Int32Array,
  timeoutMs: number,
  waitWhile: (done: Int32Array, count: number) => void,
  terminate: () => Promise<void>,
): KernelThreadPool {
  const shared = new Set<number>();
  const stop = onSharedMemory((mem: KernelMemory, added: boolean) => {
    if (added) shared.add(mem.id);
    else shared.delete(mem.id);
    for (const w of list) {
      w.postMessage(
        added
          ? { type: 'memory', id: mem.id, memory: mem.memory }
          : { type: 'release', id: mem.id },
      );
    }
  });
  return {
    workers: list.length,
    has(memoryId) {
      return shared.has(memoryId);
    },
    run(memoryId, fn, calls, own) {
      Atomics.store(done, 0, 0);
      Atomics.store(done, 1, 0);
      calls.forEach((args, i) => {
        list[i].postMessage({ type: 'run', id: memoryId, fn, args });
      });
      own();
      const start = performance.now();
      for (let c = Atomics.load(done, 0); c < calls.length; c = Atomics.load(done, 0)) {
        // A worker that died would never count: give up after timeoutMs instead of hanging.
        waitWhile(done, c);
        if (performance.now() - start > timeoutMs) {
          throw new Error(`kernel threads did not finish ${fn} within ${timeoutMs} ms`);
        }
      }
      if (Atomics.load(done, 1) !== 0) throw new Error(`a kernel thread failed running ${fn}`);
    },
    async close() {
      stop();
      await terminate();
    },
  };
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

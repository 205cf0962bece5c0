/**
 * The runtime-neutral side of kernel threads: a pool runs one kernel call per worker on disjoint
 * ranges of tensors in a shared WebAssembly memory while the calling thread runs its own range,
 * then blocks until all are done. Spawning workers is runtime specific (./threads-node.ts); this
 * module only defines the contract and splits work. The pool knows no module of its own: each
 * shared memory is attached with the module to instantiate on it, the optimizer kernels on the
 * arenas (followKernelMemories) or the tfjs training kernels on tfjs-backend-wasm's memory.
 */

import { type KernelMemory, onSharedMemory } from './arena.js';
import { kernelModule } from './module.js';

/** True when running on Node (where worker_threads exists). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Worker threads that run kernels of modules instantiated over shared memories. */
export interface KernelThreadPool {
  /** Number of workers (the calling thread is one more). */
  readonly workers: number;
  /**
   * Has every worker instantiate `module` over the shared `memory` as instance `id`. The module
   * must keep nothing in linear memory (no data segments, no start function, no shadow stack) or
   * each instantiation would overwrite the memory's owner.
   */
  attach(id: number, memory: WebAssembly.Memory, module: WebAssembly.Module): void;
  /** Drops instance `id` in every worker (its memory can then be collected). */
  detach(id: number): void;
  /** True if the workers hold instance `id`. */
  has(id: number): boolean;
  /**
   * Posts `calls[i]` (args of export `fn` of instance `id`) to worker i, runs `own()` on the
   * calling thread, and returns once every worker has finished. Throws if a worker failed.
   */
  run(id: number, fn: string, calls: number[][], own: () => void): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** What a pool needs of one worker, whatever the runtime. */
export interface KernelWorkerPort {
  postMessage(message: unknown): void;
}

/**
 * The pool over started workers: tells them of every attached instance, posts one call per
 * worker, runs the caller's own share, then waits on the completion counter `done`
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
  const attached = new Set<number>();
  return {
    workers: list.length,
    attach(id, memory, module) {
      attached.add(id);
      for (const w of list) w.postMessage({ type: 'memory', id, memory, module });
    },
    detach(id) {
      attached.delete(id);
      for (const w of list) w.postMessage({ type: 'release', id });
    },
    has(id) {
      return attached.has(id);
    },
    run(id, fn, calls, own) {
      Atomics.store(done, 0, 0);
      Atomics.store(done, 1, 0);
      calls.forEach((args, i) => {
        list[i].postMessage({ type: 'run', id, fn, args });
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
    close: terminate,
  };
}

/**
 * Keeps `pool` attached to every shared kernel memory (./arena.ts) with the optimizer kernel
 * module, now and as memories are created or released; the returned pool's close() stops that.
 */
export function followKernelMemories(pool: KernelThreadPool): KernelThreadPool {
  const stop = onSharedMemory((mem: KernelMemory, added: boolean) => {
    if (added) pool.attach(mem.id, mem.memory, kernelModule(true));
    else pool.detach(mem.id);
  });
  return {
    ...pool,
    async close() {
      stop();
      await pool.close();
    },
  };
}

/**
 * Splits [0, n) into at most `parts` non-empty ranges whose inner bounds are multiples of `unit`
 * elements (default 16 floats, a cache line).
 */
export function splitRange(n: number, parts: number, unit = 16): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const end = i === parts - 1 ? n : Math.min(n, Math.floor((n * (i + 1)) / parts / unit) * unit);
    if (end > start) out.push([start, end]);
    start = Math.max(start, end);
  }
  return out;
}

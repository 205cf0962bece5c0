/**
 * The runtime-neutral side of kernel threads: a pool runs a kernel call cut into chunks (disjoint
 * ranges of tensors in a shared WebAssembly memory) on the calling thread and its workers, then
 * blocks until all chunks are done. Spawning workers is runtime specific (./threads-node.ts); this
 * module defines the contract, the protocol both runtimes' workers speak, and splits work. The
 * pool knows no module of its own: each shared memory is attached with the module to instantiate
 * on it, the optimizer kernels on the arenas (followKernelMemories) or the tfjs training kernels on
 * tfjs-backend-wasm's memory.
 *
 * Chunks are claimed, not assigned: every thread, the caller included, takes the next unclaimed
 * chunk from a shared ticket until none is left, and the caller waits only for chunks a worker has
 * claimed. A worker that the OS does not schedule in time (a loaded machine) then costs nothing:
 * the caller runs its chunks, and the late worker finds none left.
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
   * Runs export `fn` of instance `id` once per entry of `chunks` (its arguments), on the workers
   * and on the calling thread (`exec`: the caller's own instance's export; null: the workers run
   * every chunk), and returns once all chunks are done. Throws if a chunk failed. At most
   * MAX_CHUNKS chunks.
   */
  run(id: number, fn: string, chunks: number[][], exec: ((...args: number[]) => void) | null): void;
  /** Stops the workers. */
  close(): Promise<void>;
}

/** What a pool needs of one worker, whatever the runtime. */
export interface KernelWorkerPort {
  postMessage(message: unknown): void;
}

/**
 * The pool's control block, an Int32Array over a SharedArrayBuffer: [0] chunks finished, [1] a
 * chunk failed, [2] the ticket, (call generation << 12) | next unclaimed chunk.
 */
export const CONTROL_INTS = 3;
/** Chunks per call: the ticket's low 12 bits. */
export const MAX_CHUNKS = 4096;
/**
 * Chunks per thread that callers aim for: enough that a thread the OS runs late leaves little for
 * the others to wait on, few enough that a call stays cheap (~1 us per chunk).
 */
export const CHUNKS_PER_THREAD = 8;

/**
 * Claims the next chunk of call `gen` (count chunks): its index, or -1 when all are claimed or the
 * call is over (a message that reached a worker late). Runs in the workers too: its source text is
 * part of theirs (WORKER_PROTOCOL), so it refers to nothing outside itself.
 */
export function claimChunk(control: Int32Array, gen: number, count: number): number {
  for (;;) {
    const ticket = Atomics.load(control, 2);
    const next = ticket & 4095;
    if (ticket >>> 12 !== gen || next >= count) return -1;
    if (Atomics.compareExchange(control, 2, ticket, ticket + 1) === ticket) return next;
  }
}

/**
 * Runs chunks of call `gen` with `exec` while any is left to claim, counting each as finished
 * (and a throw as failed). The caller and the workers run the same loop.
 */
export function runChunks(
  control: Int32Array,
  gen: number,
  chunks: number[][],
  exec: (...args: number[]) => void,
): void {
  for (let k = claimChunk(control, gen, chunks.length); k >= 0; ) {
    try {
      exec(...chunks[k]);
    } catch {
      Atomics.store(control, 1, 1);
    }
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
    k = claimChunk(control, gen, chunks.length);
  }
}

/**
 * What a worker does with a message, as source text for both runtimes' worker scripts (defines
 * `onKernelMessage(msg, control)`): 'memory' instantiates a module on a shared memory, 'release'
 * drops it, 'run' runs chunks of a call. The two functions above are embedded by their source, so
 * there is one copy of the protocol (a minifier renames them consistently: both texts come from
 * the same bundle).
 */
export const WORKER_PROTOCOL = `
${claimChunk.toString()}
${runChunks.toString()}
const instances = new Map();
function onKernelMessage(msg, control) {
  if (msg.type === 'release') {
    instances.delete(msg.id);
  } else if (msg.type === 'memory') {
    instances.set(msg.id, new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } }).exports);
  } else {
    ${runChunks.name}(control, msg.gen, msg.chunks, instances.get(msg.id)[msg.fn]);
  }
}
`;

/**
 * The pool over started workers: tells them of every attached instance, posts each call to as
 * many workers as it has chunks beyond the caller's first, runs chunks on the caller, then waits
 * on the finished count of the control block. `waitWhile(control, count)` blocks while
 * control[0] === count, for at most about a second (Atomics.wait where allowed, a spin elsewhere).
 */
export function sharedMemoryPool(
  list: readonly KernelWorkerPort[],
  control: Int32Array,
  timeoutMs: number,
  waitWhile: (control: Int32Array, count: number) => void,
  terminate: () => Promise<void>,
): KernelThreadPool {
  const attached = new Set<number>();
  let gen = 0;
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
    run(id, fn, chunks, exec) {
      if (chunks.length > MAX_CHUNKS) {
        throw new RangeError(`kernel threads: ${chunks.length} chunks, at most ${MAX_CHUNKS}`);
      }
      // Every chunk of the previous call is finished, so no thread is inside one; a worker still
      // holding that call's message finds the ticket's generation changed and runs nothing.
      gen = (gen + 1) & 0x7ffff;
      Atomics.store(control, 0, 0);
      Atomics.store(control, 1, 0);
      Atomics.store(control, 2, gen << 12);
      const message = { type: 'run', id, fn, gen, chunks };
      for (const w of list.slice(0, exec ? chunks.length - 1 : chunks.length)) {
        w.postMessage(message);
      }
      if (exec) runChunks(control, gen, chunks, exec);
      const start = performance.now();
      for (let c = Atomics.load(control, 0); c < chunks.length; c = Atomics.load(control, 0)) {
        // A worker that died inside a chunk would never count: give up after timeoutMs.
        waitWhile(control, c);
        if (performance.now() - start > timeoutMs) {
          throw new Error(`kernel threads did not finish ${fn} within ${timeoutMs} ms`);
        }
      }
      if (Atomics.load(control, 1) !== 0) throw new Error(`a kernel thread failed running ${fn}`);
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

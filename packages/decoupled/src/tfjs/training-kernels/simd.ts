/**
 * The SIMD loops of src/tfjs/training-kernels/assembly, instantiated once per wasm backend on that
 * backend's own memory (the shared-memory variant when the backend runs threaded), so they read
 * and write tensors in place by their byte offsets.
 *
 * Threads (Node, threaded backend: ./threads-node.ts attaches a pool): `runSplit` cuts a call
 * into chunks of independent outputs (output channels, rows, images, elements), which the calling
 * thread and worker threads that instantiated the same module on the same shared memory claim
 * one by one, and returns when all are done. Every output element is computed by the same
 * operations in the same order whatever the split, so results equal one thread's bit for bit.
 */

import { CHUNKS_PER_THREAD, type KernelThreadPool, splitRange } from '../../kernels/threads.js';
import { plainTrainingWasmBase64, sharedTrainingWasmBase64 } from './generated/wasm.js';
import type { WasmBackend } from './wasm-backend.js';

/** Exports of the module; see assembly/index.ts for the math. */
export interface TrainingSimd {
  channelSums(a: number, b: number, shift: number, m: number, c: number, acc: number): void;
  centredAffine(
    out: number,
    x: number,
    mean: number,
    u: number,
    dy: number,
    v: number,
    w: number,
    m: number,
    c: number,
  ): void;
  /** Conv2D forward, NHWC, dilation 1; y rows [r0, r1) of N*Ho are overwritten. Needs co % 4 == 0. */
  conv2d(
    x: number,
    w: number,
    y: number,
    n: number,
    h: number,
    wIn: number,
    ci: number,
    ho: number,
    wo: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    r0: number,
    r1: number,
  ): void;
  /** dx rows [r0, r1) of N*H (overwritten) = sum of the patch rows of cols [N*Ho*Wo, kh*kw*Ci]. */
  col2im(
    cols: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    ho: number,
    wo: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    r0: number,
    r1: number,
  ): void;
  /** MaxPoolGrad of the unpadded 2x2 stride-2 pool (NHWC); dx is overwritten. */
  maxPoolGrad2x2(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    ho: number,
    wo: number,
  ): void;
  /** dx = x > 0 ? dy : 0 over n floats. */
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  /**
   * Conv2D filter gradient, NHWC; dw[taps t0:t1 (t = i*kw + j), a0:a1, :] is overwritten. Needs
   * co and a0 % 4 == 0.
   */
  convFilterGrad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    ho: number,
    wo: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    t0: number,
    t1: number,
    a0: number,
    a1: number,
  ): void;
}

const compiled: { plain?: WebAssembly.Module; shared?: WebAssembly.Module } = {};

function compile(base64: string): WebAssembly.Module {
  return new WebAssembly.Module(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
}
const instances = new WeakMap<object, TrainingSimd>();

/** True when `backend` is tfjs-backend-wasm's threaded build (its memory is shared). */
export function isThreaded(backend: WasmBackend): boolean {
  const memory = backendMemory(backend);
  return memory !== undefined && isShared(memory);
}

/** The threaded build imports its memory (wasmMemory); the others export it (asm.memory). */
export function backendMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  return backend.wasm.wasmMemory ?? backend.wasm.asm.memory;
}

/** SharedArrayBuffer does not exist on pages that are not cross-origin isolated. */
function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** The SIMD loops over `backend`'s memory. */
export function simdOn(backend: WasmBackend): TrainingSimd {
  let simd = instances.get(backend);
  if (simd === undefined) {
    const memory = backendMemory(backend);
    if (memory === undefined)
      throw new Error('wasm training kernels: no wasm memory on the backend');
    // tfjs-backend-wasm's threaded build (see threads-node.ts) runs on a shared memory.
    const shared = isShared(memory);
    const key = shared ? 'shared' : 'plain';
    const mod =
      compiled[key] ?? compile(shared ? sharedTrainingWasmBase64 : plainTrainingWasmBase64);
    compiled[key] = mod;
    simd = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as TrainingSimd;
    instances.set(backend, simd);
  }
  return simd;
}

/** A backend's worker threads: the pool and the id its workers know the module instance by. */
interface Threads {
  pool: KernelThreadPool;
  id: number;
}
const threadsOf = new WeakMap<object, Threads>();

/**
 * Work (multiply-adds, or elements for passes without a reduction) below which a call stays on
 * one thread: a split costs a message to each worker and a wake-up, ~20 us in Node.
 */
/**
 * Work per element of a one-pass kernel (ReLU gradient, BatchNorm's output pass, the 2x2 max-pool
 * gradient), in multiply-adds: such a pass moves more memory than it computes, and measured it
 * gains from threads only from about 2^20 elements (below, 0.8-1.1x).
 */
export const PASS_WORK = 1 / 8;

export const trainingThreadTuning = {
  minWork: 1 << 17,
  /** false: the calling thread only waits and the workers run every chunk (tests). */
  callerClaims: true,
};

/** Calls that were split over threads (for tests: the threaded path really ran). */
export const trainingThreadStats = { splitCalls: 0 };

/**
 * Runs the training kernels of `backend` (threaded build only) on `pool` as well as on the calling
 * thread: every worker instantiates the shared-memory module on the backend's memory.
 */
export function attachTrainingThreads(backend: WasmBackend, pool: KernelThreadPool): void {
  if (!isThreaded(backend)) {
    throw new Error('wasm training kernels: threads need the threaded (shared-memory) backend');
  }
  simdOn(backend);
  const id = 0;
  pool.attach(
    id,
    backendMemory(backend) as WebAssembly.Memory,
    compiled.shared as WebAssembly.Module,
  );
  threadsOf.set(backend, { pool, id });
}

/** Threads the training kernels of `backend` run on, counting the caller. */
export function trainingThreads(backend: WasmBackend): number {
  return (threadsOf.get(backend)?.pool.workers ?? 0) + 1;
}

/** One axis of a kernel's independent outputs: `count` of them, split at multiples of `unit`. */
export interface SplitAxis {
  count: number;
  unit: number;
}

/**
 * Runs export `fn` of the module over independent outputs along `axes`: `args(s0, e0, s1, e1,
 * ...)` are its arguments for outputs [s0, e0) x [s1, e1) x .... With threads and at least
 * `minWork` of `work`, the outputs are cut into `perThread` chunks per thread where the units allow
 * (the first axis is cut first), which the threads claim (kernels/threads.ts); else one call.
 */
export function runSplit(
  backend: WasmBackend,
  fn: keyof TrainingSimd,
  work: number,
  axes: SplitAxis[],
  args: (...bounds: number[]) => number[],
  perThread = CHUNKS_PER_THREAD,
): void {
  const exec = simdOn(backend)[fn] as (...a: number[]) => void;
  const threads = threadsOf.get(backend);
  let chunks: number[][] = [[]];
  if (threads !== undefined && work >= trainingThreadTuning.minWork) {
    let parts = perThread * (threads.pool.workers + 1);
    for (const { count, unit } of axes) {
      const ranges = splitRange(
        count,
        Math.min(parts, Math.max(1, Math.floor(count / unit))),
        unit,
      );
      chunks = chunks.flatMap((c) => ranges.map(([a, b]) => [...c, a, b]));
      parts = Math.ceil(parts / Math.max(1, ranges.length));
    }
  }
  if (threads === undefined || chunks.length < 2) {
    exec(...args(...axes.flatMap(({ count }) => [0, count])));
    return;
  }
  trainingThreadStats.splitCalls++;
  threads.pool.run(
    threads.id,
    fn,
    chunks.map((bounds) => args(...bounds)),
    trainingThreadTuning.callerClaims ? exec : null,
  );
}

/**
 * The fused WASM SIMD update kernels as `UpdateKernels` for the optimizer core: the same per-element
 * math as the reference loops of src/core/kernels.ts (bit-identical float32 results), in one pass
 * over p, g and the state (AdamW: 28 bytes per parameter).
 *
 * Where the data lives decides the path:
 * - in place: every array is a view into one kernel memory (an arena, ./arena.ts): the kernel runs
 *   on the views directly, split over worker threads for large tensors when a pool is started;
 * - staged: otherwise the arrays outside that memory are streamed through its staging area in
 *   chunks that stay in L2 (copy in, update, copy the outputs back), on the calling thread.
 */
import type { AdamScalars, SgdScalars, UpdateKernels } from '../core/kernels.js';
import {
  arenaOf,
  createKernelMemory,
  type KernelMemory,
  memoryOf,
  STAGE_CHUNK,
  stageSlot,
} from './arena.js';
import { FLAG } from './module.js';
import { type KernelThreadPool, splitRange } from './threads.js';

/** The WASM kernels, plus the extras the optimizer core can use when present. */
export interface WasmKernels extends UpdateKernels {
  /** True if every element is finite (a SIMD scan); the fast path of the non-finite check. */
  allFinite(a: Float32Array): boolean;
  /** A zeroed state array for `param`: in param's arena when it has room, else a plain array. */
  allocateState(param: Float32Array): Float32Array;
}

export interface KernelThreadOptions {
  /** Threads per step, counting the caller: a number >= 1, or 'auto' (the cores available). */
  threads?: number | 'auto';
  /** Tensors shorter than this run on one thread (default 2^20 elements). */
  minParallelLength?: number;
}

let pool: KernelThreadPool | null = null;
let minParallel = 1 << 20;
let staging: KernelMemory | undefined;

/** Installs (or, with null, removes) the thread pool used for large in-place tensors. */
export function setThreadPool(next: KernelThreadPool | null, minParallelLength?: number): void {
  pool = next;
  if (minParallelLength !== undefined) minParallel = minParallelLength;
}

/** The installed pool, if any. */
export function getThreadPool(): KernelThreadPool | null {
  return pool;
}

function stagingMemory(): KernelMemory {
  staging ??= createKernelMemory(0, false);
  return staging;
}

const heaps = new WeakMap<KernelMemory, Float32Array>();
function heapOf(mem: KernelMemory): Float32Array {
  let heap = heaps.get(mem);
  if (!heap) {
    heap = new Float32Array(mem.buffer);
    heaps.set(mem, heap);
  }
  return heap;
}

function checkLength(name: string, a: Float32Array | null, n: number): void {
  if (a !== null && a.length !== n) {
    throw new RangeError(`${name} has length ${a.length}; it must have the length of p (${n})`);
  }
}

/**
 * Runs `call(ptrs, start, len)` over arrays (null = unused), in place when all used arrays are in
 * `mem`, else staged chunk by chunk. `outputs[k]` says whether array k is written.
 */
function runChunked(
  mem: KernelMemory,
  arrays: (Float32Array | null)[],
  outputs: boolean[],
  n: number,
  call: (ptrs: number[], len: number) => void,
): void {
  const heap = heapOf(mem);
  const inside = arrays.map((a) => a === null || a.buffer === mem.buffer);
  const ptrs = new Array<number>(arrays.length).fill(0);
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    for (let k = 0; k < arrays.length; k++) {
      const a = arrays[k];
      if (a === null) continue;
      if (inside[k]) {
        ptrs[k] = a.byteOffset + off * 4;
      } else {
        ptrs[k] = stageSlot(k);
        heap.set(a.subarray(off, off + len), ptrs[k] >> 2);
      }
    }
    call(ptrs, len);
    for (let k = 0; k < arrays.length; k++) {
      const a = arrays[k];
      if (a !== null && outputs[k] && !inside[k]) {
        a.set(heap.subarray(ptrs[k] >> 2, (ptrs[k] >> 2) + len), off);
      }
    }
  }
}

/** Picks the memory to run in: the one holding the first array that lives in one. */
function pickMemory(arrays: (Float32Array | null)[]): KernelMemory {
  for (const a of arrays) {
    const mem = a && memoryOf(a);
    if (mem) return mem;
  }
  return stagingMemory();
}

/**
 * Runs in place (threaded when worth it) if every array is in `mem`; returns false otherwise.
 * `args(ptrs, len)` builds the export's argument list for one range.
 */
function runInPlace(
  mem: KernelMemory,
  fn: 'adam' | 'sgd',
  arrays: (Float32Array | null)[],
  n: number,
  args: (ptrs: number[], len: number) => number[],
): boolean {
  if (!arrays.every((a) => a === null || a.buffer === mem.buffer)) return false;
  const ptrsAt = (start: number) => arrays.map((a) => (a === null ? 0 : a.byteOffset + start * 4));
  const exec = (list: number[]) => (mem.exports[fn] as (...a: number[]) => void)(...list);
  if (pool && n >= minParallel && pool.has(mem.id)) {
    const ranges = splitRange(n, pool.workers + 1);
    const [own, ...rest] = ranges;
    pool.run(
      mem.id,
      fn,
      rest.map(([a, b]) => args(ptrsAt(a), b - a)),
      () => exec(args(ptrsAt(own[0]), own[1] - own[0])),
    );
  } else {
    exec(args(ptrsAt(0), n));
  }
  return true;
}

function adam(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array | null,
  s: AdamScalars,
): void {
  const n = p.length;
  checkLength('g', g, n);
  checkLength('m', m, n);
  checkLength('v', v, n);
  const useMax = s.amsgrad && vMax !== null;
  if (useMax) checkLength('vMax', vMax, n);
  if (n === 0) return;
  // Same conditions as the reference loop (l2 compared after rounding to float32).
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (useMax ? FLAG.amsgrad : 0) |
    (Math.fround(s.l2) !== 0 ? FLAG.l2 : 0);
  const arrays = [p, g, m, v, useMax ? vMax : null];
  // f32 parameters round each scalar with fround, as the reference does.
  const args = (ptrs: number[], len: number): number[] => [
    ptrs[0],
    ptrs[1],
    ptrs[2],
    ptrs[3],
    ptrs[4],
    len,
    s.decayFactor,
    s.l2,
    s.beta1,
    1 - s.beta1,
    s.beta2,
    1 - s.beta2,
    s.biasCorrection2Sqrt,
    s.eps,
    -s.stepSize,
    flags,
  ];
  const mem = pickMemory(arrays);
  if (runInPlace(mem, 'adam', arrays, n, args)) return;
  const fn = mem.exports.adam as (...a: number[]) => void;
  runChunked(mem, arrays, [true, false, true, true, true], n, (ptrs, len) =>
    fn(...args(ptrs, len)),
  );
}

function sgd(p: Float32Array, g: Float32Array, buf: Float32Array | null, s: SgdScalars): void {
  const n = p.length;
  checkLength('g', g, n);
  const useMomentum = s.momentum !== 0 && buf !== null;
  if (useMomentum) checkLength('buf', buf, n);
  if (n === 0) return;
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (Math.fround(s.l2) !== 0 ? FLAG.l2 : 0) |
    (useMomentum ? FLAG.momentum : 0) |
    (s.nesterov ? FLAG.nesterov : 0) |
    (s.firstStep ? FLAG.firstStep : 0);
  const arrays = [p, g, useMomentum ? buf : null];
  const args = (ptrs: number[], len: number): number[] => [
    ptrs[0],
    ptrs[1],
    ptrs[2],
    len,
    s.decayFactor,
    s.l2,
    s.momentum,
    1 - s.dampening,
    -s.lr,
    flags,
  ];
  const mem = pickMemory(arrays);
  if (runInPlace(mem, 'sgd', arrays, n, args)) return;
  const fn = mem.exports.sgd as (...a: number[]) => void;
  runChunked(mem, arrays, [true, false, true], n, (ptrs, len) => fn(...args(ptrs, len)));
}

function allFinite(a: Float32Array): boolean {
  const mem = memoryOf(a) ?? stagingMemory();
  let ok = true;
  if (a.buffer === mem.buffer) return mem.exports.allFinite(a.byteOffset, a.length) === 1;
  runChunked(mem, [a], [false], a.length, (ptrs, len) => {
    if (ok && mem.exports.allFinite(ptrs[0], len) !== 1) ok = false;
  });
  return ok;
}

function allocateState(param: Float32Array): Float32Array {
  return arenaOf(param)?.allocOrPlain(param.length) ?? new Float32Array(param.length);
}

/** The WASM kernels (synchronous; compiled on first use). Threads: see initKernels. */
export const wasmKernels: WasmKernels = {
  name: 'wasm-simd',
  adam,
  sgd,
  allFinite,
  allocateState,
};

/** True where WebAssembly with SIMD is available (the kernels need v128). */
export function wasmKernelsSupported(): boolean {
  try {
    stagingMemory();
    return true;
  } catch {
    return false;
  }
}

/**
 * The fused WASM SIMD update kernels as `UpdateKernels` for the optimizer core: the same per-element
 * math as the reference loops of src/core/kernels.ts (bit-identical float32 results), in one pass
 * over p, g and the state (AdamW: 28 bytes per parameter; schedule-free AdamW: y, g, z, v, 28 too).
 *
 * Where the data lives decides the path:
 * - in place: every array is a view into one kernel memory (an arena, ./arena.ts): the kernel runs
 *   on the views directly, split over worker threads for large tensors when a pool is started;
 * - staged: otherwise the arrays outside that memory are streamed through its staging area in
 *   chunks that stay in L2 (copy in, update, copy the outputs back), on the calling thread.
 * The scalar arguments and flags come from the calling convention (./abi.ts).
 */
import {
  type AdamStepScalars,
  adamReferenceUpdate,
  firstNonFinite,
  type ScheduleFreeScalars,
  type SgdScalars,
  scheduleFreeReferenceUpdate,
  sgdReferenceUpdate,
  type UpdateKernels,
} from '../core/kernels.js';
import {
  adamArgs,
  adamKernelExact,
  scheduleFreeArgs,
  scheduleFreeKernelExact,
  sgdArgs,
} from './abi.js';
import {
  arenaOf,
  createKernelMemory,
  type KernelMemory,
  memoryOf,
  STAGE_CHUNK,
  STAGE_SLOTS,
  stageSlot,
  stateArena,
} from './arena.js';
import type { UpdateExport } from './module.js';
import { CHUNKS_PER_THREAD, type KernelThreadPool, splitRange } from './threads.js';

/** The WASM kernels, plus the extras the optimizer core can use when present. */
export interface WasmKernels extends UpdateKernels {
  readonly scheduleFree: NonNullable<UpdateKernels['scheduleFree']>;
  /** True if every element is finite (a SIMD scan); the fast path of the non-finite check. */
  allFinite(a: Float32Array): boolean;
  /**
   * A zeroed state array for `param`: in param's arena when it has room; for a param outside every
   * kernel memory, in a state arena (so only p and g are staged); else a plain array.
   */
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

/** Below this length the reference loop is faster than a WASM call (and gives the same bits). */
const SMALL = 64;

/** Per memory: its heap and a view of each staging slot (created once; calls allocate nothing). */
interface Staging {
  readonly heap: Float32Array;
  readonly slots: Float32Array[];
}
const stagings = new WeakMap<KernelMemory, Staging>();
function stagingOf(mem: KernelMemory): Staging {
  let st = stagings.get(mem);
  if (!st) {
    const heap = new Float32Array(mem.buffer);
    const slots = Array.from({ length: STAGE_SLOTS }, (_, k) =>
      heap.subarray(stageSlot(k) >> 2, (stageSlot(k) >> 2) + STAGE_CHUNK),
    );
    st = { heap, slots };
    stagings.set(mem, st);
  }
  return st;
}

function checkLength(name: string, a: Float32Array | null, n: number): void {
  if (a !== null && a.length !== n) {
    throw new RangeError(`${name} has length ${a.length}; it must have the length of p (${n})`);
  }
}

/** Pointer to elements [off, off + len) of `a`: in place if in the memory, else copied to slot k. */
function stageIn(
  st: Staging,
  buf: ArrayBufferLike,
  a: Float32Array,
  k: number,
  off: number,
  len: number,
): number {
  if (a.buffer === buf) return a.byteOffset + off * 4;
  st.slots[k].set(len === a.length ? a : a.subarray(off, off + len));
  return stageSlot(k);
}

/** Copies slot k back to elements [off, off + len) of `a` if `a` was staged. */
function stageOut(
  st: Staging,
  buf: ArrayBufferLike,
  a: Float32Array,
  k: number,
  off: number,
  len: number,
): void {
  if (a.buffer === buf) return;
  const slot = st.slots[k];
  a.set(len === STAGE_CHUNK ? slot : slot.subarray(0, len), off);
}

/** The memory to run in: the one holding p or the state, else the staging memory. */
function pickMemory(p: Float32Array, state: Float32Array | null): KernelMemory {
  return memoryOf(p) ?? (state && memoryOf(state)) ?? stagingMemory();
}

/** Runs `args(start, len)` of export `fn` on every thread if worth it; false if not threaded. */
function runThreaded(
  mem: KernelMemory,
  fn: UpdateExport,
  n: number,
  args: (start: number, len: number) => number[],
): boolean {
  if (!pool || n < minParallel || !pool.has(mem.id)) return false;
  const chunks = splitRange(n, CHUNKS_PER_THREAD * (pool.workers + 1)).map(([a, b]) =>
    args(a, b - a),
  );
  pool.run(mem.id, fn, chunks, mem.exports[fn] as (...a: number[]) => void);
  return true;
}

/**
 * Runs export `fn` over `arrays` (null: absent, passed as pointer 0) and the step's `scalars`:
 * in place, split over threads when every array is in the memory, else staged chunk by chunk
 * (array k through staging slot k; the arrays at `written` are copied back). Optimizer state
 * lives in kernel memory (allocateState), so a step on plain params stages only p and g.
 */
function dispatch(
  mem: KernelMemory,
  fn: UpdateExport,
  arrays: readonly (Float32Array | null)[],
  written: readonly number[],
  scalars: readonly number[],
): void {
  const n = (arrays[0] as Float32Array).length;
  const buf = mem.buffer;
  const exec = mem.exports[fn] as (...a: number[]) => void;
  if (arrays.every((a) => a === null || a.buffer === buf)) {
    // Pointers (byte offsets) and length first, then the scalars, as the exports take them.
    const at = (start: number, len: number) => [
      ...arrays.map((a) => (a === null ? 0 : a.byteOffset + start * 4)),
      len,
      ...scalars,
    ];
    if (runThreaded(mem, fn, n, at)) return;
    exec(...at(0, n));
    return;
  }
  const st = stagingOf(mem);
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    exec(
      ...arrays.map((a, k) => (a === null ? 0 : stageIn(st, buf, a, k, off, len))),
      len,
      ...scalars,
    );
    for (const k of written) {
      const a = arrays[k];
      if (a !== null) stageOut(st, buf, a, k, off, len);
    }
  }
}

function adam(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array | null,
  s: AdamStepScalars,
): void {
  const n = p.length;
  checkLength('g', g, n);
  checkLength('m', m, n);
  checkLength('v', v, n);
  const vm = s.amsgrad && vMax !== null ? vMax : null;
  checkLength('vMax', vm, n);
  if (n < SMALL || !adamKernelExact(s)) {
    adamReferenceUpdate(p, g, m, v, vMax, s);
    return;
  }
  dispatch(pickMemory(p, m), 'adam', [p, g, m, v, vm], [0, 2, 3, 4], adamArgs(s, vm !== null));
}

function sgd(p: Float32Array, g: Float32Array, buffer: Float32Array | null, s: SgdScalars): void {
  const n = p.length;
  checkLength('g', g, n);
  const b = s.momentum !== 0 && buffer !== null ? buffer : null;
  checkLength('buf', b, n);
  if (n < SMALL) {
    sgdReferenceUpdate(p, g, buffer, s);
    return;
  }
  dispatch(pickMemory(p, b), 'sgd', [p, g, b], [0, 2], sgdArgs(s, b !== null, s.firstStep));
}

function scheduleFree(
  y: Float32Array,
  g: Float32Array,
  z: Float32Array,
  v: Float32Array | null,
  s: ScheduleFreeScalars,
): void {
  const n = y.length;
  checkLength('g', g, n);
  checkLength('z', z, n);
  const vv = s.adam !== null && v !== null ? v : null;
  checkLength('v', vv, n);
  if (n < SMALL || !scheduleFreeKernelExact(s)) {
    scheduleFreeReferenceUpdate(y, g, z, v, s);
    return;
  }
  const args = scheduleFreeArgs(s, vv !== null);
  dispatch(pickMemory(y, z), 'scheduleFree', [y, g, z, vv], [0, 2, 3], args);
}

function allFinite(a: Float32Array): boolean {
  const n = a.length;
  if (n < SMALL) return firstNonFinite(a) === null;
  const mem = memoryOf(a) ?? stagingMemory();
  if (a.buffer === mem.buffer) return mem.exports.allFinite(a.byteOffset, n) === 1;
  const st = stagingOf(mem);
  for (let off = 0; off < n; off += STAGE_CHUNK) {
    const len = Math.min(STAGE_CHUNK, n - off);
    if (mem.exports.allFinite(stageIn(st, mem.buffer, a, 0, off, len), len) !== 1) return false;
  }
  return true;
}

function allocateState(param: Float32Array): Float32Array {
  const n = param.length;
  const arena = arenaOf(param) ?? (memoryOf(param) || n < SMALL ? undefined : stateArena(n));
  return arena?.allocOrPlain(n) ?? new Float32Array(n);
}

/** The WASM kernels (synchronous; compiled on first use). Threads: see initKernels. */
export const wasmKernels: WasmKernels = {
  name: 'wasm-simd',
  adam,
  sgd,
  scheduleFree,
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

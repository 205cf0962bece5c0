/**
 * Kernel memory: fixed-size WebAssembly memories that own parameters, gradients and optimizer
 * state and hand out Float32Array views of them, so a step runs on them in place (no copy in or
 * out). Each memory starts with a small staging area, used to stream arrays that live outside it
 * through the kernels chunk by chunk, then a bump allocator for views.
 *
 * Why fixed-size: growing a non-shared memory detaches every view handed out, and growing during
 * training touches fresh pages inside timed steps (see docs/kernels.md, "large arrays"). An arena
 * is sized once; `prefault` writes every page at creation so no step pays first-touch faults.
 */
import { OptionError } from '../core/errors.js';
import { createInstance, type KernelInstance, MAX_PAGES, PAGE_BYTES } from './module.js';

/**
 * Floats per staged chunk: 256 KiB per slot. The copies and the kernel run one after the other, so
 * fewer, longer copies win: measured (docs/kernels.md) 65536 beat 1024-16384 and tied 262144.
 */
export const STAGE_CHUNK = 65536;
/** Staging slots: p, g, m (or buf), v, vmax. */
export const STAGE_SLOTS = 5;
const STAGE_BASE = 256;
/** First byte the allocator hands out (after the staging area, page aligned). */
export const DATA_BASE =
  Math.ceil((STAGE_BASE + STAGE_SLOTS * STAGE_CHUNK * 4) / PAGE_BYTES) * PAGE_BYTES;
const ALIGN = 64;

/** Byte offset of staging slot `k`. */
export function stageSlot(k: number): number {
  return STAGE_BASE + k * STAGE_CHUNK * 4;
}

/** A registered memory: the instance and an id the worker threads know it by. */
export interface KernelMemory extends KernelInstance {
  readonly id: number;
}

const byBuffer = new WeakMap<ArrayBufferLike, KernelMemory>();
/** Called with a shared memory when it is created (added) or released (removed). */
export type MemoryListener = (mem: KernelMemory, added: boolean) => void;
const listeners = new Set<MemoryListener>();
const live: KernelMemory[] = [];
let nextId = 0;

/** Creates and registers a memory of `bytes` usable bytes (plus the staging area). */
export function createKernelMemory(bytes: number, preferShared = true): KernelMemory {
  const pages = Math.ceil((DATA_BASE + bytes) / PAGE_BYTES);
  const inst = createInstance(pages, preferShared);
  const mem: KernelMemory = { ...inst, id: nextId++ };
  byBuffer.set(mem.buffer, mem);
  if (mem.shared) {
    live.push(mem);
    for (const fn of listeners) fn(mem, true);
  }
  return mem;
}

/** Forgets a shared memory: worker threads drop their instance, so it can be collected. */
function releaseKernelMemory(mem: KernelMemory): void {
  const i = live.indexOf(mem);
  if (i < 0) return;
  live.splice(i, 1);
  for (const fn of listeners) fn(mem, false);
}

/** The kernel memory an array's buffer belongs to, if any. */
export function memoryOf(a: Float32Array): KernelMemory | undefined {
  return byBuffer.get(a.buffer);
}

/** Calls `fn` for every shared memory, now and when created (the thread pool registers them). */
export function onSharedMemory(fn: MemoryListener): () => void {
  for (const mem of live) fn(mem, true);
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export interface ArenaOptions {
  /** Write every page now, so the first steps do not pay page faults (default true). */
  prefault?: boolean;
  /** Use a shared memory when available, which worker threads need (default true). */
  shared?: boolean;
}

/** A fixed-capacity WASM memory that allocates zeroed Float32Array views. */
export class KernelArena {
  /** Capacity in float32 elements. */
  readonly capacity: number;
  readonly memory: KernelMemory;
  private next = DATA_BASE;

  constructor(capacity: number, options: ArenaOptions = {}) {
    const maxFloats = (MAX_PAGES * PAGE_BYTES - DATA_BASE) / 4 - ALIGN;
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > maxFloats) {
      throw new OptionError(
        'capacity',
        capacity,
        `an integer number of float32 elements in [0, ${maxFloats}] (the 4 GiB wasm32 limit)`,
        'KernelArena',
      );
    }
    this.capacity = capacity;
    // 4 KiB of slack absorbs the 64-byte alignment padding of up to 64 allocations, so
    // `capacity` elements fit in a few arrays; alloc() reports exhaustion beyond that.
    this.memory = createKernelMemory(capacity * 4 + 4096, options.shared ?? true);
    if (options.prefault ?? true) {
      // Zero pages are mapped lazily; writing one byte per 4 KiB page faults them all in now.
      const bytes = new Uint8Array(this.memory.buffer);
      for (let i = DATA_BASE; i < bytes.length; i += 4096) bytes[i] = 0;
    }
  }

  /** Elements still available (ignoring alignment padding of future allocations). */
  get remaining(): number {
    return Math.max(0, (this.memory.buffer.byteLength - this.next) / 4);
  }

  /** A zeroed Float32Array of `length` elements in this arena (64-byte aligned). */
  alloc(length: number): Float32Array {
    if (!Number.isInteger(length) || length < 0) {
      throw new OptionError('length', length, 'a non-negative integer', 'KernelArena.alloc');
    }
    const start = this.next;
    if (start + length * 4 > this.memory.buffer.byteLength) {
      throw new OptionError(
        'length',
        length,
        `at most the ${this.remaining} elements left in this arena of capacity ${this.capacity}`,
        'KernelArena.alloc',
      );
    }
    this.next = Math.ceil((start + length * 4) / ALIGN) * ALIGN;
    return new Float32Array(this.memory.buffer, start, length);
  }

  /**
   * Releases the arena's memory to the garbage collector once no view of it is referenced (worker
   * threads drop it now). Views stay usable on the calling thread but are no longer threaded.
   */
  dispose(): void {
    releaseKernelMemory(this.memory);
    arenas.delete(this.memory.id);
  }

  /** A copy of `values` in this arena. */
  from(values: ArrayLike<number>): Float32Array {
    const a = this.alloc(values.length);
    a.set(values);
    return a;
  }

  /** A zeroed array of `like.length` in this arena, or a plain one when it is full. */
  allocOrPlain(length: number): Float32Array {
    return length * 4 <= this.memory.buffer.byteLength - this.next
      ? this.alloc(length)
      : new Float32Array(length);
  }
}

/** Every arena by memory id, so state can be allocated next to its parameter. */
const arenas = new Map<number, WeakRef<KernelArena>>();

/** Creates an arena of `capacity` float32 elements (see KernelArena). */
export function createArena(capacity: number, options?: ArenaOptions): KernelArena {
  const arena = new KernelArena(capacity, options);
  arenas.set(arena.memory.id, new WeakRef(arena));
  return arena;
}

/** Floats in each memory that holds the state of params outside every arena (see stateArena). */
const STATE_ARENA_FLOATS = 1 << 24;
let stateArenaNow: KernelArena | undefined;

/**
 * An arena with room for `length` floats that holds optimizer state of params living outside any
 * arena (the optimizer owns its state, so it may live in kernel memory): the staged path then
 * copies only p and g in and p out. Arenas of 64 MiB (or 3 x length, so a param's slots stay
 * together) are created as needed, not prefaulted, and collected once no state view is left.
 */
export function stateArena(length: number): KernelArena {
  if (!stateArenaNow || stateArenaNow.remaining < length + ALIGN) {
    stateArenaNow = new KernelArena(Math.max(STATE_ARENA_FLOATS, 3 * length), {
      prefault: false,
      shared: false,
    });
  }
  return stateArenaNow;
}

/** The arena a view was allocated from, if any. */
export function arenaOf(a: Float32Array): KernelArena | undefined {
  const mem = memoryOf(a);
  return mem ? arenas.get(mem.id)?.deref() : undefined;
}

/**
 * Loads the compiled kernel module (src/kernels/generated/wasm.ts, base64, no fs or fetch) and
 * instantiates it over a memory. Two variants exist: one importing a shared memory (usable by
 * worker threads; needs SharedArrayBuffer, i.e. Node or a cross-origin-isolated page) and one
 * importing a plain memory (everywhere else). Compilation is synchronous: the module is a few KiB,
 * well below the size browsers allow to compile on the main thread.
 */
import type { AdamKernelArgs, ScheduleFreeKernelArgs, SgdKernelArgs } from './abi.js';
import { plainWasmBase64, sharedWasmBase64 } from './generated/wasm.js';

/**
 * The raw exports of src/kernels/assembly/index.ts; pointers are byte offsets, and the scalar
 * arguments after the length are the calling convention's (./abi.ts).
 */
export interface KernelExports {
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    vmax: number,
    n: number,
    ...s: AdamKernelArgs
  ): void;
  sgd(p: number, g: number, buf: number, n: number, ...s: SgdKernelArgs): void;
  scheduleFree(
    y: number,
    g: number,
    z: number,
    v: number,
    n: number,
    ...s: ScheduleFreeKernelArgs
  ): void;
  allFinite(ptr: number, n: number): number;
  emaUpdate(e: number, theta: number, n: number, d: number, c: number): void;
  accumulateAdd(s: number, g: number, n: number): void;
  accumulateMean(out: number, s: number, g: number, n: number, k: number): void;
}

/** The exports that update tensors (the ones worker threads run on ranges). */
export type UpdateExport = 'adam' | 'sgd' | 'scheduleFree';

export const PAGE_BYTES = 65536;
/** The wasm32 limit: 65536 pages = 4 GiB. */
export const MAX_PAGES = 65536;

let sharedSupport: boolean | undefined;

/** True where a shared WebAssembly.Memory can be created (Node; isolated browser pages). */
export function sharedMemorySupported(): boolean {
  if (sharedSupport === undefined) {
    try {
      sharedSupport =
        typeof SharedArrayBuffer !== 'undefined' &&
        new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof
          SharedArrayBuffer;
    } catch {
      sharedSupport = false;
    }
  }
  return sharedSupport;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const modules: { shared?: WebAssembly.Module; plain?: WebAssembly.Module } = {};

/** The compiled module of a variant (compiled once, on first use). */
export function kernelModule(shared: boolean): WebAssembly.Module {
  const key = shared ? 'shared' : 'plain';
  let mod = modules[key];
  if (!mod) {
    mod = new WebAssembly.Module(decodeBase64(shared ? sharedWasmBase64 : plainWasmBase64));
    modules[key] = mod;
  }
  return mod;
}

/** A fixed-size memory (never grown, so views into it are never detached) with the kernels. */
export interface KernelInstance {
  readonly memory: WebAssembly.Memory;
  /** memory.buffer, read once: the identity arrays are matched against. */
  readonly buffer: ArrayBufferLike;
  readonly shared: boolean;
  readonly exports: KernelExports;
}

/** Creates a memory of `pages` pages (shared when supported) and instantiates the kernels on it. */
export function createInstance(pages: number, preferShared = true): KernelInstance {
  const shared = preferShared && sharedMemorySupported();
  const memory = new WebAssembly.Memory(
    shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages, maximum: pages },
  );
  const instance = new WebAssembly.Instance(kernelModule(shared), { env: { memory } });
  return {
    memory,
    buffer: memory.buffer,
    shared,
    exports: instance.exports as unknown as KernelExports,
  };
}

/**
 * Plumbing shared by the wasm training kernels: a typed view of tfjs-backend-wasm's backend object,
 * direct calls into the wasm backend's registered forward kernels (Conv2D, Transpose, ...), and a
 * scratch list that frees every intermediate tensor a kernel makes, so that a kernel's only
 * allocation visible to the engine is its output.
 *
 * Heap views (`f32`) are taken after all allocations of a kernel: a malloc may grow the wasm memory,
 * which detaches older views.
 */

import type { DataId, DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';

/** The part of tfjs-backend-wasm's BackendWasm that these kernels use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  dataIdMap: { get(dataId: DataId): { memoryOffset: number } };
  /** The threaded build imports its memory (wasmMemory); the others export it (asm.memory). */
  wasm: { asm: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
}

/** Byte offset of a tensor's data in the backend's wasm memory. */
export function ptr(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Arguments tfjs hands to a kernel function. */
export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs: NamedAttrMap;
}

/** Float32 view of a tensor on the wasm heap (valid until the next allocation). */
export function f32(backend: WasmBackend, t: TensorInfo): Float32Array {
  const a = backend.typedArrayFromHeap(t);
  if (!(a instanceof Float32Array)) {
    throw new TypeError(`wasm training kernels: expected a float32 tensor, got dtype ${t.dtype}`);
  }
  return a;
}

/** Same data, another shape: a view that shares the dataId (no copy, no new reference). */
export function reshaped(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Intermediate tensors of one kernel call; `free()` releases them all. */
export class Scratch {
  private readonly held: TensorInfo[] = [];
  constructor(readonly backend: WasmBackend) {}

  /** Runs a kernel registered for 'wasm' (a shipped forward kernel) and keeps its output. */
  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
    const config = getKernel(kernelName, 'wasm');
    if (config === undefined) {
      throw new Error(`wasm training kernels need the wasm kernel '${kernelName}'`);
    }
    const out = config.kernelFunc({
      inputs,
      attrs,
      backend: this.backend as unknown as Parameters<typeof config.kernelFunc>[0]['backend'],
    });
    if (Array.isArray(out)) throw new Error(`wasm kernel '${kernelName}' returned several outputs`);
    this.held.push(out);
    return out;
  }

  /** Allocates a tensor that is freed with the scratch. */
  alloc(shape: number[], dtype: DataType = 'float32'): TensorInfo {
    const t = this.backend.makeOutput(shape, dtype);
    this.held.push(t);
    return t;
  }

  /** Removes `t` from the list so it outlives the scratch (it becomes the kernel's output). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.held.indexOf(t);
    if (i >= 0) this.held.splice(i, 1);
    return t;
  }

  free(): void {
    for (const t of this.held) this.backend.disposeData(t.dataId);
    this.held.length = 0;
  }
}

/** Runs `body` with a scratch list and frees the list afterwards, also on throw. */
export function withScratch(backend: WasmBackend, body: (s: Scratch) => TensorInfo): TensorInfo {
  const s = new Scratch(backend);
  try {
    return s.keep(body(s));
  } finally {
    s.free();
  }
}

/** Transposes through the wasm Transpose kernel. */
export function transpose(s: Scratch, x: TensorInfo, perm: number[]): TensorInfo {
  return s.run('Transpose', { x }, { perm });
}

/** NCHW <-> NHWC adapters for kernels that compute in NHWC only. */
export const NCHW_TO_NHWC = [0, 2, 3, 1];
export const NHWC_TO_NCHW = [0, 3, 1, 2];

/**
 * The SIMD loops of src/tfjs/training-kernels/assembly, instantiated once per wasm backend on that
 * backend's own memory (the shared-memory variant when the backend runs threaded), so they read
 * and write tensors in place by their byte offsets.
 */

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
  /** Conv2D forward, NHWC, dilation 1; y is overwritten. Needs co % 4 == 0. */
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
  ): void;
  /** dx (overwritten) = sum of the patch rows of cols [N*Ho*Wo, kh*kw*Ci] at their pixels. */
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
  /** Conv2D filter gradient, NHWC; dw is overwritten. Needs co % 4 == 0. */
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
  ): void;
}

const compiled: { plain?: WebAssembly.Module; shared?: WebAssembly.Module } = {};

function compile(base64: string): WebAssembly.Module {
  return new WebAssembly.Module(Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0)));
}
const instances = new WeakMap<object, TrainingSimd>();

/** True when `backend` is tfjs-backend-wasm's threaded build (its memory is shared). */
export function isThreaded(backend: WasmBackend): boolean {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm.memory;
  return memory !== undefined && isShared(memory);
}

/** SharedArrayBuffer does not exist on pages that are not cross-origin isolated. */
function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** The SIMD loops over `backend`'s memory. */
export function simdOn(backend: WasmBackend): TrainingSimd {
  let simd = instances.get(backend);
  if (simd === undefined) {
    const memory = backend.wasm.wasmMemory ?? backend.wasm.asm.memory;
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

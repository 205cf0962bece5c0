/**
 * Fused optimizer updates registered as tfjs kernels, per backend. The math is the core's
 * (src/core/kernels.ts); only where the arrays live differs:
 *
 *   cpu   the backend's Float32Arrays: slots are updated in place, the parameter is written to a
 *         fresh array (cpu's dataSync() hands out the live array, so an in-place write would change
 *         values a caller already read); the loop is the project's WASM SIMD kernel streaming the
 *         arrays through its memory in L2-sized chunks (src/kernels/wasm.ts), or the core's
 *         default UpdateKernels where WebAssembly SIMD is missing.
 *   wasm  tfjs-backend-wasm's heap: the project's SIMD kernel module (src/kernels/assembly) is
 *         instantiated on the backend's own WebAssembly.Memory (the shared-memory variant on the
 *         threaded build), so parameter, gradient and slots
 *         are updated in place with no copy; the backend is then told the parameter changed
 *         (its XNNPACK operators cache packed weights by tensor id).
 *
 * Both take the step's scalars through the one calling convention (src/kernels/abi.ts).
 *
 * Kernel inputs: param, grad and the slots (Adam: m, v, [vMax]; SGD: [buf]); attrs: the step's
 * scalars. Slots are always updated in place (the optimizer owns them and keeps them unshared).
 * Outputs: cpu returns the new parameter; wasm returns nothing (the parameter changed in place).
 * webgl and webgpu have their own kernels under the same names (./gpu: GPGPU programs and a WGSL
 * shader, registered here too), run by the optimizer's device step with no readback; any other
 * backend runs the same update from tf ops (./gpu/ops-update.ts). The core's loops on dataSync()
 * copies remain only for cpu or wasm with these kernels unregistered.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type AdamScalars,
  adamReferenceUpdate,
  firstNonFinite as firstNonFiniteIn,
  type SgdScalars,
  type UpdateKernels,
} from '../core/kernels.js';
import { getDefaultKernels } from '../core/optimizer.js';
import { adamArgs, adamKernelExact, sgdArgs } from '../kernels/abi.js';
import { type KernelExports, kernelModule } from '../kernels/module.js';
import { wasmKernels, wasmKernelsSupported } from '../kernels/wasm.js';
import { registerGpuKernels } from './gpu/index.js';
import { registerWasmTrainingKernels } from './training-kernels/index.js';
import { backendMemory, isThreaded } from './training-kernels/simd.js';
import type { WasmBackend as TrainingBackend } from './training-kernels/wasm-backend.js';

export const ADAM_KERNEL = 'DecoupledAdamUpdate';
export const SGD_KERNEL = 'DecoupledSgdUpdate';

/** The parts of tfjs-backend-cpu this module reads. */
interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

/** The parts of tfjs-backend-wasm this module reads. */
interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  wasm: {
    HEAPF32: Float32Array;
    asm: { memory?: WebAssembly.Memory };
    /** The threaded build's memory (shared); it has no asm.memory. */
    wasmMemory?: WebAssembly.Memory;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

type Inputs = Record<string, tf.TensorInfo | undefined>;
type KernelArgs = Parameters<tf.KernelFunc>[0];

// ---------------------------------------------------------------------------------------------
// cpu

let simd: boolean | undefined;

/** The project's WASM SIMD kernels (staged through their memory) where available, else the core's. */
export function cpuKernels(): UpdateKernels {
  simd ??= wasmKernelsSupported();
  return simd ? wasmKernels : getDefaultKernels();
}

function cpuArray(backend: unknown, info: tf.TensorInfo | undefined): Float32Array | null {
  return info ? (backend as CpuBackend).data.get(info.dataId).values : null;
}

function cpuAdam({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as AdamScalars;
  const p = cpuArray(backend, ins.param) as Float32Array;
  const out = p.slice();
  cpuKernels().adam(
    out,
    cpuArray(backend, ins.grad) as Float32Array,
    cpuArray(backend, ins.m) as Float32Array,
    cpuArray(backend, ins.v) as Float32Array,
    cpuArray(backend, ins.vMax),
    s,
  );
  return (backend as CpuBackend).makeTensorInfo(ins.param?.shape as number[], 'float32', out);
}

function cpuSgd({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as SgdScalars;
  const out = (cpuArray(backend, ins.param) as Float32Array).slice();
  cpuKernels().sgd(out, cpuArray(backend, ins.grad) as Float32Array, cpuArray(backend, ins.buf), s);
  return (backend as CpuBackend).makeTensorInfo(ins.param?.shape as number[], 'float32', out);
}

// ---------------------------------------------------------------------------------------------
// wasm

const wasmModules = new WeakMap<object, KernelExports>();

/** The kernel module instantiated on `backend`'s memory (once per backend). */
function wasmKernelsOn(backend: unknown): KernelExports {
  let k = wasmModules.get(backend as object);
  if (!k) {
    const memory = backendMemory(backend as TrainingBackend);
    if (memory === undefined) throw new Error('decoupled/tfjs: no wasm memory on the backend');
    // The threaded build (threads-node.ts) runs on a shared memory, which only the
    // shared-memory variant of the module can import.
    const shared = isThreaded(backend as TrainingBackend);
    const instance = new WebAssembly.Instance(kernelModule(shared), { env: { memory } });
    k = instance.exports as unknown as KernelExports;
    wasmModules.set(backend as object, k);
  }
  return k;
}

function wasmPtr(backend: unknown, info: tf.TensorInfo | undefined): number {
  return info ? (backend as WasmBackend).dataIdMap.get(info.dataId).memoryOffset : 0;
}

/**
 * Tells tfjs-backend-wasm that a tensor's values changed in place. Its XNNPACK kernels (MatMul,
 * Conv2D) cache operators with the weights packed, keyed by tensor id, on the premise that tensor
 * data never changes; unregistering the id runs the disposal callbacks that drop those operators,
 * and registering it again (same memory, which the JS side owns) makes it a valid tensor again.
 * (tfjs-backend-wasm src/cc/backend.cc: dispose_data erases the id's entry and runs its callbacks;
 * it frees no memory.) tfjs' own optimizers pay the same re-packing: they make new tensors.
 */
function valuesChanged(backend: unknown, info: tf.TensorInfo | undefined): void {
  if (!info) return;
  const b = backend as WasmBackend;
  const { id, memoryOffset } = b.dataIdMap.get(info.dataId);
  b.wasm.tfjs.disposeData(id);
  b.wasm.tfjs.registerTensor(id, tf.util.sizeFromShape(info.shape), memoryOffset);
}

/** A view of a tensor's n floats on the wasm heap (valid until the next allocation). */
function wasmView(
  backend: unknown,
  info: tf.TensorInfo | undefined,
  n: number,
): Float32Array | null {
  const heap = (backend as WasmBackend).wasm.HEAPF32.buffer;
  return info ? new Float32Array(heap, wasmPtr(backend, info), n) : null;
}

function wasmAdam({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as AdamScalars;
  const n = tf.util.sizeFromShape(ins.param?.shape as number[]);
  if (adamKernelExact(s)) {
    wasmKernelsOn(backend).adam(
      wasmPtr(backend, ins.param),
      wasmPtr(backend, ins.grad),
      wasmPtr(backend, ins.m),
      wasmPtr(backend, ins.v),
      wasmPtr(backend, ins.vMax),
      n,
      ...adamArgs(s, ins.vMax !== undefined),
    );
  } else {
    const view = (info: tf.TensorInfo | undefined) => wasmView(backend, info, n) as Float32Array;
    const vMax = wasmView(backend, ins.vMax, n);
    adamReferenceUpdate(view(ins.param), view(ins.grad), view(ins.m), view(ins.v), vMax, s);
  }
  valuesChanged(backend, ins.param);
  return [];
}

function wasmSgd({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as SgdScalars;
  const n = tf.util.sizeFromShape(ins.param?.shape as number[]);
  wasmKernelsOn(backend).sgd(
    wasmPtr(backend, ins.param),
    wasmPtr(backend, ins.grad),
    wasmPtr(backend, ins.buf),
    n,
    ...sgdArgs(s, ins.buf !== undefined, s.firstStep),
  );
  valuesChanged(backend, ins.param);
  return [];
}

// ---------------------------------------------------------------------------------------------
// registration and access

/** Which backends update the parameter in place (the kernel returns no output). */
export function updatesInPlace(backendName: string): boolean {
  return backendName === 'wasm';
}

/**
 * Registers the update kernels for cpu and wasm (idempotent), and, once tfjs-backend-wasm is
 * imported, the wasm training kernels (./training-kernels: gradients that backend lacks). Called on
 * import of `decoupled/tfjs` and again by every optimizer constructor, so importing the wasm
 * backend after this module is covered too.
 */
export function registerOptimizerKernels(): void {
  if (tf.findBackendFactory('wasm') != null) registerWasmTrainingKernels();
  const table: [string, string, tf.KernelFunc][] = [
    [ADAM_KERNEL, 'cpu', cpuAdam],
    [SGD_KERNEL, 'cpu', cpuSgd],
    [ADAM_KERNEL, 'wasm', wasmAdam],
    [SGD_KERNEL, 'wasm', wasmSgd],
  ];
  for (const [kernelName, backendName, kernelFunc] of table) {
    if (!tf.getKernel(kernelName, backendName)) {
      tf.registerKernel({ kernelName, backendName, kernelFunc });
    }
  }
  registerGpuKernels(ADAM_KERNEL, SGD_KERNEL);
}

/** True if the fused kernel `name` exists for the active backend. */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * A read-only Float32Array view of a float32 tensor without copying where the backend allows it
 * (cpu: its array; wasm: a view on its heap, valid until the next allocation); else a copy.
 */
export function readView(t: tf.Tensor): Float32Array {
  const name = tf.getBackend();
  const backend = tf.backend() as unknown;
  if (name === 'cpu') return (backend as CpuBackend).data.get(t.dataId).values;
  if (name === 'wasm') {
    const b = backend as WasmBackend;
    const offset = b.dataIdMap.get(t.dataId).memoryOffset;
    return new Float32Array(b.wasm.HEAPF32.buffer, offset, t.size);
  }
  return t.dataSync() as Float32Array;
}

/**
 * Index and value of the first non-finite element of `t`, or null: the core's scan
 * (src/core/kernels.ts), with the kernel module's SIMD check first (on wasm's heap in place, on
 * cpu staged) where WebAssembly SIMD is available.
 */
export function firstNonFinite(t: tf.Tensor): [number, number] | null {
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown;
    const ptr = (backend as WasmBackend).dataIdMap.get(t.dataId).memoryOffset;
    if (wasmKernelsOn(backend).allFinite(ptr, t.size) === 1) return null;
  }
  simd ??= wasmKernelsSupported();
  return firstNonFiniteIn(readView(t), simd ? wasmKernels.allFinite : undefined);
}

/**
 * On the wasm backend, the kernel module on its heap and a tensor's byte offset there (for the
 * in-place loops of ./ema.ts and ./accumulate.ts); null on every other backend.
 */
export function wasmHeapKernels(): { kernels: KernelExports; at(t: tf.Tensor): number } | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown;
  return {
    kernels: wasmKernelsOn(backend),
    at: (t) => (backend as WasmBackend).dataIdMap.get(t.dataId).memoryOffset,
  };
}

/** The backend's reference count of `t`'s data: > 1 means another tensor shares it. */
export function sharedData(t: tf.Tensor): boolean {
  return tf.backend().refCount(t.dataId) > 1;
}

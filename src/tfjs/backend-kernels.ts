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
 *         instantiated on the backend's own WebAssembly.Memory, so parameter, gradient and slots
 *         are updated in place with no copy; the backend is then told the parameter changed
 *         (its XNNPACK operators cache packed weights by tensor id).
 *
 * Kernel inputs: param, grad and the slots (Adam: m, v, [vMax]; SGD: [buf]); attrs: the step's
 * scalars. Slots are always updated in place (the optimizer owns them and keeps them unshared).
 * Outputs: cpu returns the new parameter; wasm returns nothing (the parameter changed in place).
 * Any other backend (WebGL, WebGPU: no fused kernel) takes the optimizer's fallback, the core's
 * loops on dataSync() copies written back as new tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamScalars, SgdScalars, UpdateKernels } from '../core/kernels.js';
import { getDefaultKernels } from '../core/optimizer.js';
import { FLAG, type KernelExports, kernelModule } from '../kernels/module.js';
import { wasmKernels, wasmKernelsSupported } from '../kernels/wasm.js';
import { registerWasmTrainingKernels } from './training-kernels/index.js';

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
    asm: { memory: WebAssembly.Memory };
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
function cpuKernels(): UpdateKernels {
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
    // The plain-memory variant: tfjs-backend-wasm's memory is not shared in Node or the browser.
    const memory = (backend as WasmBackend).wasm.asm.memory;
    const instance = new WebAssembly.Instance(kernelModule(false), { env: { memory } });
    k = instance.exports as unknown as KernelExports;
    wasmModules.set(backend as object, k);
  }
  return k;
}

function wasmPtr(backend: unknown, info: tf.TensorInfo | undefined): number {
  return info ? (backend as WasmBackend).dataIdMap.get(info.dataId).memoryOffset : 0;
}

const f = Math.fround;

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

function wasmAdam({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as AdamScalars;
  const n = tf.util.sizeFromShape(ins.param?.shape as number[]);
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (s.amsgrad && ins.vMax ? FLAG.amsgrad : 0) |
    (s.l2 !== 0 ? FLAG.l2 : 0);
  wasmKernelsOn(backend).adam(
    wasmPtr(backend, ins.param),
    wasmPtr(backend, ins.grad),
    wasmPtr(backend, ins.m),
    wasmPtr(backend, ins.v),
    wasmPtr(backend, ins.vMax),
    n,
    f(s.decayFactor),
    f(s.l2),
    f(s.beta1),
    f(1 - s.beta1),
    f(s.beta2),
    f(1 - s.beta2),
    f(s.biasCorrection2Sqrt),
    f(s.eps),
    f(-s.stepSize),
    flags,
  );
  valuesChanged(backend, ins.param);
  return [];
}

function wasmSgd({ inputs, backend, attrs }: KernelArgs) {
  const ins = inputs as Inputs;
  const s = attrs as unknown as SgdScalars;
  const n = tf.util.sizeFromShape(ins.param?.shape as number[]);
  const useMomentum = s.momentum !== 0 && ins.buf !== undefined;
  const flags =
    (s.maximize ? FLAG.maximize : 0) |
    (s.l2 !== 0 ? FLAG.l2 : 0) |
    (useMomentum ? FLAG.momentum : 0) |
    (useMomentum && s.nesterov ? FLAG.nesterov : 0) |
    (useMomentum && s.firstStep ? FLAG.firstStep : 0);
  wasmKernelsOn(backend).sgd(
    wasmPtr(backend, ins.param),
    wasmPtr(backend, ins.grad),
    wasmPtr(backend, ins.buf),
    n,
    f(s.decayFactor),
    f(s.l2),
    f(s.momentum),
    f(1 - s.dampening),
    f(-s.lr),
    flags,
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
 * Index and value of the first non-finite element of `t`, or null. The scan is the kernel module's
 * SIMD one (on wasm's heap in place, on cpu staged); a JS pass locates the element, or does it all
 * where WebAssembly SIMD is missing.
 */
export function firstNonFinite(t: tf.Tensor): [number, number] | null {
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown;
    const ptr = (backend as WasmBackend).dataIdMap.get(t.dataId).memoryOffset;
    if (wasmKernelsOn(backend).allFinite(ptr, t.size) === 1) return null;
  }
  const a = readView(t);
  simd ??= wasmKernelsSupported();
  if (simd && wasmKernels.allFinite(a)) return null;
  let sum = 0;
  // x * 0 is NaN exactly when x is NaN or infinite: one fast pass, then locate.
  for (let i = 0; i < a.length; i++) sum += a[i] * 0;
  if (sum === 0) return null;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return [i, a[i]];
  return null;
}

/** The backend's reference count of `t`'s data: > 1 means another tensor shares it. */
export function sharedData(t: tf.Tensor): boolean {
  return tf.backend().refCount(t.dataId) > 1;
}

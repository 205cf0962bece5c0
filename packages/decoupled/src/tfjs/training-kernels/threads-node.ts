/**
 * Multi-threaded tfjs-backend-wasm (its threaded SIMD build, XNNPACK on a pthreadpool) in Node.
 * Node-only: import this module by path, never from browser code.
 *
 * Out of the box the package never runs threaded in Node, for three reasons, each worked around
 * here for the duration of the backend's initialization only:
 *   1. WASM_HAS_MULTITHREAD_SUPPORT is hard-coded false in Node (tfjs issue 3830): set to true.
 *   2. emscripten starts each pthread as `new Worker(url)` where tfjs hands it a `blob:` URL of the
 *      worker script, which Node's worker_threads cannot load: URL.createObjectURL returns, for
 *      that script, the path of a copy written to a temporary .cjs file instead. The copy also
 *      points the worker's 'load' message at the package's main script on disk (tfjs posts a Blob
 *      of it, which the worker could only read through another blob: URL).
 *   3. The backend caps its pool at navigator.hardwareConcurrency / 2 (it assumes 2 hyperthreads
 *      per core), which in Node is os.cpus().length / 2, one thread on a 2-vCPU machine:
 *      os.cpus() reports 2 x the requested thread count while the pool is created.
 * The own SIMD kernels (simd.ts) switch to their shared-memory build on the threaded backend and
 * run on n threads too: the caller and n - 1 worker threads (src/kernels/threads-node.ts) that
 * instantiate that build on the backend's memory. Neither these threads nor the pthreads keep the
 * process alive (unref).
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { startNodePool } from '../../kernels/threads-node.js';
import { attachTrainingThreads } from './simd.js';
import type { WasmBackend } from './wasm-backend.js';

const require = createRequire(import.meta.url);

/** The emscripten module behind tfjs-backend-wasm: its pthreads (XNNPACK's pool). */
interface EmscriptenModule {
  PThread?: { runningWorkers: { unref(): void }[] };
}

interface WasmBackendPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Writes the worker script once per process; returns its path. */
function workerScript(): string {
  const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
  const { wasmWorkerContents } = require(
    join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js'),
  ) as { wasmWorkerContents: string };
  const mainScript = join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  // The contents hold '\n' escapes inside string literals; tfjs re-escapes them for its Blob too.
  const patch = `;(() => { const load = self.onmessage; self.onmessage = (e) => {
  if (e.data && e.data.cmd === 'load') e.data.urlOrBlob = ${JSON.stringify(mainScript)};
  return load(e); }; })();\n`;
  const path = join(mkdtempSync(join(os.tmpdir(), 'decoupled-wasm-worker-')), 'worker.cjs');
  writeFileSync(path, `${wasmWorkerContents.replace(/\n/g, '\\n')}\n${patch}`);
  return path;
}

/**
 * Initializes the 'wasm' backend with `threads` XNNPACK threads (and makes it current), and starts
 * `threads` - 1 worker threads for the training kernels. Call before anything else initializes the
 * wasm backend; returns the thread count the backend reports.
 */
export async function initWasmBackendThreaded(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`threads: expected an integer >= 1, got ${threads}`);
  }
  const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmBackendPackage;
  if (threads === 1) {
    await tf.setBackend('wasm');
    return wasm.getThreadsCount();
  }
  const worker = workerScript();
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (blob: Blob) =>
    blob.type === 'application/javascript' ? worker : createObjectURL(blob);
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm failed to initialize');
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
  const backend = tf.backend() as unknown as WasmBackend & { wasm: EmscriptenModule };
  // The pthreads would otherwise keep the process alive after training (the pool's are unref'd).
  for (const worker of backend.wasm.PThread?.runningWorkers ?? []) worker.unref();
  attachTrainingThreads(backend, await startNodePool(threads - 1));
  return wasm.getThreadsCount();
}

/**
 * Child process of threads-train.test.ts: `runTraining` with argv[2] threads on the dataset in
 * argv[3], writing its run to argv[4]; prints {threads, kernel, memoryIsBackends, records} as one
 * JSON line. `kernel` names the variant of decoupled's kernel module (kernels/module.ts)
 * that the decoupled AdamW update instantiated ('shared' or 'plain'; null if it never ran).
 */

import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { kernelModule } from '#decoupled/kernels/module.js';
import { runTraining } from '#harness/experiments/train.js';

const [threadsArg, dataDir, out] = process.argv.slice(2);
const variants = new Map([
  [kernelModule(true), 'shared'],
  [kernelModule(false), 'plain'],
]);
let kernel: string | null = null;
let kernelMemory: WebAssembly.Memory | undefined;
// The update instantiates the kernel module on the backend's memory the first time it runs.
const Instance = WebAssembly.Instance;
WebAssembly.Instance = class extends Instance {
  constructor(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    super(module, imports);
    const variant = variants.get(module);
    if (variant) {
      kernel = variant;
      kernelMemory = imports?.env?.memory as WebAssembly.Memory;
    }
  }
};

const result = await runTraining({
  dataDir,
  model: { kind: 'cnn', width: 0.5 },
  optimizer: 'adamw',
  lr: 3e-3,
  weightDecay: 0.05,
  epochs: 2,
  batchSize: 32,
  subset: 96,
  testSubset: 32,
  seed: 2,
  out,
  threads: Number(threadsArg),
});
const { wasm } = tf.backend() as unknown as {
  wasm: { wasmMemory?: WebAssembly.Memory; asm: { memory?: WebAssembly.Memory } };
};
const backendMemory = wasm.wasmMemory ?? wasm.asm.memory;
console.log(
  JSON.stringify({
    threads: getThreadsCount(),
    kernel,
    memoryIsBackends: kernelMemory === backendMemory,
    records: result.epochs.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest),
  }),
);

/**
 * Child process of threads.test.ts: initializes tfjs-backend-wasm threaded with argv[2] threads,
 * trains a tiny ResNet a few steps and prints {threads, shared, losses} as one JSON line.
 */

import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { registerWasmTrainingKernels } from '#decoupled/tfjs/training-kernels/index.js';
import { initWasmBackendThreaded } from '#decoupled/tfjs/training-kernels/threads-node.js';
import { resnetLosses } from './helpers.js';

registerWasmTrainingKernels();
const threads = await initWasmBackendThreaded(Number(process.argv[2]));
const memory = (tf.backend() as unknown as { wasm: { wasmMemory?: WebAssembly.Memory } }).wasm
  .wasmMemory;
const shared = memory?.buffer instanceof SharedArrayBuffer;
console.log(JSON.stringify({ threads, shared, losses: resnetLosses(4) }));
// The pthread workers keep the event loop alive.
process.exit(0);

/**
 * Child process of threads.test.ts: initializes tfjs-backend-wasm threaded with argv[2] threads,
 * trains a tiny ResNet a few steps with every training-kernel call split over the threads (no
 * size threshold) and prints {threads, shared, splitCalls, losses} as one JSON line.
 */

import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { registerWasmTrainingKernels } from '#decoupled/tfjs/training-kernels/index.js';
import {
  trainingThreadStats,
  trainingThreadTuning,
} from '#decoupled/tfjs/training-kernels/simd.js';
import { initWasmBackendThreaded } from '#decoupled/tfjs/training-kernels/threads-node.js';
import { resnetLosses } from './helpers.js';

registerWasmTrainingKernels();
const threads = await initWasmBackendThreaded(Number(process.argv[2]));
const memory = (tf.backend() as unknown as { wasm: { wasmMemory?: WebAssembly.Memory } }).wasm
  .wasmMemory;
const shared = memory?.buffer instanceof SharedArrayBuffer;
trainingThreadTuning.minWork = 0;
const losses = resnetLosses(4);
const { splitCalls } = trainingThreadStats;
console.log(JSON.stringify({ threads, shared, splitCalls, losses }));
// No process.exit: no thread may keep the process alive (threads.test.ts would time out).

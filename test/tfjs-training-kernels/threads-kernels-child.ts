/**
 * Child process of threads-kernels.test.ts: on tfjs-backend-wasm's threaded build with 2 threads,
 * started as `decoupled train --threads 2` starts it (useBackend), runs every problem of threadProblems() with the training kernels on 1 thread (no call reaches
 * the size threshold) and on 2 (every call does), and prints one JSON line: {threads, problems:
 * [{name, one, two, splits}]} with the outputs as base64 of their float32 bytes and the number of
 * kernel calls the 2-thread run split, then {tensors, dataIds}: what the runs left behind. It
 * then returns without process.exit: the worker threads must not keep it alive.
 */

import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import {
  trainingThreadStats,
  trainingThreadTuning,
} from '#decoupled/tfjs/training-kernels/simd.js';
import { useBackend } from '#harness/experiments/backend.js';
import { onBackend } from './helpers.js';
import { threadProblems } from './problems.js';

await useBackend('wasm', 2);
const base64 = (a: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/**
 * Runs `f` on wasm with the given thread settings after filling freed heap memory with NaN, so
 * that an output range no thread wrote cannot inherit the previous run's values.
 */
function run(f: () => tf.Tensor[], minWork: number, callerClaims: boolean): string[] {
  tf.dispose(Array.from({ length: 17 }, (_, k) => tf.fill([16 << k], Number.NaN)));
  Object.assign(trainingThreadTuning, { minWork, callerClaims });
  return onBackend('wasm', f).map(base64);
}

const tensors = tf.memory().numTensors;
const dataIds = tf.engine().backend.numDataIds();
const problems = threadProblems().map(({ name, wasm }) => {
  const before = trainingThreadStats.splitCalls;
  // The worker alone runs every chunk; then the caller and the worker claim chunks as they come.
  const worker = run(wasm, 0, false);
  const two = run(wasm, 0, true);
  const splits = trainingThreadStats.splitCalls - before;
  const one = run(wasm, Number.POSITIVE_INFINITY, true);
  return { name, one, two, worker, splits };
});
console.log(
  JSON.stringify({
    threads: getThreadsCount(),
    problems,
    tensors: tf.memory().numTensors - tensors,
    dataIds: tf.engine().backend.numDataIds() - dataIds,
  }),
);

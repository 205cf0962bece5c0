/**
 * The page script of the browser test, bundled by esbuild with tfjs and decoupled/tfjs: trains the
 * shared task on the cpu backend, then on the wasm backend (its .wasm files served under /wasm/).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW } from '#decoupled/tfjs/index.js';
import { type TaskResult, trainTask } from './browser-task.js';

const page = globalThis as unknown as { __result?: TaskResult[]; __error?: string };
try {
  setWasmPaths('/wasm/');
  const results: TaskResult[] = [];
  for (const backend of ['cpu', 'wasm']) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed`);
    results.push(await trainTask(tf, tfl, AdamW));
  }
  page.__result = results;
} catch (error) {
  page.__error = String((error as Error)?.stack ?? error);
}

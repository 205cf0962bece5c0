/** The page script of the browser test: bundled by esbuild with tfjs and decoupled/tfjs. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdamW } from '../../src/tfjs/index.js';
import { trainTask } from './browser-task.js';

const page = globalThis as unknown as { __result?: unknown; __error?: string };
try {
  await tf.setBackend('cpu');
  page.__result = await trainTask(tf, tfl, AdamW);
} catch (error) {
  page.__error = String((error as Error)?.stack ?? error);
}

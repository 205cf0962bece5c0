/**
 * The page script of the GPU tests, bundled by esbuild with tfjs, tfjs-backend-webgl,
 * tfjs-backend-webgpu and decoupled/tfjs; test/tfjs/gpu.test.ts calls its functions through
 * `globalThis.__gpu` on a backend it names. Everything it returns is plain data for the test to
 * assert on.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { NonFiniteGradientError } from '#decoupled/core/errors.js';
import { cosine } from '#decoupled/core/schedules.js';
import { AdamW, registerOptimizerKernels } from '#decoupled/tfjs/index.js';
import { prng } from './browser-task.js';
import {
  CASES,
  type CaseResult,
  type ControlResult,
  countReads,
  runCase,
  runControlCases,
} from './gpu-cases.js';

async function use(backend: string): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialize`);
  await tf.ready();
  registerOptimizerKernels();
}

/** Every case against the core. */
async function cases(backend: string): Promise<CaseResult[]> {
  await use(backend);
  const results: CaseResult[] = [];
  for (const [i, c] of CASES.entries()) results.push(await runCase(tf, c, 100 + i));
  return results;
}

/**
 * webgl: every case with every other gradient in an unpacked texture, then every case with
 * WEBGL_PACK off (decoupled's programs unpacked too).
 */
async function layouts(backend: string): Promise<{ mixed: CaseResult[]; unpacked: CaseResult[] }> {
  await use(backend);
  const mixed: CaseResult[] = [];
  for (const [i, c] of CASES.entries())
    mixed.push(await runCase(tf, c, 100 + i, tf.backend(), true));
  const unpacked: CaseResult[] = [];
  const pack = tf.env().getBool('WEBGL_PACK');
  tf.env().set('WEBGL_PACK', false);
  try {
    for (const [i, c] of CASES.entries()) unpacked.push(await runCase(tf, c, 100 + i));
  } finally {
    tf.env().set('WEBGL_PACK', pack);
  }
  return { mixed, unpacked };
}

/** The step control on its own against the reference (./gpu-cases.ts). */
async function controls(backend: string): Promise<ControlResult[]> {
  await use(backend);
  return runControlCases(tf);
}

/** The same, with every other gradient in an unpacked texture (webgl). */
async function controlsMixed(backend: string): Promise<ControlResult[]> {
  await use(backend);
  return runControlCases(tf, true);
}

/** nonFinite 'error': reads per good step, and a NaN step throws and changes nothing. */
async function errorPolicy(backend: string) {
  await use(backend);
  const v = tf.variable(tf.tensor([1, 2, 3, 4]), true, 'error/v');
  const opt = new AdamW({ lr: 0.1 });
  const good = tf.tensor([0.5, -0.5, 0.25, 1]);
  const counter = countReads(tf);
  opt.applyGradients({ [v.name]: good });
  counter.restore();
  const before = Array.from(await v.data());
  const bad = tf.tensor([0.5, Number.NaN, 0.25, 1]);
  let error = '';
  try {
    opt.applyGradients({ [v.name]: bad });
  } catch (e) {
    error = e instanceof NonFiniteGradientError ? 'NonFiniteGradientError' : String(e);
  }
  const after = Array.from(await v.data());
  const result = {
    readsPerStep: counter.count(),
    error,
    before,
    after,
    iterations: opt.iterations,
  };
  opt.dispose();
  tf.dispose([v, good, bad]);
  return result;
}

/**
 * A small model.fit: an MLP on three seeded blobs, AdamW with a cosine schedule and 'skip' (the
 * browser setting docs/tfjs.md recommends: webgpu's dataSync is what 'error' would need).
 */
async function fit(backend: string) {
  await use(backend);
  const rand = prng(42);
  const n = 96;
  const xs = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    const angle = (2 * Math.PI * labels[i]) / 3;
    xs[2 * i] = Math.cos(angle) + (rand() - 0.5) * 0.8;
    xs[2 * i + 1] = Math.sin(angle) + (rand() - 0.5) * 0.8;
  }
  const x = tf.tensor2d(xs, [n, 2]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [2], units: 16, activation: 'relu' }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const epochs = 8;
  const optimizer = new AdamW({
    lr: 0.05,
    weightDecay: 0.01,
    nonFinite: 'skip',
    schedule: cosine({ total: epochs * 3 }),
  });
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const history = await model.fit(x, y, { batchSize: 32, epochs, shuffle: false, verbose: 0 });
  const result = {
    backend: tf.getBackend(),
    losses: (history.history.loss as number[]).map(Number),
    iterations: optimizer.iterations,
  };
  model.dispose();
  tf.dispose([x, y]);
  return result;
}

function resumeModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [6],
        units: 12,
        activation: 'tanh',
        kernelInitializer: 'ones',
      }),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'glorotUniform' }),
    ],
  });
  return model;
}

function compile(model: tfl.LayersModel): void {
  const optimizer = new AdamW({
    lr: 0.02,
    amsgrad: true,
    weightDecay: 0.1,
    clipNorm: 1,
    nonFinite: 'skip',
    schedule: cosine({ total: 8 }),
  });
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
}

/**
 * Train 3 epochs straight, and 2 epochs, save to IndexedDB with the optimizer, load, 1 more: the
 * final weights of both runs, and the optimizer's step counts.
 */
async function resume(backend: string) {
  await use(backend);
  const x = tf.randomUniform([32, 6], -1, 1, 'float32', 3);
  const y = tf.cast(tf.oneHot(tf.randomUniform([32], 0, 3, 'int32', 4), 3), 'float32');
  const fitArgs = { batchSize: 16, shuffle: false, verbose: 0 } as const;
  const start = resumeModel();
  const init = start.getWeights().map((w) => w.clone());
  compile(start);
  await start.fit(x, y, { ...fitArgs, epochs: 3 });
  const straight = await Promise.all(
    start.getWeights().map(async (w) => Array.from(await w.data())),
  );

  const first = resumeModel();
  first.setWeights(init);
  compile(first);
  await first.fit(x, y, { ...fitArgs, epochs: 2 });
  const url = `indexeddb://decoupled-gpu-${backend}`;
  await first.save(url, { includeOptimizer: true });
  const loaded = await tfl.loadLayersModel(url);
  const iterationsAfterLoad = loaded.optimizer.iterations;
  await loaded.fit(x, y, { ...fitArgs, epochs: 3, initialEpoch: 2 });
  const resumed = await Promise.all(
    loaded.getWeights().map(async (w) => Array.from(await w.data())),
  );
  const result = {
    straight,
    resumed,
    iterationsAfterLoad,
    iterations: loaded.optimizer.iterations,
    optimizer: loaded.optimizer.getClassName(),
  };
  for (const m of [start, first, loaded]) m.dispose();
  tf.dispose([x, y, ...init]);
  await tf.io.removeModel(url);
  return result;
}

(globalThis as unknown as { __gpu: unknown }).__gpu = {
  cases,
  layouts,
  controls,
  controlsMixed,
  errorPolicy,
  fit,
  resume,
};

/**
 * The page script of bench:browser (bench/browser.ts), bundled by esbuild: times applyGradients
 * of decoupled/tfjs AdamW against tf.train.adam on one backend, 1M float32 params in 16 variables
 * (256 x 256), and counts the backend's reads during the steps. `globalThis.__bench(backend,
 * rounds, steps)` returns the median ms per step of each optimizer and its reads per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { AdamW } from '#decoupled/tfjs/index.js';
import { countReads } from '../test/tfjs/gpu-cases.js';
import { profile } from './browser-profile.js';
import { median, problem } from './tfjs-problem.js';

const VARIABLES = 16;
const SHAPE: [number, number] = [256, 256];

export interface BenchRow {
  optimizer: string;
  msPerStep: number;
  readsPerStep: number;
}

/** Runs `steps` steps and waits for the device to finish them (one read, outside the count). */
async function timed(opt: tf.Optimizer, p: ReturnType<typeof problem>, steps: number) {
  const counter = countReads(tf);
  const start = performance.now();
  try {
    for (let s = 0; s < steps; s++) opt.applyGradients(p.grads);
  } finally {
    counter.restore();
  }
  await p.vars[VARIABLES - 1].data();
  return { ms: (performance.now() - start) / steps, reads: counter.count() / steps };
}

/**
 * Median ms per step: the optimizers take turns round by round (`steps` steps each, then a wait
 * for the device), after one warm-up round that compiles the shaders.
 */
async function bench(backend: string, rounds: number, steps: number): Promise<BenchRow[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed`);
  await tf.ready();
  const opts: [string, tf.Optimizer][] = [
    ['tf.train.adam', tf.train.adam(1e-3)],
    ["AdamW (nonFinite 'skip')", new AdamW({ lr: 1e-3, nonFinite: 'skip' })],
    ["AdamW (nonFinite 'ignore')", new AdamW({ lr: 1e-3, nonFinite: 'ignore' })],
  ];
  const problems = opts.map((_, i) => problem(tf, VARIABLES, SHAPE, 1000 * (i + 1)));
  const times: number[][] = opts.map(() => []);
  const reads: number[] = opts.map(() => 0);
  for (let r = 0; r < rounds + 1; r++) {
    for (const [i, [, opt]] of opts.entries()) {
      const { ms, reads: perStep } = await timed(opt, problems[i], steps);
      if (r > 0) times[i].push(ms);
      reads[i] = Math.max(reads[i], perStep);
    }
  }
  for (const [i, [, opt]] of opts.entries()) {
    opt.dispose();
    tf.dispose([...problems[i].vars, ...problems[i].grads.map((g) => g.tensor)]);
  }
  return opts.map(([optimizer], i) => ({
    optimizer,
    msPerStep: median(times[i]),
    readsPerStep: reads[i],
  }));
}

(globalThis as unknown as { __bench: typeof bench }).__bench = bench;
(globalThis as unknown as { __profile: typeof profile }).__profile = profile;

/**
 * The page script of bench:browser (bench/browser.ts), bundled by esbuild: sets up decoupled/tfjs
 * AdamW and tf.train.adam on one backend, 1M float32 params in 16 variables (256 x 256), each with
 * its own variables and gradients, and runs steps of one of them when bench/browser.ts asks (it
 * takes turns and measures the browser's CPU time around each call). `globalThis.__bench`:
 *
 *   setup(backend, profile)  the runs' names; `profile` adds clipNorm and the step control alone
 *   run(i, steps)            `steps` steps of run i, then a wait for the device: wall ms per step
 *                            and the backend reads per step (counted during the steps)
 *   programs(i)              the backend programs of one step of run i (./browser-profile.ts)
 *   teardown()
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { deviceControl } from '#decoupled/tfjs/gpu/device-step.js';
import { AdamW } from '#decoupled/tfjs/index.js';
import { countReads } from '../test/tfjs/gpu-cases.js';
import { countPrograms, type ProgramCount } from './browser-profile.js';
import { problem } from './tfjs-problem.js';

const VARIABLES = 16;
const SHAPE: [number, number] = [256, 256];

interface Run {
  name: string;
  /** One step; returns a tensor to dispose after the next step (the control runs), if any. */
  step(): tf.Tensor | undefined;
  /** A tensor whose read waits for the run's last step. */
  wait(): tf.Tensor;
  dispose(): void;
}

type Policy = 'skip' | 'ignore';

function optimizerRun(name: string, opt: tf.Optimizer, seed: number): Run {
  const p = problem(tf, VARIABLES, SHAPE, seed);
  return {
    name,
    step: () => {
      opt.applyGradients(p.grads);
      return undefined;
    },
    wait: () => p.vars[VARIABLES - 1],
    dispose: () => {
      opt.dispose();
      tf.dispose([...p.vars, ...p.grads.map((g) => g.tensor)]);
    },
  };
}

/** The step control of AdamW alone (clip and check, as applyGradients runs it), on its own. */
function controlRun(name: string, clipNorm: number | null, nonFinite: Policy, seed: number): Run {
  const p = problem(tf, VARIABLES, SHAPE, seed);
  const grads = p.grads.map((g) => g.tensor);
  let last: tf.Tensor | null = null;
  return {
    name,
    step: () => {
      const previous = last;
      last = tf.tidy(() => tf.keep(deviceControl(grads, clipNorm, nonFinite).state as tf.Tensor));
      return previous ?? undefined;
    },
    wait: () => last as tf.Tensor,
    dispose: () => {
      tf.dispose([...p.vars, ...grads]);
      last?.dispose();
    },
  };
}

function adamW(nonFinite: Policy, clipNorm: number | null): AdamW {
  return new AdamW({ lr: 1e-3, nonFinite, clipNorm: clipNorm ?? undefined });
}

let runs: Run[] = [];

async function setup(backend: string, profile: boolean): Promise<string[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed`);
  await tf.ready();
  let seed = 0;
  const next = () => (seed += 1000);
  runs = [
    optimizerRun('tf.train.adam', tf.train.adam(1e-3), next()),
    optimizerRun("AdamW (nonFinite 'skip')", adamW('skip', null), next()),
    optimizerRun("AdamW (nonFinite 'ignore')", adamW('ignore', null), next()),
  ];
  if (profile) {
    runs.push(
      optimizerRun("AdamW ('skip', clipNorm)", adamW('skip', 1), next()),
      optimizerRun("AdamW ('ignore', clipNorm)", adamW('ignore', 1), next()),
      controlRun("step control alone ('skip')", null, 'skip', next()),
      controlRun("step control alone ('skip', clipNorm)", 1, 'skip', next()),
      controlRun("step control alone ('ignore', clipNorm)", 1, 'ignore', next()),
    );
  }
  // A warm-up step each: compiles the shaders.
  for (const [i] of runs.entries()) await run(i, 1);
  return runs.map((r) => r.name);
}

async function run(i: number, steps: number): Promise<{ ms: number; reads: number }> {
  const r = runs[i];
  const counter = countReads(tf);
  const start = performance.now();
  try {
    for (let s = 0; s < steps; s++) r.step()?.dispose();
  } finally {
    counter.restore();
  }
  await r.wait().data();
  return { ms: (performance.now() - start) / steps, reads: counter.count() / steps };
}

function programs(i: number): ProgramCount[] {
  const counter = countPrograms(tf);
  runs[i].step()?.dispose();
  return counter.stop();
}

function teardown(): void {
  for (const r of runs) r.dispose();
  runs = [];
}

const api = { setup, run, programs, teardown };
export type BenchApi = typeof api;
(globalThis as unknown as { __bench: BenchApi }).__bench = api;

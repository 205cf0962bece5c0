/**
 * The page that test/packaging/bundlers.test.ts bundles with esbuild, Vite and webpack from the
 * packed package (it imports `decoupled` and `decoupled/tfjs` by name, as an app does). It replays
 * one PyTorch 1.13 golden AdamW case (served as golden.json) through the core AdamW and through
 * decoupled/tfjs's AdamW on the tfjs cpu backend, counts the calls into the fused WASM kernel, and
 * leaves the result in `window.__result` (or the error in `window.__error`).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  type AdamOptions,
  AdamW,
  getDefaultKernels,
  initKernels,
  kernelThreads,
  type ScheduleConfig,
  scheduleFromConfig,
  wasmKernels,
} from 'decoupled';
import * as adapter from 'decoupled/tfjs';

/** One case of test/fixtures/optimizers.json (AdamW, no parameter groups). */
export interface GoldenCase {
  name: string;
  options: Omit<AdamOptions, 'params' | 'schedule'>;
  schedule: { config: ScheduleConfig } | null;
  params0: number[][];
  grads: number[][][];
  expected: number[][][];
}

export interface BundlePageResult {
  /** Name of the core's default kernels ('wasm-simd' where the fused WASM kernels are active). */
  defaultKernels: string;
  /** Threads the kernels use after initKernels() (1 on a page that is not cross-origin isolated). */
  threads: number;
  /** Calls into the fused WASM AdamW kernel made by the core optimizer and by the tfjs one. */
  fusedCalls: { core: number; tfjs: number };
  /** Float32 values compared against PyTorch's, and how many differed in any bit. */
  compared: number;
  mismatches: { core: number; tfjs: number };
  tfjsBackend: string;
  /** What `decoupled/tfjs` exports in this bundle. */
  adapterExports: string[];
}

const page = globalThis as unknown as { __result?: BundlePageResult; __error?: string };

function countMismatches(actual: Float32Array, expected: number[]): number {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(Float32Array.from(expected).buffer);
  let differ = a.length === e.length ? 0 : Math.max(a.length, e.length);
  for (let i = 0; i < Math.min(a.length, e.length); i++) if (a[i] !== e[i]) differ++;
  return differ;
}

function runCore(c: GoldenCase, mismatches: { core: number }): void {
  const params = c.params0.map((p) => Float32Array.from(p));
  const schedule = c.schedule ? scheduleFromConfig(c.schedule.config) : undefined;
  const opt = new AdamW(params, { ...c.options, schedule });
  c.grads.forEach((grads, t) => {
    opt.step(grads.map((g) => Float32Array.from(g)));
    params.forEach((p, i) => {
      mismatches.core += countMismatches(p, c.expected[t][i]);
    });
  });
}

async function runTfjs(c: GoldenCase, mismatches: { tfjs: number }): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to start');
  const vars = c.params0.map((p, i) => tf.variable(tf.tensor1d(p), true, `golden_${i}`));
  const schedule = c.schedule ? scheduleFromConfig(c.schedule.config) : undefined;
  // The core's default rule would exclude these rank-1 variables from decay; PyTorch decays all.
  const opt = new adapter.AdamW({
    ...c.options,
    schedule,
    excludeFromDecay: { useDefaultRule: false },
  });
  for (const [t, grads] of c.grads.entries()) {
    const named = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor1d(grads[i])]));
    opt.applyGradients(named);
    tf.dispose(Object.values(named));
    for (const [i, v] of vars.entries()) {
      mismatches.tfjs += countMismatches(v.dataSync() as Float32Array, c.expected[t][i]);
    }
  }
  tf.dispose(vars);
}

async function main(): Promise<BundlePageResult> {
  const c = (await (await fetch('golden.json')).json()) as GoldenCase;
  const counts = { core: 0, tfjs: 0 };
  let phase: 'core' | 'tfjs' = 'core';
  const fused = wasmKernels.adam;
  (wasmKernels as { adam: typeof fused }).adam = (...args: Parameters<typeof fused>) => {
    counts[phase]++;
    return fused(...args);
  };
  // As an app would: start the kernels' threads where possible (reaches the thread loader, whose
  // Node side must not be in a browser bundle); a page that is not cross-origin isolated has 1.
  await initKernels();
  const mismatches = { core: 0, tfjs: 0 };
  runCore(c, mismatches);
  phase = 'tfjs';
  await runTfjs(c, mismatches);
  const values = c.expected.flat().reduce((n, p) => n + p.length, 0);
  return {
    defaultKernels: getDefaultKernels().name,
    threads: kernelThreads(),
    fusedCalls: counts,
    compared: 2 * values,
    mismatches,
    tfjsBackend: tf.getBackend(),
    adapterExports: Object.keys(adapter).sort(),
  };
}

main().then(
  (result) => {
    page.__result = result;
  },
  (error: unknown) => {
    page.__error = String((error as Error)?.stack ?? error);
  },
);

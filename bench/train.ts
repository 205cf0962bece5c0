/**
 * Training throughput (images/s) of the harness's small CNN (conv32-BN-pool, conv64-BN-pool, fc128,
 * fc10) and ResNet-8 (stem, 3 stages of one basic block, widths 16/32/64, GAP, linear) at batch 128
 * on 28x28x1 inputs, in one run, on:
 *   - tfjs-backend-wasm with this project's training kernels (registerWasmTrainingKernels),
 *   - the tfjs cpu backend (few steps: it is very slow),
 *   - PyTorch on 1 thread (bench/train-torch.py with /usr/bin/python3; skipped if not installed).
 * A step is forward + backward + Adam update + reading the loss. Reported: median step time over
 * the timed steps after warm-up, as images/s, and ratios against PyTorch, both from wall time and
 * from the process's CPU time (the latter is steadier when other jobs share the machine).
 *
 * wasm and PyTorch alternate for `--rounds` rounds (fresh model, warm-up, timed steps each), so
 * that both see the same background load; medians are over all timed steps of all rounds.
 *
 * Usage: node dist/bench/train.js [--models cnn,resnet] [--batch 128] [--steps 10] [--warmup 3]
 *        [--rounds 3] [--cpu-steps 1] [--no-cpu] [--no-torch] [--profile] [--threads 1]
 * --profile prints the wasm time per kernel name for the timed steps (bench:profile splits it
 * into forward, backward and update). --threads N runs tfjs-backend-wasm's threaded build with N
 * threads, XNNPACK's and the training kernels' (threads-node.ts); PyTorch stays on 1 thread, so the
 * ratio is against that.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from '#decoupled/tfjs/training-kernels/index.js';
import { initWasmBackendThreaded } from '#decoupled/tfjs/training-kernels/threads-node.js';
import type { ModelConfig } from '#harness/experiments/config.js';
import { KernelTimer } from './kernel-timer.js';
import { BENCH_MODELS, benchProblem } from './models.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: 'cnn,resnet' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'cpu-steps': { type: 'string', default: '1' },
    'no-cpu': { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
  },
});

const batch = Number(opts.batch);
const steps = Number(opts.steps);
const warmup = Number(opts.warmup);
const cpuSteps = Number(opts['cpu-steps']);
const rounds = Number(opts.rounds);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Measured {
  imagesPerSec: number;
  imagesPerCpuSec: number;
  stepMs: number[];
  stepCpuMs: number[];
  leakedTensors: number;
}

/** Times `warmupSteps + timedSteps` training steps of `config` on the current backend. */
function measureTfjs(config: ModelConfig, warmupSteps: number, timedSteps: number): Measured {
  const { model, optimizer, variables, x, oneHot } = benchProblem(config, batch);
  const step = () =>
    tf.tidy(() => {
      const cost = optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            oneHot,
            model.apply(x, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
        true,
        variables,
      );
      return (cost as tf.Scalar).dataSync()[0];
    });
  for (let i = 0; i < warmupSteps; i++) step();
  const before = tf.memory().numTensors;
  const times: number[] = [];
  const cpuTimes: number[] = [];
  if (timer && tf.getBackend() === 'wasm') timer.phase = 'step';
  for (let i = 0; i < timedSteps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    step();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  if (timer) timer.phase = null;
  // Without warm-up the first step also creates the optimizer's slots: no leak check then.
  const leakedTensors = warmupSteps > 0 ? tf.memory().numTensors - before : 0;
  tf.dispose([x, oneHot]);
  optimizer.dispose();
  model.dispose();
  return {
    imagesPerSec: batch / (median(times) / 1000),
    imagesPerCpuSec: batch / (median(cpuTimes) / 1000),
    stepMs: times,
    stepCpuMs: cpuTimes,
    leakedTensors,
  };
}

/** Joins rounds: all step times, medians recomputed. */
function pool(runs: Measured[]): Measured {
  const stepMs = runs.flatMap((r) => r.stepMs);
  const stepCpuMs = runs.flatMap((r) => r.stepCpuMs);
  return {
    imagesPerSec: batch / (median(stepMs) / 1000),
    imagesPerCpuSec: batch / (median(stepCpuMs) / 1000),
    stepMs,
    stepCpuMs,
    leakedTensors: Math.max(...runs.map((r) => r.leakedTensors)),
  };
}

function measureTorch(model: string, warmupSteps: number, timedSteps: number): Measured | string {
  const python = '/usr/bin/python3';
  const script = fileURLToPath(new URL('../../bench/train-torch.py', import.meta.url));
  if (!existsSync(python)) return 'skipped: /usr/bin/python3 not found';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return 'skipped: python3-torch is not installed (apt-get install python3-torch)';
  const r = spawnSync(
    python,
    [script, model, String(batch), String(warmupSteps), String(timedSteps)],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) return `failed: ${r.stderr.trim().split('\n').pop()}`;
  const out = JSON.parse(r.stdout) as Omit<Measured, 'leakedTensors'>;
  return { ...out, leakedTensors: 0 };
}

/** Kernel times of the timed wasm steps (--profile); warm-up and other backends are not recorded. */
const timer = opts.profile ? new KernelTimer() : undefined;

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

async function main(): Promise<void> {
  registerWasmTrainingKernels();
  const threads = await initWasmBackendThreaded(Number(opts.threads));
  await tf.ready();
  console.log(
    `training throughput, batch ${batch}, 28x28x1 inputs, Adam; median of ${rounds} rounds x ` +
      `${steps} steps after ${warmup} warm-up each (cpu: ${cpuSteps} step${cpuSteps === 1 ? '' : 's'}); ` +
      `node ${process.version}; wasm with ${threads} thread${threads === 1 ? '' : 's'}; ` +
      `${os.cpus()[0]?.model.trim()}; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`,
  );
  timer?.install('wasm');
  for (const name of opts.models.split(',')) {
    const config = BENCH_MODELS[name];
    if (config === undefined)
      throw new Error(`--models: unknown model '${name}'; allowed: cnn, resnet`);
    await tf.setBackend('wasm');
    timer?.clear();
    const wasmRuns: Measured[] = [];
    const torchRuns: Array<Measured | string> = [];
    for (let r = 0; r < rounds; r++) {
      await tf.setBackend('wasm');
      wasmRuns.push(measureTfjs(config, warmup, steps));
      torchRuns.push(opts['no-torch'] ? 'skipped (--no-torch)' : measureTorch(name, warmup, steps));
    }
    const wasm = pool(wasmRuns);
    const torchOk = torchRuns.filter((t): t is Measured => typeof t !== 'string');
    const torch = torchOk.length === rounds ? pool(torchOk) : (torchRuns[0] as string);
    let cpu: Measured | string = 'skipped (--no-cpu)';
    if (!opts['no-cpu']) {
      await tf.setBackend('cpu');
      cpu = measureTfjs(config, 0, cpuSteps);
    }
    const peer = typeof torch === 'string' ? undefined : torch;
    const line = (label: string, m: Measured | string) => {
      if (typeof m === 'string') return `  ${label.padEnd(18)} ${m}`;
      const ratio = (a: number, b: number | undefined) =>
        b ? ` = ${(a / b).toPrecision(2)}x PyTorch` : '';
      const leak = m.leakedTensors ? `  LEAK ${m.leakedTensors} tensors per step` : '';
      return (
        `  ${label.padEnd(18)} wall ${fmt(m.imagesPerSec).padStart(6)} img/s` +
        `${ratio(m.imagesPerSec, peer?.imagesPerSec).padEnd(17)}` +
        ` | cpu ${fmt(m.imagesPerCpuSec).padStart(6)} img/s${ratio(m.imagesPerCpuSec, peer?.imagesPerCpuSec)}` +
        `  (median step ${fmt(median(m.stepMs))} ms wall, ${fmt(median(m.stepCpuMs))} ms cpu)${leak}`
      );
    };
    console.log(`${name}:`);
    console.log(line('decoupled wasm', wasm));
    console.log(line('tfjs cpu', cpu));
    console.log(line('PyTorch 1 thread', torch));
    if (timer) {
      const all = timer.outer('step');
      const sum = all.reduce((a, [, r]) => a + r.ms, 0);
      const n = steps * rounds;
      console.log(`  wasm kernel time per step (${fmt(sum / n)} ms in kernels):`);
      for (const [k, r] of all.slice(0, 14)) {
        console.log(
          `    ${k.padEnd(36)} ${fmt(r.ms / n).padStart(7)} ms ${String(r.calls / n).padStart(5)} calls`,
        );
      }
    }
  }
}

await main();

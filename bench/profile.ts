/**
 * Where one training step of the harness's models goes on tfjs-backend-wasm: wall time, process
 * CPU time (all threads; over wall time, the parallelism a threaded kernel got) and call count per
 * kernel, split into the forward pass, the backward pass (tf.variableGrads after the
 * loss) and the Adam update, averaged over the timed steps. The gap between a phase's wall time
 * and its kernel time is tfjs engine overhead (tape, tidy, tensor bookkeeping).
 *
 * Usage: node dist/bench/profile.js [--model resnet|cnn] [--batch 128] [--steps 5] [--warmup 2]
 *        [--top 25] [--nested] [--unfused] [--threads 1] [--xnnpack-conv] [--no-split]
 * --nested adds rows for kernels that kernels call ('Conv2DBackpropFilter > Transpose', not summed).
 * --unfused runs without the fused BatchNorm op (tfjs-layers' own moments + batchNorm graph).
 * --threads N runs the threaded backend (threads-node.ts): N XNNPACK threads, and the training
 * kernels split over N threads. --xnnpack-conv sends the forward convs (and stride-1 input
 * gradients) to XNNPACK instead of the SIMD loop; --no-split keeps the training kernels on the
 * calling thread (with both: the threaded backend as it was before the training kernels had
 * threads).
 */

import os from 'node:os';
import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { convGradientTuning } from '#decoupled/tfjs/training-kernels/conv2d.js';
import {
  registerWasmTrainingKernels,
  setFusedBatchNorm,
} from '#decoupled/tfjs/training-kernels/index.js';
import { trainingThreadTuning } from '#decoupled/tfjs/training-kernels/simd.js';
import { initWasmBackendThreaded } from '#decoupled/tfjs/training-kernels/threads-node.js';
import { KernelTimer } from './kernel-timer.js';
import { BENCH_MODELS, benchProblem } from './models.js';

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    top: { type: 'string', default: '25' },
    nested: { type: 'boolean', default: false },
    unfused: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    'xnnpack-conv': { type: 'boolean', default: false },
    'no-split': { type: 'boolean', default: false },
  },
});

const PHASES = ['forward', 'backward', 'update'] as const;

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

function cpuModel(): string {
  return os.cpus()[0]?.model.trim() ?? 'unknown CPU';
}

async function main(): Promise<void> {
  const config = BENCH_MODELS[opts.model];
  if (config === undefined) {
    throw new Error(`--model: unknown model '${opts.model}'; allowed: cnn, resnet`);
  }
  const batch = Number(opts.batch);
  const steps = Number(opts.steps);
  const warmup = Number(opts.warmup);
  registerWasmTrainingKernels();
  setFusedBatchNorm(!opts.unfused);
  const threads = await initWasmBackendThreaded(Number(opts.threads));
  convGradientTuning.directForward = !opts['xnnpack-conv'];
  if (opts['no-split']) trainingThreadTuning.minWork = Number.POSITIVE_INFINITY;
  await tf.ready();
  const timer = new KernelTimer(opts.nested);
  timer.install('wasm');

  const { model, optimizer, variables, x, oneHot } = benchProblem(config, batch);
  const wall = new Map<string, number>(PHASES.map((p) => [p, 0]));
  let mark = 0;
  const enter = (phase: (typeof PHASES)[number] | null, record: boolean) => {
    const now = performance.now();
    if (record && timer.phase !== null)
      wall.set(timer.phase, (wall.get(timer.phase) ?? 0) + now - mark);
    mark = now;
    timer.phase = record ? phase : null;
  };
  const step = (record: boolean) =>
    tf.tidy(() => {
      enter('forward', record);
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor;
        const loss = tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
        enter('backward', record);
        return loss;
      }, variables);
      enter('update', record);
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      value.dataSync();
      enter(null, record);
    });
  for (let i = 0; i < warmup; i++) step(false);
  for (let i = 0; i < steps; i++) step(true);

  console.log(
    `bench:profile ${opts.model}, batch ${batch}, 28x28x1, Adam, ${opts.unfused ? 'unfused' : 'fused'} BatchNorm; ` +
      `per step, mean of ${steps} steps after ${warmup} warm-up; ${threads} thread(s)` +
      `${opts['xnnpack-conv'] ? ', XNNPACK forward convs' : ''}` +
      `${opts['no-split'] ? ', training kernels on 1 thread' : ''}; ${cpuModel()}, node ${process.version}, ` +
      `load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`,
  );
  let totalWall = 0;
  let totalKernels = 0;
  let totalCpu = 0;
  let totalCalls = 0;
  for (const phase of PHASES) {
    const rows = timer.outer(phase);
    const ms = rows.reduce((a, [, r]) => a + r.ms, 0) / steps;
    const cpu = rows.reduce((a, [, r]) => a + r.cpuMs, 0) / steps;
    const calls = rows.reduce((a, [, r]) => a + r.calls, 0) / steps;
    const phaseWall = (wall.get(phase) ?? 0) / steps;
    totalWall += phaseWall;
    totalKernels += ms;
    totalCpu += cpu;
    totalCalls += calls;
    console.log(
      `\n${phase}: ${fmt(phaseWall)} ms wall, ${fmt(ms)} ms (cpu ${fmt(cpu)} ms) in ${calls} kernel calls ` +
        `(${fmt(phaseWall - ms)} ms outside kernels)`,
    );
    console.log(
      `  ${'kernel'.padEnd(36)} ${'ms'.padStart(8)} ${'cpu ms'.padStart(8)} ${'calls'.padStart(6)}`,
    );
    for (const [name, r] of timer.sorted(phase).slice(0, Number(opts.top))) {
      console.log(
        `  ${name.padEnd(36)} ${fmt(r.ms / steps).padStart(8)} ${fmt(r.cpuMs / steps).padStart(8)} ` +
          `${String(r.calls / steps).padStart(6)}`,
      );
    }
  }
  console.log(
    `\nstep: ${fmt(totalWall)} ms wall (${fmt((batch * 1000) / totalWall)} img/s), ` +
      `${fmt(totalKernels)} ms (cpu ${fmt(totalCpu)} ms) in ${totalCalls} kernel calls`,
  );
  tf.dispose([x, oneHot]);
  optimizer.dispose();
  model.dispose();
}

await main();

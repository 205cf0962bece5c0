/**
 * The profile of bench:browser (`node dist/bench/browser.js --profile`), run in the bench page:
 * for one optimizer step on 16 variables of 256 x 256, the backend programs it runs (webgl:
 * GPGPU programs, counted at the backend's runWebGLProgram, unpack/pack conversions included;
 * webgpu: dispatches, counted at device.createBindGroup, tfjs' own programs named by their
 * shader key), with their output sizes; and the time of the whole step and of its step control
 * (clip and finite check) alone, the configurations taking turns round by round.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deviceControl } from '#decoupled/tfjs/gpu/device-step.js';
import { AdamW } from '#decoupled/tfjs/index.js';
import { median, problem } from './tfjs-problem.js';

const VARIABLES = 16;
const SHAPE: [number, number] = [256, 256];

export interface ProgramCount {
  name: string;
  /** Output elements of each run (webgl; 0 on webgpu, where the name has the shape). */
  sizes: number[];
}

export interface ProfileRow {
  optimizer: string;
  /** Backend programs (webgl) or dispatches (webgpu) per step. */
  programs: number;
  byName: ProgramCount[];
  msPerStep: number;
  /** The step control alone (clip and check), ms; null when the step has none. */
  controlMs: number | null;
  controlPrograms: number;
}

type Backend = Record<string, unknown> & {
  runWebGLProgram?: (...args: unknown[]) => tf.TensorInfo;
  runWebGPUProgram?: (...args: unknown[]) => tf.TensorInfo;
  device?: { createBindGroup: (...args: unknown[]) => unknown };
};

/** Counts the backend's programs until `stop`. */
function countPrograms() {
  const backend = tf.backend() as unknown as Backend;
  const byName = new Map<string, ProgramCount>();
  const add = (name: string, size: number) => {
    let c = byName.get(name);
    if (!c) {
      c = { name, sizes: [] };
      byName.set(name, c);
    }
    c.sizes.push(size);
  };
  const restore: (() => void)[] = [];
  const label = (program: Record<string, unknown>) => {
    const name = (program.constructor as { name: string }).name;
    if (name !== 'Object') return String(program.shaderKey ?? name).slice(0, 40);
    return `decoupled(${(program.variableNames as string[]).join(',')})`;
  };
  if (backend.runWebGLProgram) {
    const original = backend.runWebGLProgram;
    backend.runWebGLProgram = function (this: unknown, ...args: unknown[]) {
      const program = args[0] as Record<string, unknown> & { outputShape: number[] };
      add(label(program), tf.util.sizeFromShape(program.outputShape));
      return original.apply(this, args);
    };
    restore.push(() => {
      backend.runWebGLProgram = original;
    });
  } else if (backend.runWebGPUProgram && backend.device) {
    const device = backend.device;
    const originalRun = backend.runWebGPUProgram;
    const originalBind = device.createBindGroup;
    let current: string | null = null;
    backend.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
      const program = args[0] as Record<string, unknown> & { outputShape: number[] };
      current = `${label(program)} [${program.outputShape.join('x')}]`;
      try {
        return originalRun.apply(this, args);
      } finally {
        current = null;
      }
    };
    device.createBindGroup = function (this: unknown, ...args: unknown[]) {
      add(current ?? 'decoupled (WGSL)', 0);
      return originalBind.apply(this, args);
    };
    restore.push(() => {
      backend.runWebGPUProgram = originalRun;
      device.createBindGroup = originalBind;
    });
  }
  return {
    stop(): ProgramCount[] {
      for (const r of restore) r();
      return [...byName.values()];
    },
  };
}

interface Config {
  optimizer: string;
  make: () => tf.Optimizer;
  clipNorm: number | null;
  nonFinite: 'skip' | 'ignore' | null;
}

const CONFIGS: Config[] = [
  { optimizer: 'tf.train.adam', make: () => tf.train.adam(1e-3), clipNorm: null, nonFinite: null },
  ...(['skip', 'ignore'] as const).flatMap((nonFinite) =>
    [null, 1].map((clipNorm) => ({
      optimizer: `AdamW '${nonFinite}'${clipNorm ? ', clipNorm' : ''}`,
      make: () => new AdamW({ lr: 1e-3, nonFinite, clipNorm: clipNorm ?? undefined }),
      clipNorm,
      nonFinite,
    })),
  ),
];

/** Runs `steps` of `fn` and waits for `wait` (one read, not counted as a step's). */
async function timed(fn: () => void, wait: () => tf.Tensor, steps: number): Promise<number> {
  const start = performance.now();
  for (let s = 0; s < steps; s++) fn();
  const w = wait();
  await w.data();
  return (performance.now() - start) / steps;
}

/** The profile of every optimizer configuration on `backend`, timed round by round in turns. */
export async function profile(backend: string, rounds: number, steps: number) {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed`);
  await tf.ready();
  const runs = CONFIGS.map((c, i) => {
    const opt = c.make();
    const p = problem(tf, VARIABLES, SHAPE, 1000 * (i + 1));
    const grads = p.grads.map((g) => g.tensor);
    const hasControl = c.nonFinite === 'skip' || c.clipNorm !== null;
    const control = () =>
      tf.tidy(() => {
        const s = deviceControl(grads, c.clipNorm, c.nonFinite ?? 'ignore');
        return s.control ?? tf.scalar(0);
      });
    return {
      c,
      opt,
      p,
      grads,
      hasControl,
      step: () => opt.applyGradients(p.grads),
      waitStep: () => p.vars[VARIABLES - 1],
      control,
      stepMs: [] as number[],
      controlMs: [] as number[],
      byName: [] as ProgramCount[],
      controlPrograms: 0,
    };
  });
  for (const run of runs) {
    // Warm-up (compiles), then the programs of one step and of the control alone.
    await timed(run.step, run.waitStep, 1);
    let counter = countPrograms();
    await timed(run.step, run.waitStep, 1);
    run.byName = counter.stop();
    if (run.hasControl) {
      run.control().dispose();
      counter = countPrograms();
      run.control().dispose();
      run.controlPrograms = counter.stop().reduce((a, n) => a + n.sizes.length, 0);
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const run of runs) {
      run.stepMs.push(await timed(run.step, run.waitStep, steps));
      if (!run.hasControl) continue;
      let last: tf.Tensor | null = null;
      const ms = await timed(
        () => {
          last?.dispose();
          last = run.control();
        },
        () => last as unknown as tf.Tensor,
        steps,
      );
      run.controlMs.push(ms);
      (last as tf.Tensor | null)?.dispose();
    }
  }
  const rows: ProfileRow[] = runs.map((run) => ({
    optimizer: run.c.optimizer,
    programs: run.byName.reduce((a, n) => a + n.sizes.length, 0),
    byName: run.byName,
    msPerStep: median(run.stepMs),
    controlMs: run.hasControl ? median(run.controlMs) : null,
    controlPrograms: run.controlPrograms,
  }));
  for (const run of runs) {
    run.opt.dispose();
    tf.dispose([...run.p.vars, ...run.grads]);
  }
  return rows;
}

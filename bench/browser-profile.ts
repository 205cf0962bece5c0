/**
 * The program count of bench:browser's `--profile` (bench/browser-page.ts): the backend programs
 * a step runs, wrapped where every one passes. webgl: GPGPU programs, counted at the backend's
 * runWebGLProgram (unpack/pack conversions included), with their output sizes; webgpu: dispatches,
 * counted at device.createBindGroup, tfjs' own programs named by their shader key and output
 * shape, the rest being decoupled's WGSL.
 */
import type * as tfc from '@tensorflow/tfjs-core';

export interface ProgramCount {
  name: string;
  /** Output elements of each run (webgl; 0 on webgpu, where the name has the shape). */
  sizes: number[];
}

type Backend = Record<string, unknown> & {
  runWebGLProgram?: (...args: unknown[]) => tfc.TensorInfo;
  runWebGPUProgram?: (...args: unknown[]) => tfc.TensorInfo;
  device?: { createBindGroup: (...args: unknown[]) => unknown };
};

type Program = Record<string, unknown> & { outputShape: number[] };

function label(program: Program): string {
  const name = (program.constructor as { name: string }).name;
  if (name !== 'Object') return String(program.shaderKey ?? name).slice(0, 40);
  return `decoupled(${(program.variableNames as string[]).join(',')})`;
}

/** Counts the active backend's programs until `stop`. */
export function countPrograms(tf: typeof tfc) {
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
  if (backend.runWebGLProgram) {
    const original = backend.runWebGLProgram;
    backend.runWebGLProgram = function (this: unknown, ...args: unknown[]) {
      const program = args[0] as Program;
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
      const program = args[0] as Program;
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

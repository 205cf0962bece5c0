/**
 * Per-kernel timing for the wasm backend: every kernel registered for 'wasm' is re-registered
 * wrapped in a timer that adds its wall time, the process's CPU time (all threads:
 * process.cpuUsage) and one call to the current phase's row for that kernel name. CPU time over
 * wall time is the parallelism a threaded kernel got. Kernels called by kernels (the training kernels run XNNPACK Conv2D, Transpose, ...)
 * count toward the outermost one only, so the rows add up to the time spent in kernels. With
 * `nested`, they also get rows of their own named 'Outer > Inner' (not part of those sums).
 *
 * Install after the backend has initialized: the wrappers drop `setupFunc` (already run).
 */

import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

export interface KernelRow {
  /** Wall time. */
  ms: number;
  /** Process CPU time, every thread. */
  cpuMs: number;
  calls: number;
}

export class KernelTimer {
  /** phase -> kernel name -> totals; nothing is recorded while `phase` is null. */
  readonly rows = new Map<string, Map<string, KernelRow>>();
  phase: string | null = null;
  private readonly stack: string[] = [];

  constructor(readonly nested = false) {}

  /** Wraps every kernel currently registered for `backendName`. */
  install(backendName = 'wasm'): void {
    for (const config of tf.getKernelsForBackend(backendName)) {
      const inner = config.kernelFunc;
      const timed: KernelFunc = (args) => {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        this.stack.push(config.kernelName);
        try {
          return inner(args);
        } finally {
          this.stack.pop();
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          const cpuMs = (c.user + c.system) / 1000;
          if (this.stack.length === 0) this.add(config.kernelName, ms, cpuMs);
          else if (this.nested) this.add(`${this.stack[0]} > ${config.kernelName}`, ms, cpuMs);
        }
      };
      tf.unregisterKernel(config.kernelName, backendName);
      const wrapped: KernelConfig = { ...config, kernelFunc: timed, setupFunc: undefined };
      tf.registerKernel(wrapped);
    }
  }

  private add(kernelName: string, ms: number, cpuMs: number): void {
    if (this.phase === null) return;
    let phase = this.rows.get(this.phase);
    if (phase === undefined) {
      phase = new Map();
      this.rows.set(this.phase, phase);
    }
    const row = phase.get(kernelName) ?? { ms: 0, cpuMs: 0, calls: 0 };
    row.ms += ms;
    row.cpuMs += cpuMs;
    row.calls++;
    phase.set(kernelName, row);
  }

  /** Totals of one phase, largest time first. */
  sorted(phase: string): Array<[string, KernelRow]> {
    return [...(this.rows.get(phase) ?? new Map<string, KernelRow>()).entries()].sort(
      (a, b) => b[1].ms - a[1].ms,
    );
  }

  /** Rows of outermost kernels only (those that add up to the kernel time). */
  outer(phase: string): Array<[string, KernelRow]> {
    return this.sorted(phase).filter(([name]) => !name.includes(' > '));
  }

  clear(): void {
    this.rows.clear();
  }
}

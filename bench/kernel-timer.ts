/**
 * Per-kernel timing for the wasm backend: every kernel registered for 'wasm' is re-registered
 * wrapped in a timer that adds its wall time and one call to the current phase's row for that
 * kernel name. Kernels called by kernels (the training kernels run XNNPACK Conv2D, Transpose, ...)
 * count toward the outermost one only, so the rows add up to the time spent in kernels.
 *
 * Install after the backend has initialized: the wrappers drop `setupFunc` (already run).
 */

import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

export interface KernelRow {
  ms: number;
  calls: number;
}

export class KernelTimer {
  /** phase -> kernel name -> totals; nothing is recorded while `phase` is null. */
  readonly rows = new Map<string, Map<string, KernelRow>>();
  phase: string | null = null;
  private depth = 0;

  /** Wraps every kernel currently registered for `backendName`. */
  install(backendName = 'wasm'): void {
    for (const config of tf.getKernelsForBackend(backendName)) {
      const inner = config.kernelFunc;
      const timed: KernelFunc = (args) => {
        const t0 = performance.now();
        this.depth++;
        try {
          return inner(args);
        } finally {
          this.depth--;
          if (this.depth === 0) this.add(config.kernelName, performance.now() - t0);
        }
      };
      tf.unregisterKernel(config.kernelName, backendName);
      const wrapped: KernelConfig = { ...config, kernelFunc: timed, setupFunc: undefined };
      tf.registerKernel(wrapped);
    }
  }

  private add(kernelName: string, ms: number): void {
    if (this.phase === null) return;
    let phase = this.rows.get(this.phase);
    if (phase === undefined) {
      phase = new Map();
      this.rows.set(this.phase, phase);
    }
    const row = phase.get(kernelName) ?? { ms: 0, calls: 0 };
    row.ms += ms;
    row.calls++;
    phase.set(kernelName, row);
  }

  /** Totals of one phase, largest time first. */
  sorted(phase: string): Array<[string, KernelRow]> {
    return [...(this.rows.get(phase) ?? new Map<string, KernelRow>()).entries()].sort(
      (a, b) => b[1].ms - a[1].ms,
    );
  }

  clear(): void {
    this.rows.clear();
  }
}

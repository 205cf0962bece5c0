/**
 * Gradient accumulation (`accumulate: k`, optax `MultiSteps(every_k_schedule=k)`, Keras
 * `gradient_accumulation_steps=k`): calls 1..k-1 of each window only add their gradients; call k
 * applies one optimizer step with the mean gradient and the parameters change only then. The
 * schedule and every step count (stepCount, bias corrections, EMA) count applied steps.
 *
 * The mean, in float32 and in call order (define it exactly, so a test can rebuild it):
 *   s = g_1;  s = f(s + g_i) for i = 2..k;  mean = f(s / k)
 */
import {
  checkSlotList,
  type FeatureState,
  type SlotLists,
  type StatefulFeature,
} from './feature-state.js';
import type { ExtraStateValue } from './state.js';
import { checkNumber } from './validate.js';

const f = Math.fround;

/** Checks the `accumulate` option: an integer >= 1 (default 1: no accumulation). */
export function accumulateSetting(value: unknown, where: string): number {
  return checkNumber('accumulate', value ?? 1, { min: 1, integer: true }, where);
}

/** s <- f(s + g) in place: one call added to the window's sum. */
export function addGradient(s: Float32Array, g: ArrayLike<number>): void {
  for (let j = 0; j < s.length; j++) s[j] = f(s[j] + g[j]);
}

/** The window's mean into `out`: f(f(s + g) / k), or f(g / k) when `s` is null (k = 1 call). */
export function meanGradient(
  out: Float32Array,
  s: ArrayLike<number> | null,
  g: ArrayLike<number>,
  k: number,
): void {
  for (let j = 0; j < out.length; j++) out[j] = f((s ? f(s[j] + g[j]) : g[j]) / k);
}

/** The running sums of the current window. */
export class GradientAccumulator implements StatefulFeature {
  readonly every: number;
  /** Calls accumulated in the current window (0 .. every - 1). */
  calls = 0;
  private sums: (Float32Array | null)[];

  constructor(every: number, paramCount: number) {
    this.every = every;
    this.sums = new Array(paramCount).fill(null);
  }

  /** True if the next call completes the window (applies a step). */
  get completesNext(): boolean {
    return this.calls + 1 === this.every;
  }

  /** Adds a call's gradients to the window (a call that does not complete it). */
  add(grads: readonly Float32Array[]): void {
    grads.forEach((g, i) => {
      const s = this.sums[i];
      if (this.calls === 0 || !s) {
        if (s) s.set(g);
        else this.sums[i] = g.slice();
        return;
      }
      addGradient(s, g);
    });
    this.calls++;
  }

  /** The window's mean gradients with this last call's `grads`; starts a new window. */
  finish(grads: readonly Float32Array[]): Float32Array[] {
    const k = this.every;
    const means = grads.map((g, i) => {
      const out = new Float32Array(g.length);
      meanGradient(out, this.calls === 0 ? null : this.sums[i], g, k);
      return out;
    });
    this.calls = 0;
    return means;
  }

  save(): FeatureState {
    return {
      slots: {
        accumulated_grad: this.sums.map((s) => (this.calls > 0 && s ? s.slice() : null)),
      },
      extra: { 'accumulate.calls': this.calls },
    };
  }

  /** Checks a saved window; returns the function that restores it. */
  restore(
    slots: SlotLists | undefined,
    extra: Record<string, ExtraStateValue> | undefined,
    lengths: readonly number[],
    where: string,
  ): () => void {
    const calls = checkNumber(
      'state.extra["accumulate.calls"]',
      extra?.['accumulate.calls'],
      { min: 0, max: this.every - 1, integer: true },
      where,
    );
    const sums = checkSlotList(
      'accumulated_grad',
      slots?.accumulated_grad,
      lengths,
      calls > 0,
      where,
    );
    return () => {
      this.calls = calls;
      this.sums = sums.map((s) => s?.slice() ?? null);
    };
  }
}

/**
 * Gradient accumulation in decoupled/tfjs (option `accumulate: k`; optax `MultiSteps`, Keras
 * `gradient_accumulation_steps`): the core's rule (src/core/accumulate.ts) on tfjs variables. Calls
 * 1..k-1 of a window add their gradients to the slot `accumulated_grad`; call k takes one optimizer
 * step with the mean gradient
 *
 *   s = g_1;  s = f(s + g_i) for i = 2..k-1;  mean = f(f(s + g_k) / k)
 *
 * which is then clipped (clipNorm) and applied like any gradient, so the schedule, the bias
 * corrections and the averages (./ema.ts) count applied steps. The variables change only at call k.
 * On cpu the core's loops run on the backend's arrays, on wasm their SIMD forms
 * (src/kernels/assembly) on the heap; elsewhere the same float32 operations run as tf ops, with no
 * readback.
 *
 * The call count of the window in progress is saved by getWeights as the int32 scalar
 * `accumulate_calls` (a live variable, like the slots), so a resume mid-window is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addGradient, meanGradient } from '../core/accumulate.js';
import { OptionError } from '../core/errors.js';
import { checkNumber } from '../core/validate.js';
import { readView, wasmHeapKernels } from './backend-kernels.js';
import { runsOnDevice } from './gpu/device-step.js';
import { ownHostData } from './host-path.js';
import type { BoundEntry, Entry, NamedTensor, SlotStore } from './slots.js';

/** The name of the saved call count in getWeights / setWeights. */
export const CALLS_WEIGHT = 'accumulate_calls';

export class GradientWindow {
  /** Calls added to the window in progress (0 .. every - 1). */
  calls = 0;
  /** The variables of the window's first call (every call must give the same); null: unknown. */
  private members: Set<Entry> | null = null;
  private saved: tf.Variable | null = null;

  constructor(
    readonly every: number,
    private readonly store: SlotStore,
    private readonly where: string,
  ) {}

  /** True if the next call completes the window (takes a step). */
  get completesNext(): boolean {
    return this.calls + 1 === this.every;
  }

  /**
   * Checks that a call names the window's variables (before anything is written); call it first
   * for every call.
   */
  check(entries: readonly Entry[]): void {
    const members = this.members;
    if (this.calls === 0 || !members) return;
    if (entries.length !== members.size || entries.some((e) => !members.has(e))) {
      const names = entries.map((e) => e.name).join(', ');
      const allowed =
        `the same variables at every call of a window of ${this.every} ` +
        `(${[...members].map((e) => e.name).join(', ')})`;
      throw new OptionError('variableGradients', names, allowed, `${this.where}.applyGradients`);
    }
  }

  /** Adds the gradients of a call that does not complete the window: s = g, or s = f(s + g). */
  add(entries: readonly BoundEntry[], grads: readonly tf.Tensor[]): void {
    const first = this.calls === 0;
    const onDevice = runsOnDevice(tf.getBackend());
    entries.forEach((entry, i) => {
      const s = this.store.slot(entry, 'accumulated_grad');
      if (onDevice) {
        tf.tidy(() => s.assign(first ? tf.mul(grads[i], 1) : tf.add(s, grads[i])));
        return;
      }
      ownHostData(s);
      const heap = wasmHeapKernels();
      if (first) readView(s).set(readView(grads[i]));
      else if (heap) heap.kernels.accumulateAdd(heap.at(s), heap.at(grads[i]), s.size);
      else addGradient(readView(s), readView(grads[i]));
    });
    if (first) this.members = new Set(entries);
    this.calls++;
  }

  /**
   * The window's mean gradients with this last call's `grads`, as new tensors (call inside
   * tf.tidy); starts a new window.
   */
  finish(entries: readonly BoundEntry[], grads: readonly tf.Tensor[]): tf.Tensor[] {
    const k = this.every;
    const onDevice = runsOnDevice(tf.getBackend());
    const means = entries.map((entry, i) => {
      const s = this.store.slot(entry, 'accumulated_grad');
      if (onDevice) return tf.div(tf.add(s, grads[i]), k);
      const heap = wasmHeapKernels();
      if (heap) {
        const mean = tf.zeros(grads[i].shape, 'float32');
        heap.kernels.accumulateMean(heap.at(mean), heap.at(s), heap.at(grads[i]), s.size, k);
        return mean;
      }
      const out = new Float32Array(grads[i].size);
      meanGradient(out, readView(s), readView(grads[i]), k);
      return tf.tensor(out, grads[i].shape, 'float32');
    });
    this.calls = 0;
    this.members = null;
    return means;
  }

  /** Continues a saved window of `calls` calls (its sums restored as slots). */
  restore(calls: number): void {
    this.calls = calls;
    this.members = null;
  }

  /** The call count as a live int32 scalar for getWeights. */
  weight(): NamedTensor {
    this.saved ??= tf.tidy(() => tf.variable(tf.scalar(0, 'int32'), false));
    tf.tidy(() => this.saved?.assign(tf.scalar(this.calls, 'int32')));
    return { name: CALLS_WEIGHT, tensor: this.saved };
  }

  dispose(): void {
    this.saved?.dispose();
    this.saved = null;
  }
}

/**
 * Takes the saved call count out of a getWeights list and checks it against `every` (null: no
 * accumulation, so only 0 fits); returns it (0 when absent) and the other entries.
 */
export async function takeSavedCalls(
  weights: readonly NamedTensor[],
  every: number | null,
  where: string,
): Promise<{ calls: number; rest: NamedTensor[] }> {
  const saved = weights.filter((w) => w?.name === CALLS_WEIGHT);
  const rest = weights.filter((w) => w?.name !== CALLS_WEIGHT);
  if (saved.length === 0) return { calls: 0, rest };
  const t = saved[0].tensor;
  if (saved.length > 1 || !(t instanceof tf.Tensor) || t.dtype !== 'int32' || t.rank !== 0) {
    throw new OptionError(`weightValues '${CALLS_WEIGHT}'`, t, 'one int32 scalar', where);
  }
  const calls = (await t.data())[0];
  const allowed =
    every === null
      ? '0 for an optimizer without accumulate (its partial gradient sums would be lost)'
      : undefined;
  if (allowed !== undefined && calls !== 0) {
    throw new OptionError(`weightValues '${CALLS_WEIGHT}'`, calls, allowed, where);
  }
  const max = (every ?? 1) - 1;
  checkNumber(`weightValues '${CALLS_WEIGHT}'`, calls, { min: 0, max, integer: true }, where);
  // Mid-window, every variable's partial sum must be there.
  const variable = (w: NamedTensor) => w.name.slice(0, w.name.lastIndexOf('/'));
  const missing = rest.find(
    (w) => calls > 0 && !rest.some((x) => x.name === `${variable(w)}/accumulated_grad`),
  );
  if (missing) {
    const allowed = `'${variable(missing)}/accumulated_grad' with ${CALLS_WEIGHT} ${calls}`;
    throw new OptionError('weightValues', 'no partial gradient sum', allowed, where);
  }
  return { calls, rest };
}

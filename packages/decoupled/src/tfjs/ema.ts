/**
 * Weight averaging in decoupled/tfjs (option `ema`; Keras `use_ema`/`ema_momentum`, optax `ema`):
 * the core's rule (src/core/ema.ts) on tfjs variables. Per variable, its running sum e is the slot
 * `ema`, updated after each applied step t = 1, 2, ... (t: the optimizer's step count), on the
 * device, with no readback:
 *
 *   Keras rule (debias false):  e_1 = theta_1,  e_t = f(f(d e_{t-1}) + f(c theta_t)),  a_t = e_t
 *   debias (optax):             e_0 = 0,        the same update,  a_t = f(e_t / f(1 - d^t))
 *
 * On cpu the core's loop (emaUpdate) runs on the backend's arrays in place, on wasm its SIMD form
 * (src/kernels/assembly) on the heap; elsewhere the same float32 operations run as tf ops, and a
 * step the device skipped (nonFinite 'skip') leaves e as it is. A variable first seen after step 1 starts there as at step 1 (e = theta, or e = 0).
 * `every: k` (Keras `ema_overwrite_frequency`): after applied steps k, 2k, ... the variables are
 * overwritten with a_t.
 *
 * swapAverages keeps the trained values as the slot `ema_backup` (their data, not a copy), so a
 * swapped state is saved and restored like any slot; the optimizer refuses steps while swapped.
 */
import * as tf from '@tensorflow/tfjs-core';
import { debiasDivisor, type EmaSettings, emaCoefficients, emaUpdate } from '../core/ema.js';
import { OptionError } from '../core/errors.js';
import { readView, wasmHeapKernels } from './backend-kernels.js';
import { runsOnDevice } from './gpu/device-step.js';
import { multiplierOf } from './gpu/ops-update.js';
import { ownHostData } from './host-path.js';
import type { BoundEntry, Entry, NamedTensor, SlotStore } from './slots.js';

const isBound = (e: Entry): e is BoundEntry => e.variable !== null && !e.variable.isDisposed;

/** True where an update copies theta instead (the Keras rule's start, a_1 = theta_1). */
const copiesWeights = (settings: EmaSettings, start: boolean) => start && !settings.debias;

/** A copy of `t` in new memory (x * 1 is exact), so no in-place write elsewhere can reach it. */
const copyOf = (t: tf.Tensor) => tf.mul(t, 1);

export class VariableAverages {
  constructor(
    readonly settings: EmaSettings,
    private readonly store: SlotStore,
    private readonly where: string,
  ) {}

  /** True while swapAverages has put the averages in the variables. */
  get swapped(): boolean {
    return this.store.list().some((e) => e.slots.has('ema_backup'));
  }

  /**
   * Folds theta_t of every bound variable into its average, t = `count` (the applied steps, this
   * one included), then overwrites the variables if `every` divides t. `control` is the device
   * step's control scalar (0: skipped), null on the host. Call inside tf.tidy, after the updates.
   */
  update(count: number, control: tf.Tensor | null): void {
    const onDevice = runsOnDevice(tf.getBackend());
    const entries = this.store.list().filter(isBound);
    for (const entry of entries) {
      const start = count === 1 || !entry.slots.has('ema');
      const e = this.store.slot(entry, 'ema');
      if (onDevice) this.updateOnDevice(e, entry.variable, start, control);
      else this.updateOnHost(e, entry.variable, start);
    }
    const every = this.settings.every;
    if (every !== null && count % every === 0) {
      for (const entry of entries) entry.variable.assign(this.averageOf(entry, count));
    }
  }

  /**
   * The averages a_t of every variable (t = `count`) as new tensors the caller disposes, named by
   * variable; before the first step, copies of the variables. `variables` binds restored state
   * that no step has bound yet (see `bind`).
   */
  averages(count: number, variables: readonly tf.Variable[] | undefined): NamedTensor[] {
    this.bind(variables, 'averages', false);
    const entries = this.store
      .list()
      .filter((e) => isBound(e) || e.slots.has('ema_backup') || (count > 0 && e.slots.has('ema')));
    const tensors = tf.tidy(() => entries.map((e) => this.averageOf(e, count)));
    return entries.map((e, i) => ({ name: e.variable?.name ?? e.name, tensor: tensors[i] }));
  }

  /** Puts the averages a_t in the variables, keeping their values; or, if swapped, puts them back. */
  swap(count: number, variables: readonly tf.Variable[] | undefined): void {
    this.bind(variables, 'swapAverages', true);
    const entries = this.store.list().filter(isBound);
    if (this.swapped) {
      for (const entry of entries) {
        const backup = entry.slots.get('ema_backup');
        if (!backup) continue;
        entry.variable.assign(backup);
        this.store.drop(entry, 'ema_backup');
      }
      return;
    }
    tf.tidy(() => {
      for (const entry of entries) {
        const average = this.averageOf(entry, count);
        this.store.put(entry, 'ema_backup', entry.variable);
        entry.variable.assign(average);
      }
    });
  }

  /** a_t of one entry as a new tensor: e, or e / f(1 - d^t); before any update, its weights. */
  private averageOf(entry: Entry, count: number): tf.Tensor {
    const e = entry.slots.get('ema');
    if (!e || count === 0) {
      return copyOf(entry.slots.get('ema_backup') ?? (entry.variable as tf.Variable));
    }
    // cpu and wasm round x * 1 and x / y once to float32, as the core's loop does.
    return this.settings.debias ? tf.div(e, debiasDivisor(this.settings, count)) : copyOf(e);
  }

  /** The same update in place on the backend's memory (cpu, wasm). */
  private updateOnHost(e: tf.Variable, theta: tf.Variable, start: boolean): void {
    ownHostData(e);
    const heap = wasmHeapKernels();
    if (heap && !copiesWeights(this.settings, start)) {
      const { d, c } = emaCoefficients(this.settings);
      heap.kernels.emaUpdate(heap.at(e), heap.at(theta), e.size, d, c);
      return;
    }
    // Views after every allocation (wasm's heap may move).
    emaUpdate(readView(e), readView(theta), this.settings, start);
  }

  /** e <- f(f(d e) + f(c theta)) (or e <- theta at the Keras rule's start) as tf ops. */
  private updateOnDevice(
    e: tf.Variable,
    theta: tf.Variable,
    start: boolean,
    control: tf.Tensor | null,
  ): void {
    if (copiesWeights(this.settings, start)) {
      e.assign(copyOf(theta));
      return;
    }
    const { d, c } = emaCoefficients(this.settings);
    const next = tf.add(tf.mul(e, d), tf.mul(theta, c));
    // A skipped step (control 0) leaves e as it is: a select, so NaN cannot leak.
    e.assign(control ? tf.where(tf.greater(multiplierOf(control), 0), next, e) : next);
  }

  /**
   * Binds restored entries to `variables` (the model's trainable variables), as a step would; if
   * `required`, every entry holding an average or a backup must then be bound.
   */
  private bind(
    variables: readonly tf.Variable[] | undefined,
    method: string,
    required: boolean,
  ): void {
    const where = `${this.where}.${method}`;
    if (variables !== undefined) {
      if (!Array.isArray(variables) || !variables.every((v) => v instanceof tf.Variable)) {
        const allowed =
          'an array of tf.Variable (e.g. model.trainableWeights.map((w) => w.read()))';
        throw new OptionError('variables', variables, allowed, where);
      }
      for (const v of variables) this.store.bind(v);
    }
    if (!required) return;
    const unbound = this.store
      .list()
      .find((e) => !isBound(e) && (e.slots.has('ema') || e.slots.has('ema_backup')));
    if (unbound) {
      const allowed =
        `given (the model's variables), or a step taken first: restored state '${unbound.name}' ` +
        'is bound to its variable at the first step';
      throw new OptionError('variables', variables, allowed, where);
    }
  }
}

/**
 * Weight averaging: an exponential moving average of the parameters after each applied step, kept
 * by the optimizer base class (one place, as Keras's base optimizer keeps `use_ema`).
 *
 * With decay d and theta_t the parameters after applied step t (t = 1, 2, ...):
 *   debias: false (Keras `use_ema`, `ema_momentum` = d):
 *     a_1 = theta_1,  a_t = d a_{t-1} + (1 - d) theta_t
 *   debias: true (optax `ema(decay, debias=True)`):
 *     e_0 = 0,  e_t = d e_{t-1} + (1 - d) theta_t,  a_t = e_t / (1 - d^t)
 * Keras's a_1 is theta_1 exactly; optax's is (1 - d) theta_1 / (1 - d), theta_1 to within an ulp in
 * float32. Every operation is rounded to float32 (Math.fround) in this order:
 * f(f(d * e) + f(c * theta)), where c is each peer's 1 - d: Keras subtracts in float32,
 * c = f(1 - f(d)); optax subtracts in float64, c = f(1 - d). The debiased copy is f(e / f(1 - d^t)),
 * d^t in float64 (optax: float32).
 * `every: k` (Keras `ema_overwrite_frequency`): after applied steps k, 2k, ... (Keras counts
 * `iterations + 1`, its update count including this one), the parameters are overwritten with a_t.
 */
import { OptionError } from './errors.js';
import {
  checkSlotList,
  type FeatureState,
  type SlotLists,
  type StatefulFeature,
} from './feature-state.js';
import type { ExtraStateValue } from './state.js';
import { checkBoolean, checkKnownKeys, checkNumber } from './validate.js';

const f = Math.fround;

/** The `ema` option of every core optimizer. */
export interface EmaOptions {
  /** d in [0, 1) (default 0.99, Keras's `ema_momentum`). */
  decay?: number;
  /** Overwrite the parameters with their averages every `every` applied steps (default: never). */
  every?: number;
  /** optax's bias correction (zero start, divided by 1 - d^t) instead of Keras's a_1 = theta_1. */
  debias?: boolean;
}

/** Resolved EMA settings. */
export interface EmaSettings {
  readonly decay: number;
  readonly every: number | null;
  readonly debias: boolean;
}

export const EMA_OPTION_KEYS = ['decay', 'every', 'debias'] as const;

/** Checks the `ema` option: true (defaults), false/undefined (off), or { decay, every, debias }. */
export function emaSettings(value: unknown, where: string): EmaSettings | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { decay: 0.99, every: null, debias: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionError('ema', value, 'true, false or { decay, every, debias }', where);
  }
  checkKnownKeys(value, EMA_OPTION_KEYS, where, 'ema.');
  const o = value as EmaOptions;
  return {
    decay: checkNumber('ema.decay', o.decay ?? 0.99, { min: 0, below: 1 }, where),
    every:
      o.every === undefined
        ? null
        : checkNumber('ema.every', o.every, { min: 1, integer: true }, where),
    debias: checkBoolean('ema.debias', o.debias ?? false, where),
  };
}

/** The float32 scalars of one update: d = f(decay) and c, each peer's 1 - d (see above). */
export function emaCoefficients(settings: EmaSettings): { d: number; c: number } {
  const d = f(settings.decay);
  return { d, c: settings.debias ? f(1 - settings.decay) : f(1 - d) };
}

/** The debias divisor f(1 - d^t) after t averaged steps (d^t in float64). */
export function debiasDivisor(settings: EmaSettings, count: number): number {
  return f(1 - settings.decay ** count);
}

/**
 * One update of a running sum in place: e <- f(f(d e) + f(c theta)); for the first update under
 * the Keras rule (`first`, not debias), e <- theta. The one loop of this rule (the core and the
 * tfjs host path run it).
 */
export function emaUpdate(
  e: Float32Array,
  theta: ArrayLike<number>,
  settings: EmaSettings,
  first: boolean,
): void {
  if (first && !settings.debias) {
    e.set(theta);
    return;
  }
  const { d, c } = emaCoefficients(settings);
  for (let j = 0; j < e.length; j++) e[j] = f(f(d * e[j]) + f(c * theta[j]));
}

/** a_t into `out`: e itself (Keras rule), or f(e / f(1 - d^t)) (debias), t = count >= 1. */
export function emaAverage(
  out: Float32Array,
  e: ArrayLike<number>,
  settings: EmaSettings,
  count: number,
): void {
  if (!settings.debias) {
    out.set(e);
    return;
  }
  const divisor = debiasDivisor(settings, count);
  for (let j = 0; j < out.length; j++) out[j] = f(e[j] / divisor);
}

/** The running averages of a list of parameters, their update count and the swap state. */
export class WeightAverages implements StatefulFeature {
  readonly settings: EmaSettings;
  /** Applied steps averaged so far (t). */
  count = 0;
  /** Per parameter: a_t (Keras rule) or e_t (debias); null before the first update. */
  private sums: (Float32Array | null)[];
  /** The parameters saved by swapAverages while the averages are swapped in, else null. */
  private backup: Float32Array[] | null = null;

  constructor(settings: EmaSettings, paramCount: number) {
    this.settings = settings;
    this.sums = new Array(paramCount).fill(null);
  }

  get swapped(): boolean {
    return this.backup !== null;
  }

  /** Folds theta_t (the parameters after an applied step) into the averages; t = count + 1. */
  update(params: readonly Float32Array[]): void {
    const first = this.count === 0;
    params.forEach((theta, i) => {
      let e = this.sums[i];
      if (!e) {
        e = new Float32Array(theta.length);
        this.sums[i] = e;
      }
      emaUpdate(e, theta, this.settings, first);
    });
    this.count++;
  }

  /** True if the parameters should now be overwritten with their averages (`every`). */
  overwriteDue(): boolean {
    return this.settings.every !== null && this.count > 0 && this.count % this.settings.every === 0;
  }

  /** Copies of a_t for every parameter; before any update, copies of `params` (nothing averaged). */
  averages(params: readonly Float32Array[]): Float32Array[] {
    return params.map((p, i) => {
      const e = this.sums[i];
      if (!e || this.count === 0) return (this.backup?.[i] ?? p).slice();
      const out = new Float32Array(e.length);
      emaAverage(out, e, this.settings, this.count);
      return out;
    });
  }

  /** Swaps the averages into `params`, or, when swapped, puts the saved parameters back. */
  swap(params: readonly Float32Array[]): void {
    if (this.backup) {
      const saved = this.backup;
      params.forEach((p, i) => {
        p.set(saved[i]);
      });
      this.backup = null;
      return;
    }
    const averaged = this.averages(params);
    this.backup = params.map((p) => p.slice());
    params.forEach((p, i) => {
      p.set(averaged[i]);
    });
  }

  /** Slot arrays and scalars for the state dict (copies). */
  save(): FeatureState {
    const slots: SlotLists = {
      ema: this.sums.map((e) => e?.slice() ?? null),
    };
    if (this.backup) slots.ema_backup = this.backup.map((b) => b.slice());
    return { slots, extra: { 'ema.count': this.count, 'ema.swapped': this.swapped } };
  }

  /**
   * Checks a saved EMA state against `lengths` (the parameters' lengths); returns the function
   * that restores it, so nothing is written unless everything is valid.
   */
  restore(
    slots: SlotLists | undefined,
    extra: Record<string, ExtraStateValue> | undefined,
    lengths: readonly number[],
    where: string,
  ): () => void {
    const count = checkNumber(
      'state.extra["ema.count"]',
      extra?.['ema.count'],
      { min: 0, integer: true },
      where,
    );
    const swapped = checkBoolean('state.extra["ema.swapped"]', extra?.['ema.swapped'], where);
    const sums = checkSlotList('ema', slots?.ema, lengths, count > 0, where);
    const backup = swapped
      ? checkSlotList('ema_backup', slots?.ema_backup, lengths, true, where)
      : null;
    return () => {
      this.count = count;
      this.sums = sums.map((a) => a?.slice() ?? null);
      this.backup = backup ? backup.map((a) => (a as Float32Array).slice()) : null;
    };
  }
}

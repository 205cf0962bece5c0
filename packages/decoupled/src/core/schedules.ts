/**
 * Learning-rate schedules: pure functions from the 0-based index t of the step being taken to the
 * multiplier eta_t (the effective rate is lr_t = lr * eta_t). Each carries a serializable `config`
 * from which `scheduleFromConfig` (schedule-registry.ts) rebuilds it, so a checkpoint can record it.
 *
 *   constant:     eta_t = value
 *   stepDecay:    eta_t = gamma^k, k = number of milestones <= t (or floor(t / stepSize))
 *   cosine:       eta_t = min + (1 - min) (1 + cos(pi min(t, total) / total)) / 2
 *   warmRestarts: eta_t = min + (P_i - min) (1 + cos(pi (T_cur - W) / (T_i - W))) / 2   (SGDR)
 *                       = min + (P_i - min) T_cur / W                  while T_cur < W (warmup)
 *                 P_i = max(peakDecay^i, min); T_cur, T_i as in restart-periods.ts (T_cur advances
 *                 every step, T_{i+1} = T_i tMult); W = warmup, 0 by default, inside T_i.
 *   linear:       eta_t = from + (to - from) min(t, steps) / steps                 (PyTorch LinearLR)
 *   linearWarmup: eta_t = (from + (1 - from) t / steps) after(0) for t < steps, else after(t - steps)
 *   sequence:     schedule i runs from boundaries[i-1], restarted at its own step 0 (optax join)
 *   perEpoch:     eta_t = inner(floor(t / stepsPerEpoch)), for schedules stepped once per epoch
 */
import { OptionError } from './errors.js';
import { checkPeriods, restarting } from './restart-periods.js';
import type { ConfiguredSchedule, ScheduleConfig } from './schedule-config.js';
import type { Schedule } from './types.js';
import { checkKnownKeys, checkNumber } from './validate.js';

export { type RestartPeriod, restartPeriod } from './restart-periods.js';
export type { ConfiguredSchedule, ScheduleConfig } from './schedule-config.js';

/** Returns `fn` with a frozen config attached (a wrapper if `fn` already has one). */
export function withConfig<C extends ScheduleConfig>(
  fn: (step: number) => number,
  config: C,
): Schedule & { readonly config: C } {
  const target = 'config' in fn ? (t: number) => fn(t) : fn;
  Object.defineProperty(target, 'config', { value: Object.freeze(config), enumerable: true });
  return target as Schedule & { readonly config: C };
}

/** The config of a child schedule, or undefined if it is a plain function (then so is the parent). */
function childConfig(schedule: Schedule): ScheduleConfig | undefined {
  return schedule.config as ScheduleConfig | undefined;
}

function maybeWithConfig(fn: (step: number) => number, config: ScheduleConfig | undefined) {
  return config ? withConfig(fn, config) : (fn as Schedule);
}

const FRACTION = { min: 0, max: 1 } as const;

/** eta_t = value (default 1): the fixed-rate schedule. */
export function constant(value = 1): ConfiguredSchedule {
  checkNumber('value', value, { min: 0 }, 'constant');
  return withConfig(() => value, { type: 'constant', value });
}

export interface StepDecayOptions {
  /** Step indices at which eta is multiplied by gamma; strictly increasing, >= 0. */
  milestones?: readonly number[];
  /** Alternatively, multiply by gamma every `stepSize` steps (PyTorch StepLR). */
  stepSize?: number;
  /** The factor per milestone, > 0 (default 0.1). */
  gamma?: number;
}

/** eta_t = gamma^k, with k the number of milestones <= t (PyTorch MultiStepLR / StepLR). */
export function stepDecay(options: StepDecayOptions): ConfiguredSchedule {
  const where = 'stepDecay';
  checkKnownKeys(options, ['milestones', 'stepSize', 'gamma'], where);
  const gamma = checkNumber('gamma', options.gamma ?? 0.1, { above: 0 }, where);
  if ((options.milestones === undefined) === (options.stepSize === undefined)) {
    throw new OptionError(
      'milestones',
      options.milestones,
      'given, or else stepSize given (exactly one of the two)',
      where,
    );
  }
  if (options.stepSize !== undefined) {
    const stepSize = checkNumber('stepSize', options.stepSize, { above: 0 }, where);
    return withConfig((t) => gamma ** Math.floor(t / stepSize), {
      type: 'stepDecay',
      stepSize,
      gamma,
    });
  }
  const milestones = options.milestones;
  if (!Array.isArray(milestones)) {
    throw new OptionError('milestones', milestones, 'an array of step indices', where);
  }
  milestones.forEach((m, i) => {
    checkNumber(`milestones[${i}]`, m, { min: 0 }, where);
    if (i > 0 && m <= milestones[i - 1]) {
      throw new OptionError('milestones', milestones, 'strictly increasing', where);
    }
  });
  const list = [...milestones];
  return withConfig(
    (t) => {
      let k = 0;
      while (k < list.length && list[k] <= t) k++;
      return gamma ** k;
    },
    { type: 'stepDecay', milestones: list, gamma },
  );
}

export interface CosineOptions {
  /** Steps of the annealing; eta stays at `min` from step `total` on. */
  total: number;
  /** The final multiplier, in [0, 1] (default 0). */
  min?: number;
}

/** Cosine annealing without restarts, from 1 at t = 0 down to `min` at t = total, then flat. */
export function cosine(options: CosineOptions): ConfiguredSchedule {
  const where = 'cosine';
  checkKnownKeys(options, ['total', 'min'], where);
  const total = checkNumber('total', options.total, { above: 0 }, where);
  const min = checkNumber('min', options.min ?? 0, FRACTION, where);
  return withConfig((t) => cosineAt(Math.min(t, total), total, min), {
    type: 'cosine',
    total,
    min,
  });
}

/** min + (peak - min)(1 + cos(pi x / length)) / 2, in PyTorch's operation order. */
function cosineAt(x: number, length: number, min: number, peak = 1): number {
  return min + ((peak - min) * (1 + Math.cos((Math.PI * x) / length))) / 2;
}

/** from + (to - from) min(x, steps) / steps: a linear ramp, then flat at `to`. */
function rampAt(x: number, steps: number, from: number, to: number): number {
  return from + ((to - from) * Math.min(x, steps)) / steps;
}

export interface WarmRestartsOptions {
  /** Length of the first period, in steps (> 0; may be fractional, e.g. epochs * stepsPerEpoch). */
  t0: number;
  /** Growth factor of the period length at each restart, >= 1, may be fractional (default 1). */
  tMult?: number;
  /** The multiplier at the end of each period (and at the start of its warmup), in [0, 1] (default 0). */
  min?: number;
  /** Steps of linear warmup at the start of every period, inside its length: in [0, t0) (default 0). */
  warmup?: number;
  /** Period i peaks at max(peakDecay^i, min): in (0, 1] (default 1, every peak 1). */
  peakDecay?: number;
}

/** The options of warmRestarts, and the keys of its config besides `type`. */
export const WARM_RESTARTS_KEYS = ['t0', 'tMult', 'min', 'warmup', 'peakDecay'] as const;

/**
 * Checks the shape of a warm-restart cycle, in the unit of `t0` (steps, or AdamWR's epochs): min in
 * [0, 1], warmup in [0, t0) so the first (shortest) period still anneals, peakDecay in (0, 1].
 */
export function checkCycle(
  options: { min?: unknown; warmup?: unknown; peakDecay?: unknown },
  t0: number,
  where: string,
): { min: number; warmup: number; peakDecay: number } {
  const min = checkNumber('min', options.min ?? 0, FRACTION, where);
  const warmup = checkNumber('warmup', options.warmup ?? 0, { min: 0 }, where);
  if (warmup >= t0) {
    throw new OptionError('warmup', warmup, `< t0 (${t0}), the length of the first period`, where);
  }
  const peakDecay = checkNumber('peakDecay', options.peakDecay ?? 1, { above: 0, max: 1 }, where);
  return { min, warmup, peakDecay };
}

/**
 * One SGDR cycle of `length` steps peaking at `peak` (optax's warmup_cosine_decay_schedule): a
 * linear rise from min to peak over the first `warmup` steps, then a cosine from peak down to min
 * over the remaining length - warmup.
 */
function warmupCosineAt(
  x: number,
  length: number,
  { warmup, min, peak }: { warmup: number; min: number; peak: number },
): number {
  return x < warmup
    ? rampAt(x, warmup, min, peak)
    : cosineAt(x - warmup, length - warmup, min, peak);
}

/**
 * SGDR cosine annealing with warm restarts (Loshchilov & Hutter 2017), eta_max = 1: each restart
 * period runs one warmup-then-cosine cycle, period i peaking at max(peakDecay^i, min).
 */
export function warmRestarts(options: WarmRestartsOptions): ConfiguredSchedule {
  const where = 'warmRestarts';
  checkKnownKeys(options, WARM_RESTARTS_KEYS, where);
  const { t0, tMult } = checkPeriods(options, where);
  const { min, warmup, peakDecay } = checkCycle(options, t0, where);
  return withConfig(
    restarting(t0, tMult, (p) =>
      warmupCosineAt(p.position, p.length, {
        warmup,
        min,
        peak: Math.max(peakDecay ** p.index, min),
      }),
    ),
    { type: 'warmRestarts', t0, tMult, min, warmup, peakDecay },
  );
}

export interface LinearOptions {
  /** Multiplier at step 0 (default 0). */
  from?: number;
  /** Multiplier from step `steps` on (default 1). */
  to?: number;
  /** Steps of the ramp, > 0. */
  steps: number;
}

/** A linear ramp from `from` to `to` over `steps` steps, then flat (PyTorch LinearLR). */
export function linear(options: LinearOptions): ConfiguredSchedule {
  const where = 'linear';
  checkKnownKeys(options, ['from', 'to', 'steps'], where);
  const from = checkNumber('from', options.from ?? 0, { min: 0 }, where);
  const to = checkNumber('to', options.to ?? 1, { min: 0 }, where);
  const steps = checkNumber('steps', options.steps, { above: 0 }, where);
  return withConfig((t) => rampAt(t, steps, from, to), {
    type: 'linear',
    from,
    to,
    steps,
  });
}

export interface LinearWarmupOptions {
  /** Warmup steps, > 0. */
  steps: number;
  /** Fraction of after(0) at step 0, in [0, 1] (default 0). */
  from?: number;
}

/**
 * Linear warmup from `from * after(0)` to `after(0)` over `steps` steps, then `after` restarted at its
 * own step 0 (so a cosine or restart schedule keeps its full length after the warmup).
 */
export function linearWarmup(options: LinearWarmupOptions, after: Schedule = constant()): Schedule {
  const where = 'linearWarmup';
  checkKnownKeys(options, ['steps', 'from'], where);
  const steps = checkNumber('steps', options.steps, { above: 0 }, where);
  const from = checkNumber('from', options.from ?? 0, FRACTION, where);
  if (typeof after !== 'function') throw new OptionError('after', after, 'a schedule', where);
  const inner = childConfig(after);
  return maybeWithConfig(
    (t) => (t < steps ? (from + ((1 - from) * t) / steps) * after(0) : after(t - steps)),
    inner && { type: 'linearWarmup', steps, from, after: inner },
  );
}

/**
 * Runs schedules one after another: schedules[i] is used from boundaries[i - 1] (0 for i = 0) and
 * sees the step index counted from there (as optax join_schedules, PyTorch SequentialLR).
 */
export function sequence(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  const where = 'sequence';
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw new OptionError('schedules', schedules, 'a non-empty array of schedules', where);
  }
  schedules.forEach((s, i) => {
    if (typeof s !== 'function') throw new OptionError(`schedules[${i}]`, s, 'a schedule', where);
  });
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    throw new OptionError(
      'boundaries',
      boundaries,
      `an array of ${schedules.length - 1} step indices (one fewer than schedules)`,
      where,
    );
  }
  boundaries.forEach((b, i) => {
    checkNumber(`boundaries[${i}]`, b, { above: 0 }, where);
    if (i > 0 && b <= boundaries[i - 1]) {
      throw new OptionError('boundaries', boundaries, 'strictly increasing', where);
    }
  });
  const list = [...schedules];
  const bounds = [...boundaries];
  const configs = list.map(childConfig);
  const complete = configs.every((c) => c !== undefined);
  return maybeWithConfig(
    (t) => {
      let i = 0;
      while (i < bounds.length && t >= bounds[i]) i++;
      return list[i](i === 0 ? t : t - bounds[i - 1]);
    },
    complete
      ? { type: 'sequence', schedules: configs as ScheduleConfig[], boundaries: bounds }
      : undefined,
  );
}

/** Evaluates a per-epoch schedule at floor(t / stepsPerEpoch): it changes only between epochs. */
export function perEpoch(schedule: Schedule, stepsPerEpoch: number): Schedule {
  const where = 'perEpoch';
  if (typeof schedule !== 'function') {
    throw new OptionError('schedule', schedule, 'a schedule', where);
  }
  checkNumber('stepsPerEpoch', stepsPerEpoch, { above: 0 }, where);
  const inner = childConfig(schedule);
  return maybeWithConfig(
    (t) => schedule(Math.floor(t / stepsPerEpoch)),
    inner && { type: 'perEpoch', stepsPerEpoch, schedule: inner },
  );
}

/** Steps per epoch of a data loader: ceil(datasetSize / batchSize), or floor when dropLast. */
export function stepsPerEpoch(options: {
  datasetSize: number;
  batchSize: number;
  dropLast?: boolean;
}): number {
  const where = 'stepsPerEpoch';
  checkKnownKeys(options, ['datasetSize', 'batchSize', 'dropLast'], where);
  const n = checkNumber('datasetSize', options.datasetSize, { min: 1, integer: true }, where);
  const b = checkNumber('batchSize', options.batchSize, { min: 1, integer: true }, where);
  const steps = options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  if (steps === 0) {
    throw new OptionError('batchSize', b, `<= datasetSize (${n}) when dropLast is true`, where);
  }
  return steps;
}

/** Converts a length in epochs (possibly fractional) to steps: epochs * stepsPerEpoch. */
export function epochsToSteps(epochs: number, stepsPerEpochValue: number): number {
  checkNumber('epochs', epochs, { min: 0 }, 'epochsToSteps');
  checkNumber('stepsPerEpoch', stepsPerEpochValue, { above: 0 }, 'epochsToSteps');
  return epochs * stepsPerEpochValue;
}

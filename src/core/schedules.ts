/**
 * Learning-rate schedules: pure functions from the 0-based index t of the step being taken to the
 * multiplier eta_t (the effective rate is lr_t = lr * eta_t). Each carries a serializable `config`
 * from which {@link scheduleFromConfig} rebuilds it, so a checkpoint can record the schedule.
 *
 *   constant:     eta_t = value
 *   stepDecay:    eta_t = gamma^k, k = number of milestones <= t (or floor(t / stepSize))
 *   cosine:       eta_t = min + (1 - min) (1 + cos(pi min(t, total) / total)) / 2
 *   warmRestarts: eta_t = min + (1 - min) (1 + cos(pi T_cur / T_i)) / 2          (SGDR)
 *                 T_cur = t - (T_0 + ... + T_{i-1}) advances every step; a restart happens when
 *                 T_cur reaches T_i, and T_{i+1} = T_i * tMult (tMult may be fractional).
 *   linear:       eta_t = from + (to - from) min(t, steps) / steps                 (PyTorch LinearLR)
 *   linearWarmup: eta_t = (from + (1 - from) t / steps) after(0) for t < steps, else after(t - steps)
 *   sequence:     schedule i runs from boundaries[i-1], restarted at its own step 0 (optax join)
 *   perEpoch:     eta_t = inner(floor(t / stepsPerEpoch)), for schedules stepped once per epoch
 */
import { OptionError } from './errors.js';
import {
  type NormalizedDecayRestartsConfig,
  normalizedWeightDecayForRestarts,
} from './normalized-decay.js';
import type { Schedule } from './types.js';
import { checkKnownKeys, checkNumber } from './validate.js';

export type ScheduleConfig =
  | { readonly type: 'constant'; readonly value: number }
  | { readonly type: 'stepDecay'; readonly milestones: readonly number[]; readonly gamma: number }
  | { readonly type: 'stepDecay'; readonly stepSize: number; readonly gamma: number }
  | { readonly type: 'cosine'; readonly total: number; readonly min: number }
  | {
      readonly type: 'warmRestarts';
      readonly t0: number;
      readonly tMult: number;
      readonly min: number;
    }
  | { readonly type: 'linear'; readonly from: number; readonly to: number; readonly steps: number }
  | {
      readonly type: 'linearWarmup';
      readonly steps: number;
      readonly from: number;
      readonly after: ScheduleConfig;
    }
  | {
      readonly type: 'sequence';
      readonly schedules: readonly ScheduleConfig[];
      readonly boundaries: readonly number[];
    }
  | { readonly type: 'perEpoch'; readonly stepsPerEpoch: number; readonly schedule: ScheduleConfig }
  | NormalizedDecayRestartsConfig;

/** A schedule made by this module: always has its config. */
export interface ConfiguredSchedule extends Schedule {
  readonly config: ScheduleConfig;
}

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

/** min + (1 - min)(1 + cos(pi x / length)) / 2, in PyTorch's operation order. */
function cosineAt(x: number, length: number, min: number): number {
  return min + ((1 - min) * (1 + Math.cos((Math.PI * x) / length))) / 2;
}

/** Where step t falls in a warm-restart run: period index i, its first step, length T_i, T_cur. */
export interface RestartPeriod {
  readonly index: number;
  readonly start: number;
  readonly length: number;
  readonly position: number;
}

/**
 * Relative slack within which a period boundary counts as reached. t0 and tMult are decimals
 * (7 and 1.3, or 2.5 epochs) whose floating-point products land an ulp or two beside the step
 * where the exact boundary is (7 (1.3 - 1) / (1.3 - 1) = 7.000000000000001), and a restart
 * missed by an ulp would leave eta at its minimum for that step.
 */
const BOUNDARY_SLACK = 1e-9;

/** Whether step t has reached a boundary at `start` (exactly, or within BOUNDARY_SLACK of it). */
function reached(t: number, start: number): boolean {
  return t >= start - BOUNDARY_SLACK * Math.max(1, start);
}

/**
 * The restart period containing step t: periods have lengths t0, t0 tMult, t0 tMult^2, ... and
 * period i starts at t0 (1 + tMult + ... + tMult^(i-1)), a boundary being reached when exact
 * decimal arithmetic reaches it. The one place this rule lives.
 */
export function restartPeriod(t: number, t0: number, tMult: number): RestartPeriod {
  if (!(t >= 0 && t < Number.POSITIVE_INFINITY)) {
    throw new OptionError('step', t, 'a finite number >= 0', 'restartPeriod');
  }
  // start_i = i t0 (tMult = 1) or t0 (tMult^i - 1) / (tMult - 1); exact for integer t0 and tMult.
  const startOf =
    tMult === 1 ? (i: number) => i * t0 : (i: number) => (t0 * (tMult ** i - 1)) / (tMult - 1);
  // A closed-form guess, O(1) even for tMult near 1, then fix-ups against startOf.
  let index =
    tMult === 1
      ? Math.floor(t / t0)
      : Math.max(0, Math.floor(Math.log1p((t * (tMult - 1)) / t0) / Math.log(tMult)));
  while (index > 0 && !reached(t, startOf(index))) index--;
  while (reached(t, startOf(index + 1))) index++;
  const start = startOf(index);
  const length = t0 * tMult ** index;
  return { index, start, length, position: Math.max(0, t - start) };
}

export interface WarmRestartsOptions {
  /** Length of the first period, in steps (> 0; may be fractional, e.g. epochs * stepsPerEpoch). */
  t0: number;
  /** Growth factor of the period length at each restart, >= 1, may be fractional (default 1). */
  tMult?: number;
  /** The multiplier at the end of each period, in [0, 1] (default 0). */
  min?: number;
}

/** SGDR cosine annealing with warm restarts (Loshchilov & Hutter 2017), eta_max = 1. */
export function warmRestarts(options: WarmRestartsOptions): ConfiguredSchedule {
  const where = 'warmRestarts';
  checkKnownKeys(options, ['t0', 'tMult', 'min'], where);
  const t0 = checkNumber('t0', options.t0, { above: 0 }, where);
  const tMult = checkNumber('tMult', options.tMult ?? 1, { min: 1 }, where);
  const min = checkNumber('min', options.min ?? 0, FRACTION, where);
  return withConfig(
    (t) => {
      const p = restartPeriod(t, t0, tMult);
      return cosineAt(p.position, p.length, min);
    },
    { type: 'warmRestarts', t0, tMult, min },
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
  return withConfig((t) => from + ((to - from) * Math.min(t, steps)) / steps, {
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

const CONFIG_KEYS: Record<ScheduleConfig['type'], readonly string[]> = {
  constant: ['type', 'value'],
  stepDecay: ['type', 'milestones', 'stepSize', 'gamma'],
  cosine: ['type', 'total', 'min'],
  warmRestarts: ['type', 't0', 'tMult', 'min'],
  linear: ['type', 'from', 'to', 'steps'],
  linearWarmup: ['type', 'steps', 'from', 'after'],
  sequence: ['type', 'schedules', 'boundaries'],
  perEpoch: ['type', 'stepsPerEpoch', 'schedule'],
  normalizedDecayRestarts: [
    'type',
    'lambdaNorm',
    'batchSize',
    'datasetSize',
    't0',
    'tMult',
    'stepsPerEpoch',
  ],
};

/** Rebuilds a schedule (or a step-dependent weight decay) from its config, validating it. */
export function scheduleFromConfig(config: unknown): ConfiguredSchedule {
  const where = 'scheduleFromConfig';
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new OptionError('config', config, 'a schedule config object with a type', where);
  }
  const c = config as Record<string, unknown> & { type: unknown };
  const type = c.type;
  if (typeof type !== 'string' || !Object.hasOwn(CONFIG_KEYS, type)) {
    throw new OptionError(
      'config.type',
      type,
      `one of ${Object.keys(CONFIG_KEYS)
        .map((k) => `'${k}'`)
        .join(', ')}`,
      where,
    );
  }
  checkKnownKeys(c, CONFIG_KEYS[type as ScheduleConfig['type']], where, 'config.');
  const { type: _drop, ...rest } = c;
  const opts = rest as never;
  const nested = (key: string) => scheduleFromConfig(c[key]);
  switch (type as ScheduleConfig['type']) {
    case 'constant':
      return constant(c.value as number);
    case 'stepDecay':
      return stepDecay(opts);
    case 'cosine':
      return cosine(opts);
    case 'warmRestarts':
      return warmRestarts(opts);
    case 'linear':
      return linear(opts);
    case 'linearWarmup':
      return linearWarmup(
        { steps: c.steps as number, from: c.from as number },
        nested('after'),
      ) as ConfiguredSchedule;
    case 'sequence': {
      if (!Array.isArray(c.schedules)) {
        throw new OptionError('config.schedules', c.schedules, 'an array of configs', where);
      }
      const children = c.schedules.map((s) => scheduleFromConfig(s));
      return sequence(children, c.boundaries as number[]) as ConfiguredSchedule;
    }
    case 'perEpoch':
      return perEpoch(nested('schedule'), c.stepsPerEpoch as number) as ConfiguredSchedule;
    case 'normalizedDecayRestarts':
      return normalizedWeightDecayForRestarts(opts);
  }
}

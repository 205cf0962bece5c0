/**
 * The options of the tfjs optimizers: the core's (checked by the core, which also owns the step
 * count; ema and accumulate checked by the core's rules but kept here, ./ema.ts, ./accumulate.ts)
 * plus two of tfjs' own, clipNorm and excludeFromDecay. A variable is excluded from weight
 * decay (lambda = 0) by the core's rule (src/core/param-groups.ts: rank <= 1, i.e. biases and
 * BatchNorm/LayerNorm gamma and beta), by name patterns, or by a predicate.
 */
import { accumulateSetting } from '../core/accumulate.js';
import { type EmaOptions, type EmaSettings, emaSettings } from '../core/ema.js';
import { OptionError } from '../core/errors.js';
import { type DecayExclusion, groupParams } from '../core/param-groups.js';
import { createOptimizer, type FamilyOptimizer, optimizerOptionNames } from '../core/registry.js';
import type { NonFinitePolicy, OptimizerKind, Schedule, StepValue } from '../core/types.js';
import { checkBoolean, checkKnownKeys, checkNumber } from '../core/validate.js';

/** Decay exclusion for tfjs variables (the core's DecayExclusion, with tfjs' name and shape). */
export interface TfjsDecayExclusion {
  /** Variables whose name contains a string, or matches a RegExp, are excluded. */
  patterns?: readonly (string | RegExp)[];
  /** Returns true for variables to exclude. Not serializable: getConfig refuses it. */
  predicate?: (name: string, shape: readonly number[]) => boolean;
  /** Also exclude by the core's default rule, rank <= 1 (default true). */
  useDefaultRule?: boolean;
}

/** Options the tfjs optimizers add to the core's. */
export interface TfjsExtraOptions {
  /** Clip the gradients to this global L2 norm before the step (default: no clipping). */
  clipNorm?: number;
  /** Which variables get no weight decay (default: the core's rule, rank <= 1). */
  excludeFromDecay?: TfjsDecayExclusion;
  /** Weight averaging (./ema.ts): true for the defaults, or { decay, every, debias }. */
  ema?: boolean | EmaOptions;
  /** Gradient accumulation (./accumulate.ts): a step every k calls, on the mean (default 1). */
  accumulate?: number;
}

/** Core options every tfjs optimizer takes (no params, no kernels: tfjs supplies both). */
export interface TfjsCommonOptions extends TfjsExtraOptions {
  lr?: number;
  weightDecay?: StepValue;
  maximize?: boolean;
  schedule?: Schedule;
  nonFinite?: NonFinitePolicy;
}

/** The checked options: tfjs' own, and the core optimizer `C` that holds the rest. */
export interface ParsedAdapterOptions<C> {
  readonly clipNorm: number | null;
  readonly exclusion: TfjsDecayExclusion;
  readonly ema: EmaSettings | null;
  /** Calls per applied step (1: no accumulation). */
  readonly accumulate: number;
  /** The core optimizer whose planStep gives each step's scalars: two empty decay groups, 0
   * decayed (the configured weightDecay) and 1 excluded (weightDecay 0). */
  readonly core: C;
}

/** The checked options of the Adam and SGD families. */
export type ParsedOptions = ParsedAdapterOptions<FamilyOptimizer>;

/** The two empty decay groups of an adapter's core optimizer: decayed (0) and excluded (1). */
export type DecayGroups = [{ params: Float32Array[] }, { params: Float32Array[]; weightDecay: 0 }];

const EXTRA_KEYS = ['clipNorm', 'excludeFromDecay', 'ema', 'accumulate'] as const;
const EXCLUSION_KEYS = ['patterns', 'predicate', 'useDefaultRule'] as const;

/** Checks the options of a `kind` optimizer (errors name `where`) and builds its core. */
export function parseOptions(
  kind: OptimizerKind,
  options: TfjsCommonOptions,
  where: string,
): ParsedOptions {
  return parseAdapterOptions(options, where, optimizerOptionNames(kind), (coreOptions, groups) =>
    createOptimizer(kind, groups, coreOptions),
  );
}

/**
 * Checks tfjs' options and the keys of the rest against `coreKeys` (the core's option names), then
 * builds the core with `build`, whose constructor checks every other option (errors name `where`).
 */
export function parseAdapterOptions<C>(
  options: TfjsCommonOptions,
  where: string,
  coreKeys: readonly string[],
  build: (coreOptions: object, groups: DecayGroups) => C,
): ParsedAdapterOptions<C> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const allowed = 'an options object (the variables come from minimize/fit)';
    throw new OptionError('options', options, allowed, where);
  }
  if ('params' in options) {
    const allowed =
      'not given: tfjs optimizers take their variables from minimize, applyGradients or fit';
    throw new OptionError('params', (options as { params: unknown }).params, allowed, where);
  }
  const { clipNorm, excludeFromDecay, ema, accumulate, ...coreOptions } = options;
  if ('kernels' in coreOptions) {
    throw new OptionError('kernels', 'given', 'not given: tfjs runs its backend kernels', where);
  }
  const parsedClip =
    clipNorm === undefined ? null : checkNumber('clipNorm', clipNorm, { above: 0 }, where);
  const exclusion = checkExclusion(excludeFromDecay, where);
  const features = {
    ema: emaSettings(ema, where),
    accumulate: accumulateSetting(accumulate, where),
  };
  // Unknown keys first, against the core's option names and ours.
  const known = coreKeys.filter((key) => key !== 'kernels');
  checkKnownKeys(options, [...known, ...EXTRA_KEYS], where);
  // The core checks every other option and owns the step count.
  const groups: DecayGroups = [{ params: [] }, { params: [], weightDecay: 0 }];
  try {
    return { clipNorm: parsedClip, exclusion, ...features, core: build(coreOptions, groups) };
  } catch (error) {
    throw error instanceof OptionError ? error.relabeled(where) : error;
  }
}

/** True if a variable of this name and shape gets no weight decay (the core's grouping rule). */
export function isExcluded(
  exclusion: TfjsDecayExclusion,
  name: string,
  shape: readonly number[],
): boolean {
  const { patterns, useDefaultRule, predicate } = exclusion;
  const groups = groupParams([[name, { values: new Float32Array(0), shape }]], {
    patterns,
    useDefaultRule,
    predicate: predicate ? (n, _v, s) => predicate(n, s ?? []) === true : undefined,
  } satisfies DecayExclusion);
  return groups[0].weightDecay === 0;
}

function checkExclusion(value: unknown, where: string): TfjsDecayExclusion {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const allowed =
      '{ patterns?: (string | RegExp)[], predicate?: (name, shape) => boolean, useDefaultRule?: boolean }';
    throw new OptionError('excludeFromDecay', value, allowed, where);
  }
  checkKnownKeys(value, EXCLUSION_KEYS, where, 'excludeFromDecay.');
  const ex = value as TfjsDecayExclusion;
  const { patterns, predicate } = ex;
  const patternOk = (p: unknown) => typeof p === 'string' || p instanceof RegExp;
  if (patterns !== undefined && (!Array.isArray(patterns) || !patterns.every(patternOk))) {
    const allowed = 'an array of strings and RegExps';
    throw new OptionError('excludeFromDecay.patterns', patterns, allowed, where);
  }
  if (predicate !== undefined && typeof predicate !== 'function') {
    const allowed = 'a function (name, shape) => boolean';
    throw new OptionError('excludeFromDecay.predicate', predicate, allowed, where);
  }
  if (ex.useDefaultRule !== undefined) {
    checkBoolean('excludeFromDecay.useDefaultRule', ex.useDefaultRule, where);
  }
  return { ...ex, patterns: patterns ? [...patterns] : undefined };
}

/**
 * The saved configuration of a tfjs optimizer (tf.Optimizer's getConfig / fromConfig): the core's
 * group hyperparameters (base lr, betas, …), weightDecay and schedule as a number or a schedule
 * config, nonFinite, clipNorm, the exclusion rules (patterns only: a predicate cannot be saved),
 * ema ({ decay, debias, every? } or null) and accumulate.
 *
 * tfjs-layers camel-cases every string with `_` in a config it loads, so pattern texts are saved
 * with `_` and `%` escaped.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { EmaSettings } from '../core/ema.js';
import { OptionError } from '../core/errors.js';
import { scheduleFromConfig } from '../core/schedule-registry.js';
import type { NonFinitePolicy, Schedule, StepValue } from '../core/types.js';
import type { TfjsDecayExclusion } from './options.js';

type ConfigDict = tf.serialization.ConfigDict;

/** What getConfig saves besides the core's hyperparameters. */
export interface SavedSettings {
  readonly nonFinite: NonFinitePolicy;
  readonly clipNorm: number | null;
  readonly exclusion: TfjsDecayExclusion;
  readonly ema: EmaSettings | null;
  readonly accumulate: number;
}

/** The saved form of a StepValue or Schedule: a number, a schedule config, or null (none). */
type SavedStep = number | ConfigDict | null;

/** The config of an optimizer with the core hyperparameters `hyper` (group 0's) and `settings`. */
export function saveConfig(
  hyper: Readonly<Record<string, unknown>>,
  settings: SavedSettings,
  where: string,
): ConfigDict {
  const config: ConfigDict = {};
  for (const [key, value] of Object.entries(hyper)) {
    if (key === 'schedule' || key === 'weightDecay') continue;
    config[key] = Array.isArray(value) ? [...value] : (value as tf.serialization.ConfigDictValue);
  }
  config.weightDecay = saveStep('weightDecay', hyper.weightDecay as StepValue, where);
  config.schedule = saveStep('schedule', hyper.schedule as Schedule | undefined, where);
  config.nonFinite = settings.nonFinite;
  config.clipNorm = settings.clipNorm;
  config.excludeFromDecay = saveExclusion(settings.exclusion, where);
  const ema = settings.ema;
  // `every` only when set: a null inside the object would not load.
  config.ema = ema && {
    decay: ema.decay,
    debias: ema.debias,
    ...(ema.every === null ? {} : { every: ema.every }),
  };
  config.accumulate = settings.accumulate;
  return config;
}

/** Options rebuilt from a config written by saveConfig (after tfjs-layers' key conversion). */
export function optionsFromConfig(config: ConfigDict): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    // tfjs-layers' deserialize adds customObjects to the config it passes.
    if (value === null || value === undefined || key === 'customObjects') continue;
    if (key === 'schedule' || key === 'weightDecay') {
      options[key] = typeof value === 'number' ? value : scheduleFromConfig(value);
    } else if (key === 'excludeFromDecay') {
      options.excludeFromDecay = loadExclusion(value as SavedExclusion);
    } else {
      options[key] = value;
    }
  }
  return options;
}

/** The saved form of TfjsDecayExclusion. */
interface SavedExclusion {
  useDefaultRule?: boolean;
  patterns?: ({ text: string } | { regex: string; flags: string })[];
}

function saveExclusion(ex: TfjsDecayExclusion, where: string): ConfigDict {
  if (ex.predicate) {
    const allowed = 'absent for a saved optimizer (a function cannot be saved; use patterns)';
    throw new OptionError('excludeFromDecay.predicate', ex.predicate, allowed, where);
  }
  const saved: SavedExclusion = {
    useDefaultRule: ex.useDefaultRule ?? true,
    patterns: (ex.patterns ?? []).map((p) =>
      typeof p === 'string'
        ? { text: escapeText(p) }
        : { regex: escapeText(p.source), flags: p.flags },
    ),
  };
  return saved as unknown as ConfigDict;
}

function loadExclusion(saved: SavedExclusion): TfjsDecayExclusion {
  return {
    useDefaultRule: saved.useDefaultRule,
    patterns: (saved.patterns ?? []).map((p) =>
      'regex' in p ? new RegExp(unescapeText(p.regex), p.flags) : unescapeText(p.text),
    ),
  };
}

function saveStep(
  option: string,
  value: StepValue | Schedule | undefined,
  where: string,
): SavedStep {
  if (value === undefined) return null;
  if (typeof value === 'number') return value;
  const config = (value as Schedule).config;
  if (!config) {
    const allowed = 'a number or a schedule from decoupled (with a config) for a saved optimizer';
    throw new OptionError(option, value, allowed, where);
  }
  return JSON.parse(JSON.stringify(config)) as ConfigDict;
}

/** Escapes `_` and `%`: tfjs-layers camel-cases every string with `_` in a loaded config. */
function escapeText(text: string): string {
  return text.replace(/%/g, '%25').replace(/_/g, '%5F');
}

function unescapeText(text: string): string {
  return text.replace(/%5F/g, '_').replace(/%25/g, '%');
}

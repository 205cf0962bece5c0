/**
 * AdamWR and SGDWR (Loshchilov & Hutter 2019, section 4 and appendix B): AdamW / SGDW with
 *
 *   eta_t    = (1 + cos(pi T_cur / T_i)) / 2        warm restarts, eta_max 1, eta_min 0 by default
 *   lambda_t = lambdaNorm sqrt(b / (B T_i))         normalized decay, T_i in epochs of the current period
 *   theta   <- theta (1 - eta_t lambda_t)           decayScale 'schedule': lambda independent of lr
 *
 * with T_0 = t0 epochs and T_{i+1} = T_i tMult. Optional, beyond the paper: a linear warmup of
 * `warmup` epochs at the start of every period (inside T_i, so lambda_t is unchanged) and period i
 * peaking at peakDecay^i (see warmRestarts). They are the paper's settings packaged: the optimizer
 * returned is an ordinary AdamW / SGDW (instanceof holds; the state dict is theirs).
 */
import type { AdamOptions, AdamParams } from './adam.js';
import { AdamW } from './adamw.js';
import { OptionError } from './errors.js';
import {
  checkRestartSettings,
  type NormalizedDecayRestartsOptions,
  normalizedWeightDecayForRestarts,
  RESTART_DECAY_KEYS,
} from './normalized-decay.js';
import type { ParamGroupInput } from './optimizer.js';
import { checkPeriods } from './restart-periods.js';
import type { ConfiguredSchedule } from './schedule-config.js';
import { checkCycle, epochsToSteps, warmRestarts } from './schedules.js';
import type { SGDWOptions, SgdwHyper } from './sgd.js';
import { SGDW } from './sgdw.js';
import { checkKnownKeys, checkNumber } from './validate.js';

/** The paper's warm-restart settings, shared by AdamWR and SGDWR: the decay's, and the cycle's. */
export interface WarmRestartSettings extends NormalizedDecayRestartsOptions {
  /** eta_min as a fraction of eta_max = 1, in [0, 1] (default 0). */
  min?: number;
  /** Linear warmup at the start of every period, in EPOCHS, inside the period: in [0, t0) (default 0). */
  warmup?: number;
  /** Period i peaks at max(peakDecay^i, min), in (0, 1] (default 1). */
  peakDecay?: number;
}

const SETTING_KEYS = [...RESTART_DECAY_KEYS, 'min', 'warmup', 'peakDecay'] as const;

/** What the settings fix; passing any of these to AdamWR / SGDWR is an error. */
const FIXED_KEYS = ['schedule', 'weightDecay', 'decayScale'] as const;

/** The schedule, per-step lambda and decay scale that the settings stand for. */
export interface WarmRestartHyper {
  readonly schedule: ConfiguredSchedule;
  readonly weightDecay: ConfiguredSchedule;
  readonly decayScale: 'schedule';
}

/** The schedule part of the settings: lengths in epochs, and the steps in one epoch. */
export type WarmRestartScheduleSettings = Pick<
  WarmRestartSettings,
  't0' | 'tMult' | 'min' | 'warmup' | 'peakDecay'
> & { stepsPerEpoch: number };

/** eta_t of the settings: warmRestarts with t0 and warmup converted from epochs to steps. */
export function warmRestartSchedule(
  settings: WarmRestartScheduleSettings,
  where = 'warmRestartSchedule',
): ConfiguredSchedule {
  const { t0, tMult } = checkPeriods(settings, where);
  const { min, warmup, peakDecay } = checkCycle(settings, t0, where);
  const spe = checkNumber('stepsPerEpoch', settings.stepsPerEpoch, { above: 0 }, where);
  return warmRestarts({
    t0: epochsToSteps(t0, spe),
    tMult,
    min,
    warmup: epochsToSteps(warmup, spe),
    peakDecay,
  });
}

/**
 * Turns the paper's settings into optimizer options: `{ schedule, weightDecay, decayScale }`, so
 * `new AdamW(params, { lr, ...warmRestartHyper(settings) })` is AdamWR (the tfjs adapter uses it too).
 */
export function warmRestartHyper(settings: WarmRestartSettings, where = 'warmRestartHyper') {
  if (settings === null || typeof settings !== 'object') {
    throw new OptionError('options', settings, 'an object', where);
  }
  checkKnownKeys(settings, SETTING_KEYS, where);
  const { lambdaNorm, batchSize, datasetSize, t0, tMult, stepsPerEpoch } = checkRestartSettings(
    settings,
    where,
  );
  const { min, warmup, peakDecay } = settings;
  const hyper: WarmRestartHyper = {
    schedule: warmRestartSchedule({ t0, tMult, min, warmup, peakDecay, stepsPerEpoch }, where),
    weightDecay: normalizedWeightDecayForRestarts({
      lambdaNorm,
      batchSize,
      datasetSize,
      t0,
      tMult,
      stepsPerEpoch,
    }),
    decayScale: 'schedule',
  };
  return hyper;
}

/**
 * Splits AdamWR / SGDWR options into the paper's settings and the optimizer's own options, with
 * the schedule, weight decay and decay scale the settings make. Shared with the tfjs classes.
 */
export function splitWarmRestartOptions<O extends object>(
  options: WarmRestartSettings & O,
  where: string,
): { settings: WarmRestartSettings; options: O & WarmRestartHyper } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionError('options', options, 'an object with lambdaNorm, batchSize, …', where);
  }
  const settings: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if ((FIXED_KEYS as readonly string[]).includes(key)) {
      throw new OptionError(
        key,
        value,
        `not given: ${where} sets it (warm restarts, normalized decay, decayScale 'schedule'); ` +
          'use AdamW / SGDW for other choices',
        where,
      );
    }
    if ((SETTING_KEYS as readonly string[]).includes(key)) {
      if (value !== undefined) settings[key] = value;
    } else rest[key] = value;
  }
  const hyper = warmRestartHyper(settings as unknown as WarmRestartSettings, where);
  return {
    settings: settings as unknown as WarmRestartSettings,
    options: { ...(rest as O), ...hyper },
  };
}

/** Makes an optimizer's error speak of AdamWR / SGDWR, the class the user called. */
function relabel(error: unknown, from: string, to: string): unknown {
  if (
    !(error instanceof OptionError) ||
    !error.where ||
    !new RegExp(`^${from}( |$)`).test(error.where)
  ) {
    return error;
  }
  const where = to + error.where.slice(from.length);
  if (!error.detail.includes('unknown option')) return error.relabeled(where);
  const detail = `${error.detail}, or the ${to} settings ${SETTING_KEYS.join(', ')}`;
  return new OptionError(error.option, error.value, error.allowed, where, detail);
}

export type AdamWROptions = WarmRestartSettings &
  Omit<AdamOptions, 'schedule' | 'weightDecay' | 'decayScale'>;

/** AdamW with warm restarts and normalized weight decay, the paper's AdamWR. */
export class AdamWR extends AdamW {
  constructor(params: AdamParams, options: AdamWROptions) {
    try {
      super(params, splitWarmRestartOptions(options, 'AdamWR').options);
    } catch (error) {
      throw relabel(error, 'AdamW', 'AdamWR');
    }
  }
}

export type SGDWROptions = WarmRestartSettings &
  Omit<SGDWOptions, 'schedule' | 'weightDecay' | 'decayScale'>;

/** SGDW with warm restarts and normalized weight decay, the paper's SGDWR. */
export class SGDWR extends SGDW {
  constructor(params: Float32Array[] | ParamGroupInput<SgdwHyper>[], options: SGDWROptions) {
    try {
      super(params, splitWarmRestartOptions(options, 'SGDWR').options);
    } catch (error) {
      throw relabel(error, 'SGDW', 'SGDWR');
    }
  }
}

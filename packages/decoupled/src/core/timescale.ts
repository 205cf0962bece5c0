/**
 * Weight decay set by its EMA timescale (Wang & Aitchison 2024, "How to set AdamW's weight decay
 * as you scale model and dataset size"). A decoupled step
 *
 *   theta_t = (1 - e lambda) theta_{t-1} - lr_t u_t
 *
 * is an exponential moving average with weight e lambda per step, so its memory is
 * tau_iter = 1 / (e lambda) steps, or tau_epoch = tau_iter / stepsPerEpoch epochs. The paper keeps
 * tau_epoch fixed as data and model grow. What e is depends on the decay scale, taken at the
 * schedule's peak (multiplier eta_t = 1):
 *
 *   decayScale 'lr'        e = lr    lambda = 1 / (lr epochs stepsPerEpoch)   tau = 1 / (lr lambda stepsPerEpoch)
 *   decayScale 'schedule'  e = 1     lambda = 1 / (epochs stepsPerEpoch)      tau = 1 / (lambda stepsPerEpoch)
 *
 * ('schedule' decays by eta_t lambda, independent of lr, so lr does not enter its timescale.)
 */
import { OptionError } from './errors.js';
import { DECAY_SCALES, type DecayScale } from './types.js';
import { checkKnownKeys, checkNumber, checkOneOf } from './validate.js';

export interface DecayForTimescaleOptions {
  /** The EMA timescale tau_epoch, in epochs (> 0, may be fractional). */
  epochs: number;
  /** The base learning rate, > 0; required with decayScale 'lr', unused with 'schedule'. */
  lr?: number;
  /** Optimizer steps per epoch, > 0 (see stepsPerEpoch). */
  stepsPerEpoch: number;
  /** How the optimizer scales its decay (default 'lr', as PyTorch, optax and Keras). */
  decayScale?: DecayScale;
}

export interface TimescaleOfOptions {
  /** The decoupled weight decay lambda, > 0. */
  weightDecay: number;
  /** The base learning rate, > 0; required with decayScale 'lr', unused with 'schedule'. */
  lr?: number;
  /** Optimizer steps per epoch, > 0. */
  stepsPerEpoch: number;
  /** How the optimizer scales its decay (default 'lr'). */
  decayScale?: DecayScale;
}

/** The rate e that multiplies lambda in a step at the schedule's peak: lr, or 1 for 'schedule'. */
function decayRate(options: { lr?: unknown; decayScale?: unknown }, where: string): number {
  const scale = checkOneOf('decayScale', options.decayScale ?? 'lr', DECAY_SCALES, where);
  if (scale === 'schedule') {
    if (options.lr !== undefined) checkNumber('lr', options.lr, { above: 0 }, where);
    return 1;
  }
  if (options.lr === undefined) {
    throw new OptionError('lr', undefined, "a finite number > 0 (decayScale 'lr' needs it)", where);
  }
  return checkNumber('lr', options.lr, { above: 0 }, where);
}

/** lambda whose EMA timescale is `epochs` epochs: 1 / (e epochs stepsPerEpoch). */
export function decayForTimescale(options: DecayForTimescaleOptions): number {
  const where = 'decayForTimescale';
  checkKnownKeys(options, ['epochs', 'lr', 'stepsPerEpoch', 'decayScale'], where);
  const epochs = checkNumber('epochs', options.epochs, { above: 0 }, where);
  const spe = checkNumber('stepsPerEpoch', options.stepsPerEpoch, { above: 0 }, where);
  return 1 / (decayRate(options, where) * epochs * spe);
}

/** The EMA timescale tau_epoch of a decay, in epochs: 1 / (e lambda stepsPerEpoch). */
export function timescaleOf(options: TimescaleOfOptions): number {
  const where = 'timescaleOf';
  checkKnownKeys(options, ['weightDecay', 'lr', 'stepsPerEpoch', 'decayScale'], where);
  const lambda = checkNumber('weightDecay', options.weightDecay, { above: 0 }, where);
  const spe = checkNumber('stepsPerEpoch', options.stepsPerEpoch, { above: 0 }, where);
  return 1 / (decayRate(options, where) * lambda * spe);
}

/**
 * Normalized weight decay (Loshchilov & Hutter 2019, appendix B.1):
 *
 *   lambda = lambdaNorm * sqrt(b / (B * T))
 *
 * with b the batch size, B the number of training points and T the number of epochs. B * T / b is
 * the number of steps, so lambda shrinks as training gets longer and the best lambdaNorm transfers
 * across budgets. Under warm restarts T is the length in epochs of the CURRENT restart period,
 * T_i = t0 * tMult^i, so lambda changes at every restart.
 */
import { checkPeriods, restarting } from './restart-periods.js';
import type { ConfiguredSchedule, NormalizedDecayRestartsConfig } from './schedule-config.js';
import { epochsToSteps, stepsPerEpoch, withConfig } from './schedules.js';
import { checkKnownKeys, checkNumber } from './validate.js';

export type { NormalizedDecayRestartsConfig } from './schedule-config.js';

export interface NormalizedWeightDecayOptions {
  /** The normalized decay, >= 0 (the paper found 0.025 to 0.05 good on CIFAR-10). */
  lambdaNorm: number;
  /** Examples per step, b: an integer >= 1. */
  batchSize: number;
  /** Training-set size, B: an integer >= 1. */
  datasetSize: number;
  /** Epochs of training, T (> 0, may be fractional). */
  epochs: number;
}

/** lambdaNorm >= 0, and batch and dataset sizes that are counts of examples (integers >= 1). */
function checkSizes(
  options: { lambdaNorm: unknown; batchSize: unknown; datasetSize: unknown },
  where: string,
) {
  return {
    lambdaNorm: checkNumber('lambdaNorm', options.lambdaNorm, { min: 0 }, where),
    batchSize: checkNumber('batchSize', options.batchSize, { min: 1, integer: true }, where),
    datasetSize: checkNumber('datasetSize', options.datasetSize, { min: 1, integer: true }, where),
  };
}

/** lambdaNorm * sqrt(batchSize / (datasetSize * epochs)). */
function lambdaFor(
  s: { lambdaNorm: number; batchSize: number; datasetSize: number },
  epochs: number,
): number {
  return s.lambdaNorm * Math.sqrt(s.batchSize / (s.datasetSize * epochs));
}

/** The raw decay lambda = lambdaNorm * sqrt(batchSize / (datasetSize * epochs)). */
export function normalizedWeightDecay(options: NormalizedWeightDecayOptions): number {
  const where = 'normalizedWeightDecay';
  checkKnownKeys(options, ['lambdaNorm', 'batchSize', 'datasetSize', 'epochs'], where);
  const sizes = checkSizes(options, where);
  return lambdaFor(sizes, checkNumber('epochs', options.epochs, { above: 0 }, where));
}

export interface NormalizedDecayRestartsOptions {
  /** Normalized weight decay (the paper: 0.025 to 0.05 on CIFAR-10), >= 0. */
  lambdaNorm: number;
  /** Examples per step, b: an integer >= 1. */
  batchSize: number;
  /** Training-set size, B: an integer >= 1. */
  datasetSize: number;
  /** Length of the first restart period, in EPOCHS (> 0). */
  t0: number;
  /** Period growth factor, >= 1, may be fractional (default 1). */
  tMult?: number;
  /** Optimizer steps per epoch (default stepsPerEpoch({ datasetSize, batchSize }): the tail kept). */
  stepsPerEpoch?: number;
}

/** The options of normalizedWeightDecayForRestarts, and the keys of its config besides `type`. */
export const RESTART_DECAY_KEYS = [
  'lambdaNorm',
  'batchSize',
  'datasetSize',
  't0',
  'tMult',
  'stepsPerEpoch',
] as const;

/**
 * The one validator of the warm-restart settings the decay depends on (AdamWR / SGDWR use it too):
 * lambdaNorm >= 0, integer sizes >= 1, t0 > 0 epochs, tMult >= 1, stepsPerEpoch > 0.
 */
export function checkRestartSettings(
  options: NormalizedDecayRestartsOptions,
  where: string,
): Required<NormalizedDecayRestartsOptions> {
  const sizes = checkSizes(options, where);
  const periods = checkPeriods(options, where);
  const spe = checkNumber(
    'stepsPerEpoch',
    options.stepsPerEpoch ??
      stepsPerEpoch({ datasetSize: sizes.datasetSize, batchSize: sizes.batchSize }),
    { above: 0 },
    where,
  );
  return { ...sizes, ...periods, stepsPerEpoch: spe };
}

/**
 * The per-step lambda under warm restarts: at step t in period i (of T_i = t0 tMult^i epochs),
 * lambda_t = lambdaNorm * sqrt(batchSize / (datasetSize * T_i)). Pass it as `weightDecay`; it has
 * a config, so a checkpoint can rebuild it with `scheduleFromConfig`.
 */
export function normalizedWeightDecayForRestarts(
  options: NormalizedDecayRestartsOptions,
): ConfiguredSchedule {
  const where = 'normalizedWeightDecayForRestarts';
  checkKnownKeys(options, RESTART_DECAY_KEYS, where);
  const s = checkRestartSettings(options, where);
  const config: NormalizedDecayRestartsConfig = { type: 'normalizedDecayRestarts', ...s };
  // T_i in epochs as t0 tMult^i, not T_i in steps / stepsPerEpoch (which rounds differently).
  const t0Steps = epochsToSteps(s.t0, s.stepsPerEpoch);
  return withConfig(
    restarting(t0Steps, s.tMult, (p) => lambdaFor(s, s.t0 * s.tMult ** p.index)),
    config,
  );
}

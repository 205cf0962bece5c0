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
import { type ConfiguredSchedule, restartPeriod, withConfig } from './schedules.js';
import { checkKnownKeys, checkNumber } from './validate.js';

export interface NormalizedWeightDecayOptions {
  /** The normalized decay, >= 0 (the paper found 0.025 to 0.05 good on CIFAR-10). */
  lambdaNorm: number;
  /** Examples per step, b. */
  batchSize: number;
  /** Training-set size, B. */
  datasetSize: number;
  /** Epochs of training, T (> 0, may be fractional). */
  epochs: number;
}

function checkCommon(
  options: { lambdaNorm: unknown; batchSize: unknown; datasetSize: unknown },
  where: string,
) {
  return {
    lambdaNorm: checkNumber('lambdaNorm', options.lambdaNorm, { min: 0 }, where),
    batchSize: checkNumber('batchSize', options.batchSize, { above: 0 }, where),
    datasetSize: checkNumber('datasetSize', options.datasetSize, { above: 0 }, where),
  };
}

/** The raw decay lambda = lambdaNorm * sqrt(batchSize / (datasetSize * epochs)). */
export function normalizedWeightDecay(options: NormalizedWeightDecayOptions): number {
  const where = 'normalizedWeightDecay';
  checkKnownKeys(options, ['lambdaNorm', 'batchSize', 'datasetSize', 'epochs'], where);
  const { lambdaNorm, batchSize, datasetSize } = checkCommon(options, where);
  const epochs = checkNumber('epochs', options.epochs, { above: 0 }, where);
  return lambdaNorm * Math.sqrt(batchSize / (datasetSize * epochs));
}

export interface NormalizedDecayRestartsOptions {
  lambdaNorm: number;
  batchSize: number;
  datasetSize: number;
  /** Length of the first restart period, in EPOCHS (> 0). */
  t0: number;
  /** Period growth factor, >= 1 (default 1). */
  tMult?: number;
  /** Optimizer steps per epoch (default ceil(datasetSize / batchSize), a loader keeping the tail). */
  stepsPerEpoch?: number;
}

export interface NormalizedDecayRestartsConfig {
  readonly type: 'normalizedDecayRestarts';
  readonly lambdaNorm: number;
  readonly batchSize: number;
  readonly datasetSize: number;
  readonly t0: number;
  readonly tMult: number;
  readonly stepsPerEpoch: number;
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
  checkKnownKeys(
    options,
    ['lambdaNorm', 'batchSize', 'datasetSize', 't0', 'tMult', 'stepsPerEpoch'],
    where,
  );
  const { lambdaNorm, batchSize, datasetSize } = checkCommon(options, where);
  const t0 = checkNumber('t0', options.t0, { above: 0 }, where);
  const tMult = checkNumber('tMult', options.tMult ?? 1, { min: 1 }, where);
  const spe = checkNumber(
    'stepsPerEpoch',
    options.stepsPerEpoch ?? Math.ceil(datasetSize / batchSize),
    { above: 0 },
    where,
  );
  const t0Steps = t0 * spe;
  return withConfig(
    (t) => {
      const epochs = t0 * tMult ** restartPeriod(t, t0Steps, tMult).index;
      return lambdaNorm * Math.sqrt(batchSize / (datasetSize * epochs));
    },
    {
      type: 'normalizedDecayRestarts',
      lambdaNorm,
      batchSize,
      datasetSize,
      t0,
      tMult,
      stepsPerEpoch: spe,
    },
  );
}

/**
 * Turns the run config's schedule (lengths in epochs) and weight decay into the core's per-step
 * functions. Steps per epoch = ceil(trainSize / batchSize) (the last, smaller batch is kept).
 *   cosine:        cosine({ total: epochs * spe, min })
 *   warm-restarts: warmRestarts({ t0: t0 * spe, tMult, min })
 *   step:          stepDecay({ milestones: milestone_epochs * spe, gamma })
 * Normalized decay: lambda = lambdaNorm * sqrt(batchSize / (trainSize * T)), T = epochs, or under
 * warm restarts the current period's length in epochs (lambda changes at each restart).
 */
import {
  normalizedWeightDecay,
  normalizedWeightDecayForRestarts,
} from '../core/normalized-decay.js';
import { constant, cosine, stepDecay, warmRestarts } from '../core/schedules.js';
import type { Schedule } from '../core/types.js';
import type { TrainConfig } from './config.js';

export function stepsPerEpoch(trainSize: number, batchSize: number): number {
  return Math.ceil(trainSize / batchSize);
}

export function buildSchedule(config: TrainConfig, spe: number): Schedule {
  const s = config.schedule;
  switch (s.kind) {
    case 'constant':
      return constant();
    case 'cosine':
      return cosine({ total: config.epochs * spe, min: s.min });
    case 'warm-restarts':
      return warmRestarts({ t0: s.t0 * spe, tMult: s.tMult, min: s.min });
    case 'step':
      return stepDecay({
        milestones: s.milestones.map((m) => Math.round(m * spe)),
        gamma: s.gamma,
      });
  }
}

/** The lambda to hand the optimizer: a number, or a function of the step under restarts. */
export function buildWeightDecay(
  config: TrainConfig,
  trainSize: number,
  spe: number,
): number | Schedule {
  if (!config.weightDecayNorm || config.weightDecay === 0) return config.weightDecay;
  const common = {
    lambdaNorm: config.weightDecay,
    batchSize: config.batchSize,
    datasetSize: trainSize,
  };
  if (config.schedule.kind === 'warm-restarts') {
    const { t0, tMult } = config.schedule;
    return normalizedWeightDecayForRestarts({ ...common, t0, tMult, stepsPerEpoch: spe });
  }
  return normalizedWeightDecay({ ...common, epochs: config.epochs });
}

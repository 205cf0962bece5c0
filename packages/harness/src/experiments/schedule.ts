/**
 * Turns the run config's schedule (lengths in epochs) and weight decay into the core's per-step
 * functions. Steps per epoch: the core's stepsPerEpoch (ceil(trainSize / batchSize), the last,
 * smaller batch kept).
 *   cosine:        cosine({ total: epochs * spe, min })
 *   warm-restarts: the paper's AdamWR settings (warmRestartSchedule: t0 epochs * spe, tMult, min)
 *   step:          stepDecay({ milestones: milestone_epochs * spe, gamma })
 * Normalized decay: lambda = lambdaNorm * sqrt(batchSize / (trainSize * T)), T = epochs, or under
 * warm restarts AdamWR's lambda_t, T = the current period's length in epochs.
 * With `accumulate: k` the optimizer steps once per k batches, so the schedules take
 * spe = batches per epoch / k (fractional: a window may straddle two epochs) and normalized decay
 * takes the effective batch k * batchSize.
 */

import type { Schedule } from 'decoupled';
import {
  constant,
  cosine,
  normalizedWeightDecay,
  stepDecay,
  warmRestartHyper,
  warmRestartSchedule,
} from 'decoupled';
import type { TrainConfig } from './config.js';

export { stepsPerEpoch } from 'decoupled';

/** Optimizer steps per epoch: `batchesPerEpoch` / accumulate. */
export function optimizerStepsPerEpoch(config: TrainConfig, batchesPerEpoch: number): number {
  return batchesPerEpoch / (config.accumulate ?? 1);
}

export function buildSchedule(config: TrainConfig, spe: number): Schedule {
  const s = config.schedule;
  switch (s.kind) {
    case 'constant':
      return constant();
    case 'cosine':
      return cosine({ total: config.epochs * spe, min: s.min });
    case 'warm-restarts':
      return warmRestartSchedule({ t0: s.t0, tMult: s.tMult, min: s.min, stepsPerEpoch: spe });
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
    batchSize: config.batchSize * (config.accumulate ?? 1),
    datasetSize: trainSize,
  };
  const s = config.schedule;
  if (s.kind === 'warm-restarts') {
    const settings = { ...common, t0: s.t0, tMult: s.tMult, min: s.min, stepsPerEpoch: spe };
    return warmRestartHyper(settings).weightDecay;
  }
  return normalizedWeightDecay({ ...common, epochs: config.epochs });
}

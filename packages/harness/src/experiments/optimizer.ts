/**
 * Builds the run's optimizer from its config: decoupled/tfjs's optimizers, with the
 * run's schedule and weight decay (a number, or a function of the step under normalized decay with
 * warm restarts), so both advance per batch inside the optimizer.
 *   adamw: AdamW (decoupled)   adam: Adam with L2   sgdw: SGDW (decoupled)   sgd: SGD with L2
 *   schedule-free-adamw, schedule-free-sgd: ScheduleFreeAdamW, ScheduleFreeSGD (beta = beta1 or
 *   momentum; warmupSteps, r, weightLrPower), no schedule (the config allows only constant)
 * `ema` and `accumulate` pass through as the optimizer's options of the same names.
 */
import type { Schedule } from 'decoupled';
import {
  Adam,
  AdamW,
  type DecoupledOptimizer,
  ScheduleFreeAdamW,
  type ScheduleFreeOptimizer,
  ScheduleFreeSGD,
  SGD,
  SGDW,
} from 'decoupled/tfjs';
import type { TrainConfig } from './config.js';

export interface OptimizerParts {
  schedule: Schedule;
  weightDecay: number | Schedule;
}

export function createOptimizer(
  config: TrainConfig,
  parts: OptimizerParts,
): DecoupledOptimizer | ScheduleFreeOptimizer {
  const common = {
    lr: config.lr,
    schedule: parts.schedule,
    weightDecay: parts.weightDecay,
    excludeFromDecay: { useDefaultRule: !config.decayAll },
    ema: config.ema === undefined ? undefined : { decay: config.ema },
    accumulate: config.accumulate,
  };
  const adam = { ...common, betas: [config.beta1, config.beta2] as const, eps: config.eps };
  const sgd = { ...common, momentum: config.momentum, nesterov: config.nesterov };
  // Schedule-free: no schedule (the config allows only the constant one).
  const { schedule: _constant, ...unscheduled } = common;
  const { warmupSteps, r, weightLrPower } = config;
  const free = { ...unscheduled, warmupSteps, r, weightLrPower };
  switch (config.optimizer) {
    case 'adamw':
      return new AdamW({ ...adam, decayScale: config.decayScale });
    case 'adam':
      return new Adam(adam);
    case 'sgdw':
      return new SGDW({ ...sgd, decayScale: config.decayScale });
    case 'sgd':
      return new SGD(sgd);
    case 'schedule-free-adamw':
      return new ScheduleFreeAdamW({ ...free, betas: adam.betas, eps: config.eps });
    case 'schedule-free-sgd':
      return new ScheduleFreeSGD({ ...free, momentum: config.momentum });
  }
}

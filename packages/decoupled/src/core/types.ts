/** Shared types of the optimizer core. */

/**
 * A learning-rate schedule: maps the 0-based index of the step being taken to the multiplier
 * eta_t, so the effective rate is lr_t = lr * eta_t. Schedules made by this library also carry a
 * serializable `config` from which they can be rebuilt (see `scheduleFromConfig`).
 */
export interface Schedule {
  (step: number): number;
  readonly config?: ScheduleConfigLike;
}

/** The serializable description of a schedule; the schedules module defines the variants. */
export interface ScheduleConfigLike {
  readonly type: string;
}

/** A hyperparameter that may vary with the step, given as a constant or a function of the step. */
export type StepValue = number | ((step: number) => number);

/** How decoupled decay is scaled: by the scheduled lr (PyTorch) or by the multiplier (the paper). */
export const DECAY_SCALES = ['lr', 'schedule'] as const;
export type DecayScale = (typeof DECAY_SCALES)[number];

/** What a step does with a NaN or infinite gradient: throw, skip the step, or update anyway. */
export const NON_FINITE_POLICIES = ['error', 'skip', 'ignore'] as const;
export type NonFinitePolicy = (typeof NON_FINITE_POLICIES)[number];

/** The core optimizers, by the name their class, state dicts and errors use. */
export const OPTIMIZER_KINDS = ['Adam', 'AdamW', 'SGD', 'SGDW'] as const;
export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];

/** The schedule-free optimizers (./schedule-free.ts): core only, not in the registry (yet). */
export const SCHEDULE_FREE_KINDS = ['ScheduleFreeAdamW', 'ScheduleFreeSGD'] as const;
export type ScheduleFreeKind = (typeof SCHEDULE_FREE_KINDS)[number];

/** Every core optimizer class, by the name its state dicts and errors use. */
export type CoreOptimizerKind = OptimizerKind | ScheduleFreeKind;

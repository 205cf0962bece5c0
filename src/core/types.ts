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
export type DecayScale = 'lr' | 'schedule';

/** What a step does with a NaN or infinite gradient. */
export type NonFinitePolicy = 'error' | 'skip' | 'ignore';

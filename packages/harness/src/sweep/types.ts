/**
 * Shared types of sweeps: the spec (a grid over optimizer x lr x weight decay x schedule x seed,
 * optionally x epochs), the trials it expands to, the record each finished trial leaves in the
 * result store, the store API, and the pluggable trial runner (local worker-thread pool by
 * default, BullMQ on Redis in src/sweep/distributed). Every runner feeds the same store, so reports never care who ran a trial.
 *
 * Contract between runner and driver:
 *   driver  = runSweep(): expands the grid, reads the store, hands the PENDING trials to a runner;
 *   runner  = executes trials anywhere, calls ctx.onResult(result) once per trial it finished;
 *   store   = the driver appends each result atomically; a trial id already present is ignored,
 *             so a result delivered twice (retry, coordinator restart) is recorded once.
 * Trial ids are deterministic (a hash of the trial's training config), so a re-run of the same spec
 * maps to the same ids and the same per-trial directories, where checkpoints let an interrupted
 * trial resume instead of restarting.
 *
 * Plugging in another runner: src/sweep/run.ts exports runSweep({ dir, spec, runner, signal, log })
 * which does the store side; a distributed runner only implements TrialRunner (enqueue the trials,
 * call ctx.onResult as results come back), and its workers call executeTrial (src/sweep/execute.ts)
 * with ctx.trialDir(trial) (or their own view of that shared directory).
 * `decoupled sweep --redis URL` calls runSweep with the runner of createRedisRunner({ redis })
 * (src/sweep/distributed), whose `run` is runDistributedSweep(trials, ctx, options).
 */
import { OPTIMIZERS } from '../experiments/config.js';

/**
 * Optimizers a sweep can compare: every optimizer of a run (the coupled L2 baselines, their
 * decoupled forms, and the schedule-free ones, which take only the constant schedule: give them
 * `perOptimizer.<name>.schedule`).
 */
export const SWEEP_OPTIMIZERS = OPTIMIZERS;
export type SweepOptimizer = (typeof SWEEP_OPTIMIZERS)[number];

/** Learning-rate schedules a sweep can vary (the multiplier eta_t of the paper). */
export const SWEEP_SCHEDULES = ['constant', 'cosine', 'step', 'warm-restarts'] as const;
export type SweepSchedule = (typeof SWEEP_SCHEDULES)[number];

/** The swept coordinates of one trial. */
export interface TrialParams {
  optimizer: SweepOptimizer;
  /** Base learning rate alpha. */
  lr: number;
  /**
   * Weight decay as the trial's training config reads it: the L2 factor for adam/sgd, the
   * decoupled lambda (or lambda_norm when the base config sets normalized decay) for adamw/sgdw.
   */
  weightDecay: number;
  schedule: SweepSchedule;
  seed: number;
  /** Training length, set only when the spec has an epochs axis (else the base's epochs). */
  epochs?: number;
}

/** Axis values of a grid; the trial set is their Cartesian product. */
export interface SweepGrid {
  optimizer: SweepOptimizer[];
  lr: number[];
  weightDecay: number[];
  schedule: SweepSchedule[];
  seed: number[];
  /** Training lengths (integers >= 1); absent = the base's epochs for every trial. */
  epochs?: number[];
}

/** A validated sweep spec (JSON/YAML file or CLI flags; zod schema in src/sweep/spec.ts). */
export interface SweepSpec {
  /** Short name, used in the report title. */
  name: string;
  /**
   * Training settings shared by every trial (dataset, model, epochs, batch size, subset sizes,
   * decayScale, normalized decay, ...), in the shape of src/experiments/config.ts's TrainConfig
   * input, minus the swept fields. Validated by that schema when trials are expanded.
   */
  base: Record<string, unknown>;
  grid: SweepGrid;
  /**
   * Per-optimizer replacement axes, e.g. an L2 grid for adam and a lambda_norm grid for adamw,
   * since the two weight decays live on different scales.
   */
  perOptimizer?: Partial<
    Record<
      SweepOptimizer,
      Partial<Omit<SweepGrid, 'optimizer'>> & {
        /** Training settings merged over `base` for this optimizer only. */
        base?: Record<string, unknown>;
      }
    >
  >;
}

/** One training run of a sweep. */
export interface Trial {
  /** Deterministic id: readable coordinates + a short hash of `config`. Safe as a directory name. */
  id: string;
  /** Position in the expanded grid (stable order, for display only). */
  index: number;
  params: TrialParams;
  /**
   * The training config handed to runTraining (base + params, as written in the spec; defaults are
   * filled in by the executor), as plain JSON.
   */
  config: Record<string, unknown>;
  /** Epochs the trial trains (for progress and ETA). */
  epochs?: number;
  /**
   * Successive halving (src/sweep/prune.ts): train only up to this epoch (a rung) this time; the
   * result is then provisional, and a later run of the same trial resumes from its checkpoint.
   */
  untilEpoch?: number;
}

/** One epoch of a trial, as recorded in the result (errors are fractions in [0, 1]). */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainError: number;
  /** Error on the held-out validation split (absent without --validation-size). */
  valError?: number;
  testError: number;
  /** Wall time of the run so far, in milliseconds. */
  wallTimeMs: number;
}

/** What the store keeps for a finished trial: one JSON line in results.jsonl. */
export interface TrialResult {
  trialId: string;
  params: TrialParams;
  /** 'ok' = trained to the end (or diverged, see below); 'failed' = crashed (error says why). */
  status: 'ok' | 'failed';
  error?: string;
  epochs: EpochPoint[];
  /**
   * True when training loss became non-finite, or exceeded the config's divergeLoss, and the trial
   * was stopped early (status 'ok').
   */
  diverged?: boolean;
  /**
   * True when successive halving (--prune) stopped the trial at a rung: `epochs` and `final` are
   * those of that rung, not of the full budget (status 'ok').
   */
  pruned?: boolean;
  /** Last epoch's values (absent when the trial failed before its first epoch). */
  final?: { trainLoss: number; trainError: number; testError: number; valError?: number };
  /** Wall time of the whole trial in milliseconds, including resumed parts. */
  wallTimeMs: number;
  /** Which attempt produced this record (1 = first try). */
  attempt: number;
  /** Free-form name of the worker that ran it (host:pid/thread), for the log. */
  worker?: string;
  /** ISO time the result was recorded. */
  finishedAt: string;
}

/**
 * The append-only result store of a sweep directory:
 *   <dir>/spec.json         the latest spec run in this directory (written atomically); trials of
 *                           an earlier spec stay recorded, reports use those of the current one
 *   <dir>/trials.json       the trials of that spec as expanded when it ran (read by reports)
 *   <dir>/results.jsonl     one TrialResult per line, each appended with one write + fsync
 *   <dir>/trials/<id>/      per-trial working directory (checkpoints, epoch log)
 * A torn last line (crash mid-append) is ignored on read and repaired before the next append.
 * A trial with an 'ok' record is never recorded again; a 'failed' one may be superseded by a
 * record with a higher attempt number (a retry), and the latest record then wins.
 */
export interface ResultStore {
  readonly dir: string;
  /** All recorded results, the latest record per trial id, in order of first appearance. */
  results(): Promise<TrialResult[]>;
  /** Ids of trials that have a record (finished, ok or failed). */
  finishedIds(): Promise<Set<string>>;
  /** Appends a result atomically; returns false (and writes nothing) if the record is redundant. */
  append(result: TrialResult): Promise<boolean>;
  /** The trial's working directory (created on demand by the executor). */
  trialDir(trialId: string): string;
}

/** Progress events a runner reports while trials run (for the progress bar and ETA). */
export type TrialEvent =
  | { type: 'start'; trial: Trial; worker: string }
  | { type: 'epoch'; trial: Trial; point: EpochPoint; epochs: number }
  | { type: 'done'; trial: Trial; result: TrialResult };

export interface RunnerContext {
  /** Where a trial keeps its checkpoints; shared storage when runners are on other machines. */
  trialDir(trial: Trial): string;
  /** Must be called exactly once per finished trial (ok or failed); the driver stores it. */
  onResult(result: TrialResult): Promise<void>;
  onEvent?(event: TrialEvent): void;
  /** Aborting stops handing out trials and interrupts running ones at their next epoch. */
  signal?: AbortSignal;
  /**
   * Trials of the sweep the store already holds (not to be run). A runner whose queue outlives it
   * (Redis) removes what it left of them.
   */
  recorded?: readonly Trial[];
}

/**
 * Runs a set of trials somewhere (possibly none: the driver also calls it to let the runner
 * reconcile with ctx.recorded); resolves when each trial has a result or the signal aborted.
 */
export interface TrialRunner {
  readonly name: string;
  run(trials: Trial[], ctx: RunnerContext): Promise<void>;
}

/**
 * Executes one trial in this process (src/sweep/execute.ts implements it): trains with the trial's
 * config in `dir`, resuming from a checkpoint there, and returns its result (never throws for a
 * training failure; it returns status 'failed'). Workers of any runner call this.
 */
export type TrialExecutor = (
  trial: Trial,
  dir: string,
  options?: {
    signal?: AbortSignal;
    onEpoch?: (point: EpochPoint, epochs: number) => void;
    worker?: string;
    attempt?: number;
  },
) => Promise<TrialResult>;

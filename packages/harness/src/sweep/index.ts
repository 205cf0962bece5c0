/**
 * Sweeps: grids of training runs over optimizer x lr x weight decay x schedule x seed, run by a
 * pluggable TrialRunner (the local worker-thread pool by default; `decoupled-harness/distributed`
 * for BullMQ on Redis) into an append-only result store, plus the presets of `decoupled reproduce`.
 */
export { executeTrial, TrialAbortedError } from './execute.js';
export { type LocalPoolOptions, LocalPoolRunner } from './pool.js';
export { PRESET_NAMES, PRESETS, type PresetName, presetSpec } from './presets.js';
export type { SweepProgress } from './progress.js';
export { type RunSweepOptions, runSweep, type SweepSummary } from './run.js';
export {
  expandGrid,
  loadSweepSpec,
  type ParsedSweepSpec,
  parseSweepSpec,
  type SweepSpecInput,
  SweepSpecSchema,
  trialId,
} from './spec.js';
export { acquireSweepLock, JsonlResultStore, RESULTS_FILE, SweepLockedError } from './store.js';
export type * from './types.js';
export { SWEEP_OPTIMIZERS, SWEEP_SCHEDULES } from './types.js';

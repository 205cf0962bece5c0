/**
 * The serializable configs of the schedules (and step-dependent weight decays) this library
 * makes: what a checkpoint records and `scheduleFromConfig` (schedule-registry.ts) rebuilds.
 * Types only, so the schedule modules and the registry share them without importing each other.
 */
import type { Schedule } from './types.js';

export interface WarmRestartsConfig {
  readonly type: 'warmRestarts';
  readonly t0: number;
  readonly tMult: number;
  readonly min: number;
  readonly warmup: number;
  readonly peakDecay: number;
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

export type ScheduleConfig =
  | { readonly type: 'constant'; readonly value: number }
  | { readonly type: 'stepDecay'; readonly milestones: readonly number[]; readonly gamma: number }
  | { readonly type: 'stepDecay'; readonly stepSize: number; readonly gamma: number }
  | { readonly type: 'cosine'; readonly total: number; readonly min: number }
  | WarmRestartsConfig
  | { readonly type: 'linear'; readonly from: number; readonly to: number; readonly steps: number }
  | {
      readonly type: 'linearWarmup';
      readonly steps: number;
      readonly from: number;
      readonly after: ScheduleConfig;
    }
  | {
      readonly type: 'sequence';
      readonly schedules: readonly ScheduleConfig[];
      readonly boundaries: readonly number[];
    }
  | { readonly type: 'perEpoch'; readonly stepsPerEpoch: number; readonly schedule: ScheduleConfig }
  | NormalizedDecayRestartsConfig;

/** A schedule made by this library: always has its config. */
export interface ConfiguredSchedule extends Schedule {
  readonly config: ScheduleConfig;
}

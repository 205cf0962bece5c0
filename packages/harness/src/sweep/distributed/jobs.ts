/**
 * What travels through the BullMQ queue: one job per trial of a sweep directory, whose id is the
 * trial's deterministic id plus a hash of its directory (so enqueueing the same trial of the same
 * sweep twice is a no-op, while two sweep directories with the same grid get jobs of their own),
 * whose data is the trial and its directory, whose progress is the last finished epoch, and whose
 * return value is the TrialResult.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { OptionError } from 'decoupled';
import type { EpochPoint, Trial, TrialResult } from '../types.js';

/** The queue every coordinator and worker uses unless told otherwise (`--queue`). */
export const DEFAULT_QUEUE = 'decoupled-trials';

/** The BullMQ job name of a trial. */
export const TRIAL_JOB = 'trial';

export interface TrialJobData {
  trial: Trial;
  /** The trial's working directory (checkpoints); the same path must be shared by all workers. */
  dir: string;
}

export interface TrialJobProgress {
  point: EpochPoint;
  epochs: number;
}

/**
 * BullMQ job ids may not contain ':' (its key separator) and must not be plain integers (those are
 * its own counters); sweep ids (`adamw_lr0.001_..._<hash>`) never are.
 */
export function checkJobId(id: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.includes(':') || /^\d+$/.test(id)) {
    throw new OptionError(
      'trial.id',
      id,
      "a non-empty string without ':' that is not a plain integer (a BullMQ job id)",
    );
  }
  return id;
}

/** The job id of the trial whose working directory is `trialDir`: `<trial id>.<8 hex digits>`. */
export function trialJobId(trialId: string, trialDir: string): string {
  const hash = createHash('sha256').update(resolve(trialDir)).digest('hex').slice(0, 8);
  return checkJobId(`${trialId}.${hash}`);
}

export function checkQueueName(name: string, option = '--queue'): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new OptionError(option, name, 'a name of letters, digits, ".", "_" or "-"');
  }
  return name;
}

export function isTrialJobProgress(value: unknown): value is TrialJobProgress {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<TrialJobProgress>;
  return (
    typeof v.epochs === 'number' &&
    typeof v.point === 'object' &&
    v.point !== null &&
    typeof v.point.epoch === 'number'
  );
}

/** A job's return value, checked to be the result of `trialId` before it goes to the store. */
export function asTrialResult(value: unknown, trialId: string): TrialResult {
  const v = value as Partial<TrialResult> | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    v.trialId !== trialId ||
    (v.status !== 'ok' && v.status !== 'failed') ||
    !Array.isArray(v.epochs)
  ) {
    throw new Error(`job ${trialId} returned something that is not its TrialResult`);
  }
  return v as TrialResult;
}

/** What a trial thread posts on runningTrialsChannel when its executor starts and stops. */
export interface RunningTrialMessage {
  jobId: string | undefined;
  running: boolean;
}

/** The BroadcastChannel name on which the trial threads of worker `workerName` report. */
export function runningTrialsChannel(workerName: string | undefined): string {
  return `decoupled-running-trials:${workerName ?? ''}`;
}

/**
 * Runs one trial in this process: the TrialExecutor every runner's workers call (local worker
 * threads, BullMQ workers). It trains with runTraining in the trial's directory, resuming from the
 * checkpoint left there by an interrupted attempt, and turns the outcome into a TrialResult:
 * - trained to the end: status 'ok';
 * - training loss became non-finite (or exceeded the config's divergeLoss): stopped at once,
 *   status 'ok' with `diverged: true` (a real outcome of that lr x weight decay, drawn in the
 *   heatmap, not a crash);
 * - trial.untilEpoch set (a rung of successive halving) and reached: status 'ok' with the epochs so
 *   far, a provisional result that the pruning runner either records as pruned or continues;
 * - an exception: status 'failed' with its message (never rethrown);
 * - aborted by the caller's signal: rethrows an AbortError, so no result is recorded and the
 *   trial is pending again (it will resume from its checkpoint).
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { type EpochRecord, parseTrainConfig } from '../experiments/config.js';
import type { EpochPoint, TrialExecutor, TrialResult } from './types.js';

/** Thrown when a trial stops because the sweep was interrupted. */
export class TrialAbortedError extends Error {
  constructor(trialId: string) {
    super(`trial ${trialId} interrupted (it will resume from its checkpoint)`);
    this.name = 'AbortError';
  }
}

export function toPoint(record: EpochRecord, wallTimeMs: number): EpochPoint {
  return {
    epoch: record.epoch,
    trainLoss: record.trainLoss,
    trainError: record.trainError,
    ...(record.valError === null ? {} : { valError: record.valError }),
    testError: record.testError,
    wallTimeMs,
  };
}

/** Cumulative wall time per epoch from the per-epoch seconds. */
export function toPoints(records: EpochRecord[]): EpochPoint[] {
  let ms = 0;
  return records.map((r) => {
    ms += r.seconds * 1000;
    return toPoint(r, Math.round(ms));
  });
}

export const executeTrial: TrialExecutor = async (trial, dir, options = {}) => {
  const started = Date.now();
  const worker = options.worker ?? `${hostname()}:${process.pid}`;
  const attempt = options.attempt ?? 1;
  const base = {
    trialId: trial.id,
    params: trial.params,
    attempt,
    worker,
  };
  const local = new AbortController();
  const onOuterAbort = () => local.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let diverged = false;
  let wallMs = 0;
  try {
    if (options.signal?.aborted) throw new TrialAbortedError(trial.id);
    await mkdir(dir, { recursive: true });
    const config = parseTrainConfig({ ...trial.config, out: dir });
    const { runTraining } = await import('../experiments/train.js');
    const result = await runTraining(config, {
      signal: local.signal,
      resume: true,
      progress: false,
      stopAtEpoch: trial.untilEpoch,
      onEpoch: (record: EpochRecord) => {
        wallMs += record.seconds * 1000;
        options.onEpoch?.(toPoint(record, Math.round(wallMs)), config.epochs);
        if (!Number.isFinite(record.trainLoss)) {
          diverged = true;
          local.abort();
        }
      },
    });
    diverged ||= result.diverged;
    const atRung = trial.untilEpoch !== undefined && result.epochs.length >= trial.untilEpoch;
    if (result.aborted && !diverged && !atRung) throw new TrialAbortedError(trial.id);
    const epochs = toPoints(result.epochs);
    const last = epochs[epochs.length - 1];
    const out: TrialResult = {
      ...base,
      status: 'ok',
      epochs,
      wallTimeMs: Math.round(result.seconds * 1000),
      finishedAt: new Date().toISOString(),
    };
    if (last) {
      out.final = {
        trainLoss: last.trainLoss,
        trainError: last.trainError,
        ...(last.valError === undefined ? {} : { valError: last.valError }),
        testError: last.testError,
      };
    }
    if (diverged) out.diverged = true;
    return out;
  } catch (error) {
    if (error instanceof TrialAbortedError) throw error;
    if (options.signal?.aborted) throw new TrialAbortedError(trial.id);
    const message = error instanceof Error ? error.message : String(error);
    return {
      ...base,
      status: 'failed',
      error: message.slice(0, 2000),
      epochs: [],
      wallTimeMs: Date.now() - started,
      finishedAt: new Date().toISOString(),
    };
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
};

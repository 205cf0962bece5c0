/**
 * Test doubles for sweeps: a fake trial executor (loaded by pool worker threads through
 * `executorModule`) whose outcome is a closed-form function of the trial's parameters, with
 * crash behaviours chosen by seed, plus builders of synthetic results for report tests.
 *   testError = 0.1 + 0.02 * (log10(lr) + 3)^2 + 0.01 * |log10(wd) + 2|   (wd > 0)
 * seed 13: the worker thread dies on the first attempt, succeeds on the second;
 * seed 14: the worker thread dies on every attempt;
 * seed 15: training throws (a 'failed' result, no retry).
 */
import { writeFileSync } from 'node:fs';
import type { EpochPoint, Trial, TrialExecutor, TrialResult } from '#harness/sweep/types.js';

export function fakeError(lr: number, wd: number): number {
  const l = Math.log10(lr) + 3;
  return 0.1 + 0.02 * l * l + (wd > 0 ? 0.01 * Math.abs(Math.log10(wd) + 2) : 0.03);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const executeTrial: TrialExecutor = async (trial, dir, options = {}) => {
  const { lr, weightDecay, seed } = trial.params;
  const attempt = options.attempt ?? 1;
  const epochs = Number(trial.config.epochs ?? 2);
  const delay = Number(process.env.FAKE_EPOCH_MS ?? 5);
  if (seed === 13 && attempt === 1) process.exit(3);
  if (seed === 14) process.exit(4);
  const points: EpochPoint[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    await sleep(delay);
    if (options.signal?.aborted) {
      const error = new Error('aborted');
      error.name = 'AbortError';
      throw error;
    }
    const testError = fakeError(lr, weightDecay) + 0.05 / epoch;
    const point = {
      epoch,
      trainLoss: 1 / epoch,
      trainError: 0.5 / epoch,
      testError,
      wallTimeMs: epoch * delay,
    };
    points.push(point);
    options.onEpoch?.(point, epochs);
  }
  // Leave a trace of each execution, so tests can count how often a trial really ran.
  writeFileSync(`${dir}.runs`, 'x', { flag: 'a' });
  const base = {
    trialId: trial.id,
    params: trial.params,
    attempt,
    worker: options.worker,
    finishedAt: new Date().toISOString(),
  };
  if (seed === 15) {
    return { ...base, status: 'failed', error: 'boom', epochs: [], wallTimeMs: 1 } as TrialResult;
  }
  const last = points[points.length - 1];
  return {
    ...base,
    status: 'ok',
    epochs: points,
    final: { trainLoss: last.trainLoss, trainError: last.trainError, testError: last.testError },
    wallTimeMs: epochs * delay,
  };
};

/** A finished result for `trial` with the given final test error (and a short curve). */
export function syntheticResult(trial: Trial, testError: number, trainLoss = 0.1): TrialResult {
  const epochs: EpochPoint[] = [1, 2, 3].map((epoch) => ({
    epoch,
    trainLoss: trainLoss * (4 - epoch),
    trainError: 0.1 / epoch,
    testError: testError + 0.02 * (3 - epoch),
    wallTimeMs: 1000 * epoch,
  }));
  return {
    trialId: trial.id,
    params: trial.params,
    status: 'ok',
    epochs,
    final: { trainLoss, trainError: 0.03, testError },
    wallTimeMs: 3000,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

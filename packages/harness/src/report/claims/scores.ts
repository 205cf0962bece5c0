/**
 * The per-trial numbers every claim analysis starts from: each finished trial's final test error
 * (chance level when it diverged without one; trials pruned by --prune have none) and the value its setting is selected on, the
 * validation error when the sweep records one for every setting, else the test error (metrics.ts).
 */
import type { Trial } from '../../sweep/types.js';
import type { ReportRecord } from '../load.js';
import { CHANCE_ERROR, finalTestError, type SelectionMetric } from '../metrics.js';

export interface ScoredTrial {
  trial: Trial;
  record: ReportRecord;
  /** Final test error (fraction). */
  test: number;
  /** What the trial's setting is selected on: validation error, or test error. */
  score: number;
}

/** Trials with a final test error, each with its selection score. */
export function scoreTrials(
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): ScoredTrial[] {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  const out: ScoredTrial[] = [];
  for (const trial of trials) {
    const record = byId.get(trial.id);
    const test = record && finalTestError(record);
    if (!record || test === undefined) continue;
    const val = record.final?.valError;
    const score =
      on === 'validation' ? (val !== undefined && Number.isFinite(val) ? val : CHANCE_ERROR) : test;
    out.push({ trial, record, test, score });
  }
  return out;
}

/** The trial with the lowest score (ties: the first). */
export function argmin(xs: ScoredTrial[]): ScoredTrial | undefined {
  let best: ScoredTrial | undefined;
  for (const x of xs) if (!best || x.score < best.score) best = x;
  return best;
}

/** Items grouped by a key, in first-seen order. */
export function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

/** The training length of a trial, in epochs (config.epochs, else the trial's own count). */
export function trialEpochs(trial: Trial): number | undefined {
  const e = Number(trial.config.epochs ?? trial.epochs);
  return Number.isFinite(e) && e > 0 ? e : undefined;
}

/** Least-squares slope of y on x: Σ(x-x̄)(y-ȳ) / Σ(x-x̄)²; NaN when x does not vary. */
export function lsSlope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  return sxx > 0 ? sxy / sxx : Number.NaN;
}

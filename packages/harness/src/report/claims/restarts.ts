/**
 * Claim: warm restarts improve anytime performance (paper §4, Fig. 4): AdamWR (cosine annealing
 * with warm restarts, SGDR) reaches a good test error at the end of each restart period, earlier
 * than AdamW annealed once over the same budget, and ends no worse.
 *
 * For each optimizer with both a 'warm-restarts' and a 'cosine' group of the same length, each at
 * its best setting (selection error: validation, else test), the restart points are the epochs
 * where a period ends, e_i = start_{i+1} = t0·(1 + m + … + m^i) < E, and the last epoch E (periods
 * from core/restart-periods.ts). At each such epoch e the two are paired by seed:
 *   d_s(e) = error_cosine(s, e) - error_restarts(s, e),
 * positive when the restarted run is lower, with its mean and Student t 95% interval (stats.ts).
 * Only whole epochs are points of the learning curves, so a restart inside an epoch is compared at
 * the epoch that contains it (rounded down).
 */
import { restartPeriod } from 'decoupled';
import { parseTrainConfig } from '../../experiments/config.js';
import type { SweepOptimizer, Trial } from '../../sweep/types.js';
import type { ReportRecord } from '../load.js';
import {
  bestCell,
  type Cell,
  cellRecords,
  type SeedDifference,
  type SelectionMetric,
} from '../metrics.js';
import { type PairedDifference, pairedDifference } from '../stats.js';
import { trialEpochs } from './grouping.js';

export interface RestartPoint {
  epoch: number;
  /** d_s(e) = cosine - restarts per shared seed. */
  perSeed: SeedDifference[];
  /** Their mean with its t interval. */
  paired: PairedDifference;
  cosineMean: number;
  restartsMean: number;
}

export interface RestartsClaim {
  optimizer: SweepOptimizer;
  epochs: number;
  cosineBest: Cell;
  restartsBest: Cell;
  /** Epochs at which a restart happens (the lr jumps back up after them). */
  restartEpochs: number[];
  points: RestartPoint[];
}

/** Restart epochs of a t0, tMult schedule inside a run of `epochs` (period boundaries < epochs). */
export function restartEpochs(t0: number, tMult: number, epochs: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (;;) {
    const p = restartPeriod(t, t0, tMult);
    t = p.start + p.length;
    if (t >= epochs - 1e-9) return out;
    out.push(t);
  }
}

/** Why the sweep cannot address the claim, or undefined when it can. */
export function restartsGap(cells: Cell[]): string | undefined {
  const has = (o: string, s: string) =>
    cells.some((c) => c.optimizer === o && c.schedule === s && c.n > 0);
  const ok = cells.some((c) => has(c.optimizer, 'warm-restarts') && has(c.optimizer, 'cosine'));
  return ok
    ? undefined
    : 'no optimizer ran both with warm restarts and with one cosine annealing, so there is nothing to compare anytime performance against.';
}

/** Test error at `epoch` per seed (only seeds with a finite point there). */
function errorsAt(records: ReportRecord[], epoch: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of records) {
    const p = r.epochs.find((q) => q.epoch === epoch);
    if (p && Number.isFinite(p.testError)) out.set(r.params.seed, p.testError);
  }
  return out;
}

function pointAt(cos: ReportRecord[], wr: ReportRecord[], epoch: number): RestartPoint {
  const a = errorsAt(cos, epoch);
  const b = errorsAt(wr, epoch);
  const perSeed = [...a.keys()]
    .filter((seed) => b.has(seed))
    .map((seed) => ({ seed, d: (a.get(seed) ?? 0) - (b.get(seed) ?? 0) }));
  const mean = (m: Map<number, number>) =>
    [...m.values()].reduce((x, y) => x + y, 0) / (m.size || Number.NaN);
  return {
    epoch,
    perSeed,
    paired: pairedDifference(perSeed.map((x) => x.d)),
    cosineMean: mean(a),
    restartsMean: mean(b),
  };
}

/** The comparison for one optimizer (undefined without both best settings or a restart schedule). */
function optimizerRestarts(
  optimizer: SweepOptimizer,
  cells: Cell[],
  input: { trials: Trial[]; results: ReportRecord[]; on: SelectionMetric },
): RestartsClaim | undefined {
  const { results, on } = input;
  const of = (schedule: string) =>
    cells.filter((c) => c.optimizer === optimizer && c.schedule === schedule);
  const cosineBest = bestCell(of('cosine'), on);
  const restartsBest = bestCell(of('warm-restarts'), on);
  if (!cosineBest || !restartsBest) return undefined;
  const cosineRuns = cellRecords(cosineBest, results);
  const restartsRuns = cellRecords(restartsBest, results);
  const first = input.trials.find((t) => t.id === restartsBest.trialIds[0]);
  const epochs = first && trialEpochs(first);
  if (!first || !epochs) return undefined;
  let schedule: ReturnType<typeof parseTrainConfig>['schedule'];
  try {
    schedule = parseTrainConfig(first.config).schedule;
  } catch {
    return undefined;
  }
  if (schedule.kind !== 'warm-restarts') return undefined;
  const restarts = restartEpochs(schedule.t0, schedule.tMult, epochs);
  const at = [...new Set([...restarts.map(Math.floor), epochs])].filter((e) => e >= 1);
  return {
    optimizer,
    epochs,
    cosineBest,
    restartsBest,
    restartEpochs: restarts,
    points: at.map((e) => pointAt(cosineRuns, restartsRuns, e)),
  };
}

/** The claim's numbers for every optimizer with both schedules. */
export function analyzeRestarts(
  cells: Cell[],
  input: { trials: Trial[]; results: ReportRecord[]; on: SelectionMetric },
): RestartsClaim[] {
  const optimizers = [...new Set(cells.map((c) => c.optimizer))];
  return optimizers.flatMap((o) => optimizerRestarts(o, cells, input) ?? []);
}

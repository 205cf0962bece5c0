/**
 * The numbers of a sweep report, computed from trials and their results (pure functions, no I/O).
 *
 * - A cell is one (optimizer, schedule, lr, weight decay) setting; its value is the final test error
 *   averaged over seeds: mean = sum(e_s) / n, spread = sample sd sqrt(sum (e_s - mean)^2 / (n - 1)).
 *   A diverged trial counts with its last measured test error (chance level if that is not finite).
 *   A pruned trial (stopped at a rung by --prune) does not count: it was not trained to the budget,
 *   so it never enters a mean, a best setting, a paired comparison or a slope; its cell only
 *   records that it was pruned and at which epoch.
 * - Best setting per (optimizer, schedule) = the cell with the lowest mean validation error when
 *   every cell has one (records with `final.valError`), else the lowest mean test error (then the
 *   reported test error of the best setting is optimistic: it was also used to choose it).
 * - Comparisons are paired by seed (the same seed gives both optimizers the same initialization and
 *   data order): for the two best cells, d_s = e_coupled(s) - e_decoupled(s) over their shared seeds,
 *   summarized by its mean and Student t 95% interval (stats.ts). The interval decides: above 0,
 *   the decoupled optimizer is lower; below 0, the coupled one; containing 0, no difference is
 *   detectable; with one seed there is no interval. The same holds for "does decay help" (best cell
 *   with decay against the best without).
 * - Relative improvement of a decoupled optimizer over its coupled twin, on the best cells' means:
 *     (best_coupled - best_decoupled) / best_coupled.
 * - Noise (shown, not used for verdicts): the pooled within-cell sd over seeds,
 *   s_p = sqrt(sum_c (n_c - 1) s_c^2 / sum_c (n_c - 1)); with one seed per cell, the binomial sd of
 *   an error rate p measured on N test images, sqrt(p (1 - p) / N) at the median cell error.
 * - The ridge of a basin: for each lr row, the nonzero weight decay with the best (selection) error;
 *   rows where every setting diverged (best at chance) have none. The separable claim fits its slope
 *   (claims/separable.ts), the EMA timescale view its iso-τ line (timescale.ts).
 */
import type { SweepOptimizer, SweepSchedule, Trial } from '../sweep/types.js';
import type { ReportRecord } from './load.js';
import {
  type PairedDifference,
  type PairedVerdict,
  pairedDifference,
  pairedVerdict,
} from './stats.js';

/** Test error assumed for a diverged trial without a finite measurement (10 classes). */
export const CHANCE_ERROR = 0.9;

export interface Cell {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  lr: number;
  weightDecay: number;
  /** Final test errors (fractions), one per recorded seed, in seed order. */
  values: number[];
  seeds: number[];
  /** The trials behind `values`, in the same order. */
  trialIds: string[];
  n: number;
  mean: number;
  /** Sample sd over seeds (0 when n = 1). */
  sd: number;
  diverged: number;
  failed: number;
  /** Seeds stopped by --prune, and the epoch (rung) each stopped at; not in `values`. */
  pruned: number;
  prunedAt: number[];
  /** Final training loss averaged over seeds (NaN if any is not finite). */
  trainLoss: number;
  /** Final validation error averaged over seeds (NaN unless every seed measured one). */
  valMean: number;
}

/** What a best setting is chosen on. */
export type SelectionMetric = 'validation' | 'test';

/** The epoch a pruned trial stopped at (its last recorded epoch), or undefined if not pruned. */
export function prunedEpoch(result: ReportRecord): number | undefined {
  return result.pruned && result.status === 'ok' ? (result.epochs.at(-1)?.epoch ?? 0) : undefined;
}

/**
 * The final test error of a result, or undefined if it has none: failed, or pruned (its error is
 * that of a rung, not of the full budget). A diverged result without a finite one is at chance.
 */
export function finalTestError(result: ReportRecord): number | undefined {
  if (result.status !== 'ok' || result.pruned) return undefined;
  return measuredOrChance(result, result.final?.testError);
}

/**
 * The final validation error, by the same rule: NaN when the trial measured none (no validation
 * split), chance level when it diverged before measuring one.
 */
export function finalValError(result: ReportRecord): number {
  return measuredOrChance(result, result.final?.valError) ?? Number.NaN;
}

function measuredOrChance(result: ReportRecord, e: number | undefined): number | undefined {
  if (e !== undefined && Number.isFinite(e)) return e;
  return result.diverged ? CHANCE_ERROR : undefined;
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

export function sampleSd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export function cellKey(p: {
  optimizer: string;
  schedule: string;
  lr: number;
  weightDecay: number;
}): string {
  return `${p.optimizer}|${p.schedule}|${p.lr}|${p.weightDecay}`;
}

/** Groups the results of `trials` into cells (results of trials not in the list are ignored). */
export function buildCells(trials: Trial[], results: ReportRecord[]): Cell[] {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  const cells = new Map<string, Cell & { losses: number[]; vals: number[] }>();
  for (const trial of trials) {
    const p = trial.params;
    const key = cellKey(p);
    let cell = cells.get(key);
    if (!cell) {
      cell = {
        optimizer: p.optimizer,
        schedule: p.schedule,
        lr: p.lr,
        weightDecay: p.weightDecay,
        values: [],
        seeds: [],
        trialIds: [],
        n: 0,
        mean: Number.NaN,
        sd: 0,
        diverged: 0,
        failed: 0,
        pruned: 0,
        prunedAt: [],
        trainLoss: Number.NaN,
        valMean: Number.NaN,
        losses: [],
        vals: [],
      };
      cells.set(key, cell);
    }
    const result = byId.get(trial.id);
    if (!result) continue;
    if (result.status === 'failed') cell.failed++;
    if (result.diverged) cell.diverged++;
    const rung = prunedEpoch(result);
    if (rung !== undefined) {
      cell.pruned++;
      cell.prunedAt.push(rung);
    }
    const e = finalTestError(result);
    if (e === undefined) continue;
    cell.values.push(e);
    cell.seeds.push(p.seed);
    cell.trialIds.push(trial.id);
    cell.losses.push(result.final?.trainLoss ?? Number.NaN);
    cell.vals.push(finalValError(result));
  }
  return [...cells.values()].map(({ losses, vals, ...cell }) => ({
    ...cell,
    n: cell.values.length,
    mean: mean(cell.values),
    sd: sampleSd(cell.values),
    trainLoss: losses.every(Number.isFinite) ? mean(losses) : Number.NaN,
    valMean: vals.length && vals.every(Number.isFinite) ? mean(vals) : Number.NaN,
  }));
}

export interface Group {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  cells: Cell[];
}

/** Cells grouped per (optimizer, schedule), in first-seen order. */
export function groupCells(cells: Cell[]): Group[] {
  const groups = new Map<string, Group>();
  for (const c of cells) {
    const key = `${c.optimizer}|${c.schedule}`;
    let g = groups.get(key);
    if (!g) {
      g = { optimizer: c.optimizer, schedule: c.schedule, cells: [] };
      groups.set(key, g);
    }
    g.cells.push(c);
  }
  return [...groups.values()];
}

/** 'validation' when every cell with data has a validation error, else 'test'. */
export function selectionMetric(cells: Cell[]): SelectionMetric {
  const measured = cells.filter((c) => c.n > 0);
  return measured.length && measured.every((c) => Number.isFinite(c.valMean))
    ? 'validation'
    : 'test';
}

/**
 * Cells with data, best first: lowest mean on `on` (default: the validation error when all have
 * one), then lowest test-error sd, then most seeds.
 */
export function rankCells(cells: Cell[], on: SelectionMetric = selectionMetric(cells)): Cell[] {
  const value = (c: Cell) => (on === 'validation' ? c.valMean : c.mean);
  return cells
    .filter((c) => c.n > 0)
    .sort((a, b) => value(a) - value(b) || a.sd - b.sd || b.n - a.n);
}

export function bestCell(cells: Cell[], on?: SelectionMetric): Cell | undefined {
  return rankCells(cells, on)[0];
}

/** A paired difference on one seed. */
export interface SeedDifference {
  seed: number;
  d: number;
}

/** Paired differences a_s - b_s of final test error over the seeds both cells have. */
export function pairBySeed(a: Cell, b: Cell): SeedDifference[] {
  return a.seeds.flatMap((seed, i) => {
    const j = b.seeds.indexOf(seed);
    return j < 0 ? [] : [{ seed, d: a.values[i] - b.values[j] }];
  });
}

/** Pooled within-cell sd over cells with at least 2 seeds; undefined if there are none. */
export function pooledSd(cells: Cell[]): number | undefined {
  let num = 0;
  let dof = 0;
  for (const c of cells) {
    if (c.n < 2 || c.diverged) continue;
    num += (c.n - 1) * c.sd ** 2;
    dof += c.n - 1;
  }
  return dof > 0 ? Math.sqrt(num / dof) : undefined;
}

export interface Noise {
  /** sd of a cell's final test error (fraction). */
  sd: number;
  source: 'seeds' | 'binomial';
}

/** Seed noise if any cell has 2+ seeds, else the binomial sd on `testSize` images. */
export function estimateNoise(cells: Cell[], testSize?: number): Noise | undefined {
  const pooled = pooledSd(cells);
  if (pooled !== undefined) return { sd: pooled, source: 'seeds' };
  const means = cells
    .filter((c) => c.n > 0 && !c.diverged)
    .map((c) => c.mean)
    .sort((a, b) => a - b);
  if (!testSize || !means.length) return undefined;
  const p = means[Math.floor((means.length - 1) / 2)];
  return { sd: Math.sqrt((p * (1 - p)) / testSize), source: 'binomial' };
}

/**
 * The ridge of a basin: for each learning rate (ascending), the nonzero-decay cell with the best
 * selection error; rows whose best cell is at chance level (every setting diverged) are left out.
 */
export function ridge(cells: Cell[], on: SelectionMetric): Cell[] {
  const rows = new Map<number, Cell[]>();
  for (const c of cells) {
    if (c.weightDecay > 0) rows.set(c.lr, [...(rows.get(c.lr) ?? []), c]);
  }
  return [...rows.keys()]
    .sort((a, b) => a - b)
    .flatMap((lr) => {
      const best = bestCell(rows.get(lr) ?? [], on);
      return best && best.mean < CHANCE_ERROR - 1e-9 ? [best] : [];
    });
}

/** The records behind a cell's values (its seeds), in seed order. */
export function cellRecords(cell: Cell, results: ReportRecord[]): ReportRecord[] {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  return cell.trialIds.flatMap((id) => byId.get(id) ?? []);
}

export interface Comparison {
  coupled: SweepOptimizer;
  decoupled: SweepOptimizer;
  schedule: SweepSchedule;
  coupledBest: Cell;
  decoupledBest: Cell;
  /** What the best cells were chosen on. */
  selectedOn: SelectionMetric;
  /** (coupled - decoupled) / coupled on the best cells' mean test errors; positive = decoupled lower. */
  relativeImprovement: number;
  /** d_s = coupled - decoupled test error per shared seed (positive = decoupled lower). */
  perSeed: SeedDifference[];
  /** Their mean with its t interval. */
  paired: PairedDifference;
  /** 'positive' = the decoupled optimizer is lower, 'negative' = the coupled one (from the interval). */
  verdict: PairedVerdict;
}

export const PAIRS: [SweepOptimizer, SweepOptimizer][] = [
  ['adam', 'adamw'],
  ['sgd', 'sgdw'],
];

/** AdamW vs Adam and SGDW vs SGD, per schedule present for both, each at its best setting. */
export function compareOptimizers(cells: Cell[]): Comparison[] {
  const out: Comparison[] = [];
  const groups = groupCells(cells);
  const on = selectionMetric(cells);
  for (const [coupled, decoupled] of PAIRS) {
    for (const g of groups.filter((x) => x.optimizer === coupled)) {
      const twin = groups.find((x) => x.optimizer === decoupled && x.schedule === g.schedule);
      const cb = bestCell(g.cells, on);
      const db = twin && bestCell(twin.cells, on);
      if (!cb || !db) continue;
      const perSeed = pairBySeed(cb, db);
      const paired = pairedDifference(perSeed.map((x) => x.d));
      out.push({
        coupled,
        decoupled,
        schedule: g.schedule,
        coupledBest: cb,
        decoupledBest: db,
        selectedOn: on,
        relativeImprovement: cb.mean > 0 ? (cb.mean - db.mean) / cb.mean : 0,
        perSeed,
        paired,
        verdict: pairedVerdict(paired),
      });
    }
  }
  return out;
}

export interface DecayEffect {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  /** Best decayed cell (weightDecay > 0). */
  best: Cell;
  /** Best cell without decay (weightDecay 0; the twin optimizer's if this one has none). */
  noDecay: Cell;
  /** d_s = no decay - best with decay, per shared seed (positive = decay lowers the error). */
  paired: PairedDifference;
  verdict: PairedVerdict;
}

/**
 * The same algorithm without decay: Adam = AdamW and SGD = SGDW when weight decay is 0 (the
 * schedule-free optimizers have none).
 */
const TWIN: Partial<Record<SweepOptimizer, SweepOptimizer>> = {
  adam: 'adamw',
  adamw: 'adam',
  sgd: 'sgdw',
  sgdw: 'sgd',
};

/**
 * Does weight decay help at all? Best decayed cell vs best weightDecay = 0 cell, per group, paired
 * by seed. A group without a 0 column borrows its twin's (Adam with 0 decay is AdamW with 0 decay).
 */
export function decayEffects(cells: Cell[]): DecayEffect[] {
  const out: DecayEffect[] = [];
  const on = selectionMetric(cells);
  for (const g of groupCells(cells)) {
    const best = bestCell(
      g.cells.filter((c) => c.weightDecay > 0),
      on,
    );
    let zero = g.cells.filter((c) => c.weightDecay === 0);
    if (!zero.some((c) => c.n > 0)) {
      zero = cells.filter(
        (c) =>
          c.optimizer === TWIN[g.optimizer] && c.schedule === g.schedule && c.weightDecay === 0,
      );
    }
    const noDecay = bestCell(zero, on);
    if (!best || !noDecay) continue;
    const paired = pairedDifference(pairBySeed(noDecay, best).map((x) => x.d));
    out.push({
      optimizer: g.optimizer,
      schedule: g.schedule,
      best,
      noDecay,
      paired,
      verdict: pairedVerdict(paired),
    });
  }
  return out;
}

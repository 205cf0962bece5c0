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
 * - Axis alignment of a basin: for each lr row, the best nonzero weight decay wd*(lr) = the column
 *   with the lowest mean error; a least-squares fit log10 wd* = a + b log10 lr gives the ridge slope
 *   b and R^2 (the share of the ridge's variance explained by lr). b = 0: axis-aligned (the best
 *   decay does not depend on lr, the paper's claim for AdamW/SGDW); b = -1: diagonal (lr * wd is
 *   what matters, the paper's finding for L2). Alignment = 1 - min(1, |b|), so 1 = axis-aligned,
 *   0 = diagonal or steeper. A row is flat when the paired interval between its best and worst
 *   nonzero-decay cells contains 0 (its argmin is noise); flat rows are left out, and with fewer
 *   than 3 rows left the basin is reported as flat, not measured. With one seed flatness cannot be
 *   judged and every row counts.
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
 * that of a rung, not of the full budget).
 */
export function finalTestError(result: ReportRecord): number | undefined {
  if (result.status !== 'ok' || result.pruned) return undefined;
  const e = result.final?.testError;
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
    cell.losses.push(result.final?.trainLoss ?? Number.NaN);
    cell.vals.push(result.final?.valError ?? Number.NaN);
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

/** Paired differences a_s - b_s of final test error over the seeds both cells have. */
export function pairBySeed(a: Cell, b: Cell): number[] {
  return a.seeds
    .map((s, i) => [i, b.seeds.indexOf(s)])
    .filter(([, j]) => j >= 0)
    .map(([i, j]) => a.values[i] - b.values[j]);
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

export interface Alignment {
  /** 'measured'; 'flat' = too few rows where decay makes a difference; 'too small' = grid. */
  status: 'measured' | 'flat' | 'too small';
  /** Fitted slope b of log10 wd* on log10 lr (NaN unless measured). */
  slope: number;
  /** Share of the ridge's variance explained by lr (R^2 of the fit; 0 when the ridge is flat). */
  r2: number;
  /** 1 - min(1, |slope|): 1 = axis-aligned, 0 = diagonal (NaN unless measured). */
  alignment: number;
  /** The ridge: best nonzero weight decay per non-flat lr row. */
  ridge: { lr: number; weightDecay: number; mean: number; n: number }[];
  /** Rows left out because the paired interval between their best and worst decay contains 0. */
  flatRows: number[];
}

/** Least-squares fit of log10 wd* on log10 lr: slope and R^2. */
function fitRidge(ridge: Alignment['ridge']): { slope: number; r2: number } {
  const xs = ridge.map((r) => Math.log10(r.lr));
  const ys = ridge.map((r) => Math.log10(r.weightDecay));
  const mx = mean(xs);
  const my = mean(ys);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  return {
    slope: sxx > 0 ? sxy / sxx : 0,
    r2: syy > 0 && sxx > 0 ? (sxy * sxy) / (sxx * syy) : 0,
  };
}

/** A row is flat when its worst and best cells are not told apart by their paired interval. */
function isFlatRow(row: Cell[], best: Cell, on: SelectionMetric): boolean {
  const worst = rankCells(row, on).at(-1);
  if (!worst || worst === best) return true;
  return pairedVerdict(pairedDifference(pairBySeed(worst, best))) === 'none';
}

/**
 * Axis alignment of one optimizer's basin (see the module comment). Needs at least 3 lr rows and 2
 * nonzero weight decays with data; rows whose best cell is at chance level (all diverged) and flat
 * rows are left out.
 */
export function axisAlignment(
  cells: Cell[],
  on: SelectionMetric = selectionMetric(cells),
): Alignment {
  const none = (status: Alignment['status'], ridge: Alignment['ridge'], flatRows: number[]) => ({
    status,
    slope: Number.NaN,
    r2: Number.NaN,
    alignment: Number.NaN,
    ridge,
    flatRows,
  });
  const usable = cells.filter((c) => c.n > 0 && c.weightDecay > 0);
  const wds = new Set(usable.map((c) => c.weightDecay));
  const rows = new Map<number, Cell[]>();
  for (const c of usable) rows.set(c.lr, [...(rows.get(c.lr) ?? []), c]);
  if (wds.size < 2 || rows.size < 3) return none('too small', [], []);
  const ridge: Alignment['ridge'] = [];
  const flatRows: number[] = [];
  for (const [lr, row] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
    const best = bestCell(row, on);
    if (!best || best.mean >= CHANCE_ERROR - 1e-9) continue;
    if (isFlatRow(row, best, on)) flatRows.push(lr);
    else ridge.push({ lr, weightDecay: best.weightDecay, mean: best.mean, n: best.n });
  }
  if (ridge.length < 3) return none(flatRows.length ? 'flat' : 'too small', ridge, flatRows);
  const { slope, r2 } = fitRidge(ridge);
  return {
    status: 'measured',
    slope,
    r2,
    alignment: 1 - Math.min(1, Math.abs(slope)),
    ridge,
    flatRows,
  };
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
      const paired = pairedDifference(pairBySeed(cb, db));
      out.push({
        coupled,
        decoupled,
        schedule: g.schedule,
        coupledBest: cb,
        decoupledBest: db,
        selectedOn: on,
        relativeImprovement: cb.mean > 0 ? (cb.mean - db.mean) / cb.mean : 0,
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
    const paired = pairedDifference(pairBySeed(noDecay, best));
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

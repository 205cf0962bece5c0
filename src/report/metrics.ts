/**
 * The numbers of a sweep report, computed from trials and their results (pure functions, no I/O).
 *
 * - A cell is one (optimizer, schedule, lr, weight decay) setting; its value is the final test error
 *   averaged over seeds: mean = sum(e_s) / n, spread = sample sd sqrt(sum (e_s - mean)^2 / (n - 1)).
 *   A diverged trial counts with its last measured test error (chance level if that is not finite).
 * - Best setting per (optimizer, schedule) = the cell with the lowest mean.
 * - Relative improvement of a decoupled optimizer over its coupled twin:
 *     (best_coupled - best_decoupled) / best_coupled.
 * - Noise: the pooled within-cell sd over seeds, s_p = sqrt(sum_c (n_c - 1) s_c^2 / sum_c (n_c - 1));
 *   with one seed per cell it is approximated by the binomial sd of an error rate p measured on N
 *   test images, sqrt(p (1 - p) / N) at the median cell error. A difference of two n-seed means is
 *   called an effect only if it exceeds 2 * s * sqrt(2 / n).
 * - Axis alignment of a basin: for each lr row, the best nonzero weight decay wd*(lr) = the column
 *   with the lowest mean error; a least-squares fit log10 wd* = a + b log10 lr gives the ridge slope
 *   b and R^2 (the share of the ridge's variance explained by lr). b = 0: axis-aligned (the best
 *   decay does not depend on lr, the paper's claim for AdamW/SGDW); b = -1: diagonal (lr * wd is
 *   what matters, the paper's finding for L2). Alignment = 1 - min(1, |b|), so 1 = axis-aligned,
 *   0 = diagonal or steeper. A row whose nonzero-decay cells differ by no more than the effect
 *   threshold is flat (its argmin is noise) and is left out; with fewer than 3 rows left the basin
 *   is reported as flat, not measured.
 */
import type { SweepOptimizer, SweepSchedule, Trial, TrialResult } from '../sweep/types.js';

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
  /** Final training loss averaged over seeds (NaN if any is not finite). */
  trainLoss: number;
}

/** The final test error of a result, or undefined if it has none (failed). */
export function finalTestError(result: TrialResult): number | undefined {
  if (result.status !== 'ok') return undefined;
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
export function buildCells(trials: Trial[], results: TrialResult[]): Cell[] {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  const cells = new Map<string, Cell & { losses: number[] }>();
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
        trainLoss: Number.NaN,
        losses: [],
      };
      cells.set(key, cell);
    }
    const result = byId.get(trial.id);
    if (!result) continue;
    if (result.status === 'failed') cell.failed++;
    if (result.diverged) cell.diverged++;
    const e = finalTestError(result);
    if (e === undefined) continue;
    cell.values.push(e);
    cell.seeds.push(p.seed);
    cell.losses.push(result.final?.trainLoss ?? Number.NaN);
  }
  return [...cells.values()].map(({ losses, ...cell }) => ({
    ...cell,
    n: cell.values.length,
    mean: mean(cell.values),
    sd: sampleSd(cell.values),
    trainLoss: losses.every(Number.isFinite) ? mean(losses) : Number.NaN,
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

/** Cells with data, best (lowest mean, then lowest sd, then most seeds) first. */
export function rankCells(cells: Cell[]): Cell[] {
  return cells.filter((c) => c.n > 0).sort((a, b) => a.mean - b.mean || a.sd - b.sd || b.n - a.n);
}

export function bestCell(cells: Cell[]): Cell | undefined {
  return rankCells(cells)[0];
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
  ridge: { lr: number; weightDecay: number; mean: number }[];
  /** Rows left out because decay made no difference there beyond `threshold`. */
  flatRows: number[];
}

/**
 * Axis alignment of one optimizer's basin (see the module comment). Needs at least 3 lr rows and 2
 * nonzero weight decays with data; rows whose best cell is at chance level (all diverged) and flat
 * rows (spread <= threshold) are left out.
 */
export function axisAlignment(cells: Cell[], threshold = 0): Alignment {
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
    const best = bestCell(row);
    if (!best || best.mean >= CHANCE_ERROR - 1e-9) continue;
    const worst = Math.max(...row.map((c) => c.mean));
    if (row.length < 2 || worst - best.mean <= threshold) {
      flatRows.push(lr);
      continue;
    }
    ridge.push({ lr, weightDecay: best.weightDecay, mean: best.mean });
  }
  if (ridge.length < 3) return none(flatRows.length ? 'flat' : 'too small', ridge, flatRows);
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
  const slope = sxx > 0 ? sxy / sxx : 0;
  const r2 = syy > 0 && sxx > 0 ? (sxy * sxy) / (sxx * syy) : 0;
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
  /** (coupled - decoupled) / coupled; positive = decoupled is better. */
  relativeImprovement: number;
  /** coupled - decoupled, in error fraction. */
  difference: number;
  /** 2 * s_p * sqrt(2 / n): the smallest difference called an effect; undefined if unknown. */
  threshold: number | undefined;
  /** Paired by seed, when both best cells share seeds. */
  paired?: { n: number; decoupledWins: number; meanDifference: number };
  verdict: 'decoupled better' | 'coupled better' | 'no measurable effect' | 'unknown noise';
}

export const PAIRS: [SweepOptimizer, SweepOptimizer][] = [
  ['adam', 'adamw'],
  ['sgd', 'sgdw'],
];

function judge(difference: number, threshold: number | undefined): Comparison['verdict'] {
  if (threshold === undefined) return 'unknown noise';
  if (Math.abs(difference) <= threshold) return 'no measurable effect';
  return difference > 0 ? 'decoupled better' : 'coupled better';
}

/** Significance threshold for a difference of two means of n seeds. */
export function effectThreshold(noise: number | undefined, n: number): number | undefined {
  if (noise === undefined || n < 1) return undefined;
  return 2 * noise * Math.sqrt(2 / n);
}

/** AdamW vs Adam and SGDW vs SGD, per schedule present for both. */
export function compareOptimizers(cells: Cell[], noise = estimateNoise(cells)): Comparison[] {
  const out: Comparison[] = [];
  const groups = groupCells(cells);
  for (const [coupled, decoupled] of PAIRS) {
    for (const g of groups.filter((x) => x.optimizer === coupled)) {
      const twin = groups.find((x) => x.optimizer === decoupled && x.schedule === g.schedule);
      const cb = bestCell(g.cells);
      const db = twin && bestCell(twin.cells);
      if (!cb || !db) continue;
      const difference = cb.mean - db.mean;
      const threshold = effectThreshold(noise?.sd, Math.min(cb.n, db.n));
      const comparison: Comparison = {
        coupled,
        decoupled,
        schedule: g.schedule,
        coupledBest: cb,
        decoupledBest: db,
        relativeImprovement: cb.mean > 0 ? difference / cb.mean : 0,
        difference,
        threshold,
        verdict: judge(difference, threshold),
      };
      const shared = cb.seeds.filter((s) => db.seeds.includes(s));
      if (shared.length >= 2) {
        const diffs = shared.map(
          (s) => cb.values[cb.seeds.indexOf(s)] - db.values[db.seeds.indexOf(s)],
        );
        comparison.paired = {
          n: shared.length,
          decoupledWins: diffs.filter((d) => d > 0).length,
          meanDifference: mean(diffs),
        };
      }
      out.push(comparison);
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
  difference: number;
  threshold: number | undefined;
  verdict: 'decay helps' | 'no measurable effect' | 'unknown noise';
}

/** The same algorithm without decay: Adam = AdamW and SGD = SGDW when weight decay is 0. */
const TWIN: Record<SweepOptimizer, SweepOptimizer> = {
  adam: 'adamw',
  adamw: 'adam',
  sgd: 'sgdw',
  sgdw: 'sgd',
};

/**
 * Does weight decay help at all? Best decayed cell vs best weightDecay = 0 cell, per group. A group
 * without a 0 column borrows its twin's (Adam with 0 decay is AdamW with 0 decay).
 */
export function decayEffects(cells: Cell[], noise = estimateNoise(cells)): DecayEffect[] {
  const out: DecayEffect[] = [];
  for (const g of groupCells(cells)) {
    const best = bestCell(g.cells.filter((c) => c.weightDecay > 0));
    let zero = g.cells.filter((c) => c.weightDecay === 0);
    if (!zero.some((c) => c.n > 0)) {
      zero = cells.filter(
        (c) =>
          c.optimizer === TWIN[g.optimizer] && c.schedule === g.schedule && c.weightDecay === 0,
      );
    }
    const noDecay = bestCell(zero);
    if (!best || !noDecay) continue;
    const difference = noDecay.mean - best.mean;
    const threshold = effectThreshold(noise?.sd, Math.min(best.n, noDecay.n));
    let verdict: DecayEffect['verdict'];
    if (difference <= 0) verdict = 'no measurable effect';
    else if (threshold === undefined) verdict = 'unknown noise';
    else verdict = difference > threshold ? 'decay helps' : 'no measurable effect';
    out.push({
      optimizer: g.optimizer,
      schedule: g.schedule,
      best,
      noDecay,
      difference,
      threshold,
      verdict,
    });
  }
  return out;
}

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const pts = (x: number) => `${(x * 100).toFixed(2)} points`;

export function describeComparison(c: Comparison): string {
  const base =
    `${c.decoupled} vs ${c.coupled} (${c.schedule}): best ${pct(c.decoupledBest.mean)} vs ` +
    `${pct(c.coupledBest.mean)}, a relative improvement of ${pct(c.relativeImprovement, 1)}`;
  const paired = c.paired
    ? `; ${c.decoupled} is lower on ${c.paired.decoupledWins} of ${c.paired.n} paired seeds`
    : '';
  switch (c.verdict) {
    case 'unknown noise':
      return `${base}${paired}. The noise level is unknown (one seed, unknown test-set size), so this difference cannot be told apart from noise.`;
    case 'no measurable effect':
      return `${base}${paired}. The difference (${pts(c.difference)}) is within noise (threshold ${pts(c.threshold ?? 0)}): no measurable effect in this setting.`;
    case 'decoupled better':
      return `${base}${paired}. The difference (${pts(c.difference)}) exceeds the noise threshold (${pts(c.threshold ?? 0)}).`;
    case 'coupled better':
      return `${base}${paired}. ${c.coupled} is better here, by more than the noise threshold (${pts(c.threshold ?? 0)}): this setting does not reproduce the paper's claim.`;
  }
}

export function describeDecayEffect(e: DecayEffect): string {
  const what = `${e.optimizer} (${e.schedule})`;
  if (e.difference <= 0) {
    return `${what}: no weight decay value beat training without decay (${pct(e.noDecay.mean)}): weight decay showed no benefit in this setting.`;
  }
  const base = `${what}: best with decay ${pct(e.best.mean)} (wd ${e.best.weightDecay}) vs ${pct(e.noDecay.mean)} without`;
  switch (e.verdict) {
    case 'decay helps':
      return `${base}; the gain (${pts(e.difference)}) exceeds noise.`;
    case 'no measurable effect':
      return `${base}; the gain (${pts(e.difference)}) is within noise: no measurable effect of weight decay here.`;
    default:
      return `${base}; with one seed the noise is unknown, so the gain (${pts(e.difference)}) is not established.`;
  }
}

export function describeAlignment(optimizer: string, schedule: string, a: Alignment): string {
  const what = `${optimizer} (${schedule})`;
  if (a.status === 'too small') {
    return `${what}: the grid is too small to measure alignment (needs 3 learning rates and 2 nonzero weight decays).`;
  }
  if (a.status === 'flat') {
    const rows = a.flatRows.length + a.ridge.length;
    if (!a.ridge.length) {
      return `${what}: at all ${rows} learning rates the nonzero weight decays differ by no more than noise, so the basin has no ridge to measure: the strength of weight decay made no measurable difference.`;
    }
    return `${what}: only ${a.ridge.length} of ${rows} learning rates show a difference between nonzero weight decays beyond noise (3 are needed to fit the ridge), so alignment is not measured; at the others the strength of decay made no measurable difference.`;
  }
  const shape =
    a.alignment >= 0.75 ? 'close to axis-aligned' : a.alignment <= 0.25 ? 'diagonal' : 'in between';
  const flat = a.flatRows.length ? `; ${a.flatRows.length} flat row(s) left out` : '';
  return `${what}: ridge slope ${a.slope.toFixed(2)}, R² ${a.r2.toFixed(2)}, alignment ${a.alignment.toFixed(2)} (${shape}${flat}).`;
}

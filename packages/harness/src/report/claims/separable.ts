/**
 * Claim: learning rate and weight decay are separable for the decoupled optimizers (paper §2-3,
 * Fig. 2): Adam+L2's best decay moves with the learning rate, AdamW's does not.
 *
 * For each (optimizer, schedule) group and seed s, the ridge λ*_s(η) is the best nonzero decay at
 * each learning rate η (metrics.ts `ridge`, on the seed's own cells), and the seed's basin slope is
 * the least-squares slope of log10 λ*_s on log10 η over its rows (stats.ts):
 *   b_s = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)²,   x = log10 η, y = log10 λ*_s(η).
 * The group's slope and its 95% interval:
 * - with 2 or more seeds, the mean b̄ with the Student t interval over seeds,
 *   b̄ ± t(0.975, n-1)·s_b/√n: the seeds are the replicates;
 * - with one seed, b with its regression interval over the m learning rates,
 *   b ± t(0.975, m-2)·s/√Sxx. A seed effect that shifts every row's best decay alike moves the
 *   intercept, not the slope, so the rows' scatter about the line is the slope's noise; what this
 *   interval cannot see is a slope that itself varies from seed to seed.
 * A diagonal basin (only η·λ matters, λ* ∝ 1/η) gives b = -1 exactly, an axis-aligned one b = 0.
 * With 2 or more shared seeds, the difference of slopes, coupled minus decoupled, is paired by seed;
 * the paper's claim is b ≈ -1 for Adam+L2 and b ≈ 0 for AdamW, a difference near -1.
 * A best decay on the grid's smallest or largest nonzero value is censored (the optimum may lie
 * beyond), which biases the slope towards 0; such rows are counted and reported.
 * For a decoupled optimizer the same slope says whether the optimum keeps a constant EMA timescale
 * (timescale.ts): iso-τ lines have slope -1 under decay scaled by lr·η_t, 0 under η_t alone.
 */
import type { SweepOptimizer, SweepSchedule, Trial } from '../../sweep/types.js';
import type { ReportRecord } from '../load.js';
import {
  buildCells,
  type Cell,
  groupCells,
  PAIRS,
  ridge,
  type SelectionMetric,
} from '../metrics.js';
import { lsSlope, type PairedDifference, pairedDifference, regressionSlope } from '../stats.js';
import { groupTimescale } from '../timescale.js';
import { groupBy } from './grouping.js';

export interface BasinRow {
  lr: number;
  /** Best nonzero decay of the mean over seeds (the heatmap's ridge). */
  bestDecay: number;
  /** Best nonzero decay of each seed, in seed order. */
  seedDecays: number[];
  /** True when the mean's best decay is the grid's smallest or largest nonzero decay. */
  atEdge: boolean;
}

/** A slope with its 95% interval, and what the interval is over. */
export interface SlopeEstimate {
  mean: number;
  lo: number;
  hi: number;
  level: number;
  /** Seeds (t over the seeds' slopes) or, with one seed, learning rates (regression interval). */
  n: number;
  over: 'seeds' | 'learning rates';
}

export interface BasinSlope {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  rows: BasinRow[];
  seeds: number[];
  /** Each seed's best decay at each learning rate. */
  points: { seed: number; lr: number; decay: number }[];
  /** b_s per seed (same order as seeds). */
  seedSlopes: number[];
  slope: SlopeEstimate;
  /**
   * Decoupled optimizers: how decay is scaled (which fixes the iso-τ lines' slope) and the τ of the
   * iso-τ line closest to the ridge.
   */
  timescale?: { decayScale: 'lr' | 'schedule'; tau?: number };
}

export interface SlopeDifference {
  coupled: SweepOptimizer;
  decoupled: SweepOptimizer;
  schedule: SweepSchedule;
  /** d_s = b_s(coupled) - b_s(decoupled) per shared seed. */
  difference: PairedDifference;
}

export interface SeparableClaim {
  slopes: BasinSlope[];
  differences: SlopeDifference[];
}

/** Whether a group's grid can show a ridge: 3 learning rates × 3 nonzero decays with results. */
function hasBasin(cells: Cell[]): boolean {
  // With one nonzero decay every row has the same best decay, a slope of 0 by construction; with
  // two, every best decay is at an edge of the grid, so where the optimum lies is never measured.
  const measured = cells.filter((c) => c.n > 0 && c.weightDecay > 0);
  return (
    new Set(measured.map((c) => c.lr)).size >= 3 &&
    new Set(measured.map((c) => c.weightDecay)).size >= 3
  );
}

/** Why the sweep cannot address the claim, or undefined when it can. */
export function separableGap(cells: Cell[]): string | undefined {
  if (groupCells(cells).some((g) => hasBasin(g.cells))) return undefined;
  return 'no optimizer has at least 3 learning rates × 3 nonzero weight decays with results, so the best decay cannot be followed across learning rates (with 2, every best decay is at an edge of the grid).';
}

/** λ*_s(η) of each seed with a ridge of 2 or more rows: seed → [lr, best decay][]. */
function seedRidges(
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): Map<number, [number, number][]> {
  const out = new Map<number, [number, number][]>();
  const seeds = [...new Set(trials.map((t) => t.params.seed))].sort((a, b) => a - b);
  for (const seed of seeds) {
    const own = buildCells(
      trials.filter((t) => t.params.seed === seed),
      results,
    );
    const rows = ridge(own, on).map((c): [number, number] => [c.lr, c.weightDecay]);
    if (rows.length >= 2) out.set(seed, rows);
  }
  return out;
}

/** The basin's rows as a table: the mean's best decay and each seed's. */
function basinRows(cells: Cell[], ridges: Map<number, [number, number][]>, on: SelectionMetric) {
  const decays = [...new Set(cells.filter((c) => c.weightDecay > 0).map((c) => c.weightDecay))];
  const [smallest, largest] = [Math.min(...decays), Math.max(...decays)];
  return ridge(cells, on).map(
    (best): BasinRow => ({
      lr: best.lr,
      bestDecay: best.weightDecay,
      seedDecays: [...ridges.values()].flatMap((r) =>
        r.filter(([l]) => l === best.lr).map(([, d]) => d),
      ),
      atEdge: best.weightDecay === smallest || best.weightDecay === largest,
    }),
  );
}

const logs = (ridge: [number, number][]) => ({
  xs: ridge.map(([lr]) => Math.log10(lr)),
  ys: ridge.map(([, wd]) => Math.log10(wd)),
});

/** The group's slope: t over seeds, or with one seed its regression interval over the rows. */
function slopeEstimate(ridges: [number, number][][], seedSlopes: number[]): SlopeEstimate {
  if (seedSlopes.length >= 2) {
    const { mean, lo, hi, level, n } = pairedDifference(seedSlopes);
    return { mean, lo, hi, level, n, over: 'seeds' };
  }
  const { xs, ys } = logs(ridges[0]);
  const fit = regressionSlope(xs, ys);
  return {
    mean: fit.slope,
    lo: fit.lo,
    hi: fit.hi,
    level: fit.level,
    n: fit.m,
    over: 'learning rates',
  };
}

/** One group's slope (undefined when no seed has 2 usable rows). */
export function basinSlope(
  groupCells: Cell[],
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): BasinSlope | undefined {
  const ridges = seedRidges(trials, results, on);
  const seeds = [...ridges.keys()];
  if (!seeds.length) return undefined;
  const own = seeds.map((s) => ridges.get(s) ?? []);
  const seedSlopes = own.map((r) => lsSlope(logs(r).xs, logs(r).ys));
  const ts = groupTimescale(groupCells, trials, on);
  return {
    optimizer: groupCells[0].optimizer,
    schedule: groupCells[0].schedule,
    rows: basinRows(groupCells, ridges, on),
    seeds,
    points: seeds.flatMap((seed, i) => own[i].map(([lr, decay]) => ({ seed, lr, decay }))),
    seedSlopes,
    slope: slopeEstimate(own, seedSlopes),
    ...(ts ? { timescale: { decayScale: ts.decayScale, tau: ts.fit?.tau } } : {}),
  };
}

/** Coupled minus decoupled slope per shared seed, for each twin pair under one schedule. */
function slopeDifferences(slopes: BasinSlope[]): SlopeDifference[] {
  const out: SlopeDifference[] = [];
  for (const [coupled, decoupled] of PAIRS) {
    for (const a of slopes.filter((s) => s.optimizer === coupled)) {
      const b = slopes.find((s) => s.optimizer === decoupled && s.schedule === a.schedule);
      if (!b) continue;
      const d = a.seeds.flatMap((seed, i) => {
        const j = b.seeds.indexOf(seed);
        return j < 0 ? [] : [a.seedSlopes[i] - b.seedSlopes[j]];
      });
      // With one shared seed each slope's own interval says all there is.
      if (d.length >= 2) {
        out.push({ coupled, decoupled, schedule: a.schedule, difference: pairedDifference(d) });
      }
    }
  }
  return out;
}

/** The claim's numbers for every group with a measurable basin. */
export function analyzeSeparable(
  cells: Cell[],
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): SeparableClaim {
  const byGroup = groupBy(trials, (t) => `${t.params.optimizer}|${t.params.schedule}`);
  const slopes = groupCells(cells).flatMap((g) => {
    if (!hasBasin(g.cells)) return [];
    const own = byGroup.get(`${g.optimizer}|${g.schedule}`) ?? [];
    return basinSlope(g.cells, own, results, on) ?? [];
  });
  return { slopes, differences: slopeDifferences(slopes) };
}

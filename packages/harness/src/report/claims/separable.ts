/**
 * Claim: learning rate and weight decay are separable for the decoupled optimizers (paper §2-3,
 * Fig. 2): Adam+L2's best decay moves with the learning rate, AdamW's does not.
 *
 * For each (optimizer, schedule) group, seed s and learning rate η, the best decay is
 *   λ*_s(η) = argmin over nonzero decays λ of the selection error (validation, else test),
 * and the seed's basin slope is the least-squares slope of log10 λ*_s on log10 η over the lr rows
 * (rows where every decay diverged are left out):
 *   b_s = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)²,   x = log10 η, y = log10 λ*_s(η).
 * The group's slope is the mean b̄ over seeds with a Student t 95% interval b̄ ± t(0.975, n-1)·s_b/√n
 * (stats.ts): the seeds are the independent replicates, the lr rows within a seed are not.
 * A diagonal basin (only η·λ matters, λ* ∝ 1/η) gives b = -1 exactly, an axis-aligned one b = 0.
 * The difference of slopes, coupled minus decoupled, is paired by seed the same way; the paper's
 * claim is b ≈ -1 for Adam+L2, b ≈ 0 for AdamW, so a difference near -1.
 * A best decay on the grid's smallest or largest nonzero value is censored (the optimum may lie
 * beyond), which biases the slope towards 0; such rows are counted and reported.
 */
import type { SweepOptimizer, SweepSchedule } from '../../sweep/types.js';
import { bestCell, type Cell, CHANCE_ERROR, PAIRS, type SelectionMetric } from '../metrics.js';
import { type PairedDifference, pairedDifference } from '../stats.js';
import { argmin, groupBy, lsSlope, type ScoredTrial } from './scores.js';

export interface BasinRow {
  lr: number;
  /** Best nonzero decay of the mean over seeds (the heatmap's ridge). */
  bestDecay: number;
  /** Best nonzero decay of each seed, in seed order. */
  seedDecays: number[];
  /** True when the mean's best decay is the grid's smallest or largest nonzero decay. */
  atEdge: boolean;
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
  /** Mean slope over seeds with its t interval. */
  slope: PairedDifference;
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

/** Why the sweep cannot address the claim, or undefined when it can. */
export function separableGap(cells: Cell[]): string | undefined {
  const ok = cells.filter((c) => c.n > 0 && c.weightDecay > 0);
  const groups = groupBy(ok, (c) => `${c.optimizer}|${c.schedule}`);
  for (const g of groups.values()) {
    if (new Set(g.map((c) => c.lr)).size >= 3 && new Set(g.map((c) => c.weightDecay)).size >= 2) {
      return undefined;
    }
  }
  return 'no optimizer has at least 3 learning rates × 2 nonzero weight decays with results, so the best decay cannot be followed across learning rates.';
}

/** λ*_s(η) per seed: seed → [lr, best decay] over rows not entirely diverged. */
function seedRidges(scored: ScoredTrial[]): Map<number, [number, number][]> {
  const out = new Map<number, [number, number][]>();
  const bySeedRow = groupBy(scored, (s) => `${s.trial.params.seed}|${s.trial.params.lr}`);
  for (const row of bySeedRow.values()) {
    const best = argmin(row);
    if (!best || best.test >= CHANCE_ERROR - 1e-9) continue;
    const { seed, lr, weightDecay } = best.trial.params;
    out.set(seed, [...(out.get(seed) ?? []), [lr, weightDecay]]);
  }
  return out;
}

/** The basin's rows as a table: the mean's best decay and each seed's. */
function basinRows(cells: Cell[], ridges: Map<number, [number, number][]>, on: SelectionMetric) {
  const decays = [...new Set(cells.map((c) => c.weightDecay))].sort((a, b) => a - b);
  const lrs = [...new Set(cells.map((c) => c.lr))].sort((a, b) => a - b);
  return lrs.flatMap((lr): BasinRow[] => {
    const best = bestCell(
      cells.filter((c) => c.lr === lr),
      on,
    );
    if (!best) return [];
    const seedDecays = [...ridges.values()].flatMap((r) =>
      r.filter(([l]) => l === lr).map(([, d]) => d),
    );
    const atEdge = best.weightDecay === decays[0] || best.weightDecay === decays.at(-1);
    return [{ lr, bestDecay: best.weightDecay, seedDecays, atEdge }];
  });
}

/** One group's slope (undefined when no seed has 2 usable rows). */
export function basinSlope(
  groupCells: Cell[],
  scored: ScoredTrial[],
  on: SelectionMetric,
): BasinSlope | undefined {
  const decayed = scored.filter((s) => s.trial.params.weightDecay > 0);
  const cells = groupCells.filter((c) => c.n > 0 && c.weightDecay > 0);
  if (!cells.length) return undefined;
  const ridges = seedRidges(decayed);
  const seeds = [...ridges.keys()]
    .filter((s) => (ridges.get(s) ?? []).length >= 2)
    .sort((a, b) => a - b);
  const seedSlopes = seeds.map((s) => {
    const r = ridges.get(s) ?? [];
    return lsSlope(
      r.map(([lr]) => Math.log10(lr)),
      r.map(([, wd]) => Math.log10(wd)),
    );
  });
  if (!seeds.length) return undefined;
  return {
    optimizer: cells[0].optimizer,
    schedule: cells[0].schedule,
    rows: basinRows(cells, ridges, on),
    seeds,
    points: seeds.flatMap((seed) =>
      (ridges.get(seed) ?? []).map(([lr, decay]) => ({ seed, lr, decay })),
    ),
    seedSlopes,
    slope: pairedDifference(seedSlopes),
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
      out.push({ coupled, decoupled, schedule: a.schedule, difference: pairedDifference(d) });
    }
  }
  return out;
}

/** The claim's numbers for every group with a measurable basin. */
export function analyzeSeparable(
  cells: Cell[],
  scored: ScoredTrial[],
  on: SelectionMetric,
): SeparableClaim {
  const groups = groupBy(cells, (c) => `${c.optimizer}|${c.schedule}`);
  const slopes: BasinSlope[] = [];
  for (const [key, groupCells] of groups) {
    const own = scored.filter(
      (s) => `${s.trial.params.optimizer}|${s.trial.params.schedule}` === key,
    );
    const measured = groupCells.filter((c) => c.n > 0 && c.weightDecay > 0);
    // One nonzero decay would give every row the same best decay: a slope of 0 by construction.
    if (new Set(measured.map((c) => c.lr)).size < 3) continue;
    if (new Set(measured.map((c) => c.weightDecay)).size < 2) continue;
    const slope = basinSlope(groupCells, own, on);
    if (slope) slopes.push(slope);
  }
  return { slopes, differences: slopeDifferences(slopes) };
}

/**
 * Claim: normalized weight decay transfers across training budgets (paper §3.2, appendix B.1,
 * Fig. 3 bottom): with λ = λ_norm·√(b/(B·T)) (b batch size, B training images, T epochs) the best
 * λ_norm stays put when T changes, while the best raw λ moves (by √(T₁/T₂), half a decade for 10×).
 *
 * Needs one (optimizer, schedule) group trained at two or more lengths; the shortest T₁ and the
 * longest T₂ are compared. Every trial has both values: λ_norm = w and λ = w·f_T when the swept
 * decay w is normalized, λ = w and λ_norm = w / f_T when it is raw, with f_T = √(b/(B·T)).
 * For each seed s and length T, the best setting is the best (lr, nonzero decay) cell of that
 * seed's runs of length T (metrics.ts: lowest validation error, else test error). A value v of quantity Q (λ_norm or λ) is placed on the
 * swept grid of the shortest run, in fractional grid cells (log-linear between columns):
 *   c_Q(v) = column of v / q_{T₁},   q = the factor turning the swept value into Q,
 * and the seed's shift is c_Q(best at T₂) - c_Q(best at T₁). The shifts over seeds get a Student t
 * 95% interval (stats.ts). Moves: the interval excludes 0. Stays put: it contains 0 and lies within
 * ±1 cell. Otherwise (it contains 0 but is wider, or one seed gives no interval) it is unclear.
 */
import { normalizedWeightDecay } from 'decoupled';
import { parseTrainConfig } from '../../experiments/config.js';
import type { SweepOptimizer, SweepSchedule, Trial } from '../../sweep/types.js';
import type { ReportRecord } from '../load.js';
import { bestCell, buildCells, finalTestError, type SelectionMetric } from '../metrics.js';
import { type PairedDifference, pairedDifference } from '../stats.js';
import { columnOf, trainingImages } from '../timescale.js';
import { groupBy, trialEpochs } from './grouping.js';

/** Normalized decay is defined for the decoupled optimizers only. */
const isDecoupled = (o: SweepOptimizer) => o === 'adamw' || o === 'sgdw';

/** Both forms of a trial's decay. */
export interface DecayForms {
  norm: number;
  raw: number;
}

/** λ_norm and raw λ of a trial (undefined when its config does not parse). */
export function decayForms(trial: Trial): DecayForms | undefined {
  let config: ReturnType<typeof parseTrainConfig>;
  try {
    config = parseTrainConfig(trial.config);
  } catch {
    return undefined;
  }
  const f = normalizedWeightDecay({
    lambdaNorm: 1,
    batchSize: config.batchSize,
    datasetSize: trainingImages(config),
    epochs: config.epochs,
  });
  const w = trial.params.weightDecay;
  return config.weightDecayNorm ? { norm: w, raw: w * f } : { norm: w / f, raw: w };
}

export interface BudgetBest {
  epochs: number;
  seed: number;
  lr: number;
  decay: DecayForms;
}

export interface QuantityShift {
  /** Per-seed shift in grid cells (shortest run's grid), with its t interval. */
  shift: PairedDifference;
  verdict: 'stays' | 'moves' | 'unclear';
}

export interface BudgetTransfer {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  /** Which form the grid sweeps. */
  swept: 'norm' | 'raw';
  short: number;
  long: number;
  /** Best setting per seed at each of the two lengths. */
  best: BudgetBest[];
  norm: QuantityShift;
  raw: QuantityShift;
}

/** Why the sweep cannot address the claim, or undefined when it can. */
export function budgetGap(trials: Trial[]): string | undefined {
  const decoupled = trials.filter((t) => isDecoupled(t.params.optimizer));
  const groups = groupBy(decoupled, (t) => `${t.params.optimizer}|${t.params.schedule}`);
  for (const g of groups.values()) {
    if (new Set(g.map(trialEpochs)).size >= 2) return undefined;
  }
  return 'no decoupled optimizer (AdamW, SGDW) is trained at two lengths, so the best decay cannot be compared across budgets (the experiment needs two lengths, e.g. E and 3E epochs).';
}

function verdictOf(d: PairedDifference): QuantityShift['verdict'] {
  if (!(d.n >= 2)) return 'unclear';
  if (d.lo > 0 || d.hi < 0) return 'moves';
  return d.lo >= -1 && d.hi <= 1 ? 'stays' : 'unclear';
}

/** Per-seed shifts of one decay form, in cells of the shortest run's grid. */
function shiftOf(
  best: BudgetBest[],
  short: number,
  long: number,
  grid: { decays: number[]; lrs: number[] },
  form: keyof DecayForms,
  toSwept: number,
): QuantityShift {
  const at = (epochs: number, seed: number) =>
    best.find((b) => b.epochs === epochs && b.seed === seed);
  const shifts = best
    .filter((b) => b.epochs === short)
    .flatMap((a) => {
      const b = at(long, a.seed);
      const c0 = columnOf(grid, a.decay[form] * toSwept);
      const c1 = b && columnOf(grid, b.decay[form] * toSwept);
      return c0 === undefined || c1 === undefined ? [] : [c1 - c0];
    });
  const shift = pairedDifference(shifts);
  return { shift, verdict: verdictOf(shift) };
}

/** Each seed's best setting (lr, nonzero decay) at `epochs`, with its decay in both forms. */
function bestPerSeed(
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
  epochs: number,
) {
  const byId = new Map(trials.map((t) => [t.id, t]));
  const ofLength = trials.filter((t) => trialEpochs(t) === epochs && t.params.weightDecay > 0);
  return [...groupBy(ofLength, (t) => t.params.seed).values()].flatMap((own): BudgetBest[] => {
    const best = bestCell(buildCells(own, results), on);
    const trial = best && byId.get(best.trialIds[0]);
    const decay = trial && decayForms(trial);
    return trial && decay ? [{ epochs, seed: trial.params.seed, lr: trial.params.lr, decay }] : [];
  });
}

/** The transfer analysis of one group trained at several lengths (undefined if it cannot run). */
function groupTransfer(
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): BudgetTransfer | undefined {
  const finished = new Set(
    results.filter((r) => finalTestError(r) !== undefined).map((r) => r.trialId),
  );
  const decayed = trials.filter((t) => t.params.weightDecay > 0 && finished.has(t.id));
  const lengths = [...new Set(decayed.map((t) => trialEpochs(t) ?? 0))].filter((e) => e > 0);
  if (lengths.length < 2) return undefined;
  const short = Math.min(...lengths);
  const long = Math.max(...lengths);
  const best = [
    ...bestPerSeed(trials, results, on, short),
    ...bestPerSeed(trials, results, on, long),
  ];
  const ref = decayed.find((t) => trialEpochs(t) === short);
  const refForms = ref && decayForms(ref);
  if (!ref || !refForms) return undefined;
  const swept = refForms.norm === ref.params.weightDecay ? 'norm' : 'raw';
  const w = ref.params.weightDecay;
  const grid = {
    decays: [
      ...new Set(decayed.filter((t) => trialEpochs(t) === short).map((t) => t.params.weightDecay)),
    ].sort((a, b) => a - b),
    lrs: [],
  };
  const { optimizer, schedule } = ref.params;
  return {
    optimizer,
    schedule,
    swept,
    short,
    long,
    best: best.sort((a, b) => a.epochs - b.epochs || a.seed - b.seed),
    norm: shiftOf(best, short, long, grid, 'norm', w / refForms.norm),
    raw: shiftOf(best, short, long, grid, 'raw', w / refForms.raw),
  };
}

/** The claim's numbers for every group trained at two or more lengths. */
export function analyzeBudget(
  trials: Trial[],
  results: ReportRecord[],
  on: SelectionMetric,
): BudgetTransfer[] {
  const decoupled = trials.filter((t) => isDecoupled(t.params.optimizer));
  const groups = groupBy(decoupled, (t) => `${t.params.optimizer}|${t.params.schedule}`);
  return [...groups.values()].flatMap((g) => groupTransfer(g, results, on) ?? []);
}

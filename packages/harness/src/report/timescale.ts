/**
 * The EMA-timescale view of decoupled weight decay (Wang & Aitchison, 2024): with decay, AdamW's
 * weights are an exponential moving average of recent updates whose timescale, in epochs, is
 *   τ_epoch = 1 / (lr_t · λ · K)   under decayScale 'lr' (PyTorch: decay scaled by lr · η_t),
 *   τ_epoch = 1 / (η_t · λ · K)    under decayScale 'schedule' (the paper: decay scaled by η_t),
 * with K = ceil(trainSize / batchSize) iterations per epoch and λ the applied decay: the swept
 * weight decay, or with normalized decay λ = λ_norm · sqrt(batchSize / (trainSize · T)) (T = the
 * epochs, or the first restart period). τ is taken at the schedule's peak, η = 1 (lr_t = lr).
 *
 * On the lr × decay heatmap an iso-τ line joins the settings with equal τ: a diagonal (lr · λ
 * constant, slope -1 in log λ against log lr) under 'lr', a vertical line (λ constant, slope 0)
 * under 'schedule'. Whether the optimum keeps a constant τ is therefore a question about the slope
 * of the ridge, and the separable claim's slope and interval answer it (claims/); this module gives
 * the lines to draw and the τ of the one closest to the ridge, found by a scan over log τ that
 * minimizes the largest distance in grid cells (interpolating log λ between the decay columns).
 */
import { normalizedWeightDecay, timescaleOf } from 'decoupled';
import { type DatasetName, parseTrainConfig, type TrainConfig } from '../experiments/config.js';
import { stepsPerEpoch } from '../experiments/schedule.js';
import type { Trial } from '../sweep/types.js';
import { type Cell, ridge, type SelectionMetric } from './metrics.js';

/** Training images in each dataset's training file. */
const TRAINING_IMAGES: Record<DatasetName, number> = {
  'fashion-mnist': 60000,
  mnist: 60000,
  cifar10: 50000,
};

export interface TimescaleRate {
  decayScale: 'lr' | 'schedule';
  /** K, iterations per epoch. */
  iterationsPerEpoch: number;
  /** Applied λ per unit of the swept weight decay (1 unless decay is normalized). */
  decayFactor: number;
}

/** B, the images a trial trains on (its subset, else the training file less the validation split). */
export function trainingImages(config: TrainConfig): number {
  return config.subset ?? TRAINING_IMAGES[config.dataset] - config.validationSize;
}

/** What τ depends on besides lr and the swept decay, read from a decoupled trial's config. */
export function timescaleRate(trial: Trial): TimescaleRate | undefined {
  if (trial.params.optimizer !== 'adamw' && trial.params.optimizer !== 'sgdw') return undefined;
  let config: ReturnType<typeof parseTrainConfig>;
  try {
    config = parseTrainConfig(trial.config);
  } catch {
    return undefined;
  }
  const trainSize = trainingImages(config);
  const epochs = config.schedule.kind === 'warm-restarts' ? config.schedule.t0 : config.epochs;
  const decayFactor = config.weightDecayNorm
    ? normalizedWeightDecay({
        lambdaNorm: 1,
        batchSize: config.batchSize,
        datasetSize: trainSize,
        epochs,
      })
    : 1;
  return {
    decayScale: config.decayScale,
    iterationsPerEpoch: stepsPerEpoch({ datasetSize: trainSize, batchSize: config.batchSize }),
    decayFactor,
  };
}

/** τ_epoch at the schedule's peak for base rate `lr` and swept weight decay `wd` (> 0). */
export function tauEpochs(rate: TimescaleRate, lr: number, wd: number): number {
  return timescaleOf({
    weightDecay: wd * rate.decayFactor,
    lr,
    stepsPerEpoch: rate.iterationsPerEpoch,
    decayScale: rate.decayScale,
  });
}

/** The swept weight decay on the iso-τ line at `lr`. */
function decayOnLine(rate: TimescaleRate, lr: number, tau: number): number {
  return tauEpochs(rate, lr, 1) / tau;
}

/** The heatmap's grid: decay columns ascending, lr rows descending (top = largest lr). */
export interface Grid {
  decays: number[];
  lrs: number[];
}

export function gridOf(cells: Cell[]): Grid {
  return {
    decays: [...new Set(cells.map((c) => c.weightDecay))].sort((a, b) => a - b),
    lrs: [...new Set(cells.map((c) => c.lr))].sort((a, b) => b - a),
  };
}

/**
 * Fractional column index of decay `wd` (> 0): log-linear between the nonzero columns, extended
 * past the ends by the nearest step. Undefined with fewer than 2 nonzero columns.
 */
export function columnOf(grid: Grid, wd: number): number | undefined {
  const nonzero = grid.decays.map((d, j) => [d, j]).filter(([d]) => d > 0);
  if (nonzero.length < 2) return undefined;
  const x = Math.log(wd);
  let k = 0;
  while (k < nonzero.length - 2 && x > Math.log(nonzero[k + 1][0])) k++;
  const [d0, j0] = nonzero[k];
  const [d1, j1] = nonzero[k + 1];
  return j0 + ((x - Math.log(d0)) / (Math.log(d1) - Math.log(d0))) * (j1 - j0);
}

export interface IsoTauFit {
  /** The τ (epochs) whose line comes closest to every row's best decay. */
  tau: number;
  /** The largest distance, in grid cells, from that line to a row's best decay. */
  maxCells: number;
  /** Rows (learning rates) used: those with a best decay (not every setting diverged). */
  rows: number;
}

export interface Timescale extends TimescaleRate {
  /** Range of τ over the grid's nonzero-decay settings. */
  tauRange: [number, number];
  fit?: IsoTauFit;
}

/** The τ minimizing the largest column distance to each row's best decay (scan over log τ). */
function fitIsoTau(rate: TimescaleRate, grid: Grid, best: Cell[]): IsoTauFit | undefined {
  if (best.length < 2) return undefined;
  const taus = best.map((c) => tauEpochs(rate, c.lr, c.weightDecay));
  const lo = Math.log(Math.min(...taus)) - 1;
  const hi = Math.log(Math.max(...taus)) + 1;
  let fit: IsoTauFit | undefined;
  for (let i = 0; i <= 2000; i++) {
    const tau = Math.exp(lo + ((hi - lo) * i) / 2000);
    let maxCells = 0;
    for (const c of best) {
      const col = columnOf(grid, decayOnLine(rate, c.lr, tau));
      if (col === undefined) return undefined;
      maxCells = Math.max(maxCells, Math.abs(col - grid.decays.indexOf(c.weightDecay)));
    }
    if (!fit || maxCells < fit.maxCells) fit = { tau, maxCells, rows: best.length };
  }
  return fit;
}

/** The timescale view of one decoupled group, or undefined for a coupled one. */
export function groupTimescale(
  cells: Cell[],
  trials: Trial[],
  on: SelectionMetric,
): Timescale | undefined {
  const first = cells[0];
  const trial =
    first &&
    trials.find(
      (t) => t.params.optimizer === first.optimizer && t.params.schedule === first.schedule,
    );
  const rate = trial && timescaleRate(trial);
  if (!rate) return undefined;
  const grid = gridOf(cells);
  const nonzero = cells.filter((c) => c.weightDecay > 0);
  const taus = nonzero.map((c) => tauEpochs(rate, c.lr, c.weightDecay));
  if (!taus.length) return undefined;
  return {
    ...rate,
    tauRange: [Math.min(...taus), Math.max(...taus)],
    fit: fitIsoTau(rate, grid, ridge(cells, on)),
  };
}

/** Round τ values (1, 2, 5 per decade) inside `range`, at most `max` of them, spread evenly. */
export function niceTaus(range: [number, number], max = 4): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(range[0])); e <= Math.ceil(Math.log10(range[1])); e++) {
    for (const m of [1, 2, 5]) {
      const tau = m * 10 ** e;
      if (tau >= range[0] * (1 - 1e-9) && tau <= range[1] * (1 + 1e-9)) out.push(tau);
    }
  }
  if (out.length <= max) return out;
  const step = (out.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => out[Math.round(i * step)]);
}

/** Points of the iso-τ line in grid units (x = column centre, y = row centre, top row at 0.5). */
export function isoTauLine(
  rate: TimescaleRate,
  grid: Grid,
  tau: number,
): { x: number; y: number }[] {
  const points: { x: number; y: number }[] = [];
  grid.lrs.forEach((lr, i) => {
    const col = columnOf(grid, decayOnLine(rate, lr, tau));
    if (col !== undefined) points.push({ x: col + 0.5, y: i + 0.5 });
  });
  if (points.length < 2) {
    // One row: a vertical stub through it.
    return points.flatMap((p) => [
      { x: p.x, y: 0 },
      { x: p.x, y: grid.lrs.length },
    ]);
  }
  // Extend to the plot's top and bottom edges along the first and last segments.
  const [a, b] = [points[0], points[1]];
  const [c, d] = [points[points.length - 2], points[points.length - 1]];
  return [
    { x: a.x - (b.x - a.x) * (a.y / (b.y - a.y)), y: 0 },
    ...points,
    { x: d.x + (d.x - c.x) * ((grid.lrs.length - d.y) / (d.y - c.y)), y: grid.lrs.length },
  ];
}

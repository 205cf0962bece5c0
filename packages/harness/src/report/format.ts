/**
 * How the report writes numbers and names: one formatter each for percentages, percentage points,
 * axis values and optimizer names, shared by the prose, the tables and the figures.
 */
import { isScheduleFree, type TrainConfig } from '../experiments/config.js';
import type { SweepOptimizer } from '../sweep/types.js';
import type { Cell } from './metrics.js';

/** An error fraction as a percentage: 0.1234 -> "12.34%"; "–" when missing or not finite. */
export function pct(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
}

/** A difference of error fractions in percentage points, unsigned: 0.0021 -> "0.21". */
export function points(x: number, digits = 2): string {
  return Math.abs(x * 100).toFixed(digits);
}

/** A signed difference in percentage points: -0.003 -> "-0.30". */
export function signedPoints(x: number, digits = 2): string {
  return (x * 100).toFixed(digits);
}

/** Per-seed paired differences in signed points: "s1 0.52, s2 -0.10". */
export function perSeedPoints(xs: { seed: number; d: number }[]): string {
  return xs.map((x) => `s${x.seed} ${signedPoints(x.d)}`).join(', ') || '–';
}

/** Compact number label: 0.001 -> "1e-3", 0.05 -> "0.05", 0 -> "0". */
export function numLabel(x: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp <= -3 || exp >= 4) {
    const m = x / 10 ** exp;
    const ms = Number(m.toPrecision(3)).toString();
    return `${ms}e${exp}`;
  }
  return Number(x.toPrecision(3)).toString();
}

/** τ with 2 significant digits: "12", "0.35". */
export const tauNumber = (tau: number) => numLabel(Number(tau.toPrecision(2)));

/** How the report names each optimizer: the coupled ones say that their decay is L2. */
export const OPTIMIZER_NAMES: Record<SweepOptimizer, string> = {
  adam: 'Adam+L2',
  adamw: 'AdamW',
  sgd: 'SGD+L2',
  sgdw: 'SGDW',
  'schedule-free-adamw': 'Schedule-free AdamW',
  'schedule-free-sgd': 'Schedule-free SGD',
};

/** "12.34 ± 0.21% (n=3)": a cell's mean test error, its sd over seeds, and the seed count. */
export function cellText(c: Cell | undefined): string {
  if (!c) return '–';
  const spread = c.n > 1 ? ` ± ${(c.sd * 100).toFixed(2)}` : '';
  return `${(c.mean * 100).toFixed(2)}${spread}% (n=${c.n})`;
}

/** "an MLP with one hidden layer of 128 units", "a BatchNorm ResNet-8 of width 16". */
export function describeModel(model: TrainConfig['model']): string {
  switch (model.kind) {
    case 'mlp':
      return model.hidden.length === 1
        ? `an MLP with one hidden layer of ${model.hidden[0]} units`
        : model.hidden.length === 0
          ? 'a linear model (an MLP without hidden layers)'
          : `an MLP with hidden layers of ${listWords(model.hidden.map(String))} units`;
    case 'cnn':
      return `the small CNN (conv32-BN-pool, conv64-BN-pool, fc128, fc10)${model.width === 1 ? '' : ` with its filters scaled by ${model.width}`}`;
    case 'resnet':
      return `a BatchNorm ResNet-${6 * model.blocksPerStage + 2} of width ${model.width}`;
  }
}

/** "a, b and c". */
export function listWords(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** What a trial's weight decay value is: the heatmap's axis title and a sentence for Setup. */
export function describeDecay(config: TrainConfig): { axis: string; sentence: string } {
  const name = OPTIMIZER_NAMES[config.optimizer];
  if (config.optimizer === 'adam' || config.optimizer === 'sgd') {
    return {
      axis: 'L2 factor (added to the gradient)',
      sentence: `${name}: the weight decay is an L2 factor λ, added to the gradient as λ·θ.`,
    };
  }
  if (isScheduleFree(config.optimizer)) {
    const norm = config.weightDecayNorm;
    const what = norm ? 'the normalized λ_norm, applied as λ = λ_norm·√(b / (B·T))' : 'λ';
    return {
      axis: `${norm ? 'λ_norm' : 'λ'} (decay at y, × lr_t)`,
      sentence: `${name}: the weight decay is ${what}, added to the gradient as λ·y at the point y where gradients are taken and scaled by the step's lr_t (the reference's rule); errors are measured at the average x.`,
    };
  }
  const scaled = config.decayScale === 'schedule' ? 'η_t' : 'lr·η_t';
  const how =
    config.decayScale === 'schedule'
      ? "scaled by the schedule multiplier η_t only (the paper; decayScale 'schedule')"
      : "scaled by the scheduled learning rate lr·η_t (PyTorch; decayScale 'lr')";
  if (config.weightDecayNorm) {
    return {
      axis: `λ_norm (normalized decoupled decay, × ${scaled})`,
      sentence: `${name}: the weight decay is the normalized λ_norm, applied as λ = λ_norm·√(b / (B·T)) (b batch size, B training images, T epochs), decoupled from the gradient and ${how}.`,
    };
  }
  return {
    axis: `λ (decoupled decay, × ${scaled})`,
    sentence: `${name}: the weight decay is λ, decoupled from the gradient and ${how}.`,
  };
}

/**
 * The reproduction presets of `decoupled reproduce --preset NAME`: each is one or more sweeps
 * (stages) run in order, a later stage's spec possibly chosen from an earlier stage's results
 * (best settings on the validation split, never on test).
 *
 * Every preset uses what matches PyTorch (init 'torch', symmetric stride-2 padding in the ResNet)
 * and a fixed data seed, so seeds vary the initialization and data order over the same images,
 * and two optimizers with the same seed are paired (same initial weights, same order).
 *
 * - quick: a demo and CI end-to-end test, one sweep: Fashion-MNIST subset, a small MLP, 3 epochs,
 *   Adam (L2) vs AdamW (normalized decay, the paper's eta_t * lambda scaling), 3 lr x 3 decays.
 * - medium: each claim once on 2 cores (sizes and timing in docs/reproduction.md):
 *     grid     Adam (L2) vs AdamW (lambda_norm), 5 lr x 7 decays from no effect to
 *              over-regularization, 1 seed, with a validation split: the separability heatmaps and
 *              the selection;
 *     seeds    each optimizer at its best (lr, decay) on validation, 5 paired seeds: generalization;
 *     budget   AdamW at its best lr, the 7 lambda_norm at E/3 and E epochs (an epochs axis, one
 *              sweep), 5 seeds: normalized-decay transfer;
 *     restarts AdamWR (T0 = E/3, T_mult 2) and AdamW-cosine at AdamW's best lr and lambda_norm,
 *              5 paired seeds: anytime curves.
 * - full: the paper-scale plan for many workers (`--redis`): CIFAR-10 with standard augmentation,
 *   a 26-layer BN ResNet, 100 epochs, all four optimizers over a 5 x 5 grid x 2 schedules x 2 seeds.
 */
import type { SweepSpecInput } from './spec.js';
import type { SweepOptimizer, SweepSchedule, TrialResult } from './types.js';

export const PRESET_NAMES = ['quick', 'medium', 'full'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Earlier stages' recorded results, by stage directory. */
export type StageResults = ReadonlyMap<string, readonly TrialResult[]>;

export interface PresetStage {
  /** Subdirectory of the preset's sweep directory; '' = the directory itself (one-stage presets). */
  dir: string;
  /** What the stage measures. */
  claim: string;
  /** The stage's spec, from the results of the stages before it. */
  spec(earlier: StageResults): SweepSpecInput;
}

export interface Preset {
  description: string;
  stages: PresetStage[];
}

/** Decoupled optimizers use the paper's conventions: lambda_norm, decay scaled by eta_t only. */
const PAPER_DECOUPLED = { weightDecayNorm: true, decayScale: 'schedule' } as const;

/** Comparable with PyTorch's runs: its layer init and padding=1 on stride-2 convs. */
const TORCH_LIKE = { init: 'torch' } as const;

const QUICK: SweepSpecInput = {
  name: 'quick: Adam vs AdamW, MLP on Fashion-MNIST',
  base: {
    dataset: 'fashion-mnist',
    model: { kind: 'mlp', hidden: [128] },
    ...TORCH_LIKE,
    dataSeed: 1,
    subset: 4000,
    testSubset: 2000,
    epochs: 3,
    batchSize: 128,
  },
  grid: {
    optimizer: ['adam', 'adamw'],
    lr: [3e-4, 1e-3, 3e-3],
    weightDecay: [0],
    schedule: ['cosine'],
    seed: [1],
  },
  perOptimizer: {
    adam: { weightDecay: [0, 1e-4, 1e-3] },
    adamw: { base: PAPER_DECOUPLED, weightDecay: [0, 0.05, 0.2] },
  },
};

/**
 * The medium preset's shared settings. Its cost is counted in trial-epochs of 3,000 training and
 * 3,000 evaluated images: about 4.5 CPU-seconds each as run (docs/reproduction.md).
 */
const MEDIUM_EPOCHS = 6;
const MEDIUM_BASE = {
  dataset: 'fashion-mnist',
  model: { kind: 'resnet', blocksPerStage: 1, width: 8, stridePadding: 'symmetric' },
  ...TORCH_LIKE,
  dataSeed: 1,
  subset: 3000,
  validationSize: 1000,
  testSubset: 2000,
  epochs: MEDIUM_EPOCHS,
  // Batch 64, not 32: a training image cost 3.7 ms of CPU at 64 and 5.7 ms at 32.
  batchSize: 64,
  // Chance level is ln 10 = 2.3: a loss above 5 after the first epoch will not come back.
  divergeLoss: 5,
  divergeAfter: 1,
};
// The first medium run had both optimizers' best lr at its top (3e-2) and 3e-4 far behind, and
// AdamW best at its smallest lambda_norm (0.01) on 4 of 5 rows: the axes moved to hold the optima.
const MEDIUM_LR = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1];
const MEDIUM_L2 = [0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
const MEDIUM_LAMBDA_NORM = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const SEEDS = [1, 2, 3, 4, 5];

const MEDIUM_GRID: SweepSpecInput = {
  name: 'medium grid: Adam vs AdamW, 5 lr x 7 decays, BN ResNet-8 on Fashion-MNIST',
  base: MEDIUM_BASE,
  grid: {
    optimizer: ['adam', 'adamw'],
    lr: MEDIUM_LR,
    weightDecay: [0],
    schedule: ['cosine'],
    seed: [1],
  },
  perOptimizer: {
    adam: { weightDecay: MEDIUM_L2 },
    adamw: { base: PAPER_DECOUPLED, weightDecay: MEDIUM_LAMBDA_NORM },
  },
};

/**
 * The (lr, weight decay) of `optimizer` with the lowest mean final validation error over seeds
 * among its finished trials (diverged and pruned ones excluded); ties go to the first recorded.
 */
export function bestOnValidation(
  results: readonly TrialResult[],
  optimizer: SweepOptimizer,
): { lr: number; weightDecay: number; valError: number } {
  const cells = new Map<string, { lr: number; weightDecay: number; sum: number; n: number }>();
  for (const r of results) {
    const valError = r.final?.valError;
    if (r.params.optimizer !== optimizer || r.status !== 'ok' || r.diverged || r.pruned) continue;
    if (valError === undefined || !Number.isFinite(valError)) continue;
    const key = `${r.params.lr}/${r.params.weightDecay}`;
    const cell = cells.get(key) ?? {
      lr: r.params.lr,
      weightDecay: r.params.weightDecay,
      sum: 0,
      n: 0,
    };
    cell.sum += valError;
    cell.n += 1;
    cells.set(key, cell);
  }
  let best: { lr: number; weightDecay: number; valError: number } | undefined;
  for (const c of cells.values()) {
    if (!best || c.sum / c.n < best.valError) {
      best = { lr: c.lr, weightDecay: c.weightDecay, valError: c.sum / c.n };
    }
  }
  if (!best) {
    throw new Error(
      `no finished ${optimizer} trial with a validation error to choose settings from; ` +
        'run the grid stage to the end first',
    );
  }
  return best;
}

const gridResults = (earlier: StageResults) => earlier.get('grid') ?? [];

/**
 * The generalization stage: each optimizer of `grid` at its best setting on validation in the
 * grid stage, over `seeds` (paired: the same seed gives the same init and data order).
 */
function seedsStage(grid: SweepSpecInput, seeds: number[], testSubset?: number): PresetStage {
  const optimizers = grid.grid.optimizer;
  return {
    dir: 'seeds',
    claim: `generalization: ${optimizers.join(' vs ')} at their best settings on validation, ${seeds.length} paired seeds`,
    spec: (earlier) => {
      const best = optimizers.map((o) => [o, bestOnValidation(gridResults(earlier), o)] as const);
      const perOptimizer = Object.fromEntries(
        best.map(([o, b]) => [
          o,
          { ...grid.perOptimizer?.[o], lr: [b.lr], weightDecay: [b.weightDecay], seed: seeds },
        ]),
      );
      return {
        name: `${grid.name?.split(':')[0]} seeds: each optimizer at its best setting on validation`,
        base: testSubset === undefined ? grid.base : { ...grid.base, testSubset },
        grid: { ...grid.grid, seed: seeds },
        perOptimizer,
      };
    },
  };
}

/**
 * AdamW at its best lr of the grid stage over `seeds`, with either every lambda_norm of the grid at
 * each of `lengths` epochs (an epochs axis: one sweep holds every length), or its best lambda_norm
 * under each of `schedules`.
 */
function adamwAtBest(
  earlier: StageResults,
  name: string,
  axes: { lengths: number[] } | { schedules: SweepSchedule[] },
): SweepSpecInput {
  const best = bestOnValidation(gridResults(earlier), 'adamw');
  const varied =
    'lengths' in axes
      ? { weightDecay: MEDIUM_LAMBDA_NORM, schedule: ['cosine' as const], epochs: axes.lengths }
      : { weightDecay: [best.weightDecay], schedule: axes.schedules };
  return {
    name,
    base: { ...MEDIUM_BASE, ...PAPER_DECOUPLED },
    grid: { optimizer: ['adamw'], lr: [best.lr], seed: SEEDS, ...varied },
  };
}

const MEDIUM: Preset = {
  description:
    'Fashion-MNIST (3k train, 1k validation, 2k test images, fixed data seed), BN ResNet-8 width 8 ' +
    `(PyTorch init and padding), ${MEDIUM_EPOCHS} epochs at batch 64, four sweeps: ` +
    'grid (Adam L2 vs AdamW lambda_norm, 5 lr x 7 decays, cosine; 70 trials), ' +
    'seeds (each at its best setting on validation, 5 paired seeds, full test set; 10 trials), ' +
    `budget (AdamW, 7 lambda_norm at ${MEDIUM_EPOCHS / 3} and ${MEDIUM_EPOCHS} epochs, 5 seeds; 70 trials), ` +
    `restarts (AdamWR, T0 ${MEDIUM_EPOCHS / 3}, T_mult 2, and AdamW-cosine, 5 paired seeds; 10 trials); ` +
    '820 trial-epochs, about 35 minutes on 2 idle cores',
  stages: [
    {
      dir: 'grid',
      claim: 'separable lr and decay (basin shape); settings for the other stages',
      spec: () => structuredClone(MEDIUM_GRID),
    },
    seedsStage(MEDIUM_GRID, SEEDS, 10000),
    {
      dir: 'budget',
      claim: `normalized decay transfers across budgets: best lambda_norm (and raw lambda) at ${MEDIUM_EPOCHS / 3} and ${MEDIUM_EPOCHS} epochs, ${SEEDS.length} seeds`,
      spec: (earlier) =>
        adamwAtBest(
          earlier,
          `medium budget: AdamW at ${MEDIUM_EPOCHS / 3} and ${MEDIUM_EPOCHS} epochs`,
          {
            lengths: [MEDIUM_EPOCHS / 3, MEDIUM_EPOCHS],
          },
        ),
    },
    {
      dir: 'restarts',
      claim: `anytime performance: AdamWR against AdamW-cosine over the same budget, ${SEEDS.length} paired seeds`,
      // Warm restarts default to T0 = epochs / 3, T_mult 2: restarts at E/3 and at the end.
      spec: (earlier) =>
        adamwAtBest(earlier, 'medium restarts: AdamWR (T0 = E/3, T_mult 2) vs AdamW-cosine', {
          schedules: ['cosine', 'warm-restarts'],
        }),
    },
  ],
};

const FULL: SweepSpecInput = {
  name: 'full: Adam/AdamW/SGD/SGDW, ResNet-26 on CIFAR-10',
  base: {
    dataset: 'cifar10',
    model: { kind: 'resnet', blocksPerStage: 4, width: 32, stridePadding: 'symmetric' },
    ...TORCH_LIKE,
    validationSize: 5000,
    dataSeed: 1,
    epochs: 100,
    batchSize: 128,
    augment: { cropPadding: 4, flip: true },
    divergeLoss: 5,
    divergeAfter: 2,
  },
  grid: {
    optimizer: ['adam', 'adamw', 'sgd', 'sgdw'],
    lr: [1e-3],
    weightDecay: [0],
    schedule: ['cosine', 'warm-restarts'],
    seed: [1, 2],
  },
  perOptimizer: {
    adam: { lr: [2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3], weightDecay: [0, 1e-5, 1e-4, 1e-3, 1e-2] },
    adamw: {
      base: PAPER_DECOUPLED,
      lr: [2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3],
      weightDecay: [0.0125, 0.025, 0.05, 0.1, 0.2],
    },
    sgd: { lr: [0.0125, 0.025, 0.05, 0.1, 0.2], weightDecay: [0, 1e-4, 3e-4, 1e-3, 3e-3] },
    sgdw: {
      base: PAPER_DECOUPLED,
      lr: [0.0125, 0.025, 0.05, 0.1, 0.2],
      weightDecay: [0.0125, 0.025, 0.05, 0.1, 0.2],
    },
  },
  schedules: { 'warm-restarts': { kind: 'warm-restarts', t0: 100 / 3, tMult: 2, min: 0 } },
};

const oneStage = (spec: SweepSpecInput, claim: string, dir = ''): PresetStage[] => [
  { dir, claim, spec: () => structuredClone(spec) },
];

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    description:
      'Fashion-MNIST, 4k-image subset, MLP 784-128-10 (PyTorch init), 3 epochs, Adam (L2) vs AdamW (lambda_norm), 3 lr x 3 weight decays, 1 seed (18 trials, ~20 s on 2 idle cores)',
    stages: oneStage(QUICK, 'a demo of every part; too small and short to show a decay effect'),
  },
  medium: MEDIUM,
  full: {
    description:
      'CIFAR-10 (--data-dir; 5k validation), crop+flip augmentation, BN ResNet-26 (width 32, PyTorch init and padding), 100 epochs, all four optimizers, 5 lr x 5 weight decays, cosine and warm restarts, 2 seeds (400 trials), then each optimizer at its best setting on validation over 5 paired seeds (40 trials): run with --redis and many workers',
    stages: [
      ...oneStage(FULL, 'every claim at paper scale, on workers', 'grid'),
      seedsStage(FULL, SEEDS),
    ],
  },
};

/** The preset's first sweep (`sweep --preset NAME`), a copy callers may edit. */
export function presetSpec(name: PresetName): SweepSpecInput {
  return PRESETS[name].stages[0].spec(new Map());
}

/**
 * The reproduction presets of `decoupled reproduce --preset NAME`, as sweep specs.
 *
 * - quick: a demo and CI end-to-end test. Fashion-MNIST subset, a small MLP, 3 epochs, Adam (L2)
 *   vs AdamW (normalized decay, the paper's eta_t * lambda scaling) over 3 lr x 3 weight decays.
 *   A PyTorch pilot measured that such a small, short, unnormalized model shows no decay effect, and the
 *   report says so; its job is to exercise every part (about 20 s on 2 idle cores).
 * - medium: the regime where the PyTorch pilot saw AdamW lead: a BatchNorm ResNet-8 (almost every weight
 *   scale-invariant), 1000 steps on a 4k subset, cosine annealing, Adam (L2) vs AdamW (normalized
 *   decay) over 3 lr x 3 weight decays x 2 seeds. Width 8, because the width-16 network of
 *   the pilot trained at ~40 images per CPU-second on wasm here; a reduced run (2k images, 315
 *   steps) measured ~490 training images/s (+ evaluation) with 3 threads on 2 idle cores, which
 *   puts this preset at about 40 minutes.
 * - full: the paper-scale plan for many workers (`--redis`): CIFAR-10 with standard augmentation,
 *   a 26-layer BN ResNet, 100 epochs, all four optimizers over a 5 x 5 grid x 2 schedules x 2 seeds.
 */
import type { SweepSpecInput } from './spec.js';

export const PRESET_NAMES = ['quick', 'medium', 'full'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Decoupled optimizers use the paper's conventions: lambda_norm, decay scaled by eta_t only. */
const PAPER_DECOUPLED = { weightDecayNorm: true, decayScale: 'schedule' } as const;

export const PRESETS: Record<PresetName, SweepSpecInput & { description: string }> = {
  quick: {
    description:
      'Fashion-MNIST, 4k-image subset, MLP 784-128-10, 3 epochs, Adam (L2) vs AdamW (lambda_norm), 3 lr x 3 weight decays, 1 seed (18 trials, ~20 s on 2 idle cores)',
    name: 'quick: Adam vs AdamW, MLP on Fashion-MNIST',
    base: {
      dataset: 'fashion-mnist',
      model: { kind: 'mlp', hidden: [128] },
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
  },
  medium: {
    description:
      'Fashion-MNIST, 4k-image subset (2k test), BN ResNet-8 (width 8), 8 epochs at batch 32 (1000 steps), cosine, Adam (L2) vs AdamW (lambda_norm), 3 lr x 3 weight decays, 2 seeds (36 trials, about 40 minutes on 2 idle cores)',
    name: 'medium: Adam vs AdamW, BN ResNet-8 on Fashion-MNIST',
    base: {
      dataset: 'fashion-mnist',
      model: { kind: 'resnet', blocksPerStage: 1, width: 8 },
      subset: 4000,
      testSubset: 2000,
      epochs: 8,
      batchSize: 32,
    },
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-3, 3e-3, 1e-2],
      weightDecay: [0],
      schedule: ['cosine'],
      seed: [1, 2],
    },
    perOptimizer: {
      adam: { weightDecay: [0, 1e-3, 1e-2] },
      // No 0 column: AdamW without decay is Adam without decay, measured once in adam's grid.
      adamw: { base: PAPER_DECOUPLED, weightDecay: [0.05, 0.1, 0.2] },
    },
  },
  full: {
    description:
      'CIFAR-10 (--data-dir), crop+flip augmentation, BN ResNet-26 (width 32), 100 epochs, all four optimizers, 5 lr x 5 weight decays, cosine and warm restarts, 2 seeds (400 trials: run with --redis and many workers)',
    name: 'full: Adam/AdamW/SGD/SGDW, ResNet-26 on CIFAR-10',
    base: {
      dataset: 'cifar10',
      model: { kind: 'resnet', blocksPerStage: 4, width: 32 },
      epochs: 100,
      batchSize: 128,
      augment: { cropPadding: 4, flip: true },
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
  },
};

/** The preset's spec (a copy; callers may edit it). */
export function presetSpec(name: PresetName): SweepSpecInput {
  const { description: _d, ...spec } = PRESETS[name];
  return structuredClone(spec);
}

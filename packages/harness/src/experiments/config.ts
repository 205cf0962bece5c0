/**
 * The configuration of one training run (`TrainConfig`): a plain-JSON object validated by zod, so a
 * run can be described on the command line, in a sweep grid, in a BullMQ job or in a checkpoint, and
 * rebuilt identically from any of them. `parseTrainConfig` fills defaults and rejects unknown keys.
 *
 * Schedules are given in EPOCHS (fractional epochs advance per batch, as in SGDR); the training loop
 * converts them to steps with stepsPerEpoch = ceil(trainSize / batchSize).
 * Normalized weight decay (paper appendix B.1): when `weightDecayNorm` is true, `weightDecay` is
 * lambda_norm and the applied lambda = lambda_norm * sqrt(batchSize / (trainSize * T)), with T the
 * total epochs, or the current restart period in epochs under warm restarts.
 * With `accumulate: k`, one optimizer step takes k batches (effective batch k * batchSize): the
 * schedules and normalized decay count those steps (./schedule.ts).
 */
import { z } from 'zod';

export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10'] as const;
export type DatasetName = (typeof DATASETS)[number];

export const OPTIMIZERS = [
  'adam',
  'adamw',
  'sgd',
  'sgdw',
  'schedule-free-adamw',
  'schedule-free-sgd',
] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Schedule-free AdamW and SGD (Defazio et al. 2024): no schedule; evaluated at the average x. */
export const SCHEDULE_FREE_OPTIMIZERS = ['schedule-free-adamw', 'schedule-free-sgd'] as const;

/** True for the schedule-free optimizers. */
export function isScheduleFree(optimizer: OptimizerName): boolean {
  return (SCHEDULE_FREE_OPTIMIZERS as readonly string[]).includes(optimizer);
}

/** The schedule-free options (the core's names), which only those optimizers take. */
const SCHEDULE_FREE_KEYS = ['warmupSteps', 'r', 'weightLrPower'] as const;

export const BACKENDS = ['wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

const positiveInt = z.number().int().positive();
const nonNegative = z.number().finite().nonnegative();

/** Initializations: 'keras' (the harness's original) or 'torch' (PyTorch's layer defaults). */
export const INITS = ['keras', 'torch'] as const;
export type InitName = (typeof INITS)[number];

export const STRIDE_PADDINGS = ['same', 'symmetric'] as const;
export type StridePadding = (typeof STRIDE_PADDINGS)[number];

/** Models: an MLP, the PyTorch pilot's small CNN, and a BatchNorm ResNet (ResNet-8 by default). */
export const ModelConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mlp'),
    /** Widths of the hidden layers. */
    hidden: z.array(positiveInt).default([256, 256]),
  }),
  z.strictObject({
    /** conv32-BN-pool, conv64-BN-pool, fc128, fc10 (filters scale with `width`). */
    kind: z.literal('cnn'),
    width: z.number().positive().default(1),
  }),
  z.strictObject({
    /**
     * Stem conv, 3 stages of `blocksPerStage` basic blocks (two 3x3 conv + BN each), widths
     * `width`, 2*width, 4*width, global average pooling, one linear layer. Depth = 6*blocks + 2.
     */
    kind: z.literal('resnet'),
    blocksPerStage: positiveInt.default(1),
    width: positiveInt.default(16),
    /**
     * Padding of the stride-2 3x3 convs: 'same' (tfjs: 0 rows/columns before, 1 after, so the
     * main branch sits one pixel off the 1x1 stride-2 shortcut) or 'symmetric' (1 on every side,
     * PyTorch's padding=1, aligned with the shortcut). Absent: 'same'.
     */
    stridePadding: z.enum(STRIDE_PADDINGS).optional(),
  }),
]);
export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export const MODEL_KINDS = ['mlp', 'cnn', 'resnet'] as const;

/** Learning-rate multiplier schedules, lengths in epochs. */
export const ScheduleConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant') }),
  z.strictObject({
    /** Cosine annealing from 1 to `min` over the whole run (no restarts). */
    kind: z.literal('cosine'),
    min: nonNegative.default(0),
  }),
  z.strictObject({
    /** SGDR: first period t0 epochs, each next period tMult times longer. */
    kind: z.literal('warm-restarts'),
    t0: z.number().positive(),
    tMult: z.number().min(1).default(2),
    min: nonNegative.default(0),
  }),
  z.strictObject({
    /** Multiply by `gamma` at each milestone epoch (e.g. 30, 60, 80 of 100). */
    kind: z.literal('step'),
    milestones: z.array(z.number().positive()),
    gamma: z.number().positive().default(0.1),
  }),
]);
export type ScheduleConfig = z.infer<typeof ScheduleConfigSchema>;
export const SCHEDULE_KINDS = ['constant', 'cosine', 'warm-restarts', 'step'] as const;

export const AugmentConfigSchema = z.strictObject({
  /** Zero padding on each side before a random crop back to the original size; 0 = no crop. */
  cropPadding: z.number().int().nonnegative().default(0),
  /** Random horizontal flip with probability 1/2. */
  flip: z.boolean().default(false),
});
export type AugmentConfig = z.infer<typeof AugmentConfigSchema>;

const TrainConfigObject = z.strictObject({
  dataset: z.enum(DATASETS).default('fashion-mnist'),
  /** Directory holding the dataset files; default: the Debian package's directory. */
  dataDir: z.string().min(1).optional(),
  /** Use only the first N training images (after a seeded shuffle); omit for all. */
  subset: positiveInt.optional(),
  /** Use only the first N test images; omit for all. */
  testSubset: positiveInt.optional(),
  /** Images held out from the training set (seeded) to measure validation error; 0 = none. */
  validationSize: z.number().int().nonnegative().default(0),
  /**
   * Seed of the training subset and validation split; absent: `seed`. Fixing it keeps the same
   * images across initialization seeds (order, augmentation and weights still follow `seed`).
   */
  dataSeed: z.number().int().nonnegative().optional(),
  model: ModelConfigSchema.default({ kind: 'cnn', width: 1 }),
  /**
   * Initial weights. 'keras' (absent): tfjs's He-normal (a normal truncated at 2 sd, not
   * rescaled: 0.88x He's sd) for conv and hidden dense kernels, Glorot-uniform for the classifier,
   * zero biases. 'torch': PyTorch's defaults for Conv2d and Linear, weights and biases
   * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).
   */
  init: z.enum(INITS).optional(),
  optimizer: z.enum(OPTIMIZERS).default('adamw'),
  /** Base learning rate alpha. */
  lr: z.number().finite().positive().default(1e-3),
  /** Weight decay lambda (decoupled for adamw/sgdw, L2 for adam/sgd), or lambda_norm. */
  weightDecay: nonNegative.default(0),
  /** Treat weightDecay as the normalized lambda_norm. */
  weightDecayNorm: z.boolean().default(false),
  /**
   * Decay every weight, as PyTorch does by default. Default false: tensors of rank <= 1 (biases,
   * BatchNorm gamma and beta) get no decay, the project's default rule.
   */
  decayAll: z.boolean().default(false),
  /** Decoupled decay scaled by lr * eta_t ('lr', PyTorch) or by eta_t alone ('schedule', paper). */
  decayScale: z.enum(['lr', 'schedule']).default('lr'),
  /** SGD momentum (sgd, sgdw); beta of schedule-free-sgd. */
  momentum: z.number().min(0).max(1).default(0.9),
  nesterov: z.boolean().default(false),
  /** Adam betas (beta1 is schedule-free-adamw's beta). */
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /**
   * Weight averaging: the optimizer keeps an exponential moving average of the weights with this
   * decay (Keras `use_ema` / `ema_momentum`), and every evaluation uses the averaged weights
   * (BatchNorm statistics stay those of training). Absent: none, the trained weights.
   */
  ema: z.number().min(0).lt(1).optional(),
  /**
   * Gradient accumulation: one optimizer step every `accumulate` batches, on their mean gradient
   * (optax MultiSteps, Keras `gradient_accumulation_steps`). Absent: 1, a step per batch.
   */
  accumulate: positiveInt.optional(),
  /** Schedule-free only: linear warmup of lr over this many steps (the core's); absent: 0. */
  warmupSteps: z.number().int().nonnegative().optional(),
  /** Schedule-free only: the average weights step k by (k + 1)^r (the core's r); absent: 0. */
  r: nonNegative.optional(),
  /** Schedule-free only: ... and by lrMax^weightLrPower (the core's); absent: 2. */
  weightLrPower: nonNegative.optional(),
  schedule: ScheduleConfigSchema.default({ kind: 'constant' }),
  epochs: positiveInt.default(10),
  batchSize: positiveInt.default(128),
  seed: z.number().int().nonnegative().default(1),
  /**
   * Stop as diverged when the epoch's mean training loss exceeds this bound (from epoch
   * `divergeAfter` on). A non-finite loss always stops the run. Absent: no bound.
   */
  divergeLoss: z.number().finite().positive().optional(),
  /** First epoch (1-based) at which `divergeLoss` is checked; absent: 1. */
  divergeAfter: positiveInt.optional(),
  augment: AugmentConfigSchema.default({ cropPadding: 0, flip: false }),
  /** Run directory: config.json, metrics.jsonl, checkpoint.json, result.json. Omit: nothing saved. */
  out: z.string().min(1).optional(),
  backend: z.enum(BACKENDS).default('wasm'),
  /**
   * Threads of the wasm backend (its threaded build above 1: XNNPACK's and the training kernels'
   * threads, initWasmBackendThreaded). It does not change the
   * numbers (measured bit-identical, docs/harness.md), so trial ids leave it out. Default 1: a
   * sweep runs one trial per core.
   */
  threads: positiveInt.default(1),
});

export const TrainConfigSchema = TrainConfigObject.superRefine((config, ctx) => {
  for (const issue of optimizerConflicts(config)) ctx.addIssue({ code: 'custom', ...issue });
});

/**
 * Settings the run's optimizer cannot take. A schedule-free optimizer replaces the schedule (the
 * reference's docs advise against adding one), scales its decay by lr_t and has no Nesterov
 * variant; its own options apply to it only.
 */
function optimizerConflicts(config: {
  optimizer: OptimizerName;
  schedule: { kind: string };
  decayScale: string;
  nesterov: boolean;
  warmupSteps?: number;
  r?: number;
  weightLrPower?: number;
}): { path: string[]; message: string }[] {
  const name = config.optimizer;
  if (!isScheduleFree(name)) {
    return SCHEDULE_FREE_KEYS.filter((key) => config[key] !== undefined).map((key) => ({
      path: [key],
      message: `applies to ${SCHEDULE_FREE_OPTIMIZERS.join(' and ')} only, not ${name}`,
    }));
  }
  const issues: { path: string[]; message: string }[] = [];
  if (config.schedule.kind !== 'constant') {
    issues.push({
      path: ['schedule'],
      message: `${name} takes no learning-rate schedule (it replaces one): use the constant schedule, not ${config.schedule.kind}`,
    });
  }
  if (config.decayScale !== 'lr') {
    issues.push({
      path: ['decayScale'],
      message: `${name} scales its decay by lr_t, as the reference does: '${config.decayScale}' applies to adamw and sgdw`,
    });
  }
  if (config.nesterov) {
    issues.push({ path: ['nesterov'], message: `applies to sgd and sgdw, not ${name}` });
  }
  return issues;
}

/** The files of a run directory (`out`), named once for the trainer and the CLI. */
export const FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.json',
  result: 'result.json',
} as const;

/**
 * JSON with object keys sorted and undefined values dropped (as JSON.stringify drops them), so
 * equal configs compare and hash equally whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v) ?? 'null').join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A fully defaulted, validated run configuration. */
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
/** What a caller may pass: every field with a default is optional. */
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Validates and fills defaults; throws a ZodError (the CLI maps it to exit code 2). */
export function parseTrainConfig(input: unknown): TrainConfig {
  return TrainConfigSchema.parse(input);
}

/** One line of metrics.jsonl: the state after `epoch` (1-based) full epochs. */
export interface EpochRecord {
  epoch: number;
  /** Optimizer steps taken so far (with `accumulate: k`, one per k batches). */
  step: number;
  /** Mean cross-entropy over the epoch's training batches (with augmentation, training-mode BN). */
  trainLoss: number;
  /** Fraction of training images misclassified during the epoch's batches. */
  trainError: number;
  /** Fraction of held-out validation images misclassified; null without a validation split. */
  valError: number | null;
  /** Fraction of test images misclassified (inference mode). */
  testError: number;
  /** 'ema': valError, testError and testLoss are of the averaged weights; absent: the trained. */
  evaluated?: 'ema';
  /** Mean cross-entropy on the test set. */
  testLoss: number;
  /** lr multiplier eta_t at the epoch's last step. */
  lrMultiplier: number;
  /** Weight decay lambda applied at the epoch's last step. */
  weightDecay: number;
  /** Seconds spent in this epoch (training + evaluation), summed over sessions if resumed. */
  seconds: number;
  /** Training images per second in this epoch. */
  imagesPerSecond: number;
}

export interface TrainResult {
  config: TrainConfig;
  /** One record per completed epoch, including those completed before a resume. */
  epochs: EpochRecord[];
  /** The last epoch's metrics, repeated for convenience. */
  final: {
    trainLoss: number;
    trainError: number;
    valError: number | null;
    testError: number;
    testLoss: number;
  };
  /** True when the run stopped early on an abort signal (a checkpoint was written). */
  aborted: boolean;
  /**
   * True when the training loss became NaN or infinite (or a gradient did), or exceeded
   * `divergeLoss`: the run stopped after recording that epoch (a non-finite trainLoss is null in
   * JSON).
   */
  diverged: boolean;
  /** Number of trainable parameters. */
  params: number;
  /** Total seconds of training across sessions. */
  seconds: number;
}

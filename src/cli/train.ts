/**
 * `decoupled train`: one training run from flags (or a JSON config file plus flags), a thin layer
 * over `runTraining` (src/experiments/train.ts). It turns flags into a TrainConfig, reports bad
 * input as a UsageError (exit 2), prints one JSON line per epoch on stdout, draws a progress bar
 * on a TTY, and on SIGINT/SIGTERM lets the run write its checkpoint before exiting (130/143).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  BACKENDS,
  DATASETS,
  type EpochRecord,
  INITS,
  MODEL_KINDS,
  OPTIMIZERS,
  SCHEDULE_KINDS,
  STRIDE_PADDINGS,
  type TrainConfig,
  TrainConfigSchema,
} from '../experiments/config.js';
import { UsageError, valueAt } from './errors.js';
import { decimal } from './parse.js';

/** The options commander hands the action (all optional: absent means "use the default"). */
export interface TrainFlags {
  config?: string;
  dataset?: string;
  dataDir?: string;
  subset?: number;
  testSubset?: number;
  validationSize?: number;
  dataSeed?: number;
  model?: string;
  init?: string;
  stridePadding?: string;
  hidden?: number[];
  width?: number;
  depth?: number;
  blocks?: number;
  optimizer?: string;
  lr?: number;
  weightDecay?: number;
  weightDecayNorm?: boolean;
  decayAll?: boolean;
  decayScale?: string;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  schedule?: string;
  minLr?: number;
  t0?: number;
  tMult?: number;
  milestones?: number[];
  gamma?: number;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  divergeLoss?: number;
  divergeAfter?: number;
  augment?: boolean;
  cropPadding?: number;
  flip?: boolean;
  out?: string;
  resume?: boolean;
  force?: boolean;
  backend?: string;
  quiet?: boolean;
}

function number(text: string): number {
  const value = decimal(text);
  if (value === undefined) {
    throw new InvalidArgumentError(`expected a decimal number (e.g. 3e-4), received "${text}".`);
  }
  return value;
}

function integer(text: string): number {
  const value = number(text);
  if (!Number.isInteger(value)) {
    throw new InvalidArgumentError(`expected an integer, received "${text}".`);
  }
  return value;
}

function numberList(text: string): number[] {
  const parts = text.split(',');
  try {
    return parts.map((p) => number(p));
  } catch {
    throw new InvalidArgumentError(`expected comma-separated numbers, received "${text}".`);
  }
}

/** Maps a TrainConfig path to the flag that sets it, for error messages. */
const FLAG_OF: Record<string, string> = {
  dataset: '--dataset',
  dataDir: '--data-dir',
  subset: '--subset',
  testSubset: '--test-subset',
  validationSize: '--validation-size',
  dataSeed: '--data-seed',
  'model.hidden': '--hidden',
  'model.width': '--width',
  'model.blocksPerStage': '--blocks (or --depth)',
  optimizer: '--optimizer',
  lr: '--lr',
  weightDecay: '--weight-decay',
  decayScale: '--decay-scale',
  momentum: '--momentum',
  beta1: '--beta1',
  beta2: '--beta2',
  eps: '--eps',
  'schedule.min': '--min-lr',
  'schedule.t0': '--t0',
  'schedule.tMult': '--t-mult',
  'schedule.milestones': '--milestones',
  'schedule.gamma': '--gamma',
  epochs: '--epochs',
  batchSize: '--batch-size',
  seed: '--seed',
  divergeLoss: '--diverge-loss',
  divergeAfter: '--diverge-after',
  'augment.cropPadding': '--crop-padding',
  out: '--out',
  backend: '--backend',
};

/** `base` with the fields of `overrides` that are defined (an absent flag keeps the file's value). */
function merge(base: Record<string, unknown>, overrides: Record<string, unknown>) {
  const defined = Object.entries(overrides).filter(([, v]) => v !== undefined);
  return { ...base, ...Object.fromEntries(defined) } as Record<string, unknown>;
}

/** Reads a JSON TrainConfig (possibly partial): `--config`, or the run dir's for `--resume`. */
function readConfigFile(path: string, flag: '--config' | '--resume'): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${path} (${(error as Error).message})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('not a JSON object');
    }
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`${flag}: ${path} is not a JSON object (${(error as Error).message})`);
  }
}

function requireKind(flag: string, kind: string, allowed: readonly string[], value: unknown) {
  if (value !== undefined && !allowed.includes(kind)) {
    throw new UsageError(`${flag} applies to ${allowed.join(' or ')}; it was given with '${kind}'`);
  }
}

/** Builds and validates the TrainConfig described by the flags; throws UsageError on bad input. */
export function configFromFlags(flags: TrainFlags): TrainConfig {
  // --resume --out DIR alone continues the run described by DIR/config.json.
  const saved = flags.out ? join(flags.out, 'config.json') : null;
  const base = flags.config ?? (flags.resume && saved && existsSync(saved) ? saved : undefined);
  const file = base ? readConfigFile(base, flags.config ? '--config' : '--resume') : {};
  const fileModel = (file.model ?? {}) as Record<string, unknown>;
  const fileSchedule = (file.schedule ?? {}) as Record<string, unknown>;
  const fileAugment = (file.augment ?? {}) as Record<string, unknown>;

  const modelKind = flags.model ?? (fileModel.kind as string | undefined) ?? 'cnn';
  if (!(MODEL_KINDS as readonly string[]).includes(modelKind)) {
    throw new UsageError(
      `--model must be one of ${MODEL_KINDS.join(', ')}; received "${modelKind}"`,
    );
  }
  requireKind('--hidden', modelKind, ['mlp'], flags.hidden);
  requireKind('--width', modelKind, ['cnn', 'resnet'], flags.width);
  requireKind('--depth', modelKind, ['resnet'], flags.depth);
  requireKind('--blocks', modelKind, ['resnet'], flags.blocks);
  requireKind('--stride-padding', modelKind, ['resnet'], flags.stridePadding);
  let blocks = flags.blocks;
  if (flags.depth !== undefined) {
    if (flags.blocks !== undefined) throw new UsageError('give --depth or --blocks, not both');
    if (flags.depth < 8 || (flags.depth - 2) % 6 !== 0) {
      throw new UsageError(`--depth must be 6n + 2 (8, 14, 20, ...); received ${flags.depth}`);
    }
    blocks = (flags.depth - 2) / 6;
  }
  const sameModel = fileModel.kind === modelKind ? fileModel : { kind: modelKind };
  const model = merge(sameModel, {
    kind: modelKind,
    hidden: flags.hidden,
    width: flags.width,
    blocksPerStage: blocks,
    stridePadding: flags.stridePadding,
  });

  const scheduleKind = flags.schedule ?? (fileSchedule.kind as string | undefined) ?? 'constant';
  if (!(SCHEDULE_KINDS as readonly string[]).includes(scheduleKind)) {
    throw new UsageError(
      `--schedule must be one of ${SCHEDULE_KINDS.join(', ')}; received "${scheduleKind}"`,
    );
  }
  requireKind('--min-lr', scheduleKind, ['cosine', 'warm-restarts'], flags.minLr);
  requireKind('--t0', scheduleKind, ['warm-restarts'], flags.t0);
  requireKind('--t-mult', scheduleKind, ['warm-restarts'], flags.tMult);
  requireKind('--milestones', scheduleKind, ['step'], flags.milestones);
  requireKind('--gamma', scheduleKind, ['step'], flags.gamma);
  const sameSchedule = fileSchedule.kind === scheduleKind ? fileSchedule : { kind: scheduleKind };
  const schedule = merge(sameSchedule, {
    kind: scheduleKind,
    min: flags.minLr,
    t0: flags.t0,
    tMult: flags.tMult,
    milestones: flags.milestones,
    gamma: flags.gamma,
  });
  if (scheduleKind === 'warm-restarts' && schedule.t0 === undefined) {
    throw new UsageError('--schedule warm-restarts needs --t0 (the first period, in epochs)');
  }
  if (scheduleKind === 'step' && schedule.milestones === undefined) {
    throw new UsageError('--schedule step needs --milestones (epochs, e.g. 30,60,80)');
  }

  const augment = merge(fileAugment, {
    cropPadding: flags.cropPadding ?? (flags.augment ? 4 : undefined),
    flip: flags.flip ?? (flags.augment ? true : undefined),
  });

  const input = merge(file, {
    dataset: flags.dataset,
    dataDir: flags.dataDir,
    subset: flags.subset,
    testSubset: flags.testSubset,
    validationSize: flags.validationSize,
    dataSeed: flags.dataSeed,
    model,
    init: flags.init,
    optimizer: flags.optimizer,
    lr: flags.lr,
    weightDecay: flags.weightDecay,
    weightDecayNorm: flags.weightDecayNorm,
    decayAll: flags.decayAll,
    decayScale: flags.decayScale,
    momentum: flags.momentum,
    nesterov: flags.nesterov,
    beta1: flags.beta1,
    beta2: flags.beta2,
    eps: flags.eps,
    schedule,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    divergeLoss: flags.divergeLoss,
    divergeAfter: flags.divergeAfter,
    augment,
    out: flags.out,
    backend: flags.backend,
  });
  const parsed = TrainConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const path = issue.path.join('.');
      const flag = FLAG_OF[path] ?? (path || 'config');
      const received = path ? valueAt(input, issue.path) : undefined;
      const shown = received === undefined ? '' : `; received ${JSON.stringify(received)}`;
      return `${flag}: ${issue.message}${shown}`;
    });
    throw new UsageError(lines.join('\n'));
  }
  const config = parsed.data;
  config.out ??= join(
    'runs',
    `${config.dataset}-${config.model.kind}-${config.optimizer}-s${config.seed}`,
  );
  return config;
}

const EXAMPLE = `
Examples:
  $ decoupled train --model cnn --optimizer adamw --lr 1e-3 --weight-decay 0.05 \\
      --weight-decay-norm --schedule cosine --epochs 8 --subset 10000 --out runs/adamw-cnn
  $ decoupled train --dataset fashion-mnist --model resnet --optimizer adamw --lr 1e-3 \\
      --weight-decay 0.05 --weight-decay-norm --decay-scale schedule --schedule warm-restarts \\
      --t0 10 --t-mult 2 --epochs 30 --batch-size 128 --seed 1 --out runs/adamw-1
  $ decoupled train --out runs/adamw-1 --resume     (continue after Ctrl-C or a kill)

Output (in --out): config.json, metrics.jsonl (one JSON line per epoch: trainLoss, trainError,
valError, testError, testLoss, lrMultiplier, weightDecay, seconds, imagesPerSecond), checkpoint.json
(written atomically after every epoch and on SIGINT/SIGTERM) and result.json when done.
Fashion-MNIST comes from \`apt-get install dataset-fashion-mnist\`; other data via --data-dir.
Exit codes: 0 done, 2 bad input, 130/143 interrupted by SIGINT/SIGTERM (checkpoint saved).
`;

export function register(program: Command): void {
  program
    .command('train')
    .description('Train one model on real data with a decoupled (or L2) optimizer, resumably.')
    .option('--config <file>', 'a JSON TrainConfig; flags given override its fields')
    .addOption(new Option('--dataset <name>', 'dataset (default fashion-mnist)').choices(DATASETS))
    .option(
      '--data-dir <dir>',
      'directory of the dataset files (default /usr/share/datasets/<name>)',
    )
    .option('--subset <n>', 'train on N images of the training set, drawn by seed', integer)
    .option('--test-subset <n>', 'evaluate on the first N test images', integer)
    .option(
      '--validation-size <n>',
      'hold out N training images for validation error (default 0)',
      integer,
    )
    .option(
      '--data-seed <n>',
      'seed of the subset and validation split, apart from --seed (default: --seed)',
      integer,
    )
    .addOption(new Option('--model <kind>', 'model (default cnn)').choices(MODEL_KINDS))
    .addOption(
      new Option(
        '--init <kind>',
        "initial weights: 'torch' (PyTorch's Conv2d/Linear defaults) or 'keras' (default)",
      ).choices(INITS),
    )
    .addOption(
      new Option(
        '--stride-padding <mode>',
        "resnet: stride-2 convs padded 'symmetric' (PyTorch padding=1) or 'same' (tfjs, default)",
      ).choices(STRIDE_PADDINGS),
    )
    .option(
      '--hidden <widths>',
      'mlp: hidden layer widths, comma-separated (default 256,256)',
      numberList,
    )
    .option(
      '--width <w>',
      'cnn: filter multiplier (default 1); resnet: first-stage width (default 16)',
      number,
    )
    .option('--depth <d>', 'resnet: depth 6n+2 (default 8)', integer)
    .option(
      '--blocks <n>',
      'resnet: basic blocks per stage (default 1), instead of --depth',
      integer,
    )
    .addOption(
      new Option(
        '--optimizer <kind>',
        'adamw/sgdw (decoupled) or adam/sgd (L2); default adamw',
      ).choices(OPTIMIZERS),
    )
    .option('--lr <alpha>', 'base learning rate (default 1e-3)', number)
    .option(
      '--weight-decay <lambda>',
      'weight decay; lambda_norm with --weight-decay-norm (default 0)',
      number,
    )
    .option(
      '--weight-decay-norm',
      'normalized decay: lambda = value * sqrt(batch / (trainSize * T))',
    )
    .option(
      '--decay-all',
      'decay biases and BatchNorm gamma/beta too (PyTorch default); default: not',
    )
    .addOption(
      new Option(
        '--decay-scale <scale>',
        "decoupled decay scaled by lr*eta ('lr', PyTorch) or eta ('schedule', paper); default lr",
      ).choices(['lr', 'schedule']),
    )
    .option('--momentum <mu>', 'sgd/sgdw momentum (default 0.9)', number)
    .option('--nesterov', 'sgd/sgdw: Nesterov momentum')
    .option('--beta1 <b1>', 'adam/adamw beta1 (default 0.9)', number)
    .option('--beta2 <b2>', 'adam/adamw beta2 (default 0.999)', number)
    .option('--eps <eps>', 'adam/adamw epsilon (default 1e-8)', number)
    .addOption(
      new Option(
        '--schedule <kind>',
        'lr multiplier schedule, stepped per batch (default constant)',
      ).choices(SCHEDULE_KINDS),
    )
    .option('--min-lr <ratio>', 'cosine, warm-restarts: final multiplier (default 0)', number)
    .option('--t0 <epochs>', 'warm-restarts: first period in epochs', number)
    .option('--t-mult <k>', 'warm-restarts: period growth factor (default 2)', number)
    .option(
      '--milestones <epochs>',
      'step: epochs at which lr is multiplied by --gamma, e.g. 30,60,80',
      numberList,
    )
    .option('--gamma <g>', 'step: factor per milestone (default 0.1)', number)
    .option('--epochs <n>', 'epochs (default 10)', integer)
    .option('--batch-size <n>', 'batch size (default 128)', integer)
    .option(
      '--seed <n>',
      'seed of data split (unless --data-seed), order, augmentation, initial weights (default 1)',
      integer,
    )
    .option(
      '--diverge-loss <bound>',
      "stop as diverged when an epoch's training loss exceeds this (default: only NaN/inf)",
      number,
    )
    .option('--diverge-after <k>', 'check --diverge-loss from epoch k on (default 1)', integer)
    .option('--augment', 'standard augmentation: --crop-padding 4 and --flip')
    .option('--crop-padding <px>', 'random crop of the zero-padded image (default 0: off)', integer)
    .option('--flip', 'random horizontal flips')
    .option('--out <dir>', 'run directory (default runs/<dataset>-<model>-<optimizer>-s<seed>)')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--force', 'start afresh even if --out holds a checkpoint')
    .addOption(new Option('--backend <name>', 'tfjs backend (default wasm)').choices(BACKENDS))
    .option('--quiet', 'no progress bar and no per-epoch lines on stdout')
    .addHelpText('after', EXAMPLE)
    .action(async (flags: TrainFlags) => {
      await trainAction(flags);
    });
}

async function trainAction(flags: TrainFlags): Promise<void> {
  const config = configFromFlags(flags);
  const out = config.out as string;
  const checkpoint = join(out, 'checkpoint.json');
  if (flags.resume && flags.force) {
    throw new UsageError('--resume continues a run and --force starts it afresh; give one');
  }
  if (!flags.resume && !flags.force && existsSync(checkpoint)) {
    throw new UsageError(
      `--out ${out} already holds a run (checkpoint.json); pass --resume to continue it, ` +
        '--force to start afresh, or another --out',
    );
  }
  if (flags.resume && !existsSync(checkpoint)) {
    throw new UsageError(`--resume: no checkpoint.json in --out ${out}`);
  }
  const { runTraining } = await import('../experiments/train.js');
  const { DatasetError } = await import('../experiments/data/index.js');
  const { CheckpointError } = await import('../experiments/checkpoint.js');
  const controller = new AbortController();
  let signalName: NodeJS.Signals | null = null;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalName) {
      // A second signal: stop now (the last checkpoint on disk is whole; it is written atomically).
      process.stderr.write(`\n${name} again: exiting without a new checkpoint\n`);
      process.exit(name === 'SIGINT' ? 130 : 143);
    }
    signalName = name;
    process.stderr.write(`\n${name}: stopping after this batch and saving a checkpoint...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runTraining(config, {
      signal: controller.signal,
      resume: flags.resume === true,
      progress: !flags.quiet && process.stdout.isTTY === true,
      onEpoch: (record: EpochRecord) => {
        if (!flags.quiet) process.stdout.write(`${JSON.stringify(record)}\n`);
      },
    });
    if (result.aborted) {
      process.stderr.write(
        `checkpoint saved in ${out}; continue with: decoupled train --out ${out} --resume\n`,
      );
      process.exitCode = signalName === 'SIGINT' ? 130 : 143;
      return;
    }
    if (result.diverged) {
      process.stderr.write(
        `diverged: the training loss became NaN or infinite in epoch ${result.epochs.length}; ` +
          `the run stopped (results in ${out})\n`,
      );
      return;
    }
    const f = result.final;
    process.stderr.write(
      `done: test error ${(f.testError * 100).toFixed(2)}%, train loss ${f.trainLoss.toFixed(4)}, ` +
        `${result.seconds.toFixed(0)} s; results in ${out}\n`,
    );
  } catch (error) {
    if (error instanceof DatasetError || error instanceof CheckpointError) {
      throw new UsageError(error.message);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `decoupled train`: one training run from flags (or a JSON config file plus flags), a thin layer
 * over `runTraining` (src/experiments/train.ts). It turns flags into a TrainConfig, reports bad
 * input as a UsageError (exit 2), prints each epoch on stdout (a readable line on a terminal, the
 * JSON record of metrics.jsonl elsewhere or with --json), draws a progress bar on a TTY, and on
 * SIGINT/SIGTERM lets the run write its checkpoint before exiting (130/143).
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { OptionError } from 'decoupled';
import {
  BACKENDS,
  DATASETS,
  type EpochRecord,
  FILES,
  INITS,
  MODEL_KINDS,
  OPTIMIZERS,
  SCHEDULE_KINDS,
  STRIDE_PADDINGS,
  type TrainConfig,
  TrainConfigSchema,
} from '../experiments/config.js';
import { schemaErrorToUsage, UsageError } from './errors.js';
import {
  argParser,
  parseCount,
  parseInteger,
  parseName,
  parseNumber,
  parseNumbers,
} from './parse.js';
import { signalExitCode, untilStopped } from './signals.js';

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
  ema?: number;
  accumulate?: number;
  warmupSteps?: number;
  r?: number;
  weightLrPower?: number;
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
  threads?: number;
  json?: boolean;
  quiet?: boolean;
}

const number = (flag: string) => argParser(flag, parseNumber);
const integer = (flag: string) => argParser(flag, parseInteger);
const numbers = (flag: string) => argParser(flag, parseNumbers);
/** --threads: an integer >= 1, or 'auto' for one per core. */
const threadsArg = (text: string) =>
  text.trim() === 'auto' ? availableParallelism() : parseCount('--threads', text);

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
  ema: '--ema',
  accumulate: '--accumulate',
  warmupSteps: '--warmup-steps',
  r: '--r',
  weightLrPower: '--weight-lr-power',
  nesterov: '--nesterov',
  schedule: '--schedule',
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
  threads: '--threads',
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
  // --resume --out DIR alone continues the run described by the config file in DIR.
  const saved = flags.out ? join(flags.out, FILES.config) : null;
  const base = flags.config ?? (flags.resume && saved && existsSync(saved) ? saved : undefined);
  const file = base ? readConfigFile(base, flags.config ? '--config' : '--resume') : {};
  const fileAugment = (file.augment ?? {}) as Record<string, unknown>;
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
    model: modelFromFlags(flags, (file.model ?? {}) as Record<string, unknown>),
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
    ema: flags.ema,
    accumulate: flags.accumulate,
    warmupSteps: flags.warmupSteps,
    r: flags.r,
    weightLrPower: flags.weightLrPower,
    schedule: scheduleFromFlags(flags, (file.schedule ?? {}) as Record<string, unknown>),
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    divergeLoss: flags.divergeLoss,
    divergeAfter: flags.divergeAfter,
    augment,
    out: flags.out,
    backend: flags.backend,
    threads: flags.threads,
  });
  let config: TrainConfig;
  try {
    config = TrainConfigSchema.parse(input);
  } catch (error) {
    throw schemaErrorToUsage(error, input, (path) => {
      const where = path.join('.');
      return FLAG_OF[where] ?? (where || 'config');
    });
  }
  config.out ??= join(
    'runs',
    `${config.dataset}-${config.model.kind}-${config.optimizer}-s${config.seed}`,
  );
  return config;
}

/** The model config: the file's (if of the same kind) with the model flags over it. */
function modelFromFlags(flags: TrainFlags, fileModel: Record<string, unknown>) {
  const kind = parseName('--model', flags.model ?? String(fileModel.kind ?? 'cnn'), MODEL_KINDS);
  requireKind('--hidden', kind, ['mlp'], flags.hidden);
  requireKind('--width', kind, ['cnn', 'resnet'], flags.width);
  requireKind('--depth', kind, ['resnet'], flags.depth);
  requireKind('--blocks', kind, ['resnet'], flags.blocks);
  requireKind('--stride-padding', kind, ['resnet'], flags.stridePadding);
  let blocks = flags.blocks;
  if (flags.depth !== undefined) {
    if (flags.blocks !== undefined) throw new UsageError('give --depth or --blocks, not both');
    if (flags.depth < 8 || (flags.depth - 2) % 6 !== 0) {
      throw new OptionError('--depth', flags.depth, '6n + 2 (8, 14, 20, ...)');
    }
    blocks = (flags.depth - 2) / 6;
  }
  const same = fileModel.kind === kind ? fileModel : { kind };
  return merge(same, {
    kind,
    hidden: flags.hidden,
    width: flags.width,
    blocksPerStage: blocks,
    stridePadding: flags.stridePadding,
  });
}

/** The schedule config: the file's (if of the same kind) with the schedule flags over it. */
function scheduleFromFlags(flags: TrainFlags, fileSchedule: Record<string, unknown>) {
  const kind = parseName(
    '--schedule',
    flags.schedule ?? String(fileSchedule.kind ?? 'constant'),
    SCHEDULE_KINDS,
  );
  requireKind('--min-lr', kind, ['cosine', 'warm-restarts'], flags.minLr);
  requireKind('--t0', kind, ['warm-restarts'], flags.t0);
  requireKind('--t-mult', kind, ['warm-restarts'], flags.tMult);
  requireKind('--milestones', kind, ['step'], flags.milestones);
  requireKind('--gamma', kind, ['step'], flags.gamma);
  const same = fileSchedule.kind === kind ? fileSchedule : { kind };
  const schedule = merge(same, {
    kind,
    min: flags.minLr,
    t0: flags.t0,
    tMult: flags.tMult,
    milestones: flags.milestones,
    gamma: flags.gamma,
  });
  if (kind === 'warm-restarts' && schedule.t0 === undefined) {
    throw new UsageError('--schedule warm-restarts needs --t0 (the first period, in epochs)');
  }
  if (kind === 'step' && schedule.milestones === undefined) {
    throw new UsageError('--schedule step needs --milestones (epochs, e.g. 30,60,80)');
  }
  return schedule;
}

const EXAMPLE = `
Examples:
  $ decoupled train --model cnn --optimizer adamw --lr 1e-3 --weight-decay 0.05 \\
      --weight-decay-norm --schedule cosine --epochs 8 --subset 10000 --out runs/adamw-cnn
  $ decoupled train --dataset fashion-mnist --model resnet --optimizer adamw --lr 1e-3 \\
      --weight-decay 0.05 --weight-decay-norm --decay-scale schedule --schedule warm-restarts \\
      --t0 10 --t-mult 2 --epochs 30 --batch-size 128 --seed 1 --out runs/adamw-1
  $ decoupled train --model cnn --optimizer schedule-free-adamw --lr 5e-3 --warmup-steps 200 \\
      --weight-decay 0.01 --epochs 8 --out runs/sf-cnn     (no --schedule: constant only)
  $ decoupled train --out runs/adamw-1 --resume     (continue after Ctrl-C or a kill)

Output (in --out): ${FILES.config}, ${FILES.metrics} (one JSON line per epoch: trainLoss,
trainError, valError, testError, testLoss, lrMultiplier, weightDecay, seconds, imagesPerSecond),
${FILES.checkpoint} (written atomically after every epoch and on SIGINT/SIGTERM) and
${FILES.result} when done. On stdout each epoch is a readable line on a terminal, and its JSON
record when stdout is not a terminal or with --json.
Fashion-MNIST comes from \`apt-get install dataset-fashion-mnist\`; other data via --data-dir.
Exit codes: 0 done, 2 bad input, 130/143 interrupted by SIGINT/SIGTERM (checkpoint saved).
`;

export function register(program: Command): void {
  const command = program
    .command('train')
    .description('Train one model on real data with a decoupled (or L2) optimizer, resumably.')
    .option('--config <file>', 'a JSON TrainConfig; flags given override its fields');
  addDataOptions(command);
  addModelOptions(command);
  addOptimizerOptions(command);
  addScheduleOptions(command);
  addRunOptions(command);
  command.addHelpText('after', EXAMPLE).action(async (flags: TrainFlags) => {
    await trainAction(flags);
  });
}

function addDataOptions(command: Command): void {
  command
    .addOption(new Option('--dataset <name>', 'dataset (default fashion-mnist)').choices(DATASETS))
    .option(
      '--data-dir <dir>',
      'directory of the dataset files (default /usr/share/datasets/<name>)',
    )
    .option(
      '--subset <n>',
      'train on N images of the training set, drawn by seed',
      integer('--subset'),
    )
    .option('--test-subset <n>', 'evaluate on the first N test images', integer('--test-subset'))
    .option(
      '--validation-size <n>',
      'hold out N training images for validation error (default 0)',
      integer('--validation-size'),
    )
    .option(
      '--data-seed <n>',
      'seed of the subset and validation split, apart from --seed (default: --seed)',
      integer('--data-seed'),
    )
    .option('--augment', 'standard augmentation: --crop-padding 4 and --flip')
    .option(
      '--crop-padding <px>',
      'random crop of the zero-padded image (default 0: off)',
      integer('--crop-padding'),
    )
    .option('--flip', 'random horizontal flips');
}

function addModelOptions(command: Command): void {
  command
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
      numbers('--hidden'),
    )
    .option(
      '--width <w>',
      'cnn: filter multiplier (default 1); resnet: first-stage width (default 16)',
      number('--width'),
    )
    .option('--depth <d>', 'resnet: depth 6n+2 (default 8)', integer('--depth'))
    .option(
      '--blocks <n>',
      'resnet: basic blocks per stage (default 1), instead of --depth',
      integer('--blocks'),
    );
}

function addOptimizerOptions(command: Command): void {
  command
    .addOption(
      new Option(
        '--optimizer <kind>',
        'adamw/sgdw (decoupled), adam/sgd (L2), schedule-free-adamw/-sgd; default adamw',
      ).choices(OPTIMIZERS),
    )
    .option('--lr <alpha>', 'base learning rate (default 1e-3)', number('--lr'))
    .option(
      '--weight-decay <lambda>',
      'weight decay; lambda_norm with --weight-decay-norm (default 0)',
      number('--weight-decay'),
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
    .option(
      '--momentum <mu>',
      'sgd/sgdw momentum, schedule-free-sgd beta (default 0.9)',
      number('--momentum'),
    )
    .option('--nesterov', 'sgd/sgdw: Nesterov momentum')
    .option(
      '--beta1 <b1>',
      'adam/adamw beta1, schedule-free-adamw beta (default 0.9)',
      number('--beta1'),
    )
    .option('--beta2 <b2>', 'adam/adamw beta2 (default 0.999)', number('--beta2'))
    .option('--eps <eps>', 'adam/adamw epsilon (default 1e-8)', number('--eps'))
    .option(
      '--ema <decay>',
      'average the weights (EMA with this decay, e.g. 0.999) and evaluate with the average',
      number('--ema'),
    )
    .option(
      '--accumulate <k>',
      'one optimizer step every k batches, on their mean gradient (default 1)',
      integer('--accumulate'),
    )
    .option(
      '--warmup-steps <n>',
      'schedule-free: linear lr warmup over n steps (default 0)',
      integer('--warmup-steps'),
    )
    .option('--r <r>', 'schedule-free: average weighted by (k+1)^r (default 0)', number('--r'))
    .option(
      '--weight-lr-power <p>',
      'schedule-free: average weighted by lrMax^p (default 2)',
      number('--weight-lr-power'),
    );
}

function addScheduleOptions(command: Command): void {
  command
    .addOption(
      new Option(
        '--schedule <kind>',
        'lr multiplier schedule, stepped per batch (default constant)',
      ).choices(SCHEDULE_KINDS),
    )
    .option(
      '--min-lr <ratio>',
      'cosine, warm-restarts: final multiplier (default 0)',
      number('--min-lr'),
    )
    .option('--t0 <epochs>', 'warm-restarts: first period in epochs', number('--t0'))
    .option('--t-mult <k>', 'warm-restarts: period growth factor (default 2)', number('--t-mult'))
    .option(
      '--milestones <epochs>',
      'step: epochs at which lr is multiplied by --gamma, e.g. 30,60,80',
      numbers('--milestones'),
    )
    .option('--gamma <g>', 'step: factor per milestone (default 0.1)', number('--gamma'));
}

function addRunOptions(command: Command): void {
  command
    .option('--epochs <n>', 'epochs (default 10)', integer('--epochs'))
    .option('--batch-size <n>', 'batch size (default 128)', integer('--batch-size'))
    .option(
      '--seed <n>',
      'seed of data split (unless --data-seed), order, augmentation, initial weights (default 1)',
      integer('--seed'),
    )
    .option(
      '--diverge-loss <bound>',
      "stop as diverged when an epoch's training loss exceeds this (default: only NaN/inf)",
      number('--diverge-loss'),
    )
    .option(
      '--diverge-after <k>',
      'check --diverge-loss from epoch k on (default 1)',
      integer('--diverge-after'),
    )
    .option('--out <dir>', 'run directory (default runs/<dataset>-<model>-<optimizer>-s<seed>)')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--force', 'start afresh even if --out holds a checkpoint')
    .addOption(new Option('--backend <name>', 'tfjs backend (default wasm)').choices(BACKENDS))
    .option(
      '--threads <n|auto>',
      "wasm: threads (XNNPACK's and the training kernels'), 'auto' = one per core (default 1); the numbers do not change",
      threadsArg,
    )
    .option('--json', 'print each epoch as its JSON record (the default when stdout is no TTY)')
    .option('--quiet', 'no progress bar and no per-epoch lines on stdout');
}

/** Refuses --resume without a checkpoint, and a new run over one without --force. */
function checkRunDirectory(flags: TrainFlags, out: string): void {
  const checkpoint = join(out, FILES.checkpoint);
  if (flags.resume && flags.force) {
    throw new UsageError('--resume continues a run and --force starts it afresh; give one');
  }
  if (!flags.resume && !flags.force && existsSync(checkpoint)) {
    throw new UsageError(
      `--out ${out} already holds a run (${FILES.checkpoint}); pass --resume to continue it, ` +
        '--force to start afresh, or another --out',
    );
  }
  if (flags.resume && !existsSync(checkpoint)) {
    throw new UsageError(`--resume: no ${FILES.checkpoint} in --out ${out}`);
  }
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(2)}%`;

/** One epoch as a line a person reads on a terminal (the JSON record is in metrics.jsonl). */
export function describeEpoch(record: EpochRecord, epochs: number): string {
  const validation = record.valError === null ? '' : `, val error ${percent(record.valError)}`;
  const averaged = record.evaluated === 'ema' ? 'evaluated with the averaged weights; ' : '';
  return (
    `epoch ${record.epoch}/${epochs}: train loss ${record.trainLoss.toFixed(4)}, ` +
    `train error ${percent(record.trainError)}${validation}, test error ` +
    `${percent(record.testError)}, test loss ${record.testLoss.toFixed(4)} ` +
    `(${averaged}lr x${record.lrMultiplier.toPrecision(3)}, ` +
    `weight decay ${record.weightDecay.toPrecision(3)}; ` +
    `${record.seconds.toFixed(1)} s, ${Math.round(record.imagesPerSecond)} images/s)`
  );
}

async function trainAction(flags: TrainFlags): Promise<void> {
  const config = configFromFlags(flags);
  const out = config.out as string;
  checkRunDirectory(flags, out);
  const { runTraining } = await import('../experiments/train.js');
  const { DatasetError } = await import('../experiments/data/index.js');
  const { CheckpointError } = await import('../experiments/checkpoint.js');
  const terminal = process.stdout.isTTY === true;
  const json = flags.json === true || !terminal;
  const printEpoch = (record: EpochRecord) => {
    if (flags.quiet) return;
    const line = json ? JSON.stringify(record) : describeEpoch(record, config.epochs);
    process.stdout.write(`${line}\n`);
  };
  try {
    const { value: result, stoppedBy } = await untilStopped(
      {
        stopping: (signal) => `\n${signal}: stopping after this batch and saving a checkpoint...`,
        // The last checkpoint on disk is whole: it is written atomically.
        quitting: (signal) => `\n${signal} again: exiting without a new checkpoint`,
      },
      (signal) =>
        runTraining(config, {
          signal,
          resume: flags.resume === true,
          progress: !flags.quiet && terminal,
          onEpoch: printEpoch,
        }),
    );
    if (result.aborted) {
      process.stderr.write(
        `checkpoint saved in ${out}; continue with: decoupled train --out ${out} --resume\n`,
      );
      process.exitCode = signalExitCode(stoppedBy ?? 'SIGINT');
    } else if (result.diverged) {
      process.stderr.write(
        `diverged: the training loss became NaN or infinite in epoch ${result.epochs.length}; ` +
          `the run stopped (results in ${out})\n`,
      );
    } else {
      const f = result.final;
      process.stderr.write(
        `done: test error ${percent(f.testError)}, train loss ${f.trainLoss.toFixed(4)}, ` +
          `${result.seconds.toFixed(0)} s; results in ${out}\n`,
      );
    }
  } catch (error) {
    if (error instanceof DatasetError || error instanceof CheckpointError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/**
 * `decoupled sweep`: runs a grid of training runs (optimizer x lr x weight decay x schedule x
 * seed, optionally x epochs) from a JSON/YAML spec file and/or flags, on the local worker-thread pool or, with
 * --redis, on BullMQ workers. Re-running on the same --out resumes: finished trials are skipped,
 * interrupted ones continue from their checkpoints. Ctrl-C stops after checkpointing.
 */
import type { Command } from 'commander';
import { OptionError } from 'decoupled';
import { INITS } from '../experiments/config.js';
import { PRESET_NAMES, presetSpec } from '../sweep/presets.js';
import { trialEpochs } from '../sweep/progress.js';
import type { RunSweepOptions, SweepSummary } from '../sweep/run.js';
import { expandGrid, loadSweepSpec, parseSweepSpec, type SweepSpecInput } from '../sweep/spec.js';
import { SWEEP_OPTIMIZERS, SWEEP_SCHEDULES, type TrialRunner } from '../sweep/types.js';
import { describePathError, formatUsageError, schemaErrorToUsage, UsageError } from './errors.js';
import {
  decimal,
  parseCount,
  parseIntegerList,
  parseName,
  parseNameList,
  parseNumber,
  parseNumberList,
} from './parse.js';
import { signalExitCode, untilStopped } from './signals.js';

export interface SweepFlags extends RedisFlags {
  spec?: string;
  preset?: string;
  out?: string;
  name?: string;
  optimizer?: string;
  lr?: string;
  weightDecay?: string;
  schedule?: string;
  seed?: string;
  dataset?: string;
  dataDir?: string;
  model?: string;
  epochs?: string;
  batchSize?: string;
  subset?: string;
  testSubset?: string;
  validationSize?: string;
  dataSeed?: string;
  init?: string;
  divergeLoss?: string;
  divergeAfter?: string;
  prune?: boolean;
  pruneEta?: string;
  weightDecayNorm?: boolean;
  decayScale?: string;
  base?: string;
  concurrency?: string;
  retryFailed?: boolean;
  dryRun?: boolean;
}

/** The spec in `path`, with read, YAML/JSON and schema errors naming --spec and the file. */
async function readSpecFile(path: string): Promise<SweepSpecInput> {
  try {
    return await loadSweepSpec(path);
  } catch (error) {
    const why = describePathError(error, path) ?? formatUsageError(error as Error).split('\n')[0];
    throw new UsageError(`--spec ${path}: ${why}`);
  }
}

/** Which flag sets each path of a sweep spec, for errors in specs built from flags. */
const SPEC_FLAG_OF: Record<string, keyof SweepFlags> = {
  'grid.optimizer': 'optimizer',
  'grid.lr': 'lr',
  'grid.weightDecay': 'weightDecay',
  'grid.schedule': 'schedule',
  'grid.seed': 'seed',
  'base.dataset': 'dataset',
  'base.dataDir': 'dataDir',
  'base.model': 'model',
  'base.epochs': 'epochs',
  'base.batchSize': 'batchSize',
  'base.subset': 'subset',
  'base.testSubset': 'testSubset',
  'base.validationSize': 'validationSize',
  'base.dataSeed': 'dataSeed',
  'base.init': 'init',
  'base.divergeLoss': 'divergeLoss',
  'base.divergeAfter': 'divergeAfter',
  'base.decayScale': 'decayScale',
};

const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const GRID_AXES = ['optimizer', 'lr', 'weightDecay', 'schedule', 'seed'];

/** A training-config path of expandGrid's check (base + coordinates) as a path of the spec. */
const specPathOfTrialPath = (path: readonly PropertyKey[]): PropertyKey[] =>
  GRID_AXES.includes(String(path[0])) ? ['grid', path[0]] : ['base', ...path];

/** What set the value at `path` of the spec built from `flags`: a flag, --base or --spec FILE. */
function specSource(flags: SweepFlags, path: readonly PropertyKey[]): string {
  const where = path.map(String).join('.');
  const key = Object.keys(SPEC_FLAG_OF).find((k) => where === k || where.startsWith(`${k}.`));
  const flag = key ? SPEC_FLAG_OF[key] : undefined;
  if (flag && flags[flag] !== undefined) return flagName(flag);
  if (where.startsWith('base') && flags.base !== undefined) return `--base (${where})`;
  if (flags.spec) return `--spec ${flags.spec} (${where || 'the spec'})`;
  return where || 'spec';
}

/**
 * Parses the spec built by specFromFlags and expands its trials (which checks every trial's
 * training config); bad values are reported by the flag that set them.
 */
export function trialsFromFlags(input: SweepSpecInput, flags: SweepFlags) {
  let spec: ReturnType<typeof parseSweepSpec>;
  const sourceOf = (path: readonly PropertyKey[]) => specSource(flags, path);
  try {
    spec = parseSweepSpec(input);
  } catch (error) {
    throw schemaErrorToUsage(error, input, sourceOf);
  }
  try {
    return { spec, trials: expandGrid(spec) };
  } catch (error) {
    throw schemaErrorToUsage(error, input, sourceOf, specPathOfTrialPath);
  }
}

/** Builds the spec from --spec / --preset, then applies flag overrides. */
export async function specFromFlags(flags: SweepFlags): Promise<SweepSpecInput> {
  let spec: SweepSpecInput;
  if (flags.spec && flags.preset)
    throw new UsageError('--spec and --preset cannot be combined; pick one');
  if (flags.spec) {
    spec = await readSpecFile(flags.spec);
  } else if (flags.preset) {
    spec = presetSpec(parseName('--preset', flags.preset, PRESET_NAMES));
  } else {
    if (!flags.optimizer || !flags.lr || !flags.weightDecay) {
      throw new UsageError(
        'give a spec (--spec FILE.json|yaml or --preset quick|medium|full) or at least --optimizer, --lr and --weight-decay',
      );
    }
    spec = { name: 'sweep', base: {}, grid: { optimizer: [], lr: [], weightDecay: [] } };
  }
  const grid = { ...spec.grid };
  if (flags.optimizer)
    grid.optimizer = parseNameList('--optimizer', flags.optimizer, SWEEP_OPTIMIZERS);
  if (flags.lr) grid.lr = parseNumberList('--lr', flags.lr);
  if (flags.weightDecay) grid.weightDecay = parseNumberList('--weight-decay', flags.weightDecay);
  if (flags.schedule) grid.schedule = parseNameList('--schedule', flags.schedule, SWEEP_SCHEDULES);
  if (flags.seed) grid.seed = parseIntegerList('--seed', flags.seed);
  const base: Record<string, unknown> = { ...(spec.base ?? {}) };
  if (flags.base) {
    try {
      Object.assign(base, JSON.parse(flags.base));
    } catch {
      throw new OptionError('--base', flags.base, 'a JSON object of training settings');
    }
  }
  if (flags.dataset) base.dataset = flags.dataset;
  if (flags.dataDir) base.dataDir = flags.dataDir;
  if (flags.model) base.model = { kind: flags.model };
  if (flags.epochs) {
    const lengths = parseEpochs(flags.epochs);
    // One value is the base's length for every trial, as it always was (replacing a spec's axis).
    if (lengths.length === 1) {
      base.epochs = lengths[0];
      delete grid.epochs;
    } else grid.epochs = lengths;
  }
  if (flags.batchSize) base.batchSize = parseCount('--batch-size', flags.batchSize);
  if (flags.subset) base.subset = parseCount('--subset', flags.subset);
  if (flags.testSubset) base.testSubset = parseCount('--test-subset', flags.testSubset);
  if (flags.validationSize) {
    base.validationSize = parseCount('--validation-size', flags.validationSize, 0);
  }
  if (flags.dataSeed) base.dataSeed = parseCount('--data-seed', flags.dataSeed, 0);
  if (flags.init) base.init = parseName('--init', flags.init, INITS);
  // The training schema checks the bound (finite, > 0); its error names --diverge-loss.
  if (flags.divergeLoss) base.divergeLoss = parseNumber('--diverge-loss', flags.divergeLoss);
  if (flags.divergeAfter) base.divergeAfter = parseCount('--diverge-after', flags.divergeAfter);
  if (flags.weightDecayNorm) base.weightDecayNorm = true;
  if (flags.decayScale) base.decayScale = flags.decayScale;
  // Flags that set an axis replace per-optimizer overrides of that axis, so what was typed is run.
  const perOptimizer = spec.perOptimizer ? structuredClone(spec.perOptimizer) : undefined;
  if (perOptimizer) {
    for (const o of Object.values(perOptimizer)) {
      if (!o) continue;
      if (flags.lr) delete o.lr;
      if (flags.weightDecay) delete o.weightDecay;
      if (flags.schedule) delete o.schedule;
      if (flags.seed) delete o.seed;
      if (flags.epochs) delete o.epochs;
    }
  }
  return {
    ...spec,
    name: flags.name ?? spec.name,
    base,
    grid,
    ...(perOptimizer ? { perOptimizer } : {}),
  };
}

/** --prune: the local pool wrapped in successive halving (undefined without --prune). */
async function pruneRunner(
  flags: SweepFlags,
  redis: TrialRunner | undefined,
  concurrency: number | undefined,
): Promise<TrialRunner | undefined> {
  if (!flags.prune) {
    if (flags.pruneEta !== undefined) throw new UsageError('--prune-eta needs --prune');
    return redis;
  }
  if (redis) throw new UsageError('--prune runs on the local pool only; drop --redis or --prune');
  const eta = flags.pruneEta === undefined ? 3 : parseCount('--prune-eta', flags.pruneEta, 2);
  const { LocalPoolRunner } = await import('../sweep/pool.js');
  const { SuccessiveHalvingRunner } = await import('../sweep/prune.js');
  return new SuccessiveHalvingRunner(new LocalPoolRunner({ concurrency }), { eta });
}

/** The Redis flags shared by `sweep` and `reproduce`. */
export interface RedisFlags {
  redis?: string;
  queue?: string;
  attempts?: string;
  redisTimeout?: string;
}

/** Adds --redis and its companions to a command. */
export function redisOptions(command: Command): Command {
  return command
    .option(
      '--redis <url>',
      'run trials on BullMQ workers via Redis (start them with `decoupled worker`)',
    )
    .option('--queue <name>', 'queue shared with the workers (default: decoupled-trials)')
    .option('--attempts <n>', 'tries of a trial whose run fails on a worker (default 3)')
    .option(
      '--redis-timeout <ms>',
      'give up after Redis was unreachable this long (default 600000)',
    );
}

/**
 * The Redis runner of --redis (undefined without it). Validates every flag before anything is
 * enqueued; --queue, --attempts and --redis-timeout need --redis.
 */
export async function redisRunner(flags: RedisFlags): Promise<TrialRunner | undefined> {
  if (flags.redis === undefined) {
    for (const [option, value] of [
      ['--queue', flags.queue],
      ['--attempts', flags.attempts],
      ['--redis-timeout', flags.redisTimeout],
    ] as const) {
      if (value !== undefined) throw new UsageError(`${option} needs --redis <url>`);
    }
    return undefined;
  }
  // Loaded only here: BullMQ and ioredis are not needed by local sweeps.
  const { createRedisRunner, checkQueueName } = await import('../sweep/distributed/index.js');
  return createRedisRunner({
    redis: flags.redis,
    queue: flags.queue === undefined ? undefined : checkQueueName(flags.queue),
    attempts: flags.attempts === undefined ? undefined : parseCount('--attempts', flags.attempts),
    redisTimeoutMs:
      flags.redisTimeout === undefined
        ? undefined
        : parseCount('--redis-timeout', flags.redisTimeout),
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

/**
 * Runs a sweep with Ctrl-C handling: the first SIGINT/SIGTERM stops handing out trials and lets
 * running ones checkpoint; a second one exits at once. An interrupted sweep sets the exit code
 * of the signal that stopped it (130 for SIGINT, 143 for SIGTERM).
 */
export async function runSweepWithSignals(
  options: Omit<RunSweepOptions, 'signal' | 'log'>,
): Promise<SweepSummary> {
  const { runSweep } = await import('../sweep/run.js');
  const { value: summary, stoppedBy } = await untilStopped(
    {
      stopping: (signal) =>
        `\n${signal}: stopping; running trials checkpoint and resume on the next run ` +
        '(again to quit now)',
    },
    (signal) => runSweep({ ...options, signal, log: (line) => process.stderr.write(`${line}\n`) }),
  );
  if (summary.interrupted) process.exitCode = signalExitCode(stoppedBy ?? 'SIGINT');
  return summary;
}

/**
 * After a sweep: trials recorded as failed (this run or an earlier one) get one line with the first
 * error and how to rerun them, and exit code 1 (unless already interrupted: 130 or 143).
 */
export async function reportFailedTrials(dir: string): Promise<void> {
  const { JsonlResultStore } = await import('../sweep/store.js');
  const store = await JsonlResultStore.open(dir);
  const failed = (await store.results()).filter((r) => r.status === 'failed');
  if (failed.length === 0) return;
  const [first] = failed;
  process.stderr.write(
    `${failed.length} trial(s) recorded as failed (first: ${first.trialId}: ${first.error ?? 'no message'}); ` +
      'fix the cause, then rerun the same command with --retry-failed\n',
  );
  if (!process.exitCode) process.exitCode = 1;
}

/** "--epochs 10" or "--epochs 10,30": integers >= 1. */
export function parseEpochs(text: string): number[] {
  const lengths = text.split(',').map(decimal);
  if (text.trim() === '' || lengths.some((n) => n === undefined || !Number.isInteger(n) || n < 1)) {
    throw new OptionError(
      '--epochs',
      text,
      'an integer >= 1, or a comma list of them (e.g. 10,30)',
    );
  }
  return lengths as number[];
}

/** The training settings a sweep can set for all its trials (as in `decoupled train`). */
function trainingOptions(command: Command): void {
  command
    .option('--dataset <name>', 'fashion-mnist | mnist | cifar10')
    .option('--data-dir <dir>', 'dataset directory (default: the Debian package directory)')
    .option('--model <kind>', 'mlp | cnn | resnet (default options)')
    .option('--epochs <list>', 'epochs per trial; a comma list (e.g. 10,30) is a grid axis')
    .option('--batch-size <n>', 'batch size')
    .option('--subset <n>', 'training images used per trial')
    .option('--test-subset <n>', 'test images used per trial')
    .option('--validation-size <n>', 'training images held out for validation error per trial')
    .option(
      '--data-seed <n>',
      "seed of the subset and validation split (default: each trial's seed)",
    )
    .option('--init <kind>', "initial weights: 'torch' (PyTorch's defaults) or 'keras' (default)")
    .option(
      '--diverge-loss <bound>',
      'stop a trial as diverged when its training loss exceeds this',
    )
    .option('--diverge-after <k>', 'check --diverge-loss from epoch k on (default 1)')
    .option(
      '--prune',
      'successive halving: stop the worse trials of each optimizer at rungs of epochs',
    )
    .option('--prune-eta <n>', '--prune: keep the best 1/n at each rung (default 3)')
    .option('--weight-decay-norm', 'treat weight decay as normalized lambda_norm (all optimizers)')
    .option(
      '--decay-scale <mode>',
      "decoupled decay scaled by 'lr' (PyTorch) or 'schedule' (paper)",
    );
}

export function register(program: Command): void {
  const command = program
    .command('sweep')
    .description(
      'Run a grid of trainings (optimizer x lr x weight decay x schedule x seed) into a sweep directory; re-running resumes.',
    )
    .option('--spec <file>', 'sweep spec, JSON or YAML (see docs/reproduction.md)')
    .option('--preset <name>', `start from a preset spec: ${PRESET_NAMES.join(', ')}`)
    .option('-o, --out <dir>', 'sweep directory (results.jsonl, trials/, spec.json)', 'runs/sweep')
    .option('--name <name>', 'sweep name shown in the report')
    .option('--optimizer <list>', `optimizers, comma-separated: ${SWEEP_OPTIMIZERS.join(', ')}`)
    .option('--lr <list>', 'learning rates: comma list (1e-3,3e-3) or log range from:to:count')
    .option(
      '--weight-decay <list>',
      'weight decays (L2 for adam/sgd, decoupled for adamw/sgdw), as --lr',
    )
    .option(
      '--schedule <list>',
      `schedules: ${SWEEP_SCHEDULES.join(', ')} (default cosine, unless the spec sets them)`,
    )
    .option('--seed <list>', 'seeds: comma list (1,2,3) or range (1-5)');
  trainingOptions(command);
  command
    .option('--base <json>', 'extra training settings as a JSON object, merged into the spec base')
    .option('-j, --concurrency <n>', 'local worker threads (default: number of cores)')
    .option('--retry-failed', 'also rerun trials recorded as failed')
    .option('--dry-run', 'print the trials and exit')
    .addHelpText(
      'after',
      '\nA sweep from flags (no --spec or --preset) runs the cosine schedule unless --schedule says\n' +
        'otherwise; other settings default as in `decoupled train`.',
    );
  redisOptions(command);
  command.action(async (flags: SweepFlags) => {
    const { spec, trials } = trialsFromFlags(await specFromFlags(flags), flags);
    const concurrency = flags.concurrency
      ? parseCount('--concurrency', flags.concurrency)
      : undefined;
    const runner = await pruneRunner(flags, await redisRunner(flags), concurrency);
    if (flags.dryRun) {
      for (const t of trials) process.stdout.write(`${t.id}\n`);
      const epochs = trials.reduce((n, t) => n + trialEpochs(t), 0);
      process.stdout.write(`${trials.length} trials, ${epochs} trial-epochs\n`);
      return;
    }
    const summary = await runSweepWithSignals({
      dir: flags.out ?? 'runs/sweep',
      spec,
      runner,
      concurrency,
      retryFailed: flags.retryFailed,
    });
    process.stdout.write(
      `sweep directory: ${summary.dir} (report: decoupled report ${summary.dir})\n`,
    );
    await reportFailedTrials(summary.dir);
  });
}

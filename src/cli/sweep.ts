/**
 * `decoupled sweep`: runs a grid of training runs (optimizer x lr x weight decay x schedule x
 * seed) from a JSON/YAML spec file and/or flags, on the local worker-thread pool or, with
 * --redis, on BullMQ workers. Re-running on the same --out resumes: finished trials are skipped,
 * interrupted ones continue from their checkpoints. Ctrl-C stops after checkpointing.
 */
import type { Command } from 'commander';
import { PRESET_NAMES, type PresetName, presetSpec } from '../sweep/presets.js';
import type { RunSweepOptions, SweepSummary } from '../sweep/run.js';
import { loadSweepSpec, parseSweepSpec, type SweepSpecInput } from '../sweep/spec.js';
import { SWEEP_OPTIMIZERS, SWEEP_SCHEDULES, type TrialRunner } from '../sweep/types.js';
import { UsageError } from './errors.js';

/** Parses "1e-3,3e-3" or a log-spaced range "1e-4:1e-2:5" (from:to:count). */
export function parseNumberList(option: string, text: string): number[] {
  const range = /^([^:,]+):([^:,]+):(\d+)$/.exec(text.trim());
  if (range) {
    const [from, to, count] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (!(from > 0 && to > 0 && count >= 2 && Number.isFinite(from) && Number.isFinite(to))) {
      throw new UsageError(
        `${option} must be a comma list or a log range from:to:count with from, to > 0 and count >= 2; received ${JSON.stringify(text)}`,
      );
    }
    const ratio = (to / from) ** (1 / (count - 1));
    return Array.from({ length: count }, (_, i) => Number((from * ratio ** i).toPrecision(6)));
  }
  const values = text.split(',').map((s) => s.trim());
  const numbers = values.map(Number);
  if (!values.length || values.some((s) => s === '') || numbers.some((x) => !Number.isFinite(x))) {
    throw new UsageError(
      `${option} must be a comma-separated list of numbers (e.g. 1e-3,3e-3) or a log range from:to:count; received ${JSON.stringify(text)}`,
    );
  }
  return numbers;
}

export function parseNameList<T extends string>(
  option: string,
  text: string,
  allowed: readonly T[],
): T[] {
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!allowed.includes(name as T)) {
      throw new UsageError(
        `${option} must be a comma-separated list of ${allowed.map((a) => `'${a}'`).join(', ')}; received ${JSON.stringify(name)}`,
      );
    }
  }
  return names as T[];
}

export function parseCount(option: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(
      `${option} must be an integer >= ${min}; received ${JSON.stringify(text)}`,
    );
  }
  return n;
}

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
  weightDecayNorm?: boolean;
  decayScale?: string;
  base?: string;
  concurrency?: string;
  retryFailed?: boolean;
  dryRun?: boolean;
}

/** Builds the spec from --spec / --preset, then applies flag overrides. */
export async function specFromFlags(flags: SweepFlags): Promise<SweepSpecInput> {
  let spec: SweepSpecInput;
  if (flags.spec && flags.preset)
    throw new UsageError('--spec and --preset cannot be combined; pick one');
  if (flags.spec) {
    spec = await loadSweepSpec(flags.spec);
  } else if (flags.preset) {
    const preset = parseNameList('--preset', flags.preset, PRESET_NAMES)[0] as PresetName;
    spec = presetSpec(preset);
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
  if (flags.seed) grid.seed = parseNumberList('--seed', flags.seed);
  const base: Record<string, unknown> = { ...(spec.base ?? {}) };
  if (flags.base) {
    try {
      Object.assign(base, JSON.parse(flags.base));
    } catch {
      throw new UsageError(
        `--base must be a JSON object of training settings; received ${JSON.stringify(flags.base)}`,
      );
    }
  }
  if (flags.dataset) base.dataset = flags.dataset;
  if (flags.dataDir) base.dataDir = flags.dataDir;
  if (flags.model) base.model = { kind: flags.model };
  if (flags.epochs) base.epochs = parseCount('--epochs', flags.epochs);
  if (flags.batchSize) base.batchSize = parseCount('--batch-size', flags.batchSize);
  if (flags.subset) base.subset = parseCount('--subset', flags.subset);
  if (flags.testSubset) base.testSubset = parseCount('--test-subset', flags.testSubset);
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
  if (!flags.redis) {
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
 * running ones checkpoint; a second one exits at once.
 */
export async function runSweepWithSignals(
  options: Omit<RunSweepOptions, 'signal' | 'log'>,
): Promise<SweepSummary> {
  const { runSweep } = await import('../sweep/run.js');
  const controller = new AbortController();
  let stops = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    stops++;
    if (stops === 1) {
      process.stderr.write(
        `\n${signal}: stopping; running trials checkpoint and resume on the next run (again to quit now)\n`,
      );
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runSweep({
      ...options,
      signal: controller.signal,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
    .option('--schedule <list>', `schedules: ${SWEEP_SCHEDULES.join(', ')}`)
    .option('--seed <list>', 'seeds, comma-separated')
    .option('--dataset <name>', 'fashion-mnist | mnist | cifar10')
    .option('--data-dir <dir>', 'dataset directory (default: the Debian package directory)')
    .option('--model <kind>', 'mlp | cnn | resnet (default options)')
    .option('--epochs <n>', 'epochs per trial')
    .option('--batch-size <n>', 'batch size')
    .option('--subset <n>', 'training images used per trial')
    .option('--test-subset <n>', 'test images used per trial')
    .option('--weight-decay-norm', 'treat weight decay as normalized lambda_norm (all optimizers)')
    .option(
      '--decay-scale <mode>',
      "decoupled decay scaled by 'lr' (PyTorch) or 'schedule' (paper)",
    )
    .option('--base <json>', 'extra training settings as a JSON object, merged into the spec base')
    .option('-j, --concurrency <n>', 'local worker threads (default: number of cores)')
    .option('--retry-failed', 'also rerun trials recorded as failed')
    .option('--dry-run', 'print the trials and exit');
  redisOptions(command);
  command.action(async (flags: SweepFlags) => {
    const { expandGrid } = await import('../sweep/spec.js');
    const spec = parseSweepSpec(await specFromFlags(flags));
    const trials = expandGrid(spec);
    if (flags.dryRun) {
      for (const t of trials) process.stdout.write(`${t.id}\n`);
      process.stdout.write(`${trials.length} trials\n`);
      return;
    }
    const concurrency = flags.concurrency
      ? parseCount('--concurrency', flags.concurrency)
      : undefined;
    const runner = await redisRunner(flags);
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
    if (summary.interrupted) process.exitCode = 130;
  });
}

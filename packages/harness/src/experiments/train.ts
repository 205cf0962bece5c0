/**
 * The training loop of the harness: `runTraining(config)` loads the data, builds the model and the
 * project's optimizer (schedule and, optionally, normalized weight decay stepping per batch), trains
 * for `config.epochs`, evaluates every epoch, appends one JSON line per epoch to
 * `<out>/metrics.jsonl`, and checkpoints atomically after every epoch and when aborted. With
 * `ema`, each evaluation swaps the averaged weights in and back out (the record says so).
 *
 * Schedule-free optimizers are evaluated at x, the average: before evaluating, eval() puts x in
 * the variables and BatchNorm's moving statistics are recomputed there (recomputeBatchNorm), and
 * train() puts y back after.
 *
 * Reproducibility: the data order of each epoch is a permutation drawn from the run's RNG, then the
 * same RNG drives augmentation; initial weights come from seeded initializers. The checkpoint holds
 * everything that changes during the run, so a resumed run is bit-identical to an uninterrupted one.
 */
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { SingleBar } from 'cli-progress';
import type { Schedule } from 'decoupled';
import { NonFiniteGradientError, OptionError } from 'decoupled';
import { type DecoupledOptimizer, ScheduleFreeOptimizer } from 'decoupled/tfjs';
import { removeStaleTempFiles, writeFileAtomic } from './atomic-file.js';
import { useBackend } from './backend.js';
import {
  CHECKPOINT_VERSION,
  type Checkpoint,
  CheckpointError,
  decodeTensor,
  encodeTensor,
  type LoopState,
  loadCheckpoint,
  type SavedTensor,
  saveCheckpoint,
} from './checkpoint.js';
import {
  canonicalJson,
  type EpochRecord,
  FILES,
  parseTrainConfig,
  type TrainConfig,
  type TrainConfigInput,
  type TrainResult,
} from './config.js';
import {
  batchBuffers,
  type ImageSet,
  type LoadedData,
  loadData,
  makeBatch,
  type Normalization,
} from './data/index.js';
import { buildModel, countParams, forward } from './models.js';
import { createOptimizer } from './optimizer.js';
import { deriveSeed, Rng } from './rng.js';
import {
  buildSchedule,
  buildWeightDecay,
  optimizerStepsPerEpoch,
  stepsPerEpoch,
} from './schedule.js';

export interface TrainOptions {
  /** Aborting stops the run after the current batch, writes a checkpoint and resolves. */
  signal?: AbortSignal;
  /** Called after each completed epoch. */
  onEpoch?: (record: EpochRecord) => void;
  /** Show a progress bar on stderr (only when stderr is a TTY). Default false. */
  progress?: boolean;
  /** Continue from `<out>/checkpoint.json` when it exists. Default false: start afresh. */
  resume?: boolean;
  /** Stop (as if aborted) after this many batches in this session; for tests. */
  stopAfterSteps?: number;
  /**
   * Pause after this many completed epochs (a rung of successive halving): the checkpoint is
   * written and the result has `aborted` true, so a later call with `resume` continues.
   */
  stopAtEpoch?: number;
}

const EVAL_BATCH = 500;

/**
 * Training batches run (forward only, training mode) to recompute BatchNorm's statistics at a
 * schedule-free optimizer's x before evaluation: the 50 of the reference's README (fewer when an
 * epoch has fewer). With the models' BN momentum 0.9, 50 batches leave 0.9^50 < 0.6% of the old.
 */
export const BATCHNORM_RECOMPUTE_BATCHES = 50;

/** Trains one run end to end (or until aborted or diverged). */
export async function runTraining(
  input: TrainConfig | TrainConfigInput,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const config = parseTrainConfig(input);
  await useBackend(config.backend, config.threads);
  const run = new Run(config, options);
  try {
    await run.begin();
    return await run.trainEpochs();
  } finally {
    run.dispose();
  }
}

/** How a pass over the batches of an epoch ended. */
type EpochEnd = 'complete' | 'aborted' | 'diverged';

/** One run's data, model, optimizer and loop state, and the files it writes. */
class Run {
  private readonly data: LoadedData;
  private readonly train: ImageSet;
  private readonly spe: number;
  private readonly schedule: Schedule;
  private readonly weightDecay: number | Schedule;
  private readonly model: LayersModel;
  private readonly optimizer: DecoupledOptimizer | ScheduleFreeOptimizer;
  private readonly variables: tf.Variable[];
  private readonly out: string | undefined;
  private state: LoopState;
  private records: EpochRecord[] = [];
  private rng: Rng;
  private stepsThisSession = 0;

  constructor(
    private readonly config: TrainConfig,
    private readonly options: TrainOptions,
  ) {
    this.data = loadData(config);
    this.train = this.data.train;
    this.spe = stepsPerEpoch({ datasetSize: this.train.count, batchSize: config.batchSize });
    const steps = optimizerStepsPerEpoch(config, this.spe);
    this.schedule = buildSchedule(config, steps);
    this.weightDecay = buildWeightDecay(config, this.train.count, steps);
    const { height, width, channels, classes } = this.train;
    const seed = deriveSeed(config.seed, 'init');
    this.model = buildModel(config.model, [height, width, channels], classes, seed, config.init);
    this.optimizer = createOptimizer(config, {
      schedule: this.schedule,
      weightDecay: this.weightDecay,
    });
    this.variables = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.out = config.out;
    this.rng = new Rng(deriveSeed(config.seed, 'data'));
    this.state = {
      epoch: 0,
      batch: 0,
      step: 0,
      rng: this.rng.getState(),
      epochRng: this.rng.getState(),
      lossSum: 0,
      errors: 0,
      images: 0,
      epochSeconds: 0,
      totalSeconds: 0,
    };
  }

  private path(file: keyof typeof FILES): string {
    return join(this.out as string, FILES[file]);
  }

  /** Restores the checkpoint when resuming (and there is one), else prepares a fresh run dir. */
  async begin(): Promise<void> {
    const { out, options } = this;
    // Temp files of writers killed mid-write (a checkpoint is megabytes) are never used again.
    if (out) removeStaleTempFiles(out);
    const file = out ? this.path('checkpoint') : '';
    const resumed = options.resume && file ? loadCheckpoint(file) : null;
    if (resumed) {
      checkSameRun(resumed.config, this.config);
      restoreModel(this.model, resumed.model, file);
      await restoreOptimizer(this.optimizer, resumed.optimizer, file);
      this.state = resumed.state;
      this.records = resumed.records;
      this.rng = Rng.fromState(this.state.rng);
      // The metrics file follows the checkpoint (a kill between the two writes left an extra line).
      const lines = this.records.map((r) => `${JSON.stringify(r)}\n`).join('');
      writeFileAtomic(this.path('metrics'), lines);
    } else if (out) {
      mkdirSync(out, { recursive: true });
      for (const file of ['metrics', 'checkpoint', 'result'] as const) {
        rmSync(this.path(file), { force: true });
      }
      writeFileAtomic(this.path('config'), `${JSON.stringify(this.config, null, 2)}\n`);
    }
  }

  async trainEpochs(): Promise<TrainResult> {
    const { config, options } = this;
    const bar = options.progress && process.stderr.isTTY ? makeBar(config, this.spe) : null;
    let end: EpochEnd = 'complete';
    try {
      while (this.state.epoch < config.epochs) {
        if (options.stopAtEpoch !== undefined && this.state.epoch >= options.stopAtEpoch) {
          end = 'aborted';
          break;
        }
        end = await this.trainBatches(bar);
        if (end === 'aborted') {
          await this.save();
          break;
        }
        const record = this.finishEpoch();
        if (this.overLossBound(record)) end = 'diverged';
        await this.save();
        options.onEpoch?.(record);
        if (end === 'diverged') break;
      }
    } finally {
      bar?.stop();
    }
    const result = this.result(end === 'aborted', end === 'diverged');
    if (this.out && end !== 'aborted') {
      writeFileAtomic(this.path('result'), `${JSON.stringify(result, null, 2)}\n`);
    }
    return result;
  }

  /**
   * Takes the remaining batches of the current epoch. Its data order is the permutation drawn
   * from the RNG at the epoch's start (redrawn from the saved state when resuming mid-epoch); the
   * same RNG then drives augmentation.
   */
  private async trainBatches(bar: SingleBar | null): Promise<EpochEnd> {
    const { config, options, state, train, rng } = this;
    let order: Uint32Array;
    if (state.batch === 0) {
      state.epochRng = rng.getState();
      order = rng.permutation(train.count);
    } else {
      order = Rng.fromState(state.epochRng).permutation(train.count);
    }
    bar?.start(this.spe, state.batch, { epoch: state.epoch + 1, ips: '0' });
    let sliceStart = Date.now();
    const buffers = batchBuffers(train, config.batchSize);
    while (state.batch < this.spe) {
      if (options.signal?.aborted || this.stepsThisSession === options.stopAfterSteps) {
        return 'aborted';
      }
      const from = state.batch * config.batchSize;
      const indices = order.subarray(from, Math.min(from + config.batchSize, train.count));
      const batch = makeBatch(
        train,
        indices,
        this.data.normalization,
        config.augment,
        rng,
        buffers,
      );
      let loss: number;
      let correct: number;
      try {
        ({ loss, correct } = trainStep(this.model, this.optimizer, this.variables, batch, train));
      } catch (error) {
        // A NaN or infinite gradient: the optimizer changed nothing; the run has diverged.
        if (!(error instanceof NonFiniteGradientError)) throw error;
        state.lossSum = Number.NaN;
        return 'diverged';
      }
      state.lossSum += loss * batch.size;
      state.errors += batch.size - correct;
      state.images += batch.size;
      state.batch++;
      state.step = this.optimizer.iterations;
      state.rng = rng.getState();
      this.stepsThisSession++;
      const now = Date.now();
      state.epochSeconds += (now - sliceStart) / 1000;
      state.totalSeconds += (now - sliceStart) / 1000;
      sliceStart = now;
      const rate = state.images / Math.max(state.epochSeconds, 1e-9);
      bar?.update(state.batch, { epoch: state.epoch + 1, ips: rate.toFixed(0) });
      if (!Number.isFinite(loss)) return 'diverged';
      // Yield to the event loop so signals (SIGINT, SIGTERM, abort) are seen between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    bar?.stop();
    return 'complete';
  }

  /** True when the epoch's training loss exceeds `divergeLoss` at or after `divergeAfter`. */
  private overLossBound(record: EpochRecord): boolean {
    const { divergeLoss, divergeAfter } = this.config;
    return (
      divergeLoss !== undefined &&
      record.epoch >= (divergeAfter ?? 1) &&
      record.trainLoss > divergeLoss
    );
  }

  /** Evaluates, records the epoch (metrics.jsonl) and resets the epoch sums. */
  private finishEpoch(): EpochRecord {
    const { state, data, model } = this;
    const evalStart = Date.now();
    const scheduleFree = this.optimizer instanceof ScheduleFreeOptimizer ? this.optimizer : null;
    if (scheduleFree) {
      scheduleFree.eval(this.variables);
      this.recomputeBatchNorm();
    }
    const { test, validation } = this.withEvaluatedWeights(() => ({
      test: evaluate(model, data.test, data.normalization),
      validation: data.validation ? evaluate(model, data.validation, data.normalization) : null,
    }));
    scheduleFree?.train(this.variables);
    const evalSeconds = (Date.now() - evalStart) / 1000;
    state.totalSeconds += evalSeconds;
    const lastStep = Math.max(state.step - 1, 0);
    const record: EpochRecord = {
      epoch: state.epoch + 1,
      step: state.step,
      trainLoss: state.lossSum / state.images,
      trainError: state.errors / state.images,
      valError: validation ? validation.error : null,
      testError: test.error,
      testLoss: test.loss,
      ...(this.config.ema === undefined ? {} : { evaluated: 'ema' as const }),
      lrMultiplier: this.schedule(lastStep),
      weightDecay:
        typeof this.weightDecay === 'number' ? this.weightDecay : this.weightDecay(lastStep),
      seconds: state.epochSeconds + evalSeconds,
      imagesPerSecond: state.images / Math.max(state.epochSeconds, 1e-9),
    };
    this.records.push(record);
    if (this.out) appendFileSync(this.path('metrics'), `${JSON.stringify(record)}\n`);
    Object.assign(state, {
      epoch: state.epoch + 1,
      batch: 0,
      lossSum: 0,
      errors: 0,
      images: 0,
      epochSeconds: 0,
      rng: this.rng.getState(),
    });
    return record;
  }

  /** Runs `evaluate` with the averaged weights swapped in under `ema`, then swaps them out. */
  private withEvaluatedWeights<T>(evaluate: () => T): T {
    // Schedule-free optimizers take no ema (refused when built): they average their iterates.
    if (this.config.ema === undefined || this.optimizer instanceof ScheduleFreeOptimizer) {
      return evaluate();
    }
    this.optimizer.swapAverages(this.variables);
    try {
      return evaluate();
    } finally {
      this.optimizer.swapAverages();
    }
  }

  /**
   * Recomputes BatchNorm's moving statistics at the weights the model holds: forward passes in
   * training mode, no step, over the first BATCHNORM_RECOMPUTE_BATCHES batches of the epoch's data
   * order, without augmentation (as evaluation sees images). Nothing to do without BatchNorm.
   */
  private recomputeBatchNorm(): void {
    const { config, model, train, state } = this;
    if (!model.layers.some((l) => l.getClassName() === 'BatchNormalization')) return;
    const order = Rng.fromState(state.epochRng).permutation(train.count);
    const buffers = batchBuffers(train, config.batchSize);
    const batches = Math.min(BATCHNORM_RECOMPUTE_BATCHES, this.spe);
    for (let b = 0; b < batches; b++) {
      const from = b * config.batchSize;
      const indices = order.subarray(from, Math.min(from + config.batchSize, train.count));
      const batch = makeBatch(
        train,
        indices,
        this.data.normalization,
        undefined,
        undefined,
        buffers,
      );
      tf.tidy(() => {
        forward(
          model,
          tf.tensor4d(batch.x, [batch.size, train.height, train.width, train.channels]),
          true,
        );
      });
    }
  }

  /** Writes the checkpoint atomically (nothing without an out dir). */
  private async save(): Promise<void> {
    if (!this.out) return;
    const checkpoint: Checkpoint = {
      version: CHECKPOINT_VERSION,
      config: this.config,
      state: this.state,
      records: this.records,
      model: saveModel(this.model),
      optimizer: await saveOptimizer(this.optimizer),
    };
    saveCheckpoint(this.path('checkpoint'), checkpoint);
  }

  private result(aborted: boolean, diverged: boolean): TrainResult {
    const last = this.records[this.records.length - 1];
    return {
      config: this.config,
      epochs: this.records,
      final: {
        trainLoss: last?.trainLoss ?? Number.NaN,
        trainError: last?.trainError ?? Number.NaN,
        valError: last?.valError ?? null,
        testError: last?.testError ?? Number.NaN,
        testLoss: last?.testLoss ?? Number.NaN,
      },
      aborted,
      diverged,
      params: countParams(this.model),
      seconds: this.state.totalSeconds,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

function makeBar(config: TrainConfig, spe: number): SingleBar {
  return new SingleBar({
    format: `epoch {epoch}/${config.epochs} [{bar}] {value}/{total} batches | {ips} img/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: Math.min(50, spe),
  });
}

/** One optimizer step on a batch; returns the batch's mean loss and correct count. */
function trainStep(
  model: LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  batch: ReturnType<typeof makeBatch>,
  set: ImageSet,
): { loss: number; correct: number } {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.size, set.height, set.width, set.channels]);
    const labels = tf.tensor1d(batch.labels, 'int32');
    const oneHot = tf.oneHot(labels, set.classes);
    let correct: tf.Scalar | null = null;
    const cost = optimizer.minimize(
      () => {
        const logits = forward(model, x, true);
        correct = tf.keep(
          tf.sum<tf.Tensor>(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')) as tf.Scalar,
        );
        return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
      },
      true,
      variables,
    );
    const loss = (cost as tf.Scalar).dataSync()[0];
    const kept = correct as tf.Scalar | null;
    const right = kept ? kept.dataSync()[0] : 0;
    kept?.dispose();
    return { loss, correct: right };
  });
}

/** Mean loss and error rate of `model` on `set` in inference mode. */
export function evaluate(
  model: LayersModel,
  set: ImageSet,
  norm: Normalization,
): { loss: number; error: number } {
  let lossSum = 0;
  let wrong = 0;
  const buffers = batchBuffers(set, EVAL_BATCH);
  for (let start = 0; start < set.count; start += EVAL_BATCH) {
    const indices = Array.from(
      { length: Math.min(EVAL_BATCH, set.count - start) },
      (_, i) => start + i,
    );
    const batch = makeBatch(set, indices, norm, undefined, undefined, buffers);
    const [l, c] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, set.height, set.width, set.channels]);
      const labels = tf.tensor1d(batch.labels, 'int32');
      const logits = forward(model, x, false);
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, set.classes), logits);
      const right = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
      return [loss.dataSync()[0], right.dataSync()[0]];
    });
    lossSum += l * batch.size;
    wrong += batch.size - c;
  }
  return { loss: lossSum / set.count, error: wrong / set.count };
}

function saveModel(model: LayersModel): SavedTensor[] {
  return model.weights.map((w) => {
    const value = w.read();
    return encodeTensor(w.name, value.shape, value.dataSync() as Float32Array);
  });
}

function restoreModel(model: LayersModel, saved: SavedTensor[], file: string): void {
  const weights = model.weights;
  if (saved.length !== weights.length) {
    throw new CheckpointError(
      `${file}: the checkpoint holds ${saved.length} model tensors, the model has ${weights.length}`,
    );
  }
  saved.forEach((s, i) => {
    const shape = weights[i].shape as number[];
    if (s.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(
        `${file}: checkpoint tensor ${s.name} has shape [${s.shape}], the model [${shape}]`,
      );
    }
  });
  const tensors = saved.map((s) => tf.tensor(decodeTensor(s), s.shape, s.dtype));
  model.setWeights(tensors);
  for (const t of tensors) t.dispose();
}

async function saveOptimizer(optimizer: tf.Optimizer): Promise<SavedTensor[]> {
  const named = await optimizer.getWeights();
  const saved = named.map(({ name, tensor }) =>
    encodeTensor(name, tensor.shape, tensor.dataSync() as Float32Array | Int32Array),
  );
  // getWeights returns the live slot tensors plus a new 'iter' scalar (as tfjs' own optimizers
  // do); only the latter belongs to the caller.
  for (const { name, tensor } of named) if (name === 'iter') tensor.dispose();
  return saved;
}

async function restoreOptimizer(
  optimizer: tf.Optimizer,
  saved: SavedTensor[],
  file: string,
): Promise<void> {
  const named = saved.map((s) => ({
    name: s.name,
    tensor: tf.tensor(decodeTensor(s), s.shape, s.dtype),
  }));
  try {
    await optimizer.setWeights(named);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    throw new CheckpointError(`${file}: the optimizer state does not fit (${error.message})`);
  } finally {
    // Variables share data by reference counting, so the optimizer keeps its copies.
    for (const { tensor } of named) tensor.dispose();
  }
}

/** Settings that do not change a run's numbers: a resume may change them. */
const NOT_THE_RUN = new Set(['out', 'threads']);

/** A checkpoint belongs to this run only if every setting but `out` and `threads` matches. */
function checkSameRun(saved: TrainConfig, current: TrainConfig): void {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])].sort();
  const differ = keys.filter(
    (k) =>
      !NOT_THE_RUN.has(k) &&
      canonicalJson((saved as Record<string, unknown>)[k]) !==
        canonicalJson((current as Record<string, unknown>)[k]),
  );
  if (differ.length > 0) {
    const shown = differ
      .slice(0, 3)
      .map(
        (k) =>
          `${k}: ${canonicalJson((saved as Record<string, unknown>)[k])} in the checkpoint, ` +
          `${canonicalJson((current as Record<string, unknown>)[k])} now`,
      );
    throw new CheckpointError(
      `the checkpoint in ${current.out} was written by a run with a different config ` +
        `(${shown.join('; ')}${differ.length > 3 ? '; ...' : ''}); ` +
        'use another --out, or delete the checkpoint to start afresh',
    );
  }
}

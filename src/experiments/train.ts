/**
 * The training loop of the harness: `runTraining(config)` loads the data, builds the model and the
 * project's optimizer (schedule and, optionally, normalized weight decay stepping per batch), trains
 * for `config.epochs`, evaluates every epoch, appends one JSON line per epoch to
 * `<out>/metrics.jsonl`, and checkpoints atomically after every epoch and when aborted.
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
import { NonFiniteGradientError } from '../core/errors.js';
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
  writeFileAtomic,
} from './checkpoint.js';
import {
  type EpochRecord,
  parseTrainConfig,
  type TrainConfig,
  type TrainConfigInput,
  type TrainResult,
} from './config.js';
import { type ImageSet, loadData, makeBatch, type Normalization } from './data/index.js';
import { buildModel, countParams, forward } from './models.js';
import { createOptimizer } from './optimizer.js';
import { deriveSeed, Rng } from './rng.js';
import { buildSchedule, buildWeightDecay, stepsPerEpoch } from './schedule.js';

export interface TrainOptions {
  /** Aborting stops the run after the current batch, writes a checkpoint and resolves. */
  signal?: AbortSignal;
  /** Called after each completed epoch. */
  onEpoch?: (record: EpochRecord) => void;
  /** Show a progress bar on stderr (only when stderr is a TTY). Default false. */
  progress?: boolean;
  /** Continue from `<out>/checkpoint.json` when it exists. Default false: start afresh. */
  resume?: boolean;
  /** Stop (as if aborted) after this many optimizer steps in this session; for tests. */
  stopAfterSteps?: number;
}

export const FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.json',
  result: 'result.json',
} as const;

const EVAL_BATCH = 500;

/** Trains one run end to end (or until aborted). */
export async function runTraining(
  input: TrainConfig | TrainConfigInput,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const config = parseTrainConfig(input);
  await useBackend(config.backend);
  const data = loadData(config);
  const { train } = data;
  const spe = stepsPerEpoch(train.count, config.batchSize);
  const schedule = buildSchedule(config, spe);
  const weightDecay = buildWeightDecay(config, train.count, spe);
  const model = buildModel(
    config.model,
    [train.height, train.width, train.channels],
    train.classes,
    deriveSeed(config.seed, 'init'),
  );
  const optimizer = createOptimizer(config, { schedule, weightDecay });
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  try {
    return await trainLoop();
  } finally {
    optimizer.dispose();
    model.dispose();
  }

  async function trainLoop(): Promise<TrainResult> {
    const out = config.out;
    const checkpointPath = out ? join(out, FILES.checkpoint) : null;
    let state: LoopState;
    let records: EpochRecord[] = [];
    const resumed = options.resume && checkpointPath ? loadCheckpoint(checkpointPath) : null;
    if (resumed) {
      checkSameRun(resumed.config, config);
      restoreModel(model, resumed.model);
      await restoreOptimizer(optimizer, resumed.optimizer);
      state = resumed.state;
      records = resumed.records;
      if (out) {
        // The metrics file follows the checkpoint (a kill between the two writes left an extra line).
        const lines = records.map((r) => `${JSON.stringify(r)}\n`).join('');
        writeFileAtomic(join(out, FILES.metrics), lines);
      }
    } else {
      const rng = new Rng(deriveSeed(config.seed, 'data'));
      state = {
        epoch: 0,
        batch: 0,
        step: 0,
        rng: rng.getState(),
        epochRng: rng.getState(),
        lossSum: 0,
        errors: 0,
        images: 0,
        epochSeconds: 0,
        totalSeconds: 0,
      };
      if (out) {
        mkdirSync(out, { recursive: true });
        rmSync(join(out, FILES.metrics), { force: true });
        rmSync(join(out, FILES.checkpoint), { force: true });
        rmSync(join(out, FILES.result), { force: true });
        writeFileAtomic(join(out, FILES.config), `${JSON.stringify(config, null, 2)}\n`);
      }
    }

    const save = async () => {
      if (!checkpointPath) return;
      const checkpoint: Checkpoint = {
        version: CHECKPOINT_VERSION,
        config,
        state,
        records,
        model: saveModel(model),
        optimizer: await saveOptimizer(optimizer),
      };
      saveCheckpoint(checkpointPath, checkpoint);
    };

    const bar = options.progress && process.stderr.isTTY ? makeBar(config, spe) : null;
    const rng = Rng.fromState(state.rng);
    let stepsThisSession = 0;
    let aborted = false;
    let diverged = false;
    try {
      while (state.epoch < config.epochs) {
        let order: Uint32Array;
        if (state.batch === 0) {
          state.epochRng = rng.getState();
          order = rng.permutation(train.count);
        } else {
          order = Rng.fromState(state.epochRng).permutation(train.count);
        }
        bar?.start(spe, state.batch, { epoch: state.epoch + 1, ips: '0' });
        let sliceStart = Date.now();
        while (state.batch < spe) {
          if (options.signal?.aborted || stepsThisSession === options.stopAfterSteps) {
            aborted = true;
            break;
          }
          const from = state.batch * config.batchSize;
          const indices = order.subarray(from, Math.min(from + config.batchSize, train.count));
          const batch = makeBatch(train, indices, data.normalization, config.augment, rng);
          let loss: number;
          let correct: number;
          try {
            ({ loss, correct } = trainStep(model, optimizer, variables, batch, train));
          } catch (error) {
            // A NaN or infinite gradient: the optimizer changed nothing; the run has diverged.
            if (!(error instanceof NonFiniteGradientError)) throw error;
            diverged = true;
            state.lossSum = Number.NaN;
            break;
          }
          if (!Number.isFinite(loss)) diverged = true;
          state.lossSum += loss * batch.size;
          state.errors += batch.size - correct;
          state.images += batch.size;
          state.batch++;
          state.step++;
          stepsThisSession++;
          const now = Date.now();
          state.epochSeconds += (now - sliceStart) / 1000;
          state.totalSeconds += (now - sliceStart) / 1000;
          sliceStart = now;
          if (bar) {
            const rate = state.images / Math.max(state.epochSeconds, 1e-9);
            bar.update(state.batch, { epoch: state.epoch + 1, ips: rate.toFixed(0) });
          }
          state.rng = rng.getState();
          // Yield to the event loop so signals (SIGINT, SIGTERM, abort) are seen between batches.
          await new Promise((resolve) => setImmediate(resolve));
          if (diverged) break;
        }
        bar?.stop();
        if (aborted) break;
        const evalStart = Date.now();
        const test = evaluate(model, data.test, data.normalization);
        const validation = data.validation
          ? evaluate(model, data.validation, data.normalization)
          : null;
        const evalSeconds = (Date.now() - evalStart) / 1000;
        state.totalSeconds += evalSeconds;
        const lastStep = state.step - 1;
        const record: EpochRecord = {
          epoch: state.epoch + 1,
          step: state.step,
          trainLoss: state.lossSum / state.images,
          trainError: state.errors / state.images,
          valError: validation ? validation.error : null,
          testError: test.error,
          testLoss: test.loss,
          lrMultiplier: schedule(lastStep),
          weightDecay: typeof weightDecay === 'number' ? weightDecay : weightDecay(lastStep),
          seconds: state.epochSeconds + evalSeconds,
          imagesPerSecond: state.images / Math.max(state.epochSeconds, 1e-9),
        };
        records.push(record);
        if (out) appendFileSync(join(out, FILES.metrics), `${JSON.stringify(record)}\n`);
        state.epoch++;
        state.batch = 0;
        state.lossSum = 0;
        state.errors = 0;
        state.images = 0;
        state.epochSeconds = 0;
        state.rng = rng.getState();
        await save();
        options.onEpoch?.(record);
        if (diverged) break;
      }
      if (aborted) await save();
      const last = records[records.length - 1];
      const result: TrainResult = {
        config,
        epochs: records,
        final: {
          trainLoss: last?.trainLoss ?? Number.NaN,
          trainError: last?.trainError ?? Number.NaN,
          valError: last?.valError ?? null,
          testError: last?.testError ?? Number.NaN,
          testLoss: last?.testLoss ?? Number.NaN,
        },
        aborted,
        diverged,
        params: countParams(model),
        seconds: state.totalSeconds,
      };
      if (out && !aborted) {
        writeFileAtomic(join(out, FILES.result), `${JSON.stringify(result, null, 2)}\n`);
      }
      return result;
    } finally {
      bar?.stop();
    }
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
  for (let start = 0; start < set.count; start += EVAL_BATCH) {
    const indices = Array.from(
      { length: Math.min(EVAL_BATCH, set.count - start) },
      (_, i) => start + i,
    );
    const batch = makeBatch(set, indices, norm);
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

function restoreModel(model: LayersModel, saved: SavedTensor[]): void {
  const weights = model.weights;
  if (saved.length !== weights.length) {
    throw new CheckpointError(
      `checkpoint holds ${saved.length} model tensors, the model has ${weights.length}`,
    );
  }
  const tensors = saved.map((s, i) => {
    const shape = weights[i].shape as number[];
    if (s.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(
        `checkpoint tensor ${s.name} has shape [${s.shape}], the model [${shape}]`,
      );
    }
    return tf.tensor(decodeTensor(s), s.shape, s.dtype);
  });
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

async function restoreOptimizer(optimizer: tf.Optimizer, saved: SavedTensor[]): Promise<void> {
  const named = saved.map((s) => ({
    name: s.name,
    tensor: tf.tensor(decodeTensor(s), s.shape, s.dtype),
  }));
  await optimizer.setWeights(named);
  // Variables share data by reference counting, so the optimizer keeps its copies.
  for (const { tensor } of named) tensor.dispose();
}

/** A checkpoint belongs to this run only if every setting but `out` matches. */
function checkSameRun(saved: TrainConfig, current: TrainConfig): void {
  const a = canonicalJson({ ...saved, out: undefined });
  const b = canonicalJson({ ...current, out: undefined });
  if (a !== b) {
    throw new CheckpointError(
      `the checkpoint in ${current.out} was written by a run with a different config; ` +
        'use another --out, or delete the checkpoint to start afresh',
    );
  }
}

/** JSON with object keys sorted, so key order does not matter when comparing configs. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}

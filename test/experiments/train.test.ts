import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '#harness/experiments/backend.js';
import { type Checkpoint, CheckpointError } from '#harness/experiments/checkpoint.js';
import type { EpochRecord, ModelConfig, TrainConfigInput } from '#harness/experiments/config.js';
import { buildModel } from '#harness/experiments/models.js';
import { runTraining } from '#harness/experiments/train.js';
import { tempDir, writeIdxDataset } from './fixtures.js';
import { checkStopAndResume } from './resume.js';

const dataDir = writeIdxDataset({ train: 480, test: 120, side: 12, seed: 3 });

function readCheckpoint(out: string): Checkpoint {
  return JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;
}

function withoutTime(records: EpochRecord[]) {
  return records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}

function weights(out: string): Float32Array[] {
  return readCheckpoint(out).model.map((t) => {
    const b = Buffer.from(t.data, 'base64');
    return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  });
}

describe('runTraining', () => {
  it('lowers the training loss of a short run and beats chance on test data', async () => {
    const result = await runTraining({
      dataset: 'fashion-mnist',
      dataDir,
      model: { kind: 'mlp', hidden: [32] },
      optimizer: 'adamw',
      lr: 3e-3,
      weightDecay: 0.01,
      epochs: 3,
      batchSize: 32,
      seed: 1,
    });
    const [first, , last] = result.epochs;
    assert.equal(result.epochs.length, 3);
    assert.ok(last.trainLoss < 0.7 * first.trainLoss, `${first.trainLoss} -> ${last.trainLoss}`);
    assert.ok(last.testError < 0.5, `test error ${last.testError} (chance 0.9)`);
    assert.equal(last.step, 3 * Math.ceil(480 / 32));
    assert.equal(result.aborted, false);
  });

  it('agrees with the cpu backend on the wasm backend', async () => {
    const base: TrainConfigInput = {
      dataDir,
      model: { kind: 'cnn', width: 0.25 },
      optimizer: 'sgdw',
      lr: 0.05,
      weightDecay: 1e-3,
      epochs: 1,
      batchSize: 24,
      subset: 48,
      testSubset: 12,
    };
    const wasmOut = tempDir('wasm');
    const cpuOut = tempDir('cpu');
    const a = await runTraining({ ...base, backend: 'wasm', out: wasmOut });
    const b = await runTraining({ ...base, backend: 'cpu', out: cpuOut });
    await useBackend('wasm');
    assert.ok(Math.abs(a.final.trainLoss - b.final.trainLoss) < 1e-4 * b.final.trainLoss);
    const wa = weights(wasmOut);
    const wb = weights(cpuOut);
    for (let i = 0; i < wa.length; i++) {
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < wa[i].length; j++) {
        diff = Math.max(diff, Math.abs(wa[i][j] - wb[i][j]));
        scale = Math.max(scale, Math.abs(wb[i][j]));
      }
      assert.ok(diff <= 1e-4 * Math.max(scale, 1), `tensor ${i}: max diff ${diff}`);
    }
  });

  it('ends bit-identical to an uninterrupted run when stopped mid-epoch and resumed', async () => {
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'cnn', width: 0.25 },
      optimizer: 'adamw',
      lr: 3e-3,
      weightDecay: 0.05,
      weightDecayNorm: true,
      decayScale: 'schedule',
      schedule: { kind: 'warm-restarts', t0: 1, tMult: 2 },
      augment: { cropPadding: 2, flip: true },
      validationSize: 48,
      subset: 160,
      testSubset: 40,
      epochs: 3,
      batchSize: 32,
      seed: 5,
    };
    await checkStopAndResume(config);
  });

  it('aborts on a signal with a checkpoint, and refuses a checkpoint of another run', async () => {
    const out = tempDir('abort');
    const controller = new AbortController();
    controller.abort();
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'mlp', hidden: [8] },
      epochs: 1,
      subset: 64,
      testSubset: 10,
      out,
    };
    const result = await runTraining(config, { signal: controller.signal });
    assert.equal(result.aborted, true);
    assert.equal(readCheckpoint(out).state.step, 0);
    await assert.rejects(
      runTraining({ ...config, lr: 0.5 }, { resume: true }),
      (e: Error) =>
        e instanceof CheckpointError &&
        /different config \(lr: 0\.001 in the checkpoint, 0\.5 now\)/.test(e.message),
    );
    writeFileSync(join(out, 'checkpoint.json'), '{"version": 1, "config": ');
    await assert.rejects(
      runTraining(config, { resume: true }),
      (e: Error) => e instanceof CheckpointError && /corrupt checkpoint/.test(e.message),
    );
  });
});

describe('divergence', () => {
  it('stops after the epoch in which the loss became NaN and says so', async () => {
    const records: EpochRecord[] = [];
    const result = await runTraining(
      {
        dataDir,
        model: { kind: 'mlp', hidden: [16] },
        optimizer: 'sgd',
        momentum: 0,
        lr: 1e30,
        epochs: 3,
        subset: 96,
        testSubset: 10,
        batchSize: 16,
      },
      { onEpoch: (r) => records.push(r) },
    );
    assert.equal(result.diverged, true);
    assert.equal(result.epochs.length, 1);
    assert.equal(records.length, 1);
    assert.ok(Number.isNaN(records[0].trainLoss));
  });

  it('stops at the first epoch from divergeAfter on whose loss exceeds divergeLoss', async () => {
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'mlp', hidden: [16] },
      lr: 1e-3,
      epochs: 4,
      subset: 96,
      testSubset: 10,
      batchSize: 16,
    };
    const free = await runTraining(config);
    assert.equal(free.diverged, false);
    // A bound every epoch's loss exceeds: the run still trains until epoch divergeAfter.
    const bound = Math.min(...free.epochs.map((r) => r.trainLoss)) / 2;
    const stopped = await runTraining({ ...config, divergeLoss: bound, divergeAfter: 2 });
    assert.equal(stopped.diverged, true);
    assert.deepEqual(withoutTime(stopped.epochs), withoutTime(free.epochs.slice(0, 2)));
    // A bound above every epoch's loss never stops it.
    const high = Math.max(...free.epochs.map((r) => r.trainLoss)) * 2;
    const kept = await runTraining({ ...config, divergeLoss: high });
    assert.equal(kept.diverged, false);
    assert.equal(kept.epochs.length, 4);
  });
});

describe('stopAtEpoch', () => {
  it('pauses after that epoch with a checkpoint, and resuming ends as an uninterrupted run', async () => {
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'mlp', hidden: [16] },
      schedule: { kind: 'cosine' },
      epochs: 3,
      subset: 96,
      testSubset: 10,
      batchSize: 16,
      validationSize: 30,
    };
    const whole = await runTraining({ ...config, out: tempDir('whole') });
    const out = tempDir('rung');
    const paused = await runTraining({ ...config, out }, { stopAtEpoch: 1 });
    assert.equal(paused.aborted, true);
    assert.equal(paused.epochs.length, 1);
    const again = await runTraining({ ...config, out }, { resume: true, stopAtEpoch: 1 });
    assert.equal(again.epochs.length, 1, 'a rung already reached trains nothing');
    const rest = await runTraining({ ...config, out }, { resume: true });
    assert.equal(rest.aborted, false);
    assert.deepEqual(withoutTime(rest.epochs), withoutTime(whole.epochs));
    assert.ok(rest.epochs.every((r) => typeof r.valError === 'number'));
  });
});

describe('models', () => {
  it('are seeded, output logits, and have the configured depth', async () => {
    await useBackend('wasm');
    const configs = [
      { kind: 'mlp', hidden: [16, 8] },
      { kind: 'cnn', width: 0.25 },
      { kind: 'resnet', blocksPerStage: 2, width: 4 },
    ] satisfies ModelConfig[];
    for (const config of configs) {
      const a = buildModel(config, [12, 12, 3], 10, 1);
      const b = buildModel(config, [12, 12, 3], 10, 1);
      const c = buildModel(config, [12, 12, 3], 10, 2);
      const values = (m: typeof a) => m.getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(values(a), values(b), config.kind);
      assert.notDeepEqual(values(a), values(c), config.kind);
      const y = a.predict(tf.zeros([2, 12, 12, 3])) as tf.Tensor;
      assert.deepEqual(y.shape, [2, 10]);
      if (config.kind === 'resnet') {
        const convs = a.layers.filter((l) => l.getClassName() === 'Conv2D').length;
        // Stem + 2 convs per block in 3 stages + 2 projection shortcuts.
        assert.equal(convs, 1 + 2 * 3 * 2 + 2);
        const bns = a.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
        assert.equal(bns, convs);
      }
      for (const m of [a, b, c]) m.dispose();
      y.dispose();
    }
  });
});

/**
 * The stop-and-resume check of the training tests: `config` (5 steps per epoch, 3 epochs) run
 * whole, and again in three sessions stopped after step 3 (mid-epoch 1) and step 7 (mid-epoch 2);
 * the resumed run must end bit-identical to the whole one: its records, model weights and
 * BatchNorm statistics, optimizer state and RNG, with no tensor left behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint } from '#harness/experiments/checkpoint.js';
import type { EpochRecord, TrainConfigInput } from '#harness/experiments/config.js';
import { runTraining } from '#harness/experiments/train.js';
import { tempDir } from './fixtures.js';

function readCheckpoint(out: string): Checkpoint {
  return JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;
}

function withoutTime(records: EpochRecord[]) {
  return records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}

/** Runs the check; returns the final checkpoints of the whole and the resumed run. */
export async function checkStopAndResume(
  config: TrainConfigInput,
): Promise<{ whole: Checkpoint; resumed: Checkpoint }> {
  const full = tempDir('full');
  const whole = await runTraining({ ...config, out: full });

  const tensors = tf.memory().numTensors;
  const parts = tempDir('parts');
  const first = await runTraining({ ...config, out: parts }, { stopAfterSteps: 3 });
  assert.equal(first.aborted, true);
  assert.equal(first.epochs.length, 0);
  assert.equal(readCheckpoint(parts).state.batch, 3);
  // Stopped again in the second epoch (step 7; 5 steps per epoch), after one resume.
  const second = await runTraining({ ...config, out: parts }, { resume: true, stopAfterSteps: 4 });
  assert.equal(second.aborted, true);
  assert.equal(second.epochs.length, 1);
  assert.deepEqual([readCheckpoint(parts).state.step, readCheckpoint(parts).state.batch], [7, 2]);
  const third = await runTraining({ ...config, out: parts }, { resume: true });
  assert.equal(third.aborted, false);
  assert.equal(tf.memory().numTensors, tensors, 'runs leave no tensors behind');

  assert.deepEqual(withoutTime(third.epochs), withoutTime(whole.epochs));
  const a = readCheckpoint(full);
  const b = readCheckpoint(parts);
  assert.deepEqual(
    b.model.map((t) => t.data),
    a.model.map((t) => t.data),
    'model weights and BN statistics',
  );
  assert.deepEqual(
    b.optimizer.map((t) => [t.name.replace(/_\d+/g, ''), t.data]),
    a.optimizer.map((t) => [t.name.replace(/_\d+/g, ''), t.data]),
    'optimizer state',
  );
  assert.deepEqual(b.state.rng, a.state.rng);
  const lines = readFileSync(join(parts, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, whole.epochs.length);
  return { whole: a, resumed: b };
}

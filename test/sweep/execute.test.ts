/**
 * executeTrial on real (tiny) trainings of Fashion-MNIST: an interrupted trial resumes from its
 * checkpoint and ends exactly where an uninterrupted one does; a diverging one is stopped early.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { executeTrial } from '#harness/sweep/execute.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';

const DATA = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const skip = existsSync(DATA) ? false : 'dataset-fashion-mnist is not installed';
const base = {
  model: { kind: 'mlp', hidden: [16] },
  subset: 256,
  testSubset: 256,
  epochs: 3,
  batchSize: 64,
};

test('an interrupted trial resumes from its checkpoint and matches an uninterrupted one', {
  skip,
}, async () => {
  const [trial] = expandGrid(
    parseSweepSpec({ base, grid: { optimizer: ['adamw'], lr: [3e-3], weightDecay: [0.1] } }),
  );
  const root = mkdtempSync(join(tmpdir(), 'execute-'));
  const whole = await executeTrial(trial, join(root, 'whole'));
  assert.equal(whole.status, 'ok');
  assert.equal(whole.epochs.length, 3);

  const dir = join(root, 'interrupted');
  const controller = new AbortController();
  await assert.rejects(
    executeTrial(trial, dir, {
      signal: controller.signal,
      onEpoch: (point) => {
        if (point.epoch === 1) controller.abort();
      },
    }),
    (e: Error) => e.name === 'AbortError',
  );
  assert.ok(existsSync(join(dir, 'checkpoint.json')));
  const seen: number[] = [];
  const resumed = await executeTrial(trial, dir, {
    attempt: 2,
    onEpoch: (p) => seen.push(p.epoch),
  });
  assert.deepEqual(seen, [2, 3], 'only the missing epochs are trained');
  assert.equal(resumed.attempt, 2);
  assert.deepEqual(
    resumed.epochs.map((p) => [p.trainLoss, p.testError]),
    whole.epochs.map((p) => [p.trainLoss, p.testError]),
  );
  assert.deepEqual(resumed.final, whole.final);
});

test('a diverging trial stops at the first non-finite loss and is marked diverged', {
  skip,
}, async () => {
  const [trial] = expandGrid(
    parseSweepSpec({ base, grid: { optimizer: ['sgd'], lr: [1e6], weightDecay: [0] } }),
  );
  const result = await executeTrial(trial, mkdtempSync(join(tmpdir(), 'execute-nan-')));
  assert.equal(result.status, 'ok');
  assert.equal(result.diverged, true);
  assert.ok(result.epochs.length < 3, `${result.epochs.length} epochs`);
  assert.equal(Number.isFinite(result.epochs[result.epochs.length - 1].trainLoss), false);
});

test('a trial whose training throws is recorded as failed, not thrown', async () => {
  const [trial] = expandGrid(
    parseSweepSpec({ base, grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] } }),
  );
  const broken = { ...trial, config: { ...trial.config, dataDir: '/nonexistent/data' } };
  const result = await executeTrial(broken, mkdtempSync(join(tmpdir(), 'execute-fail-')));
  assert.equal(result.status, 'failed');
  assert.match(result.error ?? '', /nonexistent/);
});

/** Progress over trials of different lengths (an epochs axis): totals, counting, ETA. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressTracker } from '#harness/sweep/progress.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import type { TrialResult } from '#harness/sweep/types.js';

test('progress counts each trial at its own length', () => {
  const trials = expandGrid(
    parseSweepSpec({
      base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
      grid: { optimizer: ['adamw'], lr: [1e-3], weightDecay: [0.1, 0.2], epochs: [2, 6] },
    }),
  );
  const lines: string[] = [];
  const tracker = new ProgressTracker(trials, Date.now() - 1000, (line) => lines.push(line));
  assert.equal(tracker.progress.epochsTotal, 2 * (2 + 6));
  const short = trials.find((t) => t.epochs === 2);
  const long = trials.find((t) => t.epochs === 6);
  assert.ok(short && long);
  const point = { trainLoss: 1, trainError: 0.5, testError: 0.5, wallTimeMs: 1 };
  tracker.record({ type: 'epoch', trial: long, point: { ...point, epoch: 1 }, epochs: 6 });
  assert.equal(tracker.progress.epochsDone, 1);
  // A finished trial counts its whole length, whatever was reported before.
  const result: TrialResult = {
    trialId: short.id,
    params: short.params,
    status: 'ok',
    epochs: [{ ...point, epoch: 2 }],
    final: point,
    wallTimeMs: 1,
    attempt: 1,
    finishedAt: new Date(0).toISOString(),
  };
  tracker.record({ type: 'done', trial: short, result });
  assert.equal(tracker.progress.epochsDone, 1 + 2);
  assert.equal(tracker.progress.trialsDone, 1);
  // ETA = elapsed / epochsDone * epochsLeft.
  const { elapsedMs, etaMs } = tracker.progress;
  assert.ok(etaMs !== undefined && Math.abs(etaMs - (elapsedMs / 3) * 13) < 1e-6);
  assert.match(lines.at(-1) ?? '', /^\[1\/4\] adamw lr=0\.001 wd=0\.[12] cosine seed=1 epochs=2: /);
});

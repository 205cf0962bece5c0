/** Report metrics on synthetic sweeps whose answers are known in closed form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../src/report/index.js';
import {
  axisAlignment,
  buildCells,
  compareOptimizers,
  decayEffects,
  describeComparison,
  estimateNoise,
  groupCells,
  pooledSd,
} from '../../src/report/metrics.js';
import { expandGrid, parseSweepSpec } from '../../src/sweep/spec.js';
import type { Trial } from '../../src/sweep/types.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

const lrs = [1e-3, 1e-2, 1e-1];
const wds = [1e-4, 1e-3, 1e-2];

/** Coupled: error depends on lr * wd (best where lr * wd = 1e-5), a diagonal basin. */
const coupled = (lr: number, wd: number) =>
  wd === 0 ? 0.2 : 0.1 + 0.01 * (Math.log10(lr * wd) + 5) ** 2;
/** Decoupled: best wd = 1e-3 at every lr, an axis-aligned basin; lr 1e-2 best. */
const decoupled = (lr: number, wd: number) =>
  wd === 0 ? 0.2 : 0.09 + 0.01 * (Math.log10(wd) + 3) ** 2 + 0.005 * (Math.log10(lr) + 2) ** 2;

function sweep(seeds: number[], jitter: number) {
  const spec = parseSweepSpec({
    name: 'synthetic',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3, testSubset: 1000 },
    grid: { optimizer: ['adam', 'adamw'], lr: lrs, weightDecay: [0, ...wds], seed: seeds },
  });
  const trials = expandGrid(spec);
  // Seed 1 sits `jitter` above, seed 2 `jitter` below the true value: cell sd = jitter * sqrt(2).
  const value = (t: Trial) =>
    (t.params.optimizer === 'adam' ? coupled : decoupled)(t.params.lr, t.params.weightDecay) +
    (t.params.seed === 1 ? jitter : -jitter);
  const results = trials.map((t) => syntheticResult(t, value(t)));
  return { spec, trials, results };
}

test('cells average over seeds; pooled sd has its closed form', () => {
  const { trials, results } = sweep([1, 2], 0.001);
  const cells = buildCells(trials, results);
  assert.equal(cells.length, 2 * 3 * 4);
  for (const c of cells) {
    assert.equal(c.n, 2);
    const f = c.optimizer === 'adam' ? coupled : decoupled;
    assert.ok(Math.abs(c.mean - f(c.lr, c.weightDecay)) < 1e-12);
    assert.ok(Math.abs(c.sd - 0.001 * Math.SQRT2) < 1e-12);
  }
  assert.ok(Math.abs((pooledSd(cells) ?? 0) - 0.001 * Math.SQRT2) < 1e-12);
  assert.equal(estimateNoise(cells, 1000)?.source, 'seeds');
});

test('alignment: a diagonal basin has slope -1, an axis-aligned one slope 0', () => {
  const { trials, results } = sweep([1, 2], 0.001);
  const groups = groupCells(buildCells(trials, results));
  const adam = axisAlignment(groups.find((g) => g.optimizer === 'adam')!.cells);
  const adamw = axisAlignment(groups.find((g) => g.optimizer === 'adamw')!.cells);
  assert.equal(adam.status, 'measured');
  assert.ok(Math.abs(adam.slope + 1) < 1e-12);
  assert.ok(Math.abs(adam.r2 - 1) < 1e-12);
  assert.equal(adam.alignment, 0);
  assert.deepEqual(
    adam.ridge.map((r) => r.weightDecay),
    [1e-2, 1e-3, 1e-4],
  );
  assert.equal(adamw.status, 'measured');
  assert.equal(adamw.slope, 0);
  assert.equal(adamw.alignment, 1);
});

test('relative improvement and verdicts follow their definitions', () => {
  const { trials, results } = sweep([1, 2], 0.001);
  const cells = buildCells(trials, results);
  const [c] = compareOptimizers(cells);
  assert.equal(c.coupled, 'adam');
  // Best coupled: 0.1 (lr * wd = 1e-5); best decoupled: 0.09 (lr 1e-2, wd 1e-3).
  assert.ok(Math.abs(c.coupledBest.mean - 0.1) < 1e-12);
  assert.ok(Math.abs(c.decoupledBest.mean - 0.09) < 1e-12);
  assert.ok(Math.abs(c.relativeImprovement - 0.1) < 1e-12);
  // threshold = 2 * s * sqrt(2 / n) with s = 0.001 sqrt(2), n = 2.
  assert.ok(Math.abs((c.threshold ?? 0) - 2 * 0.001 * Math.SQRT2) < 1e-12);
  assert.equal(c.verdict, 'decoupled better');
  assert.deepEqual(c.paired, { n: 2, decoupledWins: 2, meanDifference: c.difference });
  const effects = decayEffects(cells);
  assert.ok(effects.every((e) => e.verdict === 'decay helps'));
});

test('a difference within noise is reported as no measurable effect, in words', () => {
  // Large seed noise (sd 0.05 * sqrt 2) swamps the 1-point gap between the optima.
  const { trials, results } = sweep([1, 2], 0.05);
  const [c] = compareOptimizers(buildCells(trials, results));
  assert.equal(c.verdict, 'no measurable effect');
  assert.match(describeComparison(c), /no measurable effect in this setting/);
});

test('flat heatmap rows are not read as a ridge; one seed falls back to binomial noise', () => {
  const spec = parseSweepSpec({
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3, testSubset: 2000 },
    grid: { optimizer: ['adamw'], lr: lrs, weightDecay: wds, seed: [1] },
  });
  const trials = expandGrid(spec);
  // Differences of 0.1 points between weight decays: far below the binomial noise of 2000 images.
  const results = trials.map((t) =>
    syntheticResult(t, 0.15 + 0.001 * Math.log10(t.params.weightDecay) * Math.log10(t.params.lr)),
  );
  const { summary } = summarize(spec, trials, results);
  assert.equal(summary.noise?.source, 'binomial');
  const p = summary.noise ? 0.15 : 0;
  assert.ok(Math.abs((summary.noise?.sd ?? 0) - Math.sqrt((p * (1 - p)) / 2000)) < 0.002);
  const [group] = summary.groups;
  assert.equal(group.alignment.status, 'flat');
  assert.ok(summary.findings.some((f) => /made no measurable difference/.test(f)));
  // Without a weight decay of 0 there is nothing to compare decay against.
  assert.equal(summary.decayEffects.length, 0);
});

test('a partial sweep is reported as incomplete', () => {
  const { spec, trials, results } = sweep([1], 0);
  const { summary } = summarize(spec, trials, results.slice(0, 5));
  assert.equal(summary.trials.pending, trials.length - 5);
  assert.match(summary.findings[0], /incomplete/);
});

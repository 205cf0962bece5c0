/** Report metrics on synthetic sweeps whose answers are known in closed form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeComparison } from '#harness/report/claims/describe.js';
import { summarize } from '#harness/report/index.js';
import {
  buildCells,
  compareOptimizers,
  decayEffects,
  estimateNoise,
  groupCells,
  pooledSd,
  ridge,
} from '#harness/report/metrics.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import type { Trial } from '#harness/sweep/types.js';
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
  // Seed 1 sits `jitter` above, seed 2 `jitter` below the true value (the other way round for
  // adamw): cell sd = jitter * sqrt(2), and the paired adam - adamw differences are d ± 2 jitter.
  const value = (t: Trial) =>
    (t.params.optimizer === 'adam' ? coupled : decoupled)(t.params.lr, t.params.weightDecay) +
    (t.params.seed === 1 ? jitter : -jitter) * (t.params.optimizer === 'adam' ? 1 : -1);
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

test('the ridge: the best nonzero decay per learning rate, rows at chance left out', () => {
  const { trials, results } = sweep([1, 2], 0.001);
  const groups = groupCells(buildCells(trials, results));
  const adam = ridge(groups.find((g) => g.optimizer === 'adam')?.cells ?? [], 'test');
  const adamw = ridge(groups.find((g) => g.optimizer === 'adamw')?.cells ?? [], 'test');
  // Diagonal: lr * wd = 1e-5 at lr 1e-3, 1e-2, 1e-1. Axis-aligned: wd 1e-3 at every lr.
  assert.deepEqual(
    adam.map((c) => [c.lr, c.weightDecay]),
    [
      [1e-3, 1e-2],
      [1e-2, 1e-3],
      [1e-1, 1e-4],
    ],
  );
  assert.deepEqual(
    adamw.map((c) => c.weightDecay),
    [1e-3, 1e-3, 1e-3],
  );
  // A row whose every setting diverged (chance level) has no best decay.
  const diverged = results.map((r) =>
    r.params.optimizer === 'adam' && r.params.lr === 1e-1
      ? {
          ...r,
          diverged: true,
          final: { trainLoss: Number.NaN, trainError: 0.9, testError: Number.NaN },
        }
      : r,
  );
  const cells = groupCells(buildCells(trials, diverged)).find((g) => g.optimizer === 'adam');
  assert.deepEqual(
    ridge(cells?.cells ?? [], 'test').map((c) => c.lr),
    [1e-3, 1e-2],
  );
});

test('comparisons are paired by seed, with the t interval in closed form', () => {
  const jitter = 0.0001;
  const { trials, results } = sweep([1, 2], jitter);
  const cells = buildCells(trials, results);
  const [c] = compareOptimizers(cells);
  assert.equal(c.coupled, 'adam');
  // Best coupled: 0.1 (lr * wd = 1e-5); best decoupled: 0.09 (lr 1e-2, wd 1e-3).
  assert.ok(Math.abs(c.coupledBest.mean - 0.1) < 1e-12);
  assert.ok(Math.abs(c.decoupledBest.mean - 0.09) < 1e-12);
  assert.ok(Math.abs(c.relativeImprovement - 0.1) < 1e-12);
  assert.equal(c.selectedOn, 'test');
  // d = 0.01 ± 2 jitter: mean 0.01, sd 2 jitter sqrt 2, half-width t(0.975, 1) * 2 jitter.
  const half = 12.706204736174694 * 2 * jitter;
  assert.equal(c.paired.n, 2);
  assert.ok(Math.abs(c.paired.mean - 0.01) < 1e-12);
  assert.ok(Math.abs(c.paired.lo - (0.01 - half)) < 1e-12);
  assert.ok(Math.abs(c.paired.hi - (0.01 + half)) < 1e-12);
  assert.equal(c.verdict, 'positive');
  assert.match(
    describeComparison(c),
    /AdamW vs Adam\+L2 \(cosine\), each at its best setting: AdamW is lower by 1\.00 points, 95% CI \[0\.75, 1\.25\], lower on 2 of 2 seeds \(2 seeds paired; the experiment calls for 5\)\.$/,
  );
  const effects = decayEffects(cells);
  assert.ok(effects.every((e) => e.verdict === 'positive'));
});

test('an interval that contains 0 says no difference is detectable, in words', () => {
  // Opposite seed noise of 5 points per optimizer swamps the 1-point gap between the optima.
  const { trials, results } = sweep([1, 2], 0.05);
  const [c] = compareOptimizers(buildCells(trials, results));
  assert.equal(c.verdict, 'none');
  assert.match(
    describeComparison(c),
    /: no difference detectable: Adam\+L2 minus AdamW 1\.00 points, 95% CI \[-126\.06, 128\.06\], AdamW lower on 1 of 2 seeds/,
  );
});

test('one seed: no interval, and the binomial noise stands in for the seed noise', () => {
  const spec = parseSweepSpec({
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3, testSubset: 2000 },
    grid: { optimizer: ['adam', 'adamw'], lr: lrs, weightDecay: [0, ...wds], seed: [1] },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) => syntheticResult(t, 0.15));
  const { summary } = summarize(spec, trials, results);
  assert.equal(summary.noise?.source, 'binomial');
  assert.ok(Math.abs((summary.noise?.sd ?? 0) - Math.sqrt((0.15 * 0.85) / 2000)) < 1e-12);
  const g = summary.claims.generalization;
  assert.equal(g.status === 'analyzed' && g.result.comparisons[0].verdict, 'no interval');
  assert.ok(
    summary.claimFindings.some((f) =>
      /on the one shared seed, so no interval can be computed/.test(f),
    ),
  );
  assert.ok(summary.findings.some((f) => /chosen on the test set itself/.test(f)));
});

test('without a weight decay of 0 there is nothing to compare decay against', () => {
  const spec = parseSweepSpec({
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
    grid: { optimizer: ['adamw'], lr: lrs, weightDecay: [1e-3, 1e-2], seed: [1, 2] },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) => syntheticResult(t, 0.15 + t.params.weightDecay));
  const { summary } = summarize(spec, trials, results);
  assert.equal(summary.claims.generalization.status, 'missing');
  assert.match(
    summary.claimFindings[0],
    /^Generalization \(decoupled against coupled decay\): this sweep cannot address it: /,
  );
});

test('the best setting is chosen on validation error when every record has one', () => {
  const { spec, trials, results } = sweep([1], 0);
  // Validation error that prefers the largest weight decay, whatever the test error says.
  for (const r of results) {
    if (r.final) Object.assign(r.final, { valError: 0.5 - r.params.weightDecay });
  }
  const { summary } = summarize(spec, trials, results);
  assert.equal(summary.selectedOn, 'validation');
  for (const g of summary.groups) assert.equal(g.best?.weightDecay, 1e-2);
  assert.ok(summary.findings.some((f) => /chosen on the validation error/.test(f)));
});

test('a partial sweep is reported as incomplete', () => {
  const { spec, trials, results } = sweep([1], 0);
  const { summary } = summarize(spec, trials, results.slice(0, 5));
  assert.equal(summary.trials.pending, trials.length - 5);
  assert.match(summary.findings[0], /incomplete/);
});

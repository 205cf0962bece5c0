/**
 * The claim analyses against closed forms and a synthetic sweep with known answers
 * (test/helpers/report-fixture.ts): a diagonal basin has slope -1 exactly, an axis-aligned one 0;
 * a λ_norm optimum that stays put moves the raw λ by log2(√(T₁/T₂)) cells of a factor-2 grid;
 * warm restarts lower the error at the restart epoch by a set amount.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartEpochs } from '#harness/report/claims/restarts.js';
import { analyzeSeparable } from '#harness/report/claims/separable.js';
import { buildCells, pairBySeed } from '#harness/report/metrics.js';
import { pairedDifference, regressionSlope, studentTQuantile } from '#harness/report/stats.js';
import { summarize } from '#harness/report/summary.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { CLAIMS_ANSWERS, claimsSweep } from '../helpers/report-fixture.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function analyzed<T>(r: { status: 'analyzed'; result: T } | { status: 'missing'; why: string }): T {
  assert.equal(r.status, 'analyzed', JSON.stringify(r));
  return (r as { result: T }).result;
}

test('restart epochs are the period boundaries inside the run', () => {
  assert.deepEqual(restartEpochs(4, 2, 12), [4]);
  assert.deepEqual(restartEpochs(1, 2, 31), [1, 3, 7, 15]);
  assert.deepEqual(restartEpochs(3, 1, 10), [3, 6, 9]);
  assert.deepEqual(restartEpochs(10, 2, 10), []);
});

test('basin slopes: diagonal -1 and axis-aligned 0 exactly, with the t interval over seeds', () => {
  // Seed 1: best decay 1e-5/lr (slope -1); seed 2: best decay 1e-3 at every lr (slope 0).
  const spec = parseSweepSpec({
    name: 'slopes',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
    grid: {
      optimizer: ['adam'],
      lr: [1e-4, 1e-3, 1e-2],
      weightDecay: [1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
      seed: [1, 2],
    },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) => {
    const { lr, weightDecay: wd, seed } = t.params;
    const x = seed === 1 ? Math.log10(lr * wd) + 5 : Math.log10(wd) + 3;
    return syntheticResult(t, 0.1 + 0.01 * x * x);
  });
  const cells = buildCells(trials, results);
  const [s] = analyzeSeparable(cells, trials, results, 'test').slopes;
  assert.deepEqual(s.seeds, [1, 2]);
  close(s.seedSlopes[0], -1, 1e-12, 'diagonal seed');
  assert.equal(s.seedSlopes[1], 0);
  // Mean -0.5, sd √0.5, half width t(0.975, 1)·sd/√2 = 12.706·0.5.
  close(s.slope.mean, -0.5, 1e-12, 'mean');
  close(s.slope.hi - s.slope.mean, studentTQuantile(0.975, 1) * 0.5, 1e-9, 'half width');
  assert.deepEqual(
    s.rows.map((r) => r.seedDecays),
    [
      [0.1, 1e-3],
      [1e-2, 1e-3],
      [1e-3, 1e-3],
    ],
  );
});

test('the claims sweep: every claim analyzed, with the known answers', () => {
  const { spec, trials, results } = claimsSweep();
  const { summary } = summarize(spec, trials, results);
  assert.equal(summary.selectedOn, 'validation');
  assert.deepEqual(summary.lengths, [3, 12]);

  const [gen] = analyzed(summary.claims.generalization).comparisons;
  assert.equal(gen.paired.n, 5);
  const gaps = CLAIMS_ANSWERS.seeds.map(CLAIMS_ANSWERS.generalizationGap);
  const expected = pairedDifference(gaps);
  close(gen.paired.lo, expected.lo, 1e-12, 'generalization lo');
  close(gen.paired.hi, expected.hi, 1e-12, 'generalization hi');
  assert.deepEqual(pairBySeed(gen.coupledBest, gen.decoupledBest).length, 5);
  // Only the 12-epoch runs are in the main cells.
  assert.equal(gen.decoupledBest.n, 5);

  const sep = analyzed(summary.claims.separable);
  const adam = sep.slopes.find((s) => s.optimizer === 'adam');
  const adamw = sep.slopes.find((s) => s.optimizer === 'adamw' && s.schedule === 'cosine');
  assert.ok(adam && adamw);
  for (const b of adam.seedSlopes) close(b, -1, 1e-12, 'Adam+L2 slope');
  for (const b of adamw.seedSlopes) assert.equal(b, 0);
  assert.deepEqual(
    adam.rows.map((r) => [r.lr, r.bestDecay]),
    [1e-4, 1e-3, 1e-2].map((lr) => [lr, Number(CLAIMS_ANSWERS.adamBestDecay(lr).toPrecision(12))]),
  );
  const diff = sep.differences.find((d) => d.schedule === 'cosine');
  close(diff?.difference.mean ?? Number.NaN, -1, 1e-12, 'difference of slopes');

  const [budget] = analyzed(summary.claims.budget);
  assert.deepEqual([budget.short, budget.long, budget.swept], [3, 12, 'norm']);
  for (const b of budget.best) assert.equal(b.decay.norm, CLAIMS_ANSWERS.adamwBestNorm);
  assert.equal(budget.norm.shift.mean, 0);
  assert.equal(budget.norm.verdict, 'stays');
  // Raw λ ∝ 1/√T: 4x the epochs halves it, one cell of the factor-2 grid.
  close(budget.raw.shift.mean, -1, 1e-12, 'raw shift');
  assert.equal(budget.raw.verdict, 'moves');

  const [wr] = analyzed(summary.claims.restarts);
  assert.deepEqual(wr.restartEpochs, [4]);
  assert.deepEqual(
    wr.points.map((p) => p.epoch),
    [4, 12],
  );
  close(wr.points[0].paired.mean, CLAIMS_ANSWERS.restartGain, 1e-12, 'gain at the restart');
  close(wr.points[1].paired.mean, CLAIMS_ANSWERS.endGap, 1e-12, 'gap at the end');
  assert.equal(wr.points[0].paired.positive, 5);

  const text = summary.findings.join('\n');
  assert.match(text, /trains for 3 and 12 epochs/);
  const claims = summary.claimFindings.join('\n');
  assert.match(
    claims,
    /^Separable lr and decay: Adam\+L2 \(cosine\): slope of log10\(best decay\) on log10\(lr\) -1\.00, 95% CI \[-1\.00, -1\.00\] over 5 seeds: the best decay moves with the learning rate \(slope 0 excluded\), as the paper finds; at 1 of 3 learning rates the best decay is the grid's smallest or largest/m,
  );
  assert.match(
    claims,
    /^Separable lr and decay: AdamW \(cosine\): slope .* 0\.00, .*does not move with the learning rate.*, as the paper finds; with decay scaled by η_t, iso-τ lines are vertical, so the optimum keeps a constant EMA timescale, τ ≈ 12 epochs\.$/m,
  );
  // τ = 1/(λ K), λ = 0.05 √(125 / (4000 · 12)), K = 4000 / 125 iterations: 12.2 epochs.
  const tau = 1 / (0.05 * Math.sqrt(125 / (4000 * 12)) * 32);
  assert.equal(tau.toPrecision(2), '12');
  assert.match(
    claims,
    /^Normalized decay across budgets: AdamW \(cosine\), 3 against 12 epochs: the best λ_norm shifts by 0\.00 cells, 95% CI \[0\.00, 0\.00\] over 5 seeds: stays within one grid cell, the best raw λ by -1\.00 cells, 95% CI \[-1\.00, -1\.00\] over 5 seeds: moves, as the paper claims\.$/m,
  );
  assert.match(
    claims,
    /^Warm restarts: AdamW with warm restarts .*\(restart at epoch 4\): at epoch 4, warm restarts is lower by 3\.00 points, 95% CI \[3\.00, 3\.00\], lower on 5 of 5 seeds; at epoch 12 \(the end\), cosine is lower by 0\.20 points/m,
  );
  assert.match(
    claims,
    /^Generalization: AdamW vs Adam\+L2 \(cosine\), each at its best setting: AdamW is lower by 1\.00 points, 95% CI \[[0-9.]+, [0-9.]+\], lower on 5 of 5 seeds\.$/m,
  );
  assert.doesNotMatch(claims, /cannot address/);
  // Each verdict is stated once: the other findings hold none of the claims' sentences.
  for (const line of summary.findings) assert.doesNotMatch(line, /CI \[|slope|lower by/, line);
});

test('a claim the sweep has no data for is named, with why, in one line', () => {
  const { spec, trials, results } = claimsSweep();
  const cosineOnly = trials.filter(
    (t) => t.params.schedule === 'cosine' && Number(t.config.epochs) === 12,
  );
  const { summary } = summarize(spec, cosineOnly, results);
  assert.equal(summary.claims.restarts.status, 'missing');
  assert.equal(summary.claims.budget.status, 'missing');
  assert.equal(summary.claims.separable.status, 'analyzed');
  const adamwOnly = cosineOnly.filter((t) => t.params.optimizer === 'adamw');
  const { summary: s2 } = summarize(spec, adamwOnly, results);
  assert.equal(s2.claims.generalization.status, 'missing');
  assert.match(
    (s2.claims.generalization as { why: string }).why,
    /does not run a coupled optimizer and its decoupled twin/,
  );
});

test('generalization: the best settings are chosen on validation, the verdict paired on test', () => {
  const { spec, trials, results } = claimsSweep();
  // Validation prefers AdamW's λ_norm 0.1 (test error 1 point above its test-best 0.05).
  const moved = results.map((r) =>
    r.params.optimizer === 'adamw' && r.params.weightDecay === 0.1
      ? { ...r, final: { ...r.final, valError: r.final.testError - 0.05 } }
      : r,
  );
  const { summary } = summarize(spec, trials, moved);
  const [gen] = analyzed(summary.claims.generalization).comparisons;
  assert.equal(gen.selectedOn, 'validation');
  assert.deepEqual([gen.decoupledBest.lr, gen.decoupledBest.weightDecay], [1e-3, 0.1]);
  // Test errors of the chosen cells: Adam+L2 minus AdamW = 0.001 (s - 3), mean 0, no difference.
  const d = CLAIMS_ANSWERS.seeds.map((s) => 0.001 * (s - 3));
  const expected = pairedDifference(d);
  close(gen.paired.mean, 0, 1e-12, 'mean');
  close(gen.paired.hi, expected.hi, 1e-12, 'hi');
  assert.equal(gen.verdict, 'none');
  assert.match(summary.findings.join('\n'), /chosen on the validation error/);
  assert.match(
    summary.claimFindings.join('\n'),
    /AdamW vs Adam\+L2 \(cosine\), each at its best setting: no difference detectable: Adam\+L2 minus AdamW 0\.00 points/,
  );
});

test('fewer than 3 nonzero decays give no slope; best decays all at an edge, no verdict', () => {
  const spec = parseSweepSpec({
    name: 'edges',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-4, 1e-3, 1e-2],
      weightDecay: [0, 0.01, 0.1],
      seed: [1, 2],
    },
    perOptimizer: { adam: { weightDecay: [1e-4, 1e-3, 1e-2] } },
  });
  const trials = expandGrid(spec);
  // The error grows with decay: every row's best decay is the grid's smallest.
  const results = trials.map((t) => syntheticResult(t, 0.1 + t.params.lr + t.params.weightDecay));
  const { summary } = summarize(spec, trials, results);
  const sep = analyzed(summary.claims.separable);
  assert.deepEqual(
    sep.slopes.map((s) => [s.optimizer, s.slope.mean]),
    [['adam', 0]],
  );
  assert.match(
    summary.claimFindings.join('\n'),
    /Adam\+L2 \(cosine\): slope of log10\(best decay\) on log10\(lr\) 0\.00, 95% CI \[0\.00, 0\.00\] over 2 seeds: at every learning rate the best decay is the grid's smallest or largest, so the optimum lies beyond the grid and its slope is not measured\./,
  );
  const adamwOnly = trials.filter((t) => t.params.optimizer === 'adamw');
  const { summary: s2 } = summarize(spec, adamwOnly, results);
  assert.match(
    (s2.claims.separable as { why: string }).why,
    /3 learning rates × 3 nonzero weight decays .*\(with 2, every best decay is at an edge of the grid\)/,
  );
});

test('the regression interval of a slope, against its closed form', () => {
  // x = 0..3, y = 0, 1, 1, 3: Sxx = 5, Sxy = 4.5, b = 0.9; residuals 0.1, 0.2, -0.7, 0.4, SSE 0.7;
  // half width t(0.975, 2)·√(0.7 / 2 / 5), with t(p, 2) = u·√(2 / (1 - u²)), u = 2p - 1.
  const fit = regressionSlope([0, 1, 2, 3], [0, 1, 1, 3]);
  const u = 0.95;
  const half = u * Math.sqrt(2 / (1 - u * u)) * Math.sqrt(0.7 / 2 / 5);
  close(fit.slope, 0.9, 1e-12, 'slope');
  close(fit.lo, 0.9 - half, 1e-9, 'lo');
  close(fit.hi, 0.9 + half, 1e-9, 'hi');
  // Points on a line have no scatter: a zero-width interval. Two points have none at all.
  const exact = regressionSlope([1, 2, 3], [5, 3, 1]);
  assert.deepEqual([exact.slope, exact.lo, exact.hi], [-2, -2, -2]);
  assert.ok(Number.isNaN(regressionSlope([1, 2], [1, 2]).lo));
});

test('one seed: the basin slope gets the regression interval over its learning rates', () => {
  // The best decay at lr 1e-4 ... 1e-1 is 1e-1, 1e-2, 1e-2, 1e-4: x = -4..-1, y = -1, -2, -2, -4,
  // the mirror image of the closed form above: b = -0.9, the same half width.
  const best = new Map([
    [1e-4, 1e-1],
    [1e-3, 1e-2],
    [1e-2, 1e-2],
    [1e-1, 1e-4],
  ]);
  const spec = parseSweepSpec({
    name: 'one seed',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
    grid: {
      optimizer: ['adam'],
      lr: [...best.keys()],
      weightDecay: [1e-4, 1e-3, 1e-2, 1e-1],
      seed: [7],
    },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) => {
    const x = Math.log10(t.params.weightDecay / (best.get(t.params.lr) ?? 1));
    return syntheticResult(t, 0.1 + 0.01 * x * x);
  });
  const { summary } = summarize(spec, trials, results);
  const [s] = analyzed(summary.claims.separable).slopes;
  const u = 0.95;
  const half = u * Math.sqrt(2 / (1 - u * u)) * Math.sqrt(0.7 / 2 / 5);
  assert.equal(s.slope.over, 'learning rates');
  assert.equal(s.slope.n, 4);
  close(s.slope.mean, -0.9, 1e-12, 'slope');
  close(s.slope.hi, -0.9 + half, 1e-9, 'hi');
  assert.deepEqual(analyzed(summary.claims.separable).differences, []);
  assert.match(
    summary.claimFindings.join('\n'),
    /Adam\+L2 \(cosine\): slope of log10\(best decay\) on log10\(lr\) -0\.90, 95% CI \[-2\.04, 0\.24\] over 4 learning rates \(one seed\): the interval contains both 0 and -1, so this grid cannot tell/,
  );
});

test('one seed at two lengths: the budget shifts are given, without a verdict', () => {
  const { spec, trials, results } = claimsSweep();
  const one = trials.filter((t) => t.params.seed === 1);
  const { summary } = summarize(spec, one, results);
  const [b] = analyzed(summary.claims.budget);
  assert.equal(b.norm.shift.n, 1);
  assert.deepEqual([b.norm.verdict, b.raw.verdict], ['unclear', 'unclear']);
  assert.match(
    summary.claimFindings.join('\n'),
    /the best λ_norm shifts by 0\.00 cells \(one seed, no interval\): not judged, the best raw λ by -1\.00 cells \(one seed, no interval\): not judged\./,
  );
});

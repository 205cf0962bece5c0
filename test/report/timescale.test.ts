/**
 * The EMA timescale view against its closed forms, the iso-τ fit on basins of known shape, and the
 * verdict on it, which the separable claim's slope gives (iso-τ lines have slope -1 or 0).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCells } from '#harness/report/metrics.js';
import { summarize } from '#harness/report/summary.js';
import {
  columnOf,
  gridOf,
  groupTimescale,
  isoTauLine,
  niceTaus,
  tauEpochs,
  timescaleRate,
} from '#harness/report/timescale.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import type { Trial } from '#harness/sweep/types.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b), `${what}: ${a} vs ${b}`);

function trialsOf(base: Record<string, unknown>, lr: number[], weightDecay: number[]): Trial[] {
  return expandGrid(
    parseSweepSpec({
      base: { model: { kind: 'mlp', hidden: [8] }, ...base },
      grid: { optimizer: ['adamw'], lr, weightDecay, seed: [1] },
    }),
  );
}

test('τ = 1/(η λ K) under schedule scaling with normalized decay, by hand', () => {
  const [trial] = trialsOf(
    { subset: 4000, batchSize: 128, epochs: 3, weightDecayNorm: true, decayScale: 'schedule' },
    [1e-3],
    [0.05],
  );
  const rate = timescaleRate(trial);
  assert.ok(rate);
  assert.equal(rate.iterationsPerEpoch, 32); // ceil(4000 / 128)
  const lambda = 0.05 * Math.sqrt(128 / (4000 * 3));
  close(tauEpochs(rate, 1e-3, 0.05), 1 / (lambda * 32), 'tau');
  // Independent of lr under 'schedule'.
  close(tauEpochs(rate, 1e-1, 0.05), 1 / (lambda * 32), 'tau at another lr');
});

test('τ = 1/(lr λ K) under lr scaling; the training set is the file minus the validation split', () => {
  const [trial] = trialsOf({ batchSize: 128, validationSize: 10000 }, [1e-2], [1e-3]);
  const rate = timescaleRate(trial);
  assert.ok(rate);
  assert.equal(rate.iterationsPerEpoch, Math.ceil(50000 / 128));
  close(tauEpochs(rate, 1e-2, 1e-3), 1 / (1e-2 * 1e-3 * Math.ceil(50000 / 128)), 'tau');
  // Warm restarts: normalized decay over the first period t0.
  const [wr] = expandGrid(
    parseSweepSpec({
      base: { subset: 1000, batchSize: 100, epochs: 9, weightDecayNorm: true },
      grid: { optimizer: ['sgdw'], lr: [0.1], weightDecay: [0.05], schedule: ['warm-restarts'] },
    }),
  );
  const wrRate = timescaleRate(wr);
  assert.ok(wrRate);
  close(wrRate.decayFactor, Math.sqrt(100 / (1000 * 3)), 'factor over t0 = epochs / 3');
  // Coupled optimizers have no timescale.
  const [adam] = expandGrid(
    parseSweepSpec({ grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [1e-4] } }),
  );
  assert.equal(timescaleRate(adam), undefined);
});

test('grid columns interpolate log λ between the nonzero decays', () => {
  const grid = { decays: [0, 1e-4, 1e-3, 1e-2], lrs: [1e-1, 1e-2] };
  close(columnOf(grid, 1e-3) ?? Number.NaN, 2, 'on a column');
  close(columnOf(grid, 3e-4) ?? Number.NaN, 1 + Math.log10(3), 'between');
  close(columnOf(grid, 1e-1) ?? Number.NaN, 4, 'past the end, one step');
  assert.equal(columnOf({ decays: [0, 1e-3], lrs: [1] }, 1e-3), undefined);
  assert.deepEqual(niceTaus([1.5, 60]), [2, 5, 20, 50]);
});

const lrs = [1e-4, 1e-3, 1e-2, 1e-1];
const wds = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1];

/** The separable claim's sentence for the one group of `trials`. */
function slopeSentence(trials: Trial[], error: (t: Trial) => number): string {
  const results = trials.map((t) => syntheticResult(t, error(t)));
  const { summary } = summarize({ name: 'τ', base: {} }, trials, results);
  return summary.claimFindings.find((l) => l.startsWith('Separable')) ?? '';
}

test('a basin along lr λ = const keeps one iso-τ line under lr scaling', () => {
  const trials = trialsOf({ subset: 1000, batchSize: 100 }, lrs, wds);
  // Best where lr * wd = 1e-6: wd 1e-2 at lr 1e-4 down to 1e-5 at lr 1e-1.
  const error = (t: Trial) =>
    0.1 + 0.01 * (Math.log10(t.params.lr * t.params.weightDecay) + 6) ** 2;
  const cells = buildCells(
    trials,
    trials.map((t) => syntheticResult(t, error(t))),
  );
  const ts = groupTimescale(cells, trials, 'test');
  assert.ok(ts?.fit);
  assert.equal(ts.decayScale, 'lr');
  assert.ok(ts.fit.maxCells < 0.01, String(ts.fit.maxCells));
  // τ = 1/(lr λ K) = 1/(1e-6 * 10) epochs.
  assert.ok(Math.abs(Math.log(ts.fit.tau / 1e5)) < 0.01, String(ts.fit.tau));
  // The slope is -1 exactly, the iso-τ lines' slope under lr scaling.
  assert.match(
    slopeSentence(trials, error),
    /-1\.00, 95% CI \[-1\.00, -1\.00\] over 4 learning rates \(one seed\): .*; with decay scaled by lr·η_t, iso-τ lines have slope -1, so the optimum keeps a constant EMA timescale, τ ≈ 1e5 epochs/,
  );
  // The drawn line passes through each row's best cell (column centre + 0.5).
  const line = isoTauLine(ts, gridOf(cells), 1e5);
  const rows = line.filter((p) => p.y > 0 && p.y < lrs.length);
  assert.deepEqual(
    rows.map((p) => Number(p.x.toFixed(6))),
    [0.5, 1.5, 2.5, 3.5],
  );
});

test('an axis-aligned basin over 3 decades of lr keeps no iso-τ line under lr scaling', () => {
  const trials = trialsOf({ subset: 1000, batchSize: 100 }, lrs, wds);
  const error = (t: Trial) => 0.1 + 0.01 * (Math.log10(t.params.weightDecay) + 3) ** 2;
  const cells = buildCells(
    trials,
    trials.map((t) => syntheticResult(t, error(t))),
  );
  const ts = groupTimescale(cells, trials, 'test');
  assert.ok(ts?.fit);
  // Best column 2 at every lr; a diagonal crosses 3 columns over 3 decades: misses by 1.5 cells.
  close(ts.fit.maxCells, 1.5, 'max distance');
  assert.match(
    slopeSentence(trials, error),
    /0\.00, 95% CI \[0\.00, 0\.00\] .*iso-τ lines have slope -1, so the optimum does not keep a constant EMA timescale\.$/,
  );
});

test('under schedule scaling the iso-τ lines are vertical', () => {
  const trials = trialsOf({ subset: 1000, batchSize: 100, decayScale: 'schedule' }, lrs, wds);
  const cells = buildCells(
    trials,
    trials.map((t) => syntheticResult(t, 0.1)),
  );
  const ts = groupTimescale(cells, trials, 'test');
  assert.ok(ts);
  const line = isoTauLine(ts, gridOf(cells), tauEpochs(ts, 1, 1e-3));
  assert.ok(line.every((p) => Math.abs(p.x - 2.5) < 1e-9));
});

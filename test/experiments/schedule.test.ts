import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainConfig } from '#harness/experiments/config.js';
import { createOptimizer } from '#harness/experiments/optimizer.js';
import { buildSchedule, buildWeightDecay, stepsPerEpoch } from '#harness/experiments/schedule.js';

const cos = (x: number) => (1 + Math.cos(Math.PI * x)) / 2;

describe('run schedules (epochs -> steps)', () => {
  it('counts the last, smaller batch as a step', () => {
    assert.equal(stepsPerEpoch({ datasetSize: 1000, batchSize: 128 }), 8);
    assert.equal(stepsPerEpoch({ datasetSize: 1024, batchSize: 128 }), 8);
  });

  it('anneals by cosine over the whole run, per batch', () => {
    const config = parseTrainConfig({ epochs: 4, schedule: { kind: 'cosine' } });
    const s = buildSchedule(config, 10);
    for (const t of [0, 7, 20, 39]) assert.ok(Math.abs(s(t) - cos(t / 40)) < 1e-12, String(t));
  });

  it('restarts at t0, t0 (1 + tMult), ... epochs', () => {
    const config = parseTrainConfig({ schedule: { kind: 'warm-restarts', t0: 2, tMult: 2 } });
    const s = buildSchedule(config, 5);
    assert.ok(Math.abs(s(9) - cos(9 / 10)) < 1e-12);
    assert.equal(s(10), 1);
    assert.ok(Math.abs(s(10 + 13) - cos(13 / 20)) < 1e-12);
    assert.equal(s(30), 1);
  });

  it('drops by gamma at milestone epochs', () => {
    const config = parseTrainConfig({ schedule: { kind: 'step', milestones: [2, 3], gamma: 0.5 } });
    const s = buildSchedule(config, 4);
    assert.deepEqual([s(7), s(8), s(11), s(12)], [1, 0.5, 0.5, 0.25]);
  });

  it('normalizes weight decay by the run length, or the current period under restarts', () => {
    const base = { weightDecay: 0.05, weightDecayNorm: true, batchSize: 100, epochs: 8 };
    const flat = buildWeightDecay(parseTrainConfig(base), 1000, 10);
    assert.equal(flat, 0.05 * Math.sqrt(100 / (1000 * 8)));
    const restarts = buildWeightDecay(
      parseTrainConfig({ ...base, schedule: { kind: 'warm-restarts', t0: 1, tMult: 2 } }),
      1000,
      10,
    );
    assert.equal(typeof restarts, 'function');
    const at = restarts as (t: number) => number;
    assert.ok(Math.abs(at(9) - 0.05 * Math.sqrt(100 / 1000)) < 1e-15);
    assert.ok(Math.abs(at(10) - 0.05 * Math.sqrt(100 / 2000)) < 1e-15);
    assert.ok(Math.abs(at(30) - 0.05 * Math.sqrt(100 / 4000)) < 1e-15);
    assert.equal(buildWeightDecay(parseTrainConfig({ weightDecay: 0.3 }), 1000, 10), 0.3);
  });

  it('rejects unknown keys and bad values in a config', () => {
    assert.throws(() => parseTrainConfig({ lr: 0 }), /lr/);
    assert.throws(() => parseTrainConfig({ learningRate: 1 }), /learningRate/);
    assert.throws(() => parseTrainConfig({ model: { kind: 'resnet', depth: 8 } }), /depth/);
  });

  it('builds the optimizer kind and decay exclusion the config names', () => {
    const parts = { schedule: () => 1, weightDecay: 0.1 };
    for (const [kind, className] of [
      ['adamw', 'decoupled.AdamW'],
      ['adam', 'decoupled.Adam'],
      ['sgdw', 'decoupled.SGDW'],
      ['sgd', 'decoupled.SGD'],
    ] as const) {
      const o = createOptimizer(parseTrainConfig({ optimizer: kind }), parts);
      assert.equal(o.getClassName(), className);
      assert.equal(o.isExcludedFromDecay('dense1/bias', [16]), true);
      assert.equal(o.isExcludedFromDecay('dense1/kernel', [8, 16]), false);
    }
    const all = createOptimizer(parseTrainConfig({ decayAll: true }), parts);
    assert.equal(all.isExcludedFromDecay('dense1/bias', [16]), false);
  });
});

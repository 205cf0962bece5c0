/**
 * AdamWR and SGDWR: the paper's settings become warm restarts, normalized per-period decay and
 * decayScale 'schedule'. Checked against closed forms (zero gradients leave only the decay), the
 * schedule and decay functions, save/resume, groups and validation. Trajectories against PyTorch
 * are in golden.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AdamW } from '#decoupled/core/adamw.js';
import { OptionError } from '#decoupled/core/errors.js';
import {
  normalizedWeightDecay,
  normalizedWeightDecayForRestarts,
} from '#decoupled/core/normalized-decay.js';
import { AdamWR, SGDWR, warmRestartHyper } from '#decoupled/core/restarts.js';
import { warmRestarts } from '#decoupled/core/schedules.js';
import { SGDW } from '#decoupled/core/sgdw.js';
import { stateDictFromJSON, stateDictToJSON } from '#decoupled/core/state.js';

// 100 examples in batches of 32: 4 steps per epoch; t0 = 1 epoch, tMult 2 restarts at 4, 12, 28.
const SETTINGS = { lambdaNorm: 0.05, batchSize: 32, datasetSize: 100, t0: 1, tMult: 2 };
const f = Math.fround;

function randomArrays(seed: number, sizes: number[]): Float32Array[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  return sizes.map((n) => Float32Array.from({ length: n }, next));
}

const zeros = (params: Float32Array[]) => params.map((p) => new Float32Array(p.length));

describe('AdamWR and SGDWR are AdamW and SGDW with the paper settings', () => {
  test('schedule, per-period lambda and decayScale', () => {
    for (const opt of [
      new AdamWR(randomArrays(1, [3]), { lr: 1e-3, ...SETTINGS }),
      new SGDWR(randomArrays(1, [3]), { lr: 0.1, momentum: 0.9, ...SETTINGS }),
    ]) {
      assert.ok(opt instanceof AdamW || opt instanceof SGDW);
      const h = opt.paramGroups[0].hyper;
      assert.equal(h.decayScale, 'schedule');
      const eta = warmRestarts({ t0: 4, tMult: 2 });
      const lambda = normalizedWeightDecayForRestarts({ ...SETTINGS, stepsPerEpoch: 4 });
      assert.deepEqual(h.schedule?.config, eta.config);
      assert.ok(typeof h.weightDecay === 'function');
      for (let t = 0; t < 70; t++) {
        assert.equal(h.schedule?.(t), eta(t));
        assert.equal(h.weightDecay(t), lambda(t));
      }
      // Restarts at steps 4, 12, 28: eta back to 1, lambda shrinks by sqrt(2) per doubling.
      for (const [i, start] of [0, 4, 12, 28].entries()) {
        assert.equal(h.schedule?.(start), 1);
        const expected = normalizedWeightDecay({
          lambdaNorm: 0.05,
          batchSize: 32,
          datasetSize: 100,
          epochs: 2 ** i,
        });
        assert.ok(Math.abs(h.weightDecay(start) - expected) < 1e-15);
      }
    }
  });

  test('zero gradients leave theta_t = theta_0 prod (1 - eta_k lambda_k), whatever lr', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 1e-5, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 3 }),
        (seed, lr, t0) => {
          const settings = { ...SETTINGS, t0 };
          const { schedule, weightDecay } = warmRestartHyper(settings);
          for (const make of [
            (p: Float32Array[]) => new AdamWR(p, { lr, ...settings }),
            (p: Float32Array[]) => new SGDWR(p, { lr, momentum: 0.9, nesterov: true, ...settings }),
          ]) {
            const params = randomArrays(seed, [5, 2]);
            const expected = params.map((p) => p.slice());
            const opt = make(params);
            for (let t = 0; t < 20; t++) {
              opt.step(zeros(params));
              const factor = f(1 - schedule(t) * weightDecay(t));
              for (const e of expected) for (let j = 0; j < e.length; j++) e[j] = f(e[j] * factor);
            }
            assert.deepEqual(params, expected);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test('warmup (epochs) and peakDecay: eta_t warms up in each period, lambda_t is unchanged', () => {
    // Half an epoch (2 steps) of warmup in periods of 4, 8, 16 steps starting at 0, 4, 12, 28.
    const extras = { warmup: 0.5, peakDecay: 0.5 };
    for (const opt of [
      new AdamWR(randomArrays(1, [3]), { lr: 1e-3, ...SETTINGS, ...extras }),
      new SGDWR(randomArrays(1, [3]), { lr: 0.1, ...SETTINGS, ...extras }),
    ]) {
      const h = opt.paramGroups[0].hyper;
      assert.deepEqual(
        h.schedule?.config,
        warmRestarts({ t0: 4, tMult: 2, warmup: 2, peakDecay: 0.5 }).config,
      );
      const lambda = normalizedWeightDecayForRestarts({ ...SETTINGS, stepsPerEpoch: 4 });
      assert.ok(typeof h.weightDecay === 'function');
      for (let t = 0; t < 70; t++) assert.equal(h.weightDecay(t), lambda(t));
      for (const [i, start] of [0, 4, 12, 28].entries()) {
        assert.equal(h.schedule?.(start), 0, `period ${i} starts its warmup at min`);
        assert.equal(h.schedule?.(start + 1), 0.5 ** i / 2, `period ${i} warmup midpoint`);
        assert.equal(h.schedule?.(start + 2), 0.5 ** i, `period ${i} peak`);
      }
    }
  });

  test('with warmup and peakDecay, zero gradients still give theta_0 prod (1 - eta_k lambda_k)', () => {
    const settings = { ...SETTINGS, t0: 2, warmup: 0.75, peakDecay: 0.7 };
    const { schedule, weightDecay } = warmRestartHyper(settings);
    const params = randomArrays(11, [5, 2]);
    const expected = params.map((p) => p.slice());
    const opt = new AdamWR(params, { lr: 0.01, ...settings });
    for (let t = 0; t < 40; t++) {
      opt.step(zeros(params));
      const factor = f(1 - schedule(t) * weightDecay(t));
      for (const e of expected) for (let j = 0; j < e.length; j++) e[j] = f(e[j] * factor);
    }
    assert.deepEqual(params, expected);
  });

  test('groups: an excluded group (weightDecay 0) is not decayed', () => {
    const [w, b] = randomArrays(7, [4, 2]);
    const w0 = w.slice();
    const b0 = b.slice();
    const opt = new AdamWR([{ params: [w] }, { params: [b], weightDecay: 0 }], {
      lr: 1e-2,
      ...SETTINGS,
    });
    for (let t = 0; t < 5; t++) opt.step([new Float32Array(4), new Float32Array(2)]);
    assert.deepEqual(b, b0);
    assert.ok(w.every((x, i) => Math.abs(x) < Math.abs(w0[i])));
  });

  test('save and resume continue the restarts and the decay bit for bit', () => {
    for (const make of [
      (p: Float32Array[]) => new AdamWR(p, { lr: 1e-2, amsgrad: true, ...SETTINGS }),
      (p: Float32Array[]) => new SGDWR(p, { lr: 0.1, momentum: 0.9, ...SETTINGS }),
    ]) {
      const grads = Array.from({ length: 40 }, (_, t) => randomArrays(100 + t, [6, 3]));
      const straight = randomArrays(3, [6, 3]);
      const a = make(straight);
      for (const g of grads) a.step(g);

      const resumed = randomArrays(3, [6, 3]);
      const b = make(resumed);
      for (const g of grads.slice(0, 13)) b.step(g); // stops just after the restart at 12
      const saved = stateDictToJSON(b.stateDict());
      const params = resumed.map((p) => p.slice());
      const c = make(params);
      c.loadStateDict(stateDictFromJSON(saved));
      for (const g of grads.slice(13)) c.step(g);
      assert.deepEqual(params, straight);
    }
  });
});

describe('AdamWR / SGDWR validation', () => {
  const base = { lr: 1e-3, ...SETTINGS };
  const cases: [string, Record<string, unknown>, string, unknown][] = [
    ['lambdaNorm missing', { ...base, lambdaNorm: undefined }, 'lambdaNorm', undefined],
    ['lambdaNorm < 0', { ...base, lambdaNorm: -0.1 }, 'lambdaNorm', -0.1],
    ['t0 = 0', { ...base, t0: 0 }, 't0', 0],
    ['t0 < 0', { ...base, t0: -1 }, 't0', -1],
    ['tMult < 1', { ...base, tMult: 0.9 }, 'tMult', 0.9],
    ['min > 1', { ...base, min: 1.2 }, 'min', 1.2],
    ['batchSize 0', { ...base, batchSize: 0 }, 'batchSize', 0],
    ['batchSize not an integer', { ...base, batchSize: 2.5 }, 'batchSize', 2.5],
    ['datasetSize missing', { ...base, datasetSize: undefined }, 'datasetSize', undefined],
    ['stepsPerEpoch 0', { ...base, stepsPerEpoch: 0 }, 'stepsPerEpoch', 0],
    ['warmup = t0 (epochs)', { ...base, warmup: 1 }, 'warmup', 1],
    ['warmup < 0', { ...base, warmup: -0.5 }, 'warmup', -0.5],
    ['peakDecay 0', { ...base, peakDecay: 0 }, 'peakDecay', 0],
    ['peakDecay > 1', { ...base, peakDecay: 2 }, 'peakDecay', 2],
    ['weightDecay given', { ...base, weightDecay: 0.1 }, 'weightDecay', 0.1],
    ['decayScale given', { ...base, decayScale: 'lr' }, 'decayScale', 'lr'],
    ['schedule given', { ...base, schedule: () => 1 }, 'schedule', null],
    ['an optimizer option is still checked', { ...base, lr: -1 }, 'lr', -1],
    ['an unknown option', { ...base, T_mult: 2 }, 'T_mult', 2],
  ];
  for (const [name, options, option, value] of cases) {
    for (const [label, make] of [
      ['AdamWR', (o: never) => new AdamWR([new Float32Array(2)], o)],
      ['SGDWR', (o: never) => new SGDWR([new Float32Array(2)], o)],
    ] as const) {
      test(`${label}: ${name}`, () => {
        assert.throws(
          () => make(options as never),
          (e: unknown) => {
            assert.ok(e instanceof OptionError, `an OptionError, got ${e}`);
            assert.equal(e.option, option);
            if (option !== 'schedule') assert.deepEqual(e.value, value);
            assert.ok(e.message.includes(option), e.message);
            assert.ok(e.message.startsWith(`${label}:`), e.message);
            if (option === 'T_mult') assert.ok(e.message.includes('lambdaNorm'), e.message);
            return true;
          },
        );
      });
    }
  }
});

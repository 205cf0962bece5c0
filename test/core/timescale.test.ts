/**
 * The timescale helpers (Wang & Aitchison 2024) against closed forms, the decay the optimizers
 * actually apply (zero gradients: theta shrinks by (1 - 1/tau_iter) per step, to about 1/e after
 * tau_iter steps), the inverse property and the paper's normalized decay. Validation errors are
 * with the schedules' in schedules.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AdamW } from '#decoupled/core/adamw.js';
import { normalizedWeightDecay } from '#decoupled/core/normalized-decay.js';
import { SGDW } from '#decoupled/core/sgdw.js';
import { decayForTimescale, timescaleOf } from '#decoupled/core/timescale.js';
import type { DecayScale } from '#decoupled/core/types.js';

function close(actual: number, expected: number, tol: number, message?: string) {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.abs(expected),
    `${message ?? ''} ${actual} vs ${expected}`,
  );
}

describe('decayForTimescale and timescaleOf', () => {
  test("closed forms: 'lr' gives 1 / (lr tau stepsPerEpoch), 'schedule' 1 / (tau stepsPerEpoch)", () => {
    // tau = 10 epochs of 391 steps: tau_iter = 3910 steps.
    close(decayForTimescale({ epochs: 10, lr: 1e-3, stepsPerEpoch: 391 }), 1 / 3.91, 1e-15);
    close(
      decayForTimescale({ epochs: 10, lr: 1e-3, stepsPerEpoch: 391, decayScale: 'schedule' }),
      1 / 3910,
      1e-15,
    );
    assert.equal(decayForTimescale({ epochs: 4, stepsPerEpoch: 25, decayScale: 'schedule' }), 0.01);
    // lambda 0.1 at lr 1e-3: tau_iter = 10000 steps = 25 epochs of 400.
    close(timescaleOf({ weightDecay: 0.1, lr: 1e-3, stepsPerEpoch: 400 }), 25, 1e-15);
    close(
      timescaleOf({ weightDecay: 0.1, stepsPerEpoch: 400, decayScale: 'schedule' }),
      0.025,
      1e-15,
    );
    // With 'schedule', lr does not enter the timescale.
    assert.equal(
      timescaleOf({ weightDecay: 0.1, lr: 5, stepsPerEpoch: 400, decayScale: 'schedule' }),
      timescaleOf({ weightDecay: 0.1, stepsPerEpoch: 400, decayScale: 'schedule' }),
    );
  });

  test('the optimizers decay theta to (1 - 1/tau_iter)^tau_iter, about 1/e, in tau_iter steps', () => {
    const stepsPerEpoch = 20;
    const epochs = 2.5; // tau_iter = 50 steps
    for (const [decayScale, make] of [
      ['lr', (p: Float32Array[], wd: number) => new AdamW(p, { lr: 0.01, weightDecay: wd })],
      [
        'schedule',
        (p: Float32Array[], wd: number) =>
          new SGDW(p, { lr: 0.3, weightDecay: wd, decayScale: 'schedule' }),
      ],
    ] as const) {
      const weightDecay = decayForTimescale({ epochs, lr: 0.01, stepsPerEpoch, decayScale });
      const params = [Float32Array.of(1, -2, 0.5)];
      const opt = make(params, weightDecay);
      for (let t = 0; t < 50; t++) opt.step([new Float32Array(3)]);
      const factor = (1 - 1 / 50) ** 50;
      const initial = [1, -2, 0.5];
      for (const [j, x] of params[0].entries()) close(x, initial[j] * factor, 1e-5, decayScale);
      close(factor, Math.exp(-1), 0.02, 'about 1/e');
    }
  });

  test('property: timescaleOf inverts decayForTimescale, and back', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1000, noNaN: true }),
        fc.double({ min: 1e-6, max: 10, noNaN: true }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        fc.constantFrom<DecayScale>('lr', 'schedule'),
        (epochs, lr, stepsPerEpoch, decayScale) => {
          const weightDecay = decayForTimescale({ epochs, lr, stepsPerEpoch, decayScale });
          close(timescaleOf({ weightDecay, lr, stepsPerEpoch, decayScale }), epochs, 1e-14);
          const tau = timescaleOf({ weightDecay: epochs, lr, stepsPerEpoch, decayScale });
          close(decayForTimescale({ epochs: tau, lr, stepsPerEpoch, decayScale }), epochs, 1e-14);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the paper's normalized decay has tau_epoch = sqrt(b T / B) / lambdaNorm ('schedule')", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 512 }),
        fc.integer({ min: 1, max: 400 }),
        fc.double({ min: 0.5, max: 300, noNaN: true }),
        (lambdaNorm, batchSize, batches, epochs) => {
          const datasetSize = batchSize * batches; // stepsPerEpoch = B / b exactly
          const weightDecay = normalizedWeightDecay({ lambdaNorm, batchSize, datasetSize, epochs });
          const tau = timescaleOf({ weightDecay, stepsPerEpoch: batches, decayScale: 'schedule' });
          close(tau, Math.sqrt((batchSize * epochs) / datasetSize) / lambdaNorm, 1e-13);
        },
      ),
      { numRuns: 100 },
    );
    // CIFAR-10 as in the paper: 4x the budget doubles the timescale (normalized decay keeps
    // lambda sqrt(steps) fixed); a fixed timescale would keep lambda fixed instead.
    const at = (epochs: number) =>
      timescaleOf({
        weightDecay: normalizedWeightDecay({
          lambdaNorm: 0.05,
          batchSize: 128,
          datasetSize: 50_000,
          epochs,
        }),
        stepsPerEpoch: 50_000 / 128,
        decayScale: 'schedule',
      });
    close(at(400) / at(100), 2, 1e-14);
  });
});

/** Property tests (fast-check) of the decay rules: the paper's claims as invariants. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam, AdamW, SGDW } from 'decoupled';
import fc from 'fast-check';
import { assertBitEqual, assertClose, randomArray } from '../helpers/arrays.js';

const runs = { numRuns: 60 };

test('AdamW: the decay applied to a weight does not depend on the gradient scale', () => {
  // One step from the same theta: p(lambda) - p(0) = -lr * lambda * theta, for any gradient scale.
  fc.assert(
    fc.property(
      fc.double({ min: 1e-4, max: 1e4, noNaN: true }),
      fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
      fc.integer({ min: 1, max: 1000 }),
      (scale, lambda, seed) => {
        const theta = randomArray(16, seed);
        const g = randomArray(16, seed + 1, scale);
        const decayed = theta.slice();
        const plain = theta.slice();
        new AdamW([decayed], { lr: 0.01, weightDecay: lambda }).step([g]);
        new AdamW([plain], { lr: 0.01, weightDecay: 0 }).step([g]);
        const shrink = decayed.map((x, i) => x - plain[i]);
        assertClose(
          shrink,
          theta.map((x) => -0.01 * lambda * x),
          { rtol: 1e-3, atol: 2e-7 },
        );
      },
    ),
    runs,
  );
});

test('Adam with L2: the same lambda regularizes weights with large gradients less (the paper)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), (seed) => {
      // Two equal weights, one with a 100x larger gradient history; L2 pulls the second less.
      // Gradient magnitudes stay in [0.5, 1.5] x scale, random signs: a near-zero "large"
      // gradient would not be large, and the claim is about the gradients' scale.
      const theta = Float32Array.of(1, 1);
      const sized = (x: number) => (x < 0 ? -1 : 1) * (0.5 + Math.abs(x));
      const shrinkOf = (weightDecay: number) => {
        const p = theta.slice();
        const opt = new Adam([p], { lr: 1e-3, weightDecay });
        for (let t = 0; t < 20; t++) {
          const noise = randomArray(2, seed + t);
          opt.step([Float32Array.of(0.01 * sized(noise[0]), 1 * sized(noise[1]))]);
        }
        return p;
      };
      const withL2 = shrinkOf(1e-3);
      const without = shrinkOf(0);
      const pullSmall = without[0] - withL2[0];
      const pullLarge = without[1] - withL2[1];
      assert.ok(pullSmall > 10 * pullLarge, `pull ${pullSmall} vs ${pullLarge}`);
    }),
    { numRuns: 20 },
  );
});

test("decayScale 'schedule' with lr = 1 equals 'lr'", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 0.2, noNaN: true }),
      fc.integer({ min: 1, max: 1000 }),
      fc.boolean(),
      (lambda, seed, sgd) => {
        const schedule = (t: number) => 0.5 + 0.5 * Math.cos(t);
        const a = randomArray(8, seed);
        const b = a.slice();
        const make = (p: Float32Array, decayScale: 'lr' | 'schedule') =>
          sgd
            ? new SGDW([p], { lr: 1, momentum: 0.9, weightDecay: lambda, decayScale, schedule })
            : new AdamW([p], { lr: 1, weightDecay: lambda, decayScale, schedule });
        const oa = make(a, 'lr');
        const ob = make(b, 'schedule');
        for (let t = 0; t < 5; t++) {
          const g = randomArray(8, seed * 7 + t, 0.01);
          oa.step([g]);
          ob.step([g]);
        }
        assertBitEqual(a, b);
      },
    ),
    runs,
  );
});

test('weightDecay as a function of the step equals the same constant', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 0.1, noNaN: true }),
      fc.integer({ min: 1, max: 99 }),
      (lambda, seed) => {
        const a = randomArray(8, seed);
        const b = a.slice();
        const oa = new AdamW([a], { weightDecay: lambda });
        const ob = new AdamW([b], { weightDecay: () => lambda });
        for (let t = 0; t < 4; t++) {
          const g = randomArray(8, seed + t);
          oa.step([g]);
          ob.step([g]);
        }
        assertBitEqual(a, b);
      },
    ),
    runs,
  );
});

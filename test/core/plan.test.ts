/**
 * planStep, the public half of a step: its scalars against the closed forms of the optimizers'
 * doc comments, its checks (nothing changes when it throws), and step = plan, then apply.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Adam,
  type AdamScalars,
  AdamW,
  OptionError,
  referenceKernels,
  SGD,
  SGDW,
  type SgdScalars,
  type UpdateKernels,
} from 'decoupled';

const eta = (t: number) => 1 / (1 + t); // a schedule with a known value at every step

describe('planStep', () => {
  test('AdamW: stepSize, bias correction and decay factor are the closed forms, per group', () => {
    const p = [new Float32Array(3), new Float32Array(2)];
    const opt = new AdamW([{ params: [p[0]] }, { params: [p[1]], weightDecay: 0 }], {
      lr: 0.1,
      betas: [0.8, 0.99],
      eps: 1e-6,
      weightDecay: 0.3,
      schedule: eta,
    });
    for (let t = 0; t < 4; t++) {
      const plan = opt.planStep();
      assert.equal(plan.step, t);
      const [decayed, excluded] = plan.groups;
      assert.equal(decayed.eta, 1 / (1 + t));
      assert.equal(decayed.lr, 0.1 / (1 + t));
      assert.equal(decayed.weightDecay, 0.3);
      assert.deepEqual(decayed.scalars, {
        stepSize: 0.1 / (1 + t) / (1 - 0.8 ** (t + 1)),
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-6,
        biasCorrection2Sqrt: Math.sqrt(1 - 0.99 ** (t + 1)),
        l2: 0,
        decayFactor: 1 - (0.1 / (1 + t)) * 0.3,
        amsgrad: false,
        maximize: false,
      });
      assert.equal(excluded.weightDecay, 0);
      assert.equal(excluded.scalars.decayFactor, 1);
      opt.step([new Float32Array(3), new Float32Array(2)]);
    }
  });

  test('Adam: the decay is the L2 factor; SGDW with decayScale schedule: 1 - eta lambda', () => {
    const adam = new Adam([new Float32Array(1)], { lr: 0.5, weightDecay: (t) => 0.1 * (t + 1) });
    const a = adam.planStep().groups[0];
    assert.equal(a.scalars.l2, 0.1);
    assert.equal(a.scalars.decayFactor, 1);
    const sgdw = new SGDW([new Float32Array(1)], {
      lr: 2,
      momentum: 0.9,
      weightDecay: 0.25,
      decayScale: 'schedule',
      schedule: eta,
    });
    sgdw.stepCount = 3;
    const s = sgdw.planStep().groups[0];
    assert.deepEqual(s.scalars, {
      lr: 2 / 4,
      momentum: 0.9,
      dampening: 0,
      nesterov: false,
      l2: 0,
      decayFactor: 1 - (1 / 4) * 0.25,
      maximize: false,
    });
  });

  test('changes nothing: the same plan twice, no step taken, no param written', () => {
    const p = Float32Array.of(1, 2);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    assert.deepEqual(opt.planStep(), opt.planStep());
    assert.equal(opt.stepCount, 0);
    assert.deepEqual(Array.from(p), [1, 2]);
    assert.deepEqual(opt.stateDict().slots.momentum_buffer, [null]);
  });

  for (const [what, bad] of [
    ['schedule', { schedule: (t: number) => (t === 2 ? Number.NaN : 1) }],
    ['weightDecay', { weightDecay: (t: number) => (t === 2 ? -1 : 0.1) }],
  ] as const) {
    test(`a bad ${what}(t) throws from planStep, and step then writes nothing`, () => {
      const p = [Float32Array.of(1, 2), Float32Array.of(3)];
      const opt = new AdamW([{ params: [p[0]] }, { params: [p[1]], lr: 0.2 }], bad);
      const g = [Float32Array.of(0.5, 0.5), Float32Array.of(0.5)];
      opt.step(g);
      opt.step(g);
      const before = p.map((a) => a.slice());
      const message = new RegExp(`AdamW group 0 at step 2: ${what}\\(step\\) must be`);
      assert.throws(
        () => opt.planStep(),
        (e) => e instanceof OptionError && message.test(e.message),
      );
      assert.throws(() => opt.step(g), OptionError);
      assert.deepEqual(p, before);
      assert.equal(opt.stepCount, 2);
    });
  }

  test('step runs the kernels with exactly the planned scalars (apply re-derives nothing)', () => {
    const seen: (AdamScalars | SgdScalars)[] = [];
    const recording: UpdateKernels = {
      name: 'recording',
      adam: (p, g, m, v, vMax, s) => {
        seen.push(s);
        referenceKernels.adam(p, g, m, v, vMax, s);
      },
      sgd: (p, g, buf, s) => {
        seen.push(s);
        referenceKernels.sgd(p, g, buf, s);
      },
    };
    const adam = new AdamW([new Float32Array(4), new Float32Array(4)], {
      schedule: eta,
      kernels: recording,
    });
    for (let t = 0; t < 3; t++) {
      const plan = adam.planStep();
      seen.length = 0;
      adam.step([new Float32Array(4).fill(1), new Float32Array(4).fill(-1)]);
      assert.deepEqual(seen, [plan.groups[0].scalars, plan.groups[0].scalars]);
    }
    const sgd = new SGD([new Float32Array(4)], { momentum: 0.5, kernels: recording });
    for (let t = 0; t < 2; t++) {
      const plan = sgd.planStep();
      seen.length = 0;
      sgd.step([new Float32Array(4).fill(1)]);
      // The first-step bit is per parameter (firstMomentumStep): true only before a buffer exists.
      assert.deepEqual(seen, [{ ...plan.groups[0].scalars, firstStep: t === 0 }]);
    }
  });
});

/**
 * Weight averaging (`ema`), against scripts/make_golden_ema.py (Keras's and optax's update rules
 * written out in NumPy float32, bit for bit) and closed forms; averages(), swapAverages(), the
 * state dict and validation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  AdamW,
  decodeStateDict,
  type EmaOptions,
  encodeStateDict,
  OptionError,
  SGD,
  stateDictFromJSON,
  stateDictToJSON,
} from 'decoupled';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

interface Case {
  seed: number;
  lr: number;
  ema: EmaOptions;
  params0: number[][];
  grads: number[][][];
  weights: number[][][];
  averages: number[][][];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/ema.json', import.meta.url), 'utf8'),
) as { cases: Case[] };
const f32 = (a: number[]) => Float32Array.from(a);

/** Distance in float32 steps between two float32 values of the same sign. */
function ulps(a: number, b: number): number {
  const bits = new Int32Array(Float32Array.of(a, b).buffer);
  return Math.abs(bits[0] - bits[1]);
}

describe('ema: golden values (Keras and optax rules, NumPy float32, bit for bit)', () => {
  for (const c of fixture.cases) {
    test(`seed ${c.seed} ${JSON.stringify(c.ema)}`, () => {
      const params = c.params0.map(f32);
      const opt = new SGD(params, { lr: c.lr, ema: c.ema });
      c.grads.forEach((g, t) => {
        opt.step(g.map(f32));
        const averages = opt.averages();
        params.forEach((p, i) => {
          assertBitEqual(p, f32(c.weights[t][i]), `step ${t + 1} weight ${i}`);
          assertBitEqual(averages[i], f32(c.averages[t][i]), `step ${t + 1} average ${i}`);
        });
      });
    });
  }
});

describe('ema: closed forms', () => {
  test('debias: the average after step 1 is theta_1 (exact in reals; within 1 ulp in float32)', () => {
    // e_1 / (1 - d) = (1 - d) theta_1 / (1 - d): f(1 - d) theta_1 is rounded before the division,
    // so float32 can land one ulp away (two roundings of at most half an ulp each).
    for (const decay of [0.9, 0.99, 0.999, 0.5, 0.3, 0]) {
      const p = [randomArray(1000, 11, 3)];
      const opt = new SGD(p, { lr: 0.1, ema: { decay, debias: true } });
      opt.step([randomArray(1000, 12)]);
      const avg = opt.averages()[0];
      let exact = 0;
      avg.forEach((a, i) => {
        assert.ok(ulps(a, p[0][i]) <= 1, `decay ${decay} [${i}]: ${a} vs ${p[0][i]}`);
        if (a === p[0][i]) exact++;
      });
      assert.ok(exact > 500, `most are exact (${exact}/1000)`);
    }
  });

  test('Keras rule: the average after step 1 is theta_1 exactly', () => {
    const p = [randomArray(50, 13)];
    const opt = new AdamW(p, { ema: { decay: 0.999 } });
    opt.step([randomArray(50, 14)]);
    assertBitEqual(opt.averages()[0], p[0]);
  });

  test('a constant weight averages to itself (lr 0), to float32 rounding, with or without debias', () => {
    for (const debias of [false, true]) {
      const p = [randomArray(20, 15)];
      const theta = p[0].slice();
      const opt = new SGD(p, { lr: 0, ema: { decay: 0.9, debias } });
      for (let t = 0; t < 30; t++) opt.step([randomArray(20, 16 + t)]);
      assertBitEqual(p[0], theta, 'weights unchanged');
      const avg = opt.averages()[0];
      // Each update rounds 3 times (relative 2^-24 each) and the old error shrinks by d, so
      // |err| <= (3 / (1 - d) + 2) 2^-24 |theta| (the 2: 1 - d and the debias division).
      const bound = (3 / (1 - 0.9) + 2) * 2 ** -24;
      avg.forEach((a, i) => {
        assert.ok(Math.abs(a - theta[i]) <= bound * Math.abs(theta[i]), `debias ${debias} [${i}]`);
      });
    }
  });

  test('decay 0 (Keras rule): the average is the latest weights', () => {
    const p = [randomArray(9, 17)];
    const opt = new SGD(p, { lr: 0.1, ema: { decay: 0 } });
    for (let t = 0; t < 4; t++) opt.step([randomArray(9, 18 + t)]);
    assertBitEqual(opt.averages()[0], p[0]);
  });
});

describe('ema: swapAverages, state dict', () => {
  test('swapAverages puts the averages in and the weights back, bit for bit; no step while swapped', () => {
    const p = [randomArray(8, 21)];
    const opt = new AdamW(p, { lr: 0.01, ema: { decay: 0.9, debias: true } });
    for (let t = 0; t < 5; t++) opt.step([randomArray(8, 22 + t)]);
    const weights = p[0].slice();
    const averages = opt.averages()[0];
    opt.swapAverages();
    assert.equal(opt.averagesSwapped, true);
    assertBitEqual(p[0], averages, 'swapped in');
    assert.throws(
      () => opt.step([randomArray(8, 1)]),
      (e: unknown) => e instanceof OptionError && /swapAverages/.test(e.message),
    );
    opt.swapAverages();
    assertBitEqual(p[0], weights, 'swapped back');
  });

  const encodings = {
    'in memory': (s: ReturnType<AdamW['stateDict']>) => s,
    JSON: (s: ReturnType<AdamW['stateDict']>) => stateDictFromJSON(stateDictToJSON(s)),
    binary: (s: ReturnType<AdamW['stateDict']>) => decodeStateDict(encodeStateDict(s)),
  };
  for (const [encoding, roundTrip] of Object.entries(encodings)) {
    for (const swapped of [false, true]) {
      test(`resume is bit-identical (${encoding}, saved ${swapped ? 'while swapped' : 'plain'})`, () => {
        const make = (params: Float32Array[]) =>
          new AdamW(params, { lr: 0.02, ema: { decay: 0.8, debias: true, every: 4 } });
        const grad = (t: number) => [randomArray(6, 100 + t)];
        const straight = [randomArray(6, 31)];
        const a = make(straight);
        for (let t = 0; t < 10; t++) a.step(grad(t));

        const first = [randomArray(6, 31)];
        const b = make(first);
        for (let t = 0; t < 5; t++) b.step(grad(t));
        if (swapped) b.swapAverages();
        const saved = roundTrip(b.stateDict());
        const params = [first[0].slice()];
        const c = make(params);
        c.loadStateDict(saved);
        assert.equal(c.averagesSwapped, swapped);
        if (swapped) c.swapAverages();
        for (let t = 5; t < 10; t++) c.step(grad(t));
        assertBitEqual(params[0], straight[0], 'weights');
        assertBitEqual(c.averages()[0], a.averages()[0], 'averages');
      });
    }
  }

  test('a state without ema is rejected by an optimizer with ema, and nothing changes', () => {
    const plain = new AdamW([randomArray(3, 1)]);
    plain.step([randomArray(3, 2)]);
    const opt = new AdamW([randomArray(3, 1)], { ema: true });
    assert.throws(() => opt.loadStateDict(plain.stateDict()), /ema\.count/);
    assert.equal(opt.stepCount, 0);
  });
});

describe('ema: validation', () => {
  const p = () => [new Float32Array(2)];
  const bad: [unknown, RegExp][] = [
    [{ decay: 1 }, /ema\.decay must be a finite number >= 0 and < 1; received 1/],
    [{ every: 0 }, /ema\.every must be an integer >= 1; received 0/],
    [{ debias: 'yes' }, /ema\.debias must be true or false; received "yes"/],
    [{ momentum: 0.9 }, /unknown option ema\.momentum; allowed options are decay, every, debias/],
    [0.99, /ema must be true, false or \{ decay, every, debias \}; received 0.99/],
  ];
  for (const [ema, message] of bad) {
    test(`rejects ema: ${JSON.stringify(ema)}`, () => {
      assert.throws(
        () => new AdamW(p(), { ema: ema as EmaOptions }),
        (e: unknown) => e instanceof OptionError && message.test(e.message),
      );
    });
  }
  test('averages() without ema names the option', () => {
    assert.throws(() => new AdamW(p()).averages(), /ema must be set/);
  });
});

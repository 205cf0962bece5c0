/** Save and resume: a step after stateDict/loadStateDict is bit-identical to an uninterrupted one. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Adam,
  AdamW,
  decodeStateDict,
  encodeStateDict,
  type OptimizerStateDict,
  OptionError,
  SGD,
  SGDW,
  stateDictFromJSON,
  stateDictToJSON,
} from '../../src/index.js';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

type Make = (params: Float32Array[]) => {
  step(g: Float32Array[]): boolean;
  stateDict(): OptimizerStateDict;
  loadStateDict(s: OptimizerStateDict): void;
  stepCount: number;
};

const schedule = (t: number) => 0.5 * (1 + Math.cos((Math.PI * t) / 12));
const makers: Record<string, Make> = {
  AdamW: (p) => new AdamW(p, { lr: 0.01, weightDecay: 0.1, amsgrad: true, schedule }),
  Adam: (p) => new Adam(p, { lr: 0.01, weightDecay: 0.01 }),
  SGDW: (p) =>
    new SGDW(
      [
        { params: [p[0]], momentum: 0.9, nesterov: true },
        { params: [p[1]], momentum: 0.5, dampening: 0.1, weightDecay: 0 },
      ],
      { lr: 0.05, weightDecay: 0.01, decayScale: 'schedule', schedule },
    ),
  SGD: (p) => new SGD(p, { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }),
};
const gradAt = (t: number) => [randomArray(7, 100 + t), randomArray(3, 200 + t)];
const encodings: Record<string, (s: OptimizerStateDict) => OptimizerStateDict> = {
  'in memory': (s) => s,
  JSON: (s) => stateDictFromJSON(stateDictToJSON(s)),
  binary: (s) => decodeStateDict(encodeStateDict(s)),
};

describe('save and resume', () => {
  for (const [kind, make] of Object.entries(makers)) {
    for (const [encoding, roundTrip] of Object.entries(encodings)) {
      test(`${kind}, ${encoding}: resumed run is bit-identical to an uninterrupted one`, () => {
        const init = [randomArray(7, 1), randomArray(3, 2)];
        const straight = init.map((p) => p.slice());
        const a = make(straight);
        for (let t = 0; t < 12; t++) a.step(gradAt(t));

        const first = init.map((p) => p.slice());
        const b = make(first);
        for (let t = 0; t < 5; t++) b.step(gradAt(t));
        const saved = roundTrip(b.stateDict());
        const resumedParams = first.map((p) => p.slice());
        const c = make(resumedParams);
        c.loadStateDict(saved);
        assert.equal(c.stepCount, 5);
        for (let t = 5; t < 12; t++) c.step(gradAt(t));
        resumedParams.forEach((p, i) => {
          assertBitEqual(p, straight[i], `param ${i}`);
        });
      });
    }
  }

  test('stateDict is a copy: later steps do not change it', () => {
    const p = [randomArray(4, 1)];
    const opt = new AdamW(p);
    opt.step([randomArray(4, 2)]);
    const saved = opt.stateDict();
    const m = saved.slots.exp_avg[0]!.slice();
    opt.step([randomArray(4, 3)]);
    assertBitEqual(saved.slots.exp_avg[0]!, m);
  });

  test('hyperparameters are restored from the state, as in PyTorch', () => {
    const a = new AdamW([randomArray(4, 1)], { lr: 0.5, betas: [0.8, 0.9] });
    const b = new AdamW([randomArray(4, 1)]);
    b.loadStateDict(a.stateDict());
    assert.equal(b.paramGroups[0].hyper.lr, 0.5);
    assert.deepEqual(b.paramGroups[0].hyper.betas, [0.8, 0.9]);
  });
});

describe('loadStateDict rejects a mismatched state and changes nothing', () => {
  const trained = () => {
    const opt = new AdamW([randomArray(4, 1), randomArray(2, 2)], { amsgrad: true });
    opt.step([randomArray(4, 3), randomArray(2, 4)]);
    return opt;
  };

  const cases: [string, (s: OptimizerStateDict) => unknown, RegExp][] = [
    [
      'another optimizer kind',
      (s) => ({ ...s, optimizer: 'SGD' }),
      /state.optimizer must be 'AdamW'/,
    ],
    ['other param lengths', (s) => ({ ...s, paramLengths: [4, 3] }), /paramLengths/],
    [
      'a missing slot',
      (s) => ({ ...s, slots: { ...s.slots, max_exp_avg_sq: [null, null] } }),
      /max_exp_avg_sq\[0\]/,
    ],
    [
      'a slot of the wrong length',
      (s) => ({ ...s, slots: { ...s.slots, exp_avg: [new Float32Array(4), new Float32Array(3)] } }),
      /exp_avg\[1\] must be a Float32Array of length 2/,
    ],
    [
      'an invalid hyperparameter',
      (s) => ({ ...s, groups: [{ ...s.groups[0], hyper: { ...s.groups[0].hyper, eps: -1 } }] }),
      /eps must be/,
    ],
    ['a negative step count', (s) => ({ ...s, stepCount: -1 }), /stepCount/],
    ['not a state', () => ({ hello: 1 }), /state must be/],
  ];
  for (const [name, corrupt, pattern] of cases) {
    test(name, () => {
      const target = new AdamW([randomArray(4, 5), randomArray(2, 6)], { amsgrad: true });
      const before = target.stateDict();
      assert.throws(
        () => target.loadStateDict(corrupt(trained().stateDict()) as OptimizerStateDict),
        (e: unknown) => e instanceof OptionError && pattern.test(e.message),
      );
      assert.deepEqual(target.stateDict(), before);
    });
  }

  test('JSON keeps NaN, Infinity and -0 in the state (Adam v overflows for huge gradients)', () => {
    const p = [new Float32Array([0.5, 0.5, 0.5])];
    const opt = new Adam(p, { lr: 0.01 });
    opt.step([new Float32Array([1e21, -3e20, 0])]); // v = (1 - beta2) g^2 overflows float32
    const state = opt.stateDict();
    const v = state.slots.exp_avg_sq[0] as Float32Array;
    assert.equal(v[0], Number.POSITIVE_INFINITY);
    (state.slots.exp_avg[0] as Float32Array).set([Number.NaN, Number.NEGATIVE_INFINITY, -0]);
    const back = stateDictFromJSON(stateDictToJSON(state));
    for (const name of ['exp_avg', 'exp_avg_sq']) {
      assertBitEqual(
        back.slots[name][0] as Float32Array,
        state.slots[name][0] as Float32Array,
        name,
      );
    }
    assert.throws(
      () => stateDictFromJSON(stateDictToJSON(state).replace('"NaN"', 'null')),
      (e: unknown) => e instanceof OptionError && /slots\.exp_avg\[0\]\[0\]/.test(e.message),
    );
  });

  test('a truncated binary state is a clear error', () => {
    const bytes = encodeStateDict(trained().stateDict());
    assert.throws(() => decodeStateDict(bytes.subarray(0, bytes.length - 3)), /truncated/);
    assert.throws(() => decodeStateDict(new Uint8Array(20)), /DCPLOPT1/);
  });
});

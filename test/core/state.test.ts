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
} from 'decoupled';
import fc from 'fast-check';
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
    [
      'other param lengths',
      (s) => ({
        ...s,
        paramLengths: [4, 3],
        slots: Object.fromEntries(
          Object.entries(s.slots).map(([name, [a]]) => [name, [a, new Float32Array(3)]]),
        ),
      }),
      /paramLengths/,
    ],
    [
      'a missing slot',
      (s) => ({ ...s, slots: { ...s.slots, max_exp_avg_sq: [null, null] } }),
      /max_exp_avg_sq\[0\]/,
    ],
    [
      'a slot of the wrong length',
      (s) => ({ ...s, slots: { ...s.slots, exp_avg: [new Float32Array(4), new Float32Array(3)] } }),
      /exp_avg\[1\] must be null or a Float32Array of length 2/,
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
    // An edited entry fails the checksum; without one (JSON from before checksums), the entry check.
    const edited = stateDictToJSON(state).replace('"NaN"', 'null');
    assert.throws(() => stateDictFromJSON(edited), /checksum mismatch/);
    assert.throws(
      () => stateDictFromJSON(edited.replace(/,"crc32c":"[0-9a-f]+"/, '')),
      (e: unknown) => e instanceof OptionError && /slots\.exp_avg\[0\]\[0\]/.test(e.message),
    );
  });

  test('a truncated binary state is a clear error', () => {
    const bytes = encodeStateDict(trained().stateDict());
    assert.throws(
      () => decodeStateDict(bytes.subarray(0, bytes.length - 3), 'opt.bin'),
      /^OptionError: opt\.bin: corrupt optimizer state: payload checksum mismatch/,
    );
    assert.throws(() => decodeStateDict(bytes.subarray(0, 15), 'opt.bin'), /opt\.bin: truncated/);
    assert.throws(() => decodeStateDict(new Uint8Array(20)), /state: not an encoded .*DCPLOPT2/);
  });
});

/** Format 1 of the binary encoding (no checksums), written from its documented layout. */
function encodeFormat1(state: OptimizerStateDict, slotRefs?: unknown): Uint8Array {
  let total = 0;
  const refs: Record<string, unknown[]> = {};
  const values: number[] = [];
  for (const [name, arrays] of Object.entries(state.slots)) {
    refs[name] = arrays.map((a) => {
      if (!a) return null;
      const ref = { offset: total, length: a.length };
      total += a.length;
      values.push(...a);
      return ref;
    });
  }
  const header = new TextEncoder().encode(JSON.stringify({ ...state, slots: slotRefs ?? refs }));
  const payloadStart = (12 + header.length + 3) & ~3;
  const bytes = new Uint8Array(payloadStart + 4 * values.length);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode('DCPLOPT1'));
  view.setUint32(8, header.length, true);
  bytes.set(header, 12);
  values.forEach((x, i) => {
    view.setFloat32(payloadStart + 4 * i, x, true);
  });
  return bytes;
}

describe('corrupt and foreign states are refused before anything is used', () => {
  const trained = () => {
    const opt = new Adam([randomArray(3, 1), randomArray(2, 2)], { lr: 0.01 });
    opt.step([new Float32Array([0.1, 0.1, 0.1]), randomArray(2, 4)]);
    return opt;
  };

  test('format 1 (no checksums) is still read, bit for bit', () => {
    const state = trained().stateDict();
    const back = decodeStateDict(encodeFormat1(state));
    assert.deepEqual(back, state);
    assertBitEqual(back.slots.exp_avg_sq[1] as Float32Array, state.slots.exp_avg_sq[1]!);
  });

  // Issue #20, defect 2: a length of -6 threw a RangeError; an offset of -3 read header bytes.
  test('slot offsets and lengths are checked (format 1, where no checksum guards them)', () => {
    const state = trained().stateDict();
    const refs = (edit: (r: { offset: number; length: number }[]) => void) => {
      const list = [
        { offset: 0, length: 3 },
        { offset: 3, length: 2 },
      ];
      edit(list);
      return { exp_avg: list, exp_avg_sq: [null, null], max_exp_avg_sq: [null, null] };
    };
    const only = { ...state, slots: { exp_avg: state.slots.exp_avg } };
    const cases: [string, unknown, RegExp][] = [
      ['negative length', refs((r) => (r[0].length = -6)), /exp_avg\[0\]\.length must be/],
      ['negative offset', refs((r) => (r[0].offset = -3)), /exp_avg\[0\]\.offset must be 0/],
      ['overlapping', refs((r) => (r[1].offset = 2)), /exp_avg\[1\]\.offset must be 3/],
      ['past the end', refs((r) => (r[1].length = 40)), /truncated optimizer state/],
      ['a fractional length', refs((r) => (r[1].length = 1.5)), /length must be an integer/],
    ];
    for (const [name, slotRefs, pattern] of cases) {
      assert.throws(
        () => decodeStateDict(encodeFormat1(only, slotRefs), 'old.bin'),
        (e: unknown) =>
          e instanceof OptionError && /^old\.bin: /.test(e.message) && pattern.test(e.message),
        name,
      );
    }
  });

  // Issue #20, defect 3: a group without hyper was a TypeError reading 'lr'.
  test('loadStateDict validates the whole state first: a group without hyper', () => {
    const state = trained().stateDict();
    const { hyper: _dropped, ...group } = state.groups[0];
    const target = new Adam([randomArray(3, 5), randomArray(2, 6)]);
    const before = target.stateDict();
    const broken = { ...state, groups: [group] } as unknown as OptimizerStateDict;
    assert.throws(
      () => target.loadStateDict(broken),
      /^OptionError: Adam\.loadStateDict: state\.groups\[0\]\.hyper must be the saved hyperparameters/,
    );
    assert.throws(
      () => target.loadStateDict({ ...state, groups: [] }),
      /state\.groups must be a non-empty array/,
    );
    assert.throws(
      () => target.loadStateDict({ ...state, groups: [{ ...state.groups[0], paramCount: 3 }] }),
      /paramCounts add up to 2 .* they add up to 3/,
    );
    assert.deepEqual(target.stateDict(), before);
  });

  test('the binary checksums name the part that changed; the JSON checksum too', () => {
    const bytes = encodeStateDict(trained().stateDict());
    const headerByte = bytes.slice();
    headerByte[30] ^= 4;
    assert.throws(() => decodeStateDict(headerByte, 'a.bin'), /a\.bin: .*header checksum mismatch/);
    const payloadByte = bytes.slice();
    payloadByte[bytes.length - 1] ^= 1;
    assert.throws(() => decodeStateDict(payloadByte, 'a.bin'), /payload checksum mismatch/);
    const text = stateDictToJSON(trained().stateDict());
    assert.match(text, /,"crc32c":"[0-9a-f]{8}"\}$/);
    const edited = text.replace('"stepCount":1', '"stepCount":2');
    assert.throws(() => stateDictFromJSON(edited, 'a.json'), /a\.json: .*checksum mismatch/);
    const pretty = JSON.stringify(JSON.parse(text), null, 1);
    assert.throws(() => stateDictFromJSON(pretty, 'a.json'), /not as stateDictToJSON wrote it/);
    // JSON written before checksums is read, with the structural checks.
    const { crc32c: _crc, ...old } = JSON.parse(text);
    assert.deepEqual(stateDictFromJSON(JSON.stringify(old)), trained().stateDict());
  });

  test('property: flipping any bit of a saved state is detected (binary and JSON)', () => {
    const opt = new AdamW([randomArray(5, 1), randomArray(3, 2)], { amsgrad: true, schedule });
    opt.step([randomArray(5, 3), randomArray(3, 4)]);
    const state = opt.stateDict();
    const binary = encodeStateDict(state);
    const json = new TextEncoder().encode(stateDictToJSON(state));
    const decoders: [Uint8Array, (b: Uint8Array) => unknown][] = [
      [binary, (b) => decodeStateDict(b, 's.bin')],
      [json, (b) => stateDictFromJSON(new TextDecoder().decode(b), 's.json')],
    ];
    for (const [bytes, decode] of decoders) {
      fc.assert(
        fc.property(fc.nat({ max: bytes.length * 8 - 1 }), (bit) => {
          const flipped = bytes.slice();
          flipped[bit >> 3] ^= 1 << (bit & 7);
          assert.throws(
            () => decode(flipped),
            (e: unknown) => e instanceof OptionError && /^s\.(bin|json): /.test(e.message),
          );
        }),
        { numRuns: 500, seed: 20 },
      );
    }
  });
});

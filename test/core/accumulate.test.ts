/**
 * Gradient accumulation (`accumulate: k`):
 *  - bit-identical to the same optimizer without accumulation stepped on the mean gradient, the
 *    mean defined as in core/accumulate.ts: s = g_1, s = f(s + g_i) in call order, f(s / k);
 *  - optax MultiSteps's documented semantics: every k-th call applies an update, the calls in
 *    between leave the parameters unchanged, and the schedule counts applied steps;
 *  - the partial window is in the state dict and resumes exactly; validation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AdamW,
  decodeStateDict,
  encodeStateDict,
  OptionError,
  ScheduleFreeAdamW,
  SGDW,
  stateDictFromJSON,
  stateDictToJSON,
} from 'decoupled';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

const f = Math.fround;
const LENGTHS = [7, 130];
const gradsAt = (call: number) => LENGTHS.map((n, i) => randomArray(n, 1000 * i + call));

/** The mean of calls [from, from + k): s = g_1; s = f(s + g_i); f(s / k). */
function meanOf(from: number, k: number): Float32Array[] {
  return LENGTHS.map((n, i) => {
    const s = gradsAt(from)[i].slice();
    for (let c = from + 1; c < from + k; c++) {
      const g = gradsAt(c)[i];
      for (let j = 0; j < n; j++) s[j] = f(s[j] + g[j]);
    }
    return s.map((x) => f(x / k));
  });
}

type Opt = AdamW | SGDW | ScheduleFreeAdamW;
const schedule = (t: number) => 0.5 * (1 + Math.cos((Math.PI * t) / 10));
const makers: Record<string, (p: Float32Array[], extra: object) => Opt> = {
  'AdamW with a schedule and amsgrad': (p, e) =>
    new AdamW(p, { lr: 0.01, weightDecay: 0.1, amsgrad: true, schedule, ...e }),
  'SGDW nesterov, cautious': (p, e) =>
    new SGDW(p, {
      lr: 0.05,
      momentum: 0.9,
      nesterov: true,
      weightDecay: 0.1,
      cautiousDecay: true,
      ...e,
    }),
  'ScheduleFreeAdamW with warmup': (p, e) =>
    new ScheduleFreeAdamW(p, { lr: 0.01, warmupSteps: 2, weightDecay: 0.01, ...e }),
};
const init = () => LENGTHS.map((n, i) => randomArray(n, 7 + i));

describe('accumulate: bit-identical to stepping on the mean gradient', () => {
  for (const [name, make] of Object.entries(makers)) {
    for (const k of [2, 3, 5]) {
      test(`${name}, k = ${k}`, () => {
        const accumulated = init();
        const a = make(accumulated, { accumulate: k });
        const direct = init();
        const b = make(direct, {});
        for (let step = 0; step < 6; step++) {
          for (let c = 0; c < k; c++) a.step(gradsAt(step * k + c));
          b.step(meanOf(step * k, k));
          assert.equal(a.stepCount, b.stepCount);
          accumulated.forEach((p, i) => {
            assertBitEqual(p, direct[i], `step ${step} param ${i}`);
          });
        }
      });
    }
  }

  test('with ema: the averages follow applied steps only', () => {
    const accumulated = init();
    const a = new AdamW(accumulated, {
      lr: 0.01,
      accumulate: 3,
      ema: { decay: 0.9, debias: true },
    });
    const direct = init();
    const b = new AdamW(direct, { lr: 0.01, ema: { decay: 0.9, debias: true } });
    for (let step = 0; step < 4; step++) {
      for (let c = 0; c < 3; c++) a.step(gradsAt(step * 3 + c));
      b.step(meanOf(step * 3, 3));
    }
    a.averages().forEach((avg, i) => {
      assertBitEqual(avg, b.averages()[i], `average ${i}`);
    });
  });
});

describe('accumulate: optax MultiSteps semantics', () => {
  test('every k-th call applies; in between the params are unchanged and the step count waits', () => {
    const k = 4;
    const p = init();
    const seen: number[] = [];
    const opt = new AdamW(p, {
      lr: 0.01,
      accumulate: k,
      schedule: (t) => {
        seen.push(t);
        return 1;
      },
    });
    for (let call = 0; call < 3 * k; call++) {
      const before = p.map((x) => x.slice());
      assert.equal(opt.step(gradsAt(call)), true);
      const applies = (call + 1) % k === 0;
      assert.equal(opt.accumulatedCalls, (call + 1) % k);
      assert.equal(opt.stepCount, Math.floor((call + 1) / k));
      const changed = p.some((x, i) => x.some((v, j) => v !== before[i][j]));
      assert.equal(changed, applies, `call ${call}`);
    }
    // The schedule was asked for steps 0, 1, 2: one per applied update.
    assert.deepEqual(seen, [0, 1, 2]);
  });

  test("a skipped call (nonFinite: 'skip') is not counted in the window", () => {
    const p = init();
    const opt = new SGDW(p, { lr: 0.1, accumulate: 2, nonFinite: 'skip' });
    const bad = gradsAt(0);
    bad[1][3] = Number.NaN;
    opt.step(gradsAt(0));
    assert.equal(opt.step(bad), false);
    assert.equal(opt.accumulatedCalls, 1);
    opt.step(gradsAt(1));
    assert.equal(opt.stepCount, 1);
    const direct = init();
    new SGDW(direct, { lr: 0.1 }).step(meanOf(0, 2));
    p.forEach((x, i) => {
      assertBitEqual(x, direct[i]);
    });
  });
});

describe('accumulate: state dict', () => {
  const encodings = {
    JSON: (s: ReturnType<AdamW['stateDict']>) => stateDictFromJSON(stateDictToJSON(s)),
    binary: (s: ReturnType<AdamW['stateDict']>) => decodeStateDict(encodeStateDict(s)),
  };
  for (const [encoding, roundTrip] of Object.entries(encodings)) {
    for (const cut of [4, 5, 6]) {
      test(`saved after ${cut} calls (mid-window partial sums), ${encoding}: bit-identical`, () => {
        const make = (p: Float32Array[]) => new AdamW(p, { lr: 0.02, accumulate: 3, schedule });
        const straight = init();
        const a = make(straight);
        for (let c = 0; c < 12; c++) a.step(gradsAt(c));
        const first = init();
        const b = make(first);
        for (let c = 0; c < cut; c++) b.step(gradsAt(c));
        const saved = roundTrip(b.stateDict());
        const resumed = first.map((x) => x.slice());
        const c2 = make(resumed);
        c2.loadStateDict(saved);
        assert.equal(c2.accumulatedCalls, cut % 3);
        for (let c = cut; c < 12; c++) c2.step(gradsAt(c));
        resumed.forEach((x, i) => {
          assertBitEqual(x, straight[i], `param ${i}`);
        });
      });
    }
  }

  test('a mid-window state is refused by an optimizer without accumulate (sums would be lost)', () => {
    const a = new AdamW(init(), { accumulate: 3 });
    a.step(gradsAt(0));
    const plain = new AdamW(init());
    assert.throws(
      () => plain.loadStateDict(a.stateDict()),
      /accumulate\.calls.*without accumulate/,
    );
    const other = new AdamW(init(), { accumulate: 2 });
    a.step(gradsAt(1));
    assert.throws(
      () => other.loadStateDict(a.stateDict()),
      /accumulate\.calls"\] must be an integer >= 0 and <= 1; received 2/,
    );
  });
});

describe('accumulate: validation', () => {
  for (const bad of [0, 1.5, -2, Number.NaN, '2']) {
    test(`rejects accumulate: ${String(bad)}`, () => {
      assert.throws(
        () => new AdamW([new Float32Array(2)], { accumulate: bad as number }),
        (e: unknown) =>
          e instanceof OptionError &&
          /accumulate must be an integer >= 1; received/.test(e.message),
      );
    });
  }
});

/**
 * Cautious weight decay (`cautiousDecay: true`, arXiv 2510.12402) on AdamW and SGDW:
 *  - against scripts/make_golden_cautious.py, a float64 NumPy transcription of the paper's update
 *    theta - eta_t (u_t + lambda 1[u_t theta >= 0] theta): to float32 rounding (the core runs
 *    float32 in PyTorch's decayed form, a different grouping), and far from plain AdamW/SGDW;
 *  - closed forms: exact small cases, and element by element it equals plain decay where
 *    u theta >= 0 and no decay elsewhere, bit for bit;
 *  - the WASM kernels' CAUTIOUS flag is checked bit for bit against the reference loop in
 *    test/kernels/kernels.test.ts; here the optimizers run both kernel sets;
 *  - state dict, resume and validation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  Adam,
  AdamW,
  OptionError,
  referenceKernels,
  SGD,
  SGDW,
  stateDictFromJSON,
  stateDictToJSON,
  type UpdateKernels,
  wasmKernels,
} from 'decoupled';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

interface Case {
  name: string;
  optimizer: 'AdamW' | 'SGDW';
  options: Record<string, unknown>;
  etas: number[] | null;
  params0: number[][];
  grads: number[][][];
  expected: number[][][];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/cautious.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

type Stepper = AdamW | SGDW;
function make(c: Case, params: Float32Array[], extra: Record<string, unknown>): Stepper {
  const etas = c.etas;
  const options = {
    ...c.options,
    ...(etas ? { schedule: (t: number) => etas[t] } : {}),
    ...extra,
  } as never;
  return c.optimizer === 'AdamW' ? new AdamW(params, options) : new SGDW(params, options);
}

/** Largest |actual - expected| - RTOL |expected| over a whole trajectory (<= ATOL to pass). */
function worstError(c: Case, extra: Record<string, unknown>): number {
  const params = c.params0.map((p) => Float32Array.from(p));
  const opt = make(c, params, extra);
  let worst = 0;
  c.grads.forEach((g, t) => {
    opt.step(g.map((x) => Float32Array.from(x)));
    params.forEach((p, i) => {
      p.forEach((x, j) => {
        const e = c.expected[t][i][j];
        worst = Math.max(worst, Math.abs(x - e) - RTOL * Math.abs(e));
      });
    });
  });
  return worst;
}

// float32 rounding (2^-24 = 6e-8 per operation) accumulated over 20 steps of a few operations each
// on values of order 1 (measured worst: 3.4e-7 absolute). Absolute, because a value crossing zero
// keeps the absolute error of its neighbours.
const RTOL = 2e-6;
const ATOL = 1e-6;

describe('cautious decay: the paper’s update (NumPy float64), to float32 rounding', () => {
  for (const c of fixture.cases) {
    for (const [label, kernels] of [
      ['reference', referenceKernels],
      ['wasm', wasmKernels],
    ] as [string, UpdateKernels][]) {
      test(`${c.name} (${label} kernels)`, () => {
        const worst = worstError(c, { cautiousDecay: true, kernels });
        assert.ok(worst <= ATOL, `worst error ${worst} beyond ${RTOL} |expected|`);
        // The test can fail: the same run without the mask is far from the paper's trajectory.
        const plain = worstError(c, { kernels });
        assert.ok(plain > 100 * ATOL, `plain decay is only ${plain} away`);
      });
    }
  }
});

describe('cautious decay: closed forms', () => {
  test('SGDW, no momentum, lr 0.5, lambda 0.5: exact values', () => {
    // u = g. Decay (factor 0.75) where g theta >= 0: elements 0, 3, 4 (g = 0) and 5 (theta = 0).
    const p = [Float32Array.of(1, -1, 1, -1, 2, 0)];
    const g = Float32Array.of(1, 1, -1, -1, 0, 1);
    new SGDW(p, { lr: 0.5, weightDecay: 0.5, cautiousDecay: true }).step([g]);
    assertBitEqual(p[0], Float32Array.of(0.25, -1.5, 1.5, -0.25, 1.5, -0.5));
  });

  for (const kind of ['AdamW', 'SGDW'] as const) {
    for (const decayScale of ['lr', 'schedule'] as const) {
      test(`${kind} (${decayScale}): plain decay where u theta >= 0, none elsewhere, bit for bit`, () => {
        const n = 2000;
        const theta = randomArray(n, 41);
        const grads = [0, 1, 2].map((t) => randomArray(n, 50 + t));
        const options = {
          lr: 0.1,
          weightDecay: 0.3,
          decayScale,
          schedule: (t: number) => 1 / (t + 1),
          ...(kind === 'SGDW' ? { momentum: 0.9 } : {}),
        };
        const build = (params: Float32Array[], extra: object) =>
          kind === 'AdamW'
            ? new AdamW(params, { ...options, ...extra })
            : new SGDW(params, { ...options, ...extra });
        // Two steps with the same history, then the third from the same state three ways.
        const run = (extra: object) => {
          const p = [theta.slice()];
          const opt = build(p, extra);
          for (const g of grads.slice(0, 2)) opt.step([g]);
          return { p, opt };
        };
        const cautious = run({ cautiousDecay: true });
        const before = cautious.p[0].slice();
        const plain = run({ cautiousDecay: true });
        const none = run({ cautiousDecay: true });
        const stateOf = (o: Stepper) => o.stateDict();
        const direction = kind === 'AdamW' ? 'exp_avg' : 'momentum_buffer';
        cautious.opt.step([grads[2]]);
        const u = cautious.opt.stateDict().slots[direction][0] as Float32Array;
        // Plain decay and no decay from the same state: rebuild with cautiousDecay off.
        const plainOpt = build(plain.p, {});
        plainOpt.loadStateDict({ ...stateOf(plain.opt), groups: stateOf(plainOpt).groups });
        const noneOpt = build(none.p, { weightDecay: 0 });
        noneOpt.loadStateDict({ ...stateOf(none.opt), groups: stateOf(noneOpt).groups });
        plainOpt.stepCount = noneOpt.stepCount = 2;
        plainOpt.step([grads[2]]);
        noneOpt.step([grads[2]]);
        let decayed = 0;
        for (let i = 0; i < n; i++) {
          const aligned = u[i] === 0 || before[i] === 0 || u[i] < 0 === before[i] < 0;
          const expected = aligned ? plain.p[0][i] : none.p[0][i];
          if (aligned) decayed++;
          assert.ok(
            Object.is(cautious.p[0][i], expected),
            `[${i}] ${cautious.p[0][i]} vs ${expected}`,
          );
        }
        assert.ok(decayed > n / 4 && decayed < (3 * n) / 4, `both kinds of element (${decayed})`);
      });
    }
  }
});

describe('cautious decay: state and validation', () => {
  test('saved in the state dict only when on, and a resumed run is bit-identical', () => {
    const grad = (t: number) => [randomArray(70, 300 + t)];
    const make2 = (p: Float32Array[]) =>
      new AdamW(p, { lr: 0.05, weightDecay: 0.2, cautiousDecay: true });
    const straight = [randomArray(70, 61)];
    const a = make2(straight);
    for (let t = 0; t < 8; t++) a.step(grad(t));
    const first = [randomArray(70, 61)];
    const b = make2(first);
    for (let t = 0; t < 4; t++) b.step(grad(t));
    const saved = stateDictFromJSON(stateDictToJSON(b.stateDict()));
    assert.equal(saved.groups[0].hyper.cautiousDecay, true);
    assert.equal(
      'cautiousDecay' in new AdamW([randomArray(2, 1)]).stateDict().groups[0].hyper,
      false,
    );
    const c = make2([first[0].slice()]);
    const params = (c as unknown as { params: Float32Array[] }).params;
    c.loadStateDict(saved);
    for (let t = 4; t < 8; t++) c.step(grad(t));
    assertBitEqual(params[0], straight[0]);
  });

  test('rejected on Adam and SGD (no decoupled decay to mask) and for non-booleans', () => {
    const p = () => [new Float32Array(2)];
    const isOption = (re: RegExp) => (e: unknown) => e instanceof OptionError && re.test(e.message);
    assert.throws(
      () => new Adam(p(), { cautiousDecay: true }),
      isOption(/unknown option cautiousDecay/),
    );
    assert.throws(
      () => new SGD(p(), { cautiousDecay: true } as never),
      isOption(/unknown option cautiousDecay/),
    );
    assert.throws(
      () => new SGDW(p(), { cautiousDecay: 1 as never }),
      isOption(/cautiousDecay must be true or false; received 1/),
    );
    assert.throws(
      () => new AdamW([{ params: p(), cautiousDecay: 'yes' as never }]),
      isOption(/group 0: cautiousDecay must be true or false; received "yes"/),
    );
  });
});

/**
 * Schedule-free AdamW and SGD against the golden trajectories of scripts/make_golden_schedule_free.py
 * (a plain-torch transcription of facebookresearch/schedule_free, run on PyTorch 1.13's portable
 * kernels, which round every float32 operation). The core's loop and the fused WASM kernel do the
 * same float32 operations in the same order, so every parameter after every step, eval() and
 * train() must match bit for bit with either (the SIMD-sized cases have tensors long enough for
 * the kernel's vector loop). Also: save/resume (in train and eval mode) is bit-identical, and bad
 * options are rejected.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  decodeStateDict,
  encodeStateDict,
  OptionError,
  ScheduleFreeAdamW,
  ScheduleFreeSGD,
  stateDictFromJSON,
  stateDictToJSON,
} from 'decoupled';
import { referenceKernels, type UpdateKernels } from '#decoupled/core/kernels.js';
import { wasmKernels } from '#decoupled/kernels/wasm.js';
import { assertBitEqual, randomArray } from '../helpers/arrays.js';

interface Case {
  name: string;
  optimizer: 'ScheduleFreeAdamW' | 'ScheduleFreeSGD';
  options: Record<string, unknown>;
  events: ('step' | 'eval' | 'train')[];
  params0: number[][];
  grads: (number[][] | null)[];
  expected: number[][][];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/schedule-free.json', import.meta.url), 'utf8'),
) as { torch: string; reference: string; cases: Case[] };

type Any = ScheduleFreeAdamW | ScheduleFreeSGD;
function make(c: Case, params: Float32Array[], extra: Record<string, unknown> = {}): Any {
  const options = { ...c.options, ...extra } as never;
  return c.optimizer === 'ScheduleFreeAdamW'
    ? new ScheduleFreeAdamW(params, options)
    : new ScheduleFreeSGD(params, options);
}

function run(opt: Any, c: Case, event: number): void {
  const e = c.events[event];
  if (e === 'step') opt.step((c.grads[event] as number[][]).map((g) => Float32Array.from(g)));
  else opt[e]();
}

describe('schedule-free: golden trajectories (PyTorch 1.13, bit for bit)', () => {
  assert.ok(fixture.cases.length >= 10);
  // Below 64 elements the WASM kernels call the reference loop: some cases must be longer.
  assert.ok(fixture.cases.filter((c) => c.params0.every((p) => p.length >= 64)).length >= 4);
  const kernelSets: [string, UpdateKernels][] = [
    ['reference loop', referenceKernels],
    ['wasm kernel', wasmKernels],
  ];
  for (const c of fixture.cases) {
    for (const [label, kernels] of kernelSets) {
      test(`${c.name} (${label})`, () => {
        const params = c.params0.map((p) => Float32Array.from(p));
        const opt = make(c, params, { kernels });
        c.events.forEach((_, k) => {
          run(opt, c, k);
          params.forEach((p, i) => {
            const what = `${c.events[k]} ${k} param ${i}`;
            assertBitEqual(p, Float32Array.from(c.expected[k][i]), what);
          });
        });
      });
    }
  }
});

describe('schedule-free: save and resume', () => {
  const encodings = {
    'in memory': (s: ReturnType<Any['stateDict']>) => s,
    JSON: (s: ReturnType<Any['stateDict']>) => stateDictFromJSON(stateDictToJSON(s)),
    binary: (s: ReturnType<Any['stateDict']>) => decodeStateDict(encodeStateDict(s)),
  };
  const switching = fixture.cases.filter((c) => c.events.includes('eval'));
  for (const c of switching) {
    for (const [encoding, roundTrip] of Object.entries(encodings)) {
      for (const cut of [3, 5, 6, 12]) {
        test(`${c.name}, ${encoding}, saved after event ${cut} (${c.events[cut - 1]})`, () => {
          const params = c.params0.map((p) => Float32Array.from(p));
          const first = make(c, params);
          for (let k = 0; k < cut; k++) run(first, c, k);
          const saved = roundTrip(first.stateDict());
          const resumed = make(
            c,
            params.map((p) => p.slice()),
          );
          const resumedParams = (resumed as unknown as { params: Float32Array[] }).params;
          resumed.loadStateDict(saved);
          assert.equal(resumed.mode, first.mode);
          for (let k = cut; k < c.events.length; k++) run(resumed, c, k);
          resumedParams.forEach((p, i) => {
            assertBitEqual(p, Float32Array.from(c.expected[c.events.length - 1][i]), `param ${i}`);
          });
        });
      }
    }
  }

  test('a rejected state changes nothing', () => {
    const p = [randomArray(5, 1)];
    const opt = new ScheduleFreeAdamW(p, { lr: 0.01 });
    opt.step([randomArray(5, 2)]);
    const saved = opt.stateDict();
    const before = p[0].slice();
    const bad = { ...saved, extra: { ...saved.extra, 'scheduleFree.weightSum': [-1] } };
    const fresh = new ScheduleFreeAdamW([before.slice()], { lr: 0.01 });
    assert.throws(() => fresh.loadStateDict(bad), /scheduleFree\.weightSum.*>= 0/);
    assert.equal(fresh.stepCount, 0);
    assert.throws(
      () => fresh.loadStateDict({ ...saved, extra: { ...saved.extra, 'scheduleFree.mode': 'x' } }),
      /scheduleFree\.mode.*'train', 'eval'/,
    );
    assert.equal(fresh.mode, 'train');
  });
});

describe('schedule-free: modes and closed forms', () => {
  test('step in eval mode is an error naming the mode; train() allows it again', () => {
    const p = [randomArray(4, 3)];
    const opt = new ScheduleFreeSGD(p, { lr: 0.1 });
    opt.step([randomArray(4, 4)]);
    opt.eval();
    const x = p[0].slice();
    assert.throws(() => opt.step([randomArray(4, 5)]), /mode must be 'train'.*received "eval"/);
    assertBitEqual(p[0], x, 'nothing written');
    opt.train();
    opt.step([randomArray(4, 5)]);
    assert.equal(opt.stepCount, 2);
  });

  test('first step: c = 1, so x_1 = z_1 = y_0 - lr g and y_1 = z_1 (any beta)', () => {
    const y0 = randomArray(6, 7);
    const g = randomArray(6, 8);
    const p = [y0.slice()];
    const opt = new ScheduleFreeSGD(p, { lr: 0.5, momentum: 0.7 });
    opt.step([g]);
    const f = Math.fround;
    const z1 = y0.map((y, i) => f(y + f(f(-0.5) * g[i])));
    assertBitEqual(p[0], z1, 'y_1');
    opt.eval();
    // x = lerp(y, z, 1 - 1/beta) with y = z is z again.
    assertBitEqual(p[0], z1, 'x_1');
  });

  test('currentLearningRates includes the warmup: lr (k + 1) / warmupSteps, then lr', () => {
    const p = [randomArray(3, 1)];
    const opt = new ScheduleFreeSGD(p, { lr: 0.8, warmupSteps: 4 });
    const seen: number[] = [];
    for (let k = 0; k < 6; k++) {
      seen.push(opt.currentLearningRates()[0]);
      opt.step([randomArray(3, 2 + k)]);
    }
    assert.deepEqual(seen, [0.2, 0.4, 0.6000000000000001, 0.8, 0.8, 0.8]);
  });

  test('train() and eval() before the first step leave the params alone', () => {
    const p = [randomArray(4, 9)];
    const before = p[0].slice();
    const opt = new ScheduleFreeAdamW(p);
    opt.eval();
    opt.train();
    assertBitEqual(p[0], before);
  });
});

describe('schedule-free: validation', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'warmupSteps',
      () => new ScheduleFreeAdamW([new Float32Array(1)], { warmupSteps: 1.5 }),
      /warmupSteps must be an integer >= 0; received 1.5/,
    ],
    [
      'r',
      () => new ScheduleFreeSGD([new Float32Array(1)], { r: -1 }),
      /r must be a finite number >= 0; received -1/,
    ],
    [
      'weightLrPower',
      () => new ScheduleFreeSGD([new Float32Array(1)], { weightLrPower: Number.NaN }),
      /weightLrPower must be a finite number >= 0; received NaN/,
    ],
    [
      'momentum',
      () => new ScheduleFreeSGD([new Float32Array(1)], { momentum: 1 }),
      /momentum must be a finite number > 0 and < 1; received 1/,
    ],
    [
      'betas[0]',
      () => new ScheduleFreeAdamW([new Float32Array(1)], { betas: [0, 0.9] }),
      /betas\[0\] must be a finite number > 0 and < 1; received 0/,
    ],
    [
      'decayScale',
      () => new ScheduleFreeAdamW([new Float32Array(1)], { decayScale: 'lr' } as never),
      /unknown option decayScale/,
    ],
  ];
  for (const [option, fn, message] of cases) {
    test(`rejects a bad ${option}`, () => {
      assert.throws(fn, (e: unknown) => e instanceof OptionError && message.test(e.message));
    });
  }
});

/**
 * Schedules against PyTorch 1.13's LR schedulers (test/fixtures/schedules.json), closed forms, the
 * SGDR restart boundaries, config round trips, and every validation error.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { OptionError } from '#decoupled/core/errors.js';
import {
  normalizedWeightDecay,
  normalizedWeightDecayForRestarts,
} from '#decoupled/core/normalized-decay.js';
import { scheduleFromConfig } from '#decoupled/core/schedule-registry.js';
import {
  constant,
  cosine,
  epochsToSteps,
  linear,
  linearWarmup,
  perEpoch,
  restartPeriod,
  type ScheduleConfig,
  sequence,
  stepDecay,
  stepsPerEpoch,
  warmRestarts,
} from '#decoupled/core/schedules.js';
import { decayForTimescale, timescaleOf } from '#decoupled/core/timescale.js';
import type { Schedule } from '#decoupled/core/types.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/schedules.json', import.meta.url), 'utf8'),
) as { torch: string; cases: { name: string; config: ScheduleConfig; values: number[] }[] };

function close(actual: number, expected: number, tol = 1e-12, message?: string) {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${message ?? ''} ${actual} vs ${expected}`,
  );
}

/** Start of restart period i: t0 (1 + tMult + ... + tMult^(i-1)), summed directly. */
function periodStart(i: number, t0: number, tMult: number): number {
  let s = 0;
  for (let k = 0; k < i; k++) s += t0 * tMult ** k;
  return s;
}

describe(`schedules match PyTorch ${fixture.torch}`, () => {
  for (const c of fixture.cases) {
    test(c.name, () => {
      const s = scheduleFromConfig(c.config);
      // A config survives JSON and rebuilds the same function.
      const again = scheduleFromConfig(JSON.parse(JSON.stringify(s.config)));
      c.values.forEach((v, t) => {
        close(s(t), v, 1e-12, `step ${t}:`);
        assert.equal(again(t), s(t));
      });
    });
  }
});

describe('warmRestarts', () => {
  test('T0 = 10, Tmult = 2 restarts at 10, 30, 70, 150 (closed form)', () => {
    const s = warmRestarts({ t0: 10, tMult: 2 });
    for (const start of [0, 10, 30, 70, 150]) {
      assert.equal(s(start), 1, `eta at restart ${start}`);
      if (start > 0) assert.ok(s(start - 1) < 0.03, `eta just before ${start} is near 0`);
    }
    // Mid-period eta is exactly 1/2: at 5, 20, 50, 110.
    for (const mid of [5, 20, 50, 110]) close(s(mid), 0.5, 1e-15);
    // Closed form inside the second period (length 20, starting at 10).
    for (let t = 10; t < 30; t++) close(s(t), (1 + Math.cos((Math.PI * (t - 10)) / 20)) / 2, 1e-15);
  });

  test('non-integer tMult: periods 4, 6, 9, 13.5 start at 0, 4, 10, 19, 32.5', () => {
    const s = warmRestarts({ t0: 4, tMult: 1.5, min: 0.1 });
    assert.deepEqual(restartPeriod(18, 4, 1.5), { index: 2, start: 10, length: 9, position: 8 });
    assert.deepEqual(restartPeriod(32, 4, 1.5), {
      index: 3,
      start: 19,
      length: 13.5,
      position: 13,
    });
    assert.equal(s(19), 1);
    // T_cur advances by whole steps, so after a restart at 32.5 step 33 sits 0.5 into period 4.
    const p = restartPeriod(33, 4, 1.5);
    assert.equal(p.index, 4);
    close(p.position, 0.5, 1e-12);
    close(s(33), 0.1 + (0.9 * (1 + Math.cos((Math.PI * 0.5) / 20.25))) / 2, 1e-12);
  });

  test('property: eta stays in [min, 1] and is non-increasing within a period', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 40, noNaN: true }),
        fc.double({ min: 1, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (t0, tMult, min) => {
          const s = warmRestarts({ t0, tMult, min });
          let previous = Number.POSITIVE_INFINITY;
          let period = -1;
          for (let t = 0; t < 300; t++) {
            const eta = s(t);
            assert.ok(eta >= min - 1e-15 && eta <= 1 + 1e-15, `eta(${t}) = ${eta}`);
            const i = restartPeriod(t, t0, tMult).index;
            if (i === period) assert.ok(eta <= previous + 1e-15, `eta rises at ${t}`);
            period = i;
            previous = eta;
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("property: the closed form agrees with PyTorch's per-step rule, fractional values too", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.3, max: 30, noNaN: true }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        (t0, tMult) => {
          // CosineAnnealingWarmRestarts.step(): T_cur += 1; if T_cur >= T_i: T_cur -= T_i, T_i *= T_mult
          let tCur = 0;
          let length = t0;
          let index = 0;
          for (let t = 0; t < 400; t++) {
            if (t > 0) {
              tCur += 1;
              while (tCur >= length) {
                tCur -= length;
                length *= tMult;
                index++;
              }
            }
            const p = restartPeriod(t, t0, tMult);
            // A restart exactly on a step may land on either side of it after rounding.
            if (Math.abs(tCur) < 1e-9 || Math.abs(tCur - length) < 1e-9) continue;
            assert.equal(p.index, index, `index at ${t}`);
            close(p.position, tCur, 1e-9, `T_cur at ${t}`);
            close(p.length, length, 1e-9, `T_i at ${t}`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a restart that exact decimal arithmetic puts on a step happens on that step', () => {
    // Float products miss these boundaries by an ulp: 7 (1.3 - 1) / (1.3 - 1) = 7.000000000000001.
    for (const [t0, tMult, t] of [
      [7, 1.3, 7],
      [10, 1.45, 10],
      [3, 1.8, 3],
      [5, 1.45, 5],
      [15, 1.22, 15],
      [1.1, 1, 11],
      [1.1, 1, 55],
    ]) {
      const s = warmRestarts({ t0, tMult });
      assert.equal(s(t), 1, `warmRestarts({ t0: ${t0}, tMult: ${tMult} })(${t})`);
      const before = restartPeriod(t - 1, t0, tMult);
      assert.equal(restartPeriod(t, t0, tMult).index, before.index + 1, `a new period at ${t}`);
    }
  });

  test('property: period boundaries agree with exact rational arithmetic (decimal t0, tMult)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 150 }), // t0 = a / 10
        fc.integer({ min: 100, max: 300 }), // tMult = b / 100
        (a, b) => {
          // Up to 300 periods in 150 steps (t0 0.5, tMult 1): the loop below covers them all.
          const t0 = a / 10;
          const tMult = b / 100;
          // start_i = (a / 10) sum_{j<i} (b / 100)^j = num_i / (10 * 100^(i-1)), in BigInt.
          const starts: { num: bigint; den: bigint }[] = [{ num: 0n, den: 1n }];
          let sum = 0n; // sum_{j<i} b^j 100^(i-1-j)
          for (let i = 1; i < 1000; i++) {
            sum = sum * 100n + BigInt(b) ** BigInt(i - 1);
            starts.push({ num: BigInt(a) * sum, den: 10n * 100n ** BigInt(i - 1) });
            if (starts[i].num > 160n * starts[i].den) break;
          }
          for (let t = 0; t < 150; t++) {
            let index = 0;
            while (
              index + 1 < starts.length &&
              BigInt(t) * starts[index + 1].den >= starts[index + 1].num
            ) {
              index++;
            }
            const p = restartPeriod(t, t0, tMult);
            assert.equal(p.index, index, `index of step ${t} (t0 ${t0}, tMult ${tMult})`);
            assert.ok(p.position >= 0 && p.position < p.length, `position at ${t}`);
          }
        },
      ),
      {
        numRuns: 200,
        examples: [
          [5, 100],
          [70, 130],
          [11, 100],
          [150, 122],
        ],
      },
    );
  });

  test('restartPeriod rejects a negative or infinite step', () => {
    for (const t of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      assert.throws(() => restartPeriod(t, 10, 2), OptionError);
    }
    assert.equal(restartPeriod(1e15, 1, 1.0001).index > 0, true, 'fast for tMult near 1');
  });

  test('property: restarts exactly at t0 (1 + tMult + ... + tMult^(i-1))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0, max: 0.9, noNaN: true }),
        (t0, tMult, min) => {
          const s = warmRestarts({ t0, tMult, min });
          for (let i = 0; i < 5; i++) {
            const start = periodStart(i, t0, tMult);
            assert.equal(s(start), 1);
            assert.equal(restartPeriod(start, t0, tMult).index, i);
            if (i > 0) {
              assert.equal(restartPeriod(start - 1, t0, tMult).index, i - 1);
              if (t0 * tMult ** (i - 1) > 1) assert.ok(s(start - 1) < 1);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('warmRestarts with a warmup per period and a decaying peak', () => {
  // Periods of 10, 20, 40, 80 steps start at 0, 10, 30, 70; each begins with 4 warmup steps.
  const options = { t0: 10, tMult: 2, min: 0.1, warmup: 4, peakDecay: 0.5 };
  const starts = [0, 10, 30, 70];
  const lengths = [10, 20, 40, 80];
  // Peaks 1, 0.5, 0.25, then 0.125; a fifth period would peak at max(0.0625, min) = min.
  const peaks = [1, 0.5, 0.25, 0.125];

  test('closed forms: period starts, warmup midpoints, peaks, cosine midpoints, period ends', () => {
    const s = warmRestarts(options);
    starts.forEach((start, i) => {
      const [peak, length] = [peaks[i], lengths[i]];
      close(s(start), 0.1, 1e-15, `period ${i} starts at min`);
      close(s(start + 2), (0.1 + peak) / 2, 1e-15, `period ${i} warmup midpoint`);
      close(s(start + 4), peak, 1e-15, `period ${i} peaks when the warmup ends`);
      const mid = start + 4 + (length - 4) / 2;
      close(s(mid), (0.1 + peak) / 2, 1e-15, `period ${i} cosine midpoint`);
      const last = start + length - 1;
      const cos = (1 + Math.cos((Math.PI * (length - 5)) / (length - 4))) / 2;
      close(s(last), 0.1 + (peak - 0.1) * cos, 1e-15, `period ${i} last step`);
    });
    for (const t of [150, 152, 154, 200, 309]) assert.equal(s(t), 0.1, `flat at min from ${t}`);
  });

  test('the warmup lies inside the period: restarts stay at t0 (1 + tMult + ...)', () => {
    const s = warmRestarts(options);
    for (const start of starts.slice(1)) {
      assert.ok(s(start - 1) < s(start + 1), `a new warmup begins at ${start}`);
      assert.equal(restartPeriod(start, 10, 2).position, 0);
    }
  });

  test('defaults (warmup 0, peakDecay 1) give the plain SGDR schedule bit for bit', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 40, noNaN: true }),
        fc.double({ min: 1, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (t0, tMult, min) => {
          const plain = warmRestarts({ t0, tMult, min });
          const explicit = warmRestarts({ t0, tMult, min, warmup: 0, peakDecay: 1 });
          for (let t = 0; t < 200; t++) {
            // SGDR's closed form, in PyTorch's operation order.
            const p = restartPeriod(t, t0, tMult);
            const sgdr = min + ((1 - min) * (1 + Math.cos((Math.PI * p.position) / p.length))) / 2;
            assert.equal(plain(t), sgdr, `step ${t}`);
            assert.equal(explicit(t), sgdr, `step ${t}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('property: with min 0, period i is the undecayed period times peakDecay^i', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }),
        fc.double({ min: 1, max: 2.5, noNaN: true }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (t0, tMult, warmupFraction, peakDecay) => {
          const warmup = warmupFraction * t0;
          const decayed = warmRestarts({ t0, tMult, warmup, peakDecay });
          const undecayed = warmRestarts({ t0, tMult, warmup });
          for (let t = 0; t < 250; t++) {
            const i = restartPeriod(t, t0, tMult).index;
            close(decayed(t), peakDecay ** i * undecayed(t), 1e-14, `step ${t}`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('property: each period rises linearly over the warmup to its peak, then falls to min', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1.5, max: 30, noNaN: true }),
        fc.double({ min: 1, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.95, noNaN: true }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        (t0, tMult, min, warmupFraction, peakDecay) => {
          const warmup = warmupFraction * t0;
          const s = warmRestarts({ t0, tMult, min, warmup, peakDecay });
          let previous = { index: -1, eta: 0 };
          for (let t = 0; t < 300; t++) {
            const p = restartPeriod(t, t0, tMult);
            const peak = Math.max(peakDecay ** p.index, min);
            const eta = s(t);
            assert.ok(eta >= min - 1e-15 && eta <= peak + 1e-15, `eta(${t}) = ${eta}`);
            if (p.position < warmup) {
              close(eta, min + ((peak - min) * p.position) / warmup, 1e-12, `warmup at ${t}`);
            } else if (p.index === previous.index && p.position - 1 >= warmup) {
              assert.ok(eta <= previous.eta + 1e-15, `eta rises after the warmup at ${t}`);
            }
            previous = { index: p.index, eta };
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('warmup and peakDecay are in the config and rebuild the same schedule', () => {
    const s = warmRestarts({ t0: 7, tMult: 1.3, min: 0.05, warmup: 2.5, peakDecay: 0.8 });
    assert.deepEqual(s.config, {
      type: 'warmRestarts',
      t0: 7,
      tMult: 1.3,
      min: 0.05,
      warmup: 2.5,
      peakDecay: 0.8,
    });
    const rebuilt = scheduleFromConfig(JSON.parse(JSON.stringify(s.config)));
    assert.deepEqual(rebuilt.config, s.config);
    for (let t = 0; t < 120; t++) assert.equal(rebuilt(t), s(t));
    // A config saved before the options existed rebuilds with their defaults.
    const old = scheduleFromConfig({ type: 'warmRestarts', t0: 10, tMult: 2, min: 0 });
    assert.deepEqual(old.config, { ...old.config, warmup: 0, peakDecay: 1 });
    for (let t = 0; t < 80; t++) assert.equal(old(t), warmRestarts({ t0: 10, tMult: 2 })(t));
  });
});

describe('other schedules (closed forms)', () => {
  test('constant, stepDecay, cosine, linear', () => {
    assert.equal(constant()(123), 1);
    assert.equal(constant(0.25)(0), 0.25);
    const drop = stepDecay({ milestones: [30, 60, 80], gamma: 0.1 });
    assert.deepEqual([0, 29, 30, 59, 60, 80, 1000].map(drop), [
      1,
      1,
      0.1,
      0.1,
      0.1 ** 2,
      0.1 ** 3,
      0.1 ** 3,
    ]);
    assert.deepEqual([0, 6, 7, 14].map(stepDecay({ stepSize: 7, gamma: 0.5 })), [1, 1, 0.5, 0.25]);
    const cos = cosine({ total: 100, min: 0.2 });
    assert.equal(cos(0), 1);
    close(cos(50), 0.6, 1e-15);
    close(cos(100), 0.2, 1e-15);
    assert.equal(cos(250), cos(100), 'flat at min after total');
    const ramp = linear({ from: 0.5, to: 1, steps: 4 });
    assert.deepEqual([0, 2, 4, 9].map(ramp), [0.5, 0.75, 1, 1]);
  });

  test('linearWarmup then cosine, and sequence restarts each schedule at 0', () => {
    const after = cosine({ total: 20 });
    const w = linearWarmup({ steps: 5, from: 0.2 }, after);
    close(w(0), 0.2, 1e-15);
    close(w(4), 0.2 + (0.8 * 4) / 5, 1e-15);
    for (let t = 5; t < 30; t++) assert.equal(w(t), after(t - 5));
    assert.equal(linearWarmup({ steps: 10 })(5), 0.5, 'defaults: from 0 up to constant 1');

    const seq = sequence([constant(0.5), warmRestarts({ t0: 3 }), constant(0.1)], [2, 8]);
    assert.deepEqual([0, 1].map(seq), [0.5, 0.5]);
    assert.equal(seq(2), 1);
    assert.equal(seq(5), 1, 'the restart schedule restarts at its own step 3');
    assert.equal(seq(8), 0.1);
  });

  test('perEpoch holds the value through an epoch; epoch helpers', () => {
    const s = perEpoch(stepDecay({ milestones: [2], gamma: 0.5 }), 10);
    assert.deepEqual([0, 19, 20, 35].map(s), [1, 1, 0.5, 0.5]);
    assert.equal(stepsPerEpoch({ datasetSize: 50000, batchSize: 128 }), 391);
    assert.equal(stepsPerEpoch({ datasetSize: 50000, batchSize: 128, dropLast: true }), 390);
    assert.equal(epochsToSteps(2.5, 391), 977.5);
    // A warm restart of 2 epochs at 391 steps per epoch restarts at step 782.
    const wr = warmRestarts({ t0: epochsToSteps(2, 391) });
    assert.equal(wr(782), 1);
    assert.ok(wr(781) < 1e-4);
  });

  test('configs round-trip through JSON for composites; plain functions have none', () => {
    const composite = sequence(
      [linearWarmup({ steps: 3 }, warmRestarts({ t0: 5, tMult: 1.5, min: 0.05 })), constant(0.3)],
      [40],
    );
    assert.ok(composite.config);
    const rebuilt = scheduleFromConfig(JSON.parse(JSON.stringify(composite.config)));
    for (let t = 0; t < 60; t++) assert.equal(rebuilt(t), composite(t));
    const wrapped = perEpoch(cosine({ total: 10 }), 7);
    assert.deepEqual(scheduleFromConfig(wrapped.config).config, wrapped.config);
    const custom: Schedule = (t) => 1 / (1 + t);
    assert.equal(sequence([custom, constant()], [5]).config, undefined);
    assert.equal(linearWarmup({ steps: 2 }, custom).config, undefined);
    assert.ok(Object.isFrozen(warmRestarts({ t0: 2 }).config));
  });
});

describe('normalized weight decay', () => {
  test('lambda = lambdaNorm sqrt(b / (B T)) (closed form)', () => {
    const lambda = normalizedWeightDecay({
      lambdaNorm: 0.05,
      batchSize: 128,
      datasetSize: 50000,
      epochs: 100,
    });
    // lambda^2 B T / b = lambdaNorm^2
    close((lambda * lambda * 50000 * 100) / 128, 0.05 ** 2, 1e-14);
    const longer = normalizedWeightDecay({
      lambdaNorm: 0.05,
      batchSize: 128,
      datasetSize: 50000,
      epochs: 400,
    });
    close(longer, lambda / 2, 1e-15, '4x the budget halves lambda');
  });

  test('under warm restarts lambda uses the current period and changes at each restart', () => {
    const common = { lambdaNorm: 0.05, batchSize: 128, datasetSize: 50000 };
    const spe = 391;
    const decay = normalizedWeightDecayForRestarts({ ...common, t0: 10, tMult: 2 });
    assert.equal(decay.config.type, 'normalizedDecayRestarts');
    // Periods of 10, 20, 40 epochs start at epochs 0, 10, 30, 70.
    [0, 10, 30, 70].forEach((epochStart, i) => {
      const expected = normalizedWeightDecay({ ...common, epochs: 10 * 2 ** i });
      close(decay(epochStart * spe), expected, 1e-14, `period ${i} start`);
      if (i > 0) {
        const before = normalizedWeightDecay({ ...common, epochs: 10 * 2 ** (i - 1) });
        close(decay(epochStart * spe - 1), before, 1e-14, `period ${i - 1} end`);
      }
    });
    const rebuilt = scheduleFromConfig(JSON.parse(JSON.stringify(decay.config)));
    for (const t of [0, 3909, 3910, 30000]) assert.equal(rebuilt(t), decay(t));
    // tMult 1: one value throughout, as normalizedWeightDecay with T = t0.
    const flat = normalizedWeightDecayForRestarts({ ...common, t0: 5, stepsPerEpoch: 100 });
    for (const t of [0, 499, 500, 12345]) {
      close(flat(t), normalizedWeightDecay({ ...common, epochs: 5 }), 1e-15);
    }
  });
});

describe('validation errors name the option, the value and what is allowed', () => {
  const cases: [string, () => unknown, string, unknown][] = [
    ['warmRestarts t0 = 0', () => warmRestarts({ t0: 0 }), 't0', 0],
    ['warmRestarts t0 < 0', () => warmRestarts({ t0: -3 }), 't0', -3],
    ['warmRestarts t0 NaN', () => warmRestarts({ t0: Number.NaN }), 't0', Number.NaN],
    ['warmRestarts tMult < 1', () => warmRestarts({ t0: 10, tMult: 0.5 }), 'tMult', 0.5],
    ['warmRestarts min < 0', () => warmRestarts({ t0: 10, min: -0.1 }), 'min', -0.1],
    ['warmRestarts min > 1', () => warmRestarts({ t0: 10, min: 1.5 }), 'min', 1.5],
    ['warmRestarts unknown key', () => warmRestarts({ t0: 10, T_mult: 2 } as never), 'T_mult', 2],
    ['warmRestarts warmup < 0', () => warmRestarts({ t0: 10, warmup: -1 }), 'warmup', -1],
    ['warmRestarts warmup = t0', () => warmRestarts({ t0: 10, warmup: 10 }), 'warmup', 10],
    [
      'warmRestarts warmup NaN',
      () => warmRestarts({ t0: 10, warmup: Number.NaN }),
      'warmup',
      Number.NaN,
    ],
    ['warmRestarts peakDecay 0', () => warmRestarts({ t0: 10, peakDecay: 0 }), 'peakDecay', 0],
    [
      'warmRestarts peakDecay > 1',
      () => warmRestarts({ t0: 10, peakDecay: 1.5 }),
      'peakDecay',
      1.5,
    ],
    [
      'scheduleFromConfig warmRestarts warmup beyond t0',
      () =>
        scheduleFromConfig({
          type: 'warmRestarts',
          t0: 4,
          tMult: 1,
          min: 0,
          warmup: 6,
          peakDecay: 1,
        }),
      'warmup',
      6,
    ],
    ['constant < 0', () => constant(-1), 'value', -1],
    [
      'stepDecay milestones not increasing',
      () => stepDecay({ milestones: [30, 20], gamma: 0.1 }),
      'milestones',
      [30, 20],
    ],
    [
      'stepDecay milestones repeated',
      () => stepDecay({ milestones: [5, 5] }),
      'milestones',
      [5, 5],
    ],
    ['stepDecay negative milestone', () => stepDecay({ milestones: [-1] }), 'milestones[0]', -1],
    ['stepDecay gamma 0', () => stepDecay({ milestones: [1], gamma: 0 }), 'gamma', 0],
    ['stepDecay neither', () => stepDecay({ gamma: 0.5 }), 'milestones', undefined],
    ['stepDecay both', () => stepDecay({ milestones: [1], stepSize: 2 }), 'milestones', [1]],
    ['stepDecay stepSize 0', () => stepDecay({ stepSize: 0 }), 'stepSize', 0],
    ['cosine total 0', () => cosine({ total: 0 }), 'total', 0],
    ['cosine min > 1', () => cosine({ total: 10, min: 2 }), 'min', 2],
    ['linear steps 0', () => linear({ steps: 0 }), 'steps', 0],
    ['linearWarmup from > 1', () => linearWarmup({ steps: 5, from: 1.1 }), 'from', 1.1],
    ['linearWarmup steps < 0', () => linearWarmup({ steps: -5 }), 'steps', -5],
    ['linearWarmup after', () => linearWarmup({ steps: 5 }, 3 as never), 'after', 3],
    ['sequence empty', () => sequence([], []), 'schedules', []],
    ['sequence boundaries count', () => sequence([constant(), constant()], []), 'boundaries', []],
    [
      'sequence boundaries not increasing',
      () => sequence([constant(), constant(), constant()], [5, 5]),
      'boundaries',
      [5, 5],
    ],
    ['perEpoch steps 0', () => perEpoch(constant(), 0), 'stepsPerEpoch', 0],
    [
      'stepsPerEpoch batch > dataset with dropLast',
      () => stepsPerEpoch({ datasetSize: 10, batchSize: 20, dropLast: true }),
      'batchSize',
      20,
    ],
    ['epochsToSteps negative', () => epochsToSteps(-1, 10), 'epochs', -1],
    ['scheduleFromConfig not an object', () => scheduleFromConfig('cosine'), 'config', 'cosine'],
    [
      'scheduleFromConfig unknown type',
      () => scheduleFromConfig({ type: 'exponential' }),
      'config.type',
      'exponential',
    ],
    [
      'scheduleFromConfig unknown key',
      () => scheduleFromConfig({ type: 'cosine', total: 10, T_max: 10 }),
      'config.T_max',
      10,
    ],
    [
      'scheduleFromConfig bad nested',
      () => scheduleFromConfig({ type: 'perEpoch', stepsPerEpoch: 2, schedule: { type: 'x' } }),
      'config.type',
      'x',
    ],
    [
      'normalizedWeightDecay epochs 0',
      () => normalizedWeightDecay({ lambdaNorm: 0.05, batchSize: 1, datasetSize: 1, epochs: 0 }),
      'epochs',
      0,
    ],
    [
      'normalizedWeightDecay lambdaNorm < 0',
      () => normalizedWeightDecay({ lambdaNorm: -1, batchSize: 1, datasetSize: 1, epochs: 1 }),
      'lambdaNorm',
      -1,
    ],
    [
      'normalizedWeightDecayForRestarts tMult < 1',
      () =>
        normalizedWeightDecayForRestarts({
          lambdaNorm: 0.05,
          batchSize: 1,
          datasetSize: 1,
          t0: 1,
          tMult: 0,
        }),
      'tMult',
      0,
    ],
    // The timescale helpers.
    [
      'decayForTimescale epochs 0',
      () => decayForTimescale({ epochs: 0, lr: 1, stepsPerEpoch: 1 }),
      'epochs',
      0,
    ],
    [
      'decayForTimescale lr missing',
      () => decayForTimescale({ epochs: 1, stepsPerEpoch: 1 }),
      'lr',
      undefined,
    ],
    [
      'decayForTimescale lr 0',
      () => decayForTimescale({ epochs: 1, lr: 0, stepsPerEpoch: 1 }),
      'lr',
      0,
    ],
    [
      'decayForTimescale stepsPerEpoch negative',
      () => decayForTimescale({ epochs: 1, lr: 1, stepsPerEpoch: -3 }),
      'stepsPerEpoch',
      -3,
    ],
    [
      'decayForTimescale decayScale unknown',
      () => decayForTimescale({ epochs: 1, lr: 1, stepsPerEpoch: 1, decayScale: 'wd' as never }),
      'decayScale',
      'wd',
    ],
    [
      'decayForTimescale unknown key',
      () => decayForTimescale({ epochs: 1, lr: 1, stepsPerEpoch: 1, tau: 2 } as never),
      'tau',
      2,
    ],
    [
      'timescaleOf weightDecay 0',
      () => timescaleOf({ weightDecay: 0, lr: 1, stepsPerEpoch: 1 }),
      'weightDecay',
      0,
    ],
    [
      'timescaleOf weightDecay NaN',
      () => timescaleOf({ weightDecay: Number.NaN, lr: 1, stepsPerEpoch: 1 }),
      'weightDecay',
      Number.NaN,
    ],
    [
      "timescaleOf lr invalid even with 'schedule'",
      () => timescaleOf({ weightDecay: 1, lr: -1, stepsPerEpoch: 1, decayScale: 'schedule' }),
      'lr',
      -1,
    ],
  ];
  for (const [name, fn, option, value] of cases) {
    test(name, () => {
      assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof OptionError, `an OptionError, got ${e}`);
        assert.equal(e.option, option);
        assert.deepEqual(e.value, value);
        assert.ok(e.message.includes(option), e.message);
        // The message says what is allowed (unknown keys list the known ones).
        const unknownKey = e.message.includes('unknown option');
        assert.ok(unknownKey || e.message.includes(e.allowed), e.message);
        return true;
      });
    });
  }
});

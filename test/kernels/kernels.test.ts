/**
 * The WASM kernels against the core's reference loops (core/kernels.ts): bit-identical float32
 * results (NaN compared as NaN) for every option combination, odd and tiny lengths, unaligned
 * views, schedules (scalars changing every step), staged and in-place (arena) memory, and threads.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { addGradient, meanGradient } from '#decoupled/core/accumulate.js';
import { emaCoefficients, emaUpdate } from '#decoupled/core/ema.js';
import {
  type AdamScalars,
  adamReferenceUpdate,
  type SgdScalars,
  sgdReferenceUpdate,
} from '#decoupled/core/kernels.js';
import { memoryOf, STAGE_CHUNK } from '#decoupled/kernels/arena.js';
import {
  createArena,
  initKernels,
  kernelThreads,
  shutdownKernels,
  wasmKernels,
} from '#decoupled/kernels/index.js';
import { createInstance } from '#decoupled/kernels/module.js';
import {
  type Alloc,
  arenaAlloc,
  assertSameFloats,
  ownState,
  plain,
  unaligned,
  values,
} from '../helpers/kernel-arrays.js';

function adamScalars(
  t: number,
  o: { amsgrad: boolean; maximize: boolean; l2: boolean; decay: boolean; cautious?: boolean },
): AdamScalars {
  const beta1 = 0.9 - 0.01 * (t % 3);
  const beta2 = 0.999;
  const lr = 1e-3 * (1 + Math.cos(t)); // a schedule: lr changes every step
  return {
    stepSize: lr / (1 - beta1 ** t),
    beta1,
    beta2,
    eps: t % 2 ? 1e-8 : 1e-6,
    biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** t),
    l2: o.l2 ? 0.01 * t : 0,
    decayFactor: o.decay ? 1 - lr * 0.05 : 1,
    amsgrad: o.amsgrad,
    maximize: o.maximize,
    cautious: o.cautious,
  };
}

function runAdam(
  n: number,
  alloc: Alloc,
  o: Parameters<typeof adamScalars>[1],
  steps = 4,
  nonFinite = false,
): void {
  const ref = {
    p: values(n, 1),
    m: new Float32Array(n),
    v: new Float32Array(n),
    vMax: o.amsgrad ? new Float32Array(n) : null,
  };
  const k = {
    p: alloc(ref.p),
    m: alloc(ref.m),
    v: alloc(ref.v),
    vMax: ref.vMax ? alloc(ref.vMax) : null,
  };
  for (let t = 1; t <= steps; t++) {
    const g = values(n, 100 + t, false, nonFinite);
    const s = adamScalars(t, o);
    adamReferenceUpdate(ref.p, g, ref.m, ref.v, ref.vMax, s);
    wasmKernels.adam(k.p, alloc(g), k.m, k.v, k.vMax, s);
    const what = `adam n=${n} ${JSON.stringify(o)} step ${t}`;
    assertSameFloats(k.p, ref.p, `${what} p`);
    assertSameFloats(k.m, ref.m, `${what} m`);
    assertSameFloats(k.v, ref.v, `${what} v`);
    if (ref.vMax) assertSameFloats(k.vMax!, ref.vMax, `${what} vMax`);
  }
}

interface SgdCase {
  maximize: boolean;
  l2: boolean;
  decay: boolean;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  cautious?: boolean;
}

function runSgd(n: number, alloc: Alloc, o: SgdCase, steps = 3, nonFinite = false): void {
  const ref = { p: values(n, 2), buf: o.momentum ? new Float32Array(n) : null };
  const k = { p: alloc(ref.p), buf: ref.buf ? alloc(ref.buf) : null };
  for (let t = 1; t <= steps; t++) {
    const g = values(n, 200 + t, false, nonFinite);
    const lr = 0.1 / t;
    const s: SgdScalars = {
      lr,
      momentum: o.momentum,
      dampening: o.dampening,
      nesterov: o.nesterov,
      l2: o.l2 ? 5e-4 * t : 0,
      decayFactor: o.decay ? 1 - lr * 5e-4 : 1,
      maximize: o.maximize,
      firstStep: t === 1,
      cautious: o.cautious,
    };
    sgdReferenceUpdate(ref.p, g, ref.buf, s);
    wasmKernels.sgd(k.p, alloc(g), k.buf, s);
    const what = `sgd n=${n} ${JSON.stringify(o)} step ${t}`;
    assertSameFloats(k.p, ref.p, `${what} p`);
    if (ref.buf) assertSameFloats(k.buf!, ref.buf, `${what} buf`);
  }
}

const bools = [false, true];
// Cautious decay (the CAUTIOUS flag) only matters with a decay factor: added to those cases.
const adamCases = bools.flatMap((amsgrad) =>
  bools.flatMap((maximize) =>
    bools.flatMap((l2) =>
      bools.flatMap((decay) =>
        (decay ? bools : [false]).map((cautious) => ({ amsgrad, maximize, l2, decay, cautious })),
      ),
    ),
  ),
);
const sgdCases: SgdCase[] = bools.flatMap((maximize) =>
  bools.flatMap((l2) =>
    bools.flatMap((decay) =>
      [
        { momentum: 0, dampening: 0, nesterov: false },
        { momentum: 0.9, dampening: 0, nesterov: false },
        { momentum: 0.9, dampening: 0.1, nesterov: false },
        { momentum: 0.9, dampening: 0, nesterov: true },
      ].flatMap((mo) =>
        (decay ? bools : [false]).map((cautious) => ({ maximize, l2, decay, ...mo, cautious })),
      ),
    ),
  ),
);
// Tiny (the reference loop runs below 64), SIMD with odd tails, one staging chunk exactly, and
// several chunks with a tail.
const lengths = [0, 1, 3, 4, 5, 17, 64, 67, 130, STAGE_CHUNK, 2 * STAGE_CHUNK + 7];

describe('wasm kernels match the reference loops bit for bit', () => {
  after(() => shutdownKernels());

  for (const [name, alloc] of [
    ['plain arrays (staged)', plain],
    ['unaligned views (staged)', unaligned],
    ['plain p and g (staged), state in kernel memory', ownState],
  ] as const) {
    it(`adam, every option, ${name}`, () => {
      for (const o of adamCases) for (const n of lengths) runAdam(n, alloc, o);
    });
    it(`sgd, every option, ${name}`, () => {
      for (const o of sgdCases) for (const n of lengths) runSgd(n, alloc, o);
    });
  }

  it('adam and sgd in place in an arena (aligned and unaligned views)', () => {
    for (const misalign of bools) {
      for (const n of [1, 7, 67, 40003]) {
        for (const o of adamCases) runAdam(n, arenaAlloc(8 * (n + 32), misalign), o, 3);
        for (const o of sgdCases) runSgd(n, arenaAlloc(6 * (n + 32), misalign), o, 3);
      }
    }
  });

  it('NaN and Infinity in gradients propagate as in the reference (nonFinite: ignore)', () => {
    for (const o of adamCases) runAdam(1001, plain, o, 3, true);
    for (const o of sgdCases) runSgd(1001, plain, o, 3, true);
  });

  it('mixed: state in an arena, params and grads outside it (staged around the arena)', () => {
    runAdam(50001, (src) => src.slice(), {
      amsgrad: true,
      maximize: false,
      l2: false,
      decay: true,
    });
    const arena = createArena(5 * 50001 + 256, { prefault: false });
    let k = 0;
    // p outside, state inside: alternate the allocator per array.
    runAdam(50001, (src) => (k++ % 2 ? arena.from(src) : src.slice()), {
      amsgrad: true,
      maximize: true,
      l2: true,
      decay: true,
    });
  });

  it('two threads give the same result as the reference (large in-place tensors)', async () => {
    await initKernels({ threads: 2, minParallelLength: 1024 });
    assert.equal(kernelThreads(), 2);
    const n = (1 << 20) + 13;
    runAdam(
      n,
      arenaAlloc(6 * n + 1024),
      { amsgrad: true, maximize: false, l2: false, decay: true },
      2,
    );
    runSgd(
      n,
      arenaAlloc(4 * n + 1024),
      { maximize: false, l2: true, decay: false, momentum: 0.9, dampening: 0, nesterov: true },
      2,
    );
    await shutdownKernels();
    assert.equal(kernelThreads(), 1);
  });

  it('allFinite finds NaN and Infinity anywhere, in and out of an arena', () => {
    const arena = createArena(4096, { prefault: false });
    for (const n of [0, 1, 3, 5, 33, 64, 67, 101, 20000]) {
      const clean = values(n, 7);
      assert.equal(wasmKernels.allFinite(clean), true);
      assert.equal(wasmKernels.allFinite(arena.from(clean.subarray(0, Math.min(n, 1000)))), true);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        for (const at of [0, n - 1, n >> 1]) {
          if (n === 0) continue;
          const a = clean.slice();
          a[at] = bad;
          assert.equal(wasmKernels.allFinite(a), false, `n=${n} at ${at} ${bad}`);
          assert.equal(wasmKernels.allFinite(unaligned(a)), false);
        }
      }
    }
  });

  it('emaUpdate, accumulateAdd and accumulateMean give the core loops bits, specials too', () => {
    // Four regions of 16 KiB in a fresh instance's memory: e (or s), theta, g, out.
    const instance = createInstance(4, false);
    const k = instance.exports;
    const view = (at: number, n: number) => new Float32Array(instance.memory.buffer, at, n);
    for (const n of [0, 1, 3, 4, 5, 67, 1000]) {
      const [e, theta, g] = [1, 2, 3].map((seed) => values(n, seed + n, false, true));
      const [eAt, thetaAt, gAt, outAt] = [0, 1, 2, 3].map((i) => i * 16384);
      for (const settings of [
        { decay: 0.9, every: null, debias: false },
        { decay: 0.999, every: null, debias: true },
        { decay: 0, every: null, debias: false },
      ]) {
        const expected = e.slice();
        emaUpdate(expected, theta, settings, false);
        view(eAt, n).set(e);
        view(thetaAt, n).set(theta);
        const { d, c } = emaCoefficients(settings);
        k.emaUpdate(eAt, thetaAt, n, d, c);
        assertSameFloats(view(eAt, n).slice(), expected, `emaUpdate n=${n} ${settings.decay}`);
      }
      const sum = e.slice();
      addGradient(sum, g);
      view(eAt, n).set(e);
      view(gAt, n).set(g);
      k.accumulateAdd(eAt, gAt, n);
      assertSameFloats(view(eAt, n).slice(), sum, `accumulateAdd n=${n}`);
      for (const calls of [2, 3, 7]) {
        const mean = new Float32Array(n);
        meanGradient(mean, e, g, calls);
        view(eAt, n).set(e);
        k.accumulateMean(outAt, eAt, gAt, n, calls);
        assertSameFloats(view(outAt, n).slice(), mean, `accumulateMean n=${n} k=${calls}`);
      }
    }
  });

  it('allocateState puts state next to an arena param, in kernel memory for a plain one', () => {
    const arena = createArena(100, { prefault: false });
    const p = arena.alloc(10);
    const s = wasmKernels.allocateState(p);
    assert.equal(s.buffer, p.buffer);
    assert.equal(s.length, 10);
    // A plain param's slots share one kernel memory (only p and g are staged); tiny ones stay plain.
    const q = new Float32Array(1000);
    const [m, v] = [wasmKernels.allocateState(q), wasmKernels.allocateState(q)];
    assert.notEqual(memoryOf(m), undefined);
    assert.equal(m.buffer, v.buffer);
    assert.deepEqual(
      [m.length, m.every((x) => x === 0), v.every((x) => x === 0)],
      [1000, true, true],
    );
    assert.equal(memoryOf(wasmKernels.allocateState(new Float32Array(10))), undefined);
  });

  it('rejects mismatched lengths, bad thread options and bad arena requests, naming them', async () => {
    assert.throws(
      () =>
        wasmKernels.sgd(new Float32Array(4), new Float32Array(3), null, {
          lr: 0.1,
          momentum: 0,
          dampening: 0,
          nesterov: false,
          l2: 0,
          decayFactor: 1,
          maximize: false,
          firstStep: true,
        }),
      /g has length 3; it must have the length of p \(4\)/,
    );
    await assert.rejects(
      initKernels({ threads: 0 }),
      /threads must be an integer >= 1 or 'auto'; received 0/,
    );
    await assert.rejects(
      initKernels({ threads: 2, minParallelLength: 0.5 }),
      /minParallelLength must be an integer >= 1; received 0.5/,
    );
    assert.throws(() => createArena(-1), /capacity must be an integer number of float32 elements/);
    const arena = createArena(16, { prefault: false });
    assert.throws(() => arena.alloc(-1), /length must be a non-negative integer/);
    assert.throws(() => arena.alloc(1e6), /at most the/);
  });
});

describe('x / y through an f64 reciprocal gives the float32 quotient (y in [2^-126, 1])', () => {
  const minNormal = 2 ** -126;
  const viaReciprocal = (x: number, y: number) => Math.fround(x * (1 / y));
  // Math.fround(x / y) is the correctly rounded float32 quotient (double rounding is harmless for
  // division when 53 >= 2 * 24 + 2), i.e. what the reference loop computes.
  const quotient = (x: number, y: number) => Math.fround(x / y);
  /** Same float32 (any NaN equal to any NaN). */
  const sameQuotient = (x: number, y: number) => {
    const [got, want] = [viaReciprocal(x, y), quotient(x, y)];
    return Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want));
  };
  const divisor = fc.float({ min: minNormal, max: 1, noNaN: true });

  it('for every sqrt result x and y in [2^-126, 1] (property, incl. 0, Infinity, extremes)', () => {
    fc.assert(
      fc.property(fc.float({ min: 0, noNaN: true }), divisor, (v, y) =>
        sameQuotient(Math.fround(Math.sqrt(v)), y),
      ),
      { numRuns: 50000 },
    );
  });

  // Schedule-free divides v itself (any float32: subnormal, negative, Inf, NaN) by 1 - beta2^t.
  it('for every float32 x and y in [2^-126, 1] (property, from raw bit patterns)', () => {
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), divisor, (b, y) => {
        bits[0] = b;
        return sameQuotient(asFloat[0], y);
      }),
      { numRuns: 50000 },
    );
  });

  /** x = f32(m y) and its two float32 neighbours, for rounding midpoints m = midpointOf(k). */
  const nearMidpoints = (midpointOf: (k: number) => number) =>
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 23 - 1 }),
        divisor,
        fc.integer({ min: -1, max: 1 }),
        (k, y, nudge) => {
          const x = new Float32Array([Math.fround(midpointOf(k) * y)]);
          new Uint32Array(x.buffer)[0] += nudge;
          return sameQuotient(x[0], y);
        },
      ),
      { numRuns: 50000 },
    );

  it('for quotients next to a float32 rounding midpoint (the hard cases)', () => {
    nearMidpoints((k) => 1 + (2 * k + 1) * 2 ** -24); // halfway between two floats in [1, 2)
  });

  it('for subnormal quotients next to a rounding midpoint (x subnormal)', () => {
    nearMidpoints((k) => (2 * k + 1) * 2 ** -150); // halfway between two subnormals
  });

  it('the adam kernel matches the reference for v across the float32 range and extreme bc2Sqrt', () => {
    const n = 4099;
    const v = new Float32Array(n);
    const bits = new Uint32Array(v.buffer);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      bits[i] = s & 0x7fffffff; // any non-negative float32, subnormals, Inf and NaN included
    }
    // Inside [2^-126, 1] the kernel runs; outside it (and for 0 or NaN) the reference fallback does.
    for (const bc2 of [
      2 ** -126,
      2 ** -70,
      1e-4,
      0.0316,
      Math.SQRT1_2,
      0.999,
      1,
      2,
      1e-40,
      0,
      Number.NaN,
    ]) {
      const scalars: AdamScalars = {
        stepSize: 1e-3,
        beta1: 0.9,
        beta2: 1, // v is kept as given: v * 1 + 0 * g * g
        eps: 1e-8,
        biasCorrection2Sqrt: bc2,
        l2: 0,
        decayFactor: 1,
        amsgrad: false,
        maximize: false,
      };
      const g = values(n, 9);
      const ref = { p: values(n, 3), m: values(n, 4), v: v.slice() };
      const k = { p: ref.p.slice(), m: ref.m.slice(), v: v.slice() };
      adamReferenceUpdate(ref.p, g, ref.m, ref.v, null, scalars);
      wasmKernels.adam(k.p, g, k.m, k.v, null, scalars);
      assertSameFloats(k.p, ref.p, `bc2Sqrt=${bc2} p`);
      assertSameFloats(k.v, ref.v, `bc2Sqrt=${bc2} v`);
    }
  });
});

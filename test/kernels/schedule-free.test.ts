/**
 * The fused schedule-free kernel (wasmKernels.scheduleFree) against the reference loop
 * scheduleFreeReferenceUpdate of src/core/kernels.ts: bit-identical y, z and v (NaN compared as
 * NaN) for every flag combination (second moment, decay, maximize, both lerp forms), odd lengths
 * (SIMD tails, staging chunk boundaries), arbitrary float32 inputs and scalars (property-based),
 * staged and in-place (arena) memory, 2 threads; and the optimizers ScheduleFreeAdamW / SGD with
 * the WASM kernels against the same optimizers on the reference loops, over random options
 * (warmup, r, weightLrPower, decay, betas / momentum, maximize) and train/eval switches.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  referenceKernels,
  type ScheduleFreeScalars,
  scheduleFreeReferenceUpdate,
} from '#decoupled/core/kernels.js';
import { ScheduleFreeAdamW, ScheduleFreeSGD } from '#decoupled/core/schedule-free.js';
import { FLAG, scheduleFreeArgs } from '#decoupled/kernels/abi.js';
import { STAGE_CHUNK } from '#decoupled/kernels/arena.js';
import {
  createArena,
  initKernels,
  kernelThreads,
  shutdownKernels,
  wasmKernels,
} from '#decoupled/kernels/index.js';
import {
  type Alloc,
  arenaAlloc,
  assertSameFloats,
  plain,
  stateAlloc,
  unaligned,
  values,
} from '../helpers/kernel-arrays.js';

interface Case {
  adam: boolean;
  decay: boolean;
  maximize: boolean;
  /** c >= 0.5: lerp's b - (b - a)(1 - c) form. */
  high: boolean;
}

/** Step t's scalars: every one changes from step to step, as under warmup and a schedule. */
function scalars(t: number, o: Case): ScheduleFreeScalars {
  const lr = 1e-2 * (1 + Math.cos(t)) + 1e-3;
  const ckp1 = o.high ? [1, 0.5, 0.7][t % 3] : [0, 0.3, 0.49999997][t % 3];
  const beta = t % 2 ? 0.9 : 0.4;
  const beta2 = t % 2 ? 0.999 : 0.95;
  return {
    lr,
    ckp1,
    yStep: lr * (beta * (1 - ckp1) - 1),
    weightDecay: o.decay ? 0.01 * t : 0,
    adam: o.adam ? { beta2, eps: t % 2 ? 1e-8 : 1e-3, biasCorrection2: 1 - beta2 ** t } : null,
    maximize: o.maximize,
  };
}

/** Where y and g live, and where z and v live. */
interface Paths {
  params: Alloc;
  state: Alloc;
}

function run(n: number, paths: Paths, o: Case, steps = 3, nonFinite = false): void {
  const ref = { y: values(n, 1), z: values(n, 5), v: o.adam ? values(n, 6, true) : null };
  const k = {
    y: paths.params(ref.y),
    z: paths.state(ref.z),
    v: ref.v ? paths.state(ref.v) : null,
  };
  for (let t = 1; t <= steps; t++) {
    const g = values(n, 300 + t, false, nonFinite);
    const s = scalars(t, o);
    scheduleFreeReferenceUpdate(ref.y, g, ref.z, ref.v, s);
    wasmKernels.scheduleFree(k.y, paths.params(g), k.z, k.v, s);
    const what = `scheduleFree n=${n} ${JSON.stringify(o)} step ${t}`;
    assertSameFloats(k.y, ref.y, `${what} y`);
    assertSameFloats(k.z, ref.z, `${what} z`);
    if (ref.v) assertSameFloats(k.v!, ref.v, `${what} v`);
  }
}

const bools = [false, true];
const cases: Case[] = bools.flatMap((adam) =>
  bools.flatMap((decay) =>
    bools.flatMap((maximize) => bools.map((high) => ({ adam, decay, maximize, high }))),
  ),
);
// Tiny (the reference loop runs below 64), SIMD with every tail length of the 8-wide loop, one
// staging chunk exactly, and several chunks with a tail.
const lengths = [0, 1, 3, 17, 64, 65, 67, 70, 71, 130, STAGE_CHUNK, 2 * STAGE_CHUNK + 7];

describe('schedule-free kernel matches the reference loop bit for bit', () => {
  after(() => shutdownKernels());

  for (const [name, paths] of [
    ['plain arrays (staged)', { params: plain, state: plain }],
    ['unaligned views (staged)', { params: unaligned, state: unaligned }],
    ['plain y and g (staged), z and v in kernel memory', { params: plain, state: stateAlloc }],
  ] as const) {
    it(`every flag combination, ${name}`, () => {
      for (const o of cases) for (const n of lengths) run(n, paths, o);
    });
  }

  it('in place in an arena (aligned and unaligned views)', () => {
    for (const misalign of bools) {
      for (const n of [1, 7, 67, 40003]) {
        for (const o of cases) {
          const alloc = arenaAlloc(8 * (n + 32), misalign);
          run(n, { params: alloc, state: alloc }, o);
        }
      }
    }
  });

  it('NaN and Infinity in gradients propagate as in the reference', () => {
    for (const o of cases) run(1001, { params: plain, state: plain }, o, 3, true);
  });

  it('arbitrary float32 inputs and scalars (property)', () => {
    const float32 = (n: number) => fc.float32Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: 300 })
          .chain((n) => fc.tuple(float32(n), float32(n), float32(n), float32(n))),
        fc.record({
          lr: fc.double({ min: 0, max: 10, noNaN: true }),
          ckp1: fc.oneof(
            fc.constantFrom(0, 0.5, 1, 0.49999997, 0.50000006),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
          yStep: fc.double({ min: -10, max: 10, noNaN: true }),
          // 1e-50 rounds to 0 in float32: no decay, as in the reference.
          weightDecay: fc.oneof(fc.constantFrom(0, 1e-50), fc.double({ min: 0, max: 1 })),
          adam: fc.option(
            fc
              .tuple(
                fc.double({ min: 0, max: 0.9999999, noNaN: true }),
                fc.double({ min: 1e-12, max: 1, noNaN: true }),
                fc.integer({ min: 1, max: 100000 }),
              )
              .map(([beta2, eps, t]) => ({ beta2, eps, biasCorrection2: 1 - beta2 ** t })),
          ),
          maximize: fc.boolean(),
        }),
        fc.constantFrom('plain', 'unaligned', 'state in kernel memory', 'arena'),
        ([g, y, z, v], s, where) => {
          const inArena = createArena(4 * y.length + 64, { prefault: false });
          const paths: Record<string, Paths> = {
            plain: { params: plain, state: plain },
            unaligned: { params: unaligned, state: unaligned },
            'state in kernel memory': { params: plain, state: stateAlloc },
            arena: { params: (a) => inArena.from(a), state: (a) => inArena.from(a) },
          };
          const { params, state } = paths[where];
          const ref = { y: y.slice(), z: z.slice(), v: v.slice() };
          const k = { y: params(y), z: state(z), v: state(v) };
          scheduleFreeReferenceUpdate(ref.y, g, ref.z, ref.v, s);
          wasmKernels.scheduleFree(k.y, params(g), k.z, k.v, s);
          assertSameFloats(k.y, ref.y, 'y');
          assertSameFloats(k.z, ref.z, 'z');
          assertSameFloats(k.v, ref.v, 'v');
          inArena.dispose();
        },
      ),
      { numRuns: 400 },
    );
  });

  it('v over the whole float32 range; bc2 at and beyond the edges of [2^-126, 1]', () => {
    const n = 4099;
    const v = new Float32Array(n);
    const bits = new Uint32Array(v.buffer);
    let seed = 4321;
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      bits[i] = seed & 0x7fffffff; // any non-negative float32: subnormals, Inf and NaN included
    }
    // Inside [2^-126, 1] the kernel runs (v / bc2 through the f64 reciprocal, subnormal quotients
    // included); outside it (and for 0 or NaN) the reference fallback does.
    for (const bc2 of [2 ** -126, 2 ** -70, 1e-4, 0.001, 0.5, 0.999, 1, 2, 1e-40, 0, Number.NaN]) {
      const s: ScheduleFreeScalars = {
        lr: 1e-3,
        ckp1: 0.1,
        yStep: -1e-3,
        weightDecay: 0,
        adam: { beta2: 1, eps: 1e-8, biasCorrection2: bc2 }, // v * 1 + 0 * g * g keeps v
        maximize: false,
      };
      const g = values(n, 9);
      const ref = { y: values(n, 3), z: values(n, 4), v: v.slice() };
      const k = { y: ref.y.slice(), z: ref.z.slice(), v: v.slice() };
      scheduleFreeReferenceUpdate(ref.y, g, ref.z, ref.v, s);
      wasmKernels.scheduleFree(k.y, g, k.z, k.v, s);
      assertSameFloats(k.y, ref.y, `bc2=${bc2} y`);
      assertSameFloats(k.z, ref.z, `bc2=${bc2} z`);
    }
  });

  it('two threads give the same result as the reference (large in-place tensors)', async () => {
    await initKernels({ threads: 2, minParallelLength: 1024 });
    assert.equal(kernelThreads(), 2);
    const n = (1 << 20) + 13;
    for (const o of [
      { adam: true, decay: true, maximize: false, high: true },
      { adam: false, decay: false, maximize: true, high: false },
    ]) {
      const alloc = arenaAlloc(6 * n + 1024);
      run(n, { params: alloc, state: alloc }, o, 2);
    }
    await shutdownKernels();
    assert.equal(kernelThreads(), 1);
  });

  it('the calling convention: flags and float32 arguments', () => {
    const s = scalars(2, { adam: true, decay: true, maximize: true, high: true });
    const args = scheduleFreeArgs(s, true);
    const f = Math.fround;
    assert.deepEqual(args.slice(0, 9), [
      f(s.weightDecay),
      f(s.ckp1),
      f(1 - f(s.ckp1)),
      f(s.yStep),
      f(-s.lr),
      f(0.95),
      f(1 - 0.95),
      f(1 - 0.95 ** 2),
      f(1e-3),
    ]);
    assert.equal(args[9], FLAG.maximize | FLAG.secondMoment | FLAG.decay | FLAG.lerpHigh);
    // No v slot: no second moment; a decay that rounds to 0 sets no DECAY flag; c < 0.5 is low.
    const sgd = scheduleFreeArgs({ ...s, weightDecay: 1e-50, ckp1: 0.49999997 }, false);
    assert.equal(sgd[9], FLAG.maximize);
    assert.deepEqual(sgd.slice(5, 9), [0, 1, 1, 0]);
  });

  it('rejects mismatched lengths, naming the array', () => {
    const s = scalars(1, { adam: true, decay: false, maximize: false, high: false });
    const a = (n: number) => new Float32Array(n);
    assert.throws(
      () => wasmKernels.scheduleFree(a(100), a(100), a(99), a(100), s),
      /z has length 99; it must have the length of p \(100\)/,
    );
    assert.throws(
      () => wasmKernels.scheduleFree(a(100), a(100), a(100), a(3), s),
      /v has length 3; it must have the length of p \(100\)/,
    );
  });
});

describe('ScheduleFreeAdamW and ScheduleFreeSGD: WASM kernels = reference loops, bit for bit', () => {
  type Event = 'step' | 'switch';
  const options = fc.record({
    lr: fc.double({ min: 1e-4, max: 1, noNaN: true }),
    beta: fc.double({ min: 0.05, max: 0.99, noNaN: true }),
    beta2: fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
    eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
    weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.2, noNaN: true })),
    warmupSteps: fc.integer({ min: 0, max: 6 }),
    r: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true })),
    weightLrPower: fc.oneof(fc.constantFrom(0, 2), fc.double({ min: 0, max: 3, noNaN: true })),
    maximize: fc.boolean(),
  });

  it('over random options, param sizes, train/eval switches, plain and arena params', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ScheduleFreeAdamW', 'ScheduleFreeSGD'),
        options,
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.constantFrom<Event>('step', 'step', 'switch'), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        (kind, o, sizes, events, inArena, seed) => {
          const hyper =
            kind === 'ScheduleFreeAdamW'
              ? { betas: [o.beta, o.beta2] as [number, number], eps: o.eps }
              : { momentum: o.beta };
          const { beta: _b, beta2: _b2, eps: _e, ...common } = o;
          const total = sizes.reduce((a, b) => a + b, 0);
          const arena = inArena ? createArena(8 * total + 64 * sizes.length) : null;
          const make = (kernels: typeof referenceKernels) => {
            const params = sizes.map((n, i) => {
              const p = values(n, seed + i);
              return arena ? arena.from(p) : p;
            });
            const Ctor = kind === 'ScheduleFreeAdamW' ? ScheduleFreeAdamW : ScheduleFreeSGD;
            return { params, opt: new Ctor(params, { ...common, ...hyper, kernels } as never) };
          };
          const ref = make(referenceKernels);
          const fused = make(wasmKernels);
          events.forEach((e, k) => {
            for (const { opt, params } of [ref, fused]) {
              if (e === 'switch') {
                opt.eval();
                continue;
              }
              opt.train();
              opt.step(params.map((p, i) => values(p.length, 1000 * k + i + seed)));
            }
            ref.params.forEach((p, i) => {
              assertSameFloats(fused.params[i], p, `${kind} event ${k} (${e}) param ${i}`);
            });
          });
          const [a, b] = [ref.opt.stateDict(), fused.opt.stateDict()];
          for (const name of Object.keys(a.slots ?? {})) {
            a.slots![name].forEach((x, i) => {
              if (x) assertSameFloats(b.slots![name][i]!, x, `${name}[${i}]`);
            });
          }
          arena?.dispose();
        },
      ),
      { numRuns: 150 },
    );
  });
});

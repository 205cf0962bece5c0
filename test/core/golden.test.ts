/**
 * Replays the PyTorch 1.13 golden trajectories (made by scripts/make_golden.py) through the core
 * optimizers and checks every parameter after every step:
 *  - optimizers.json, from PyTorch's portable kernels (every float32 operation rounded): the
 *    reference loops and the fused WASM SIMD kernels must match bit for bit (the SIMD-sized cases
 *    have tensors long enough for the vector loops);
 *  - optimizers-avx2.json, the same cases on PyTorch's AVX2 kernels, which fuse a*b+c into one
 *    rounding: agreement to float32 rounding.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Adam } from '#decoupled/core/adam.js';
import { AdamW } from '#decoupled/core/adamw.js';
import { referenceKernels, type UpdateKernels } from '#decoupled/core/kernels.js';
import { AdamWR, SGDWR } from '#decoupled/core/restarts.js';
import { scheduleFromConfig } from '#decoupled/core/schedule-registry.js';
import { SGD } from '#decoupled/core/sgd.js';
import { SGDW } from '#decoupled/core/sgdw.js';
import { wasmKernels } from '#decoupled/kernels/wasm.js';

interface StepFunctionFixture {
  config: unknown;
  values: number[];
}

interface OptimizerCase {
  name: string;
  optimizer: 'Adam' | 'AdamW' | 'SGD' | 'SGDW';
  options: Record<string, unknown>;
  groups: { params: number[]; overrides: Record<string, unknown> }[] | null;
  schedule: StepFunctionFixture | null;
  weightDecaySchedule: StepFunctionFixture | null;
  /** For AdamWR / SGDWR cases: the convenience constructor and its paper settings. */
  paperConstructor?: { name: 'AdamWR' | 'SGDWR'; options: Record<string, unknown> };
  params0: number[][];
  grads: number[][][];
  expected: number[][][];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/optimizers.json', import.meta.url), 'utf8'),
) as { torch: string; cases: OptimizerCase[] };
const fused = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/optimizers-avx2.json', import.meta.url), 'utf8'),
) as { cpuCapability: string; cases: { name: string; expected: number[][][] }[] };

// float32 rounds at 2^-24 (6e-8) relative. Differences in rounding (PyTorch's vectorized loops may
// fuse a*b+c) accumulate over 30 steps and survive cancellation when a param crosses zero, so the
// absolute part of the tolerance scales with the largest |value| of that param's trajectory.
const RTOL = 2e-6;
const ATOL = 1e-6;

type Stepper = { step(grads: Float32Array[]): unknown };
type Ctor = new (params: never, options: never) => Stepper;
const CLASSES: Record<string, Ctor> = { Adam, AdamW, SGD, SGDW, AdamWR, SGDWR } as Record<
  string,
  Ctor
>;

const worst = { abs: 0, scaled: 0, ulps: 0, where: '', values: 0, identical: 0 };

function ulpDistance(a: number, b: number): number {
  const view = new Float32Array(2);
  const bits = new Int32Array(view.buffer);
  view[0] = a;
  view[1] = b;
  const key = (i: number) => (bits[i] < 0 ? -2147483648 - bits[i] : bits[i]);
  return Math.abs(key(0) - key(1));
}

function stepFunction(f: StepFunctionFixture): (t: number) => number {
  return (t) => f.values[t];
}

/** Runs one case with the optimizer built by `make`, asserting every step against PyTorch. */
function replay(
  c: OptimizerCase,
  make: (params: Float32Array[]) => Stepper,
  label: string,
  expectedSteps: number[][][],
  exact: boolean,
) {
  const params = c.params0.map((p) => Float32Array.from(p));
  // Gradients go in the flattened order of the groups.
  const order = c.groups ? c.groups.flatMap((g) => g.params) : params.map((_, i) => i);
  const scales = params.map((_, i) =>
    Math.max(1, ...expectedSteps.map((step) => Math.max(...step[i].map(Math.abs)))),
  );
  const opt = make(params);
  c.grads.forEach((stepGrads, t) => {
    opt.step(order.map((i) => Float32Array.from(stepGrads[i])));
    expectedSteps[t].forEach((expected, i) => {
      const scale = scales[i];
      for (let j = 0; j < expected.length; j++) {
        const e = Math.fround(expected[j]);
        const a = params[i][j];
        const abs = Math.abs(a - e);
        if (exact) {
          if (a !== e) assert.fail(`${label}: step ${t} param ${i}[${j}] is ${a}, PyTorch ${e}`);
          continue;
        }
        worst.values++;
        if (a === e) worst.identical++;
        if (abs > worst.abs) {
          worst.abs = abs;
          worst.where = `${label} step ${t} param ${i}[${j}]: ${a} vs ${e}`;
        }
        worst.scaled = Math.max(worst.scaled, abs / scale);
        if (Math.abs(e) >= 1e-3) worst.ulps = Math.max(worst.ulps, ulpDistance(a, e));
        if (!(abs <= ATOL * scale + RTOL * Math.abs(e))) {
          assert.fail(`${label}: step ${t} param ${i}[${j}] is ${a}, PyTorch ${e} (diff ${abs})`);
        }
      }
    });
  });
}

function buildParams(c: OptimizerCase, params: Float32Array[]) {
  if (!c.groups) return params;
  return c.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...g.overrides }));
}

function optionsOf(c: OptimizerCase): Record<string, unknown> {
  const options: Record<string, unknown> = { ...c.options };
  if (c.schedule) options.schedule = stepFunction(c.schedule);
  if (c.weightDecaySchedule) options.weightDecay = stepFunction(c.weightDecaySchedule);
  return options;
}

/** Replays case `c` through its optimizer with `kernels`, bit for bit against PyTorch. */
function replayBitwise(c: OptimizerCase, kernels: UpdateKernels): void {
  const options = { ...optionsOf(c), kernels };
  const Ctor = CLASSES[c.optimizer];
  replay(
    c,
    (p) => new Ctor(buildParams(c, p) as never, options as never),
    c.name,
    c.expected,
    true,
  );
}

test(`bit for bit with PyTorch ${fixture.torch}'s portable kernels`, async (t) => {
  assert.ok(fixture.cases.length >= 40, 'the fixture covers every optimizer and option');
  for (const c of fixture.cases) {
    await t.test(c.name, () => {
      replayBitwise(c, referenceKernels);

      // Our own schedule and lambda_t, rebuilt from their configs, give the same values.
      for (const f of [c.schedule, c.weightDecaySchedule]) {
        if (!f) continue;
        const rebuilt = scheduleFromConfig(f.config);
        f.values.forEach((v, step) => {
          assert.ok(
            Math.abs(rebuilt(step) - v) <= 1e-12 * Math.max(1, Math.abs(v)),
            `step ${step}`,
          );
        });
      }
      if (c.paperConstructor) {
        // AdamWR / SGDWR compute eta_t and lambda_t themselves, from the paper's settings.
        const { name, options: wrOptions } = c.paperConstructor;
        const make = (p: Float32Array[]) =>
          new CLASSES[name](p as never, { ...wrOptions, kernels: referenceKernels } as never);
        replay(c, make, `${name} ${c.name}`, c.expected, true);
      }
    });
  }
});

test(`the fused WASM SIMD kernels, bit for bit with PyTorch ${fixture.torch}'s portable kernels`, async (t) => {
  assert.ok(
    fixture.cases.some((c) => c.params0.some((p) => p.length >= 64)),
    'some tensors are long enough for the SIMD loops',
  );
  for (const c of fixture.cases) {
    await t.test(c.name, () => replayBitwise(c, wasmKernels));
  }
});

test(`within float32 rounding of PyTorch ${fixture.torch}'s fused (${fused.cpuCapability}) kernels`, async (t) => {
  assert.equal(fused.cases.length, fixture.cases.length);
  Object.assign(worst, { abs: 0, scaled: 0, ulps: 0, where: '', values: 0, identical: 0 });
  for (const [k, c] of fixture.cases.entries()) {
    assert.equal(fused.cases[k].name, c.name);
    const options = optionsOf(c);
    const Ctor = CLASSES[c.optimizer];
    const make = (p: Float32Array[]) => new Ctor(buildParams(c, p) as never, options as never);
    replay(c, make, c.name, fused.cases[k].expected, false);
  }
  t.diagnostic(
    `max deviation from PyTorch: ${worst.abs.toExponential(2)} abs, ` +
      `${worst.scaled.toExponential(2)} relative to the trajectory's scale, ` +
      `${worst.ulps} ulp (where |value| >= 1e-3); ` +
      `${((100 * worst.identical) / worst.values).toFixed(1)}% of values bit-identical; ` +
      `largest at ${worst.where}`,
  );
});

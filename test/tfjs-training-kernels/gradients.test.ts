/**
 * Gradients on tfjs-backend-wasm with the training kernels equal the cpu backend's (conv2d,
 * depthwise conv2d, pools, segment sums) over a grid of shapes, strides, paddings and batch sizes;
 * the max-pool and avg-pool gradients also equal a central finite difference of the forward op.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { convGradientTuning } from '#decoupled/tfjs/training-kernels/conv2d.js';
import { assertClose, type Backend, onBackend, randomArray, setup } from './helpers.js';
import { convGrads, type Pad, pool, poolGrad, spacedArray } from './problems.js';

const defaultPatch = convGradientTuning.matmulMaxPatch;

before(setup);

function both(f: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  return [onBackend('wasm', f), onBackend('cpu', f)];
}

for (const [route, patch, directFilter] of [
  ['SIMD filter gradient', defaultPatch, true],
  ['im2col/col2im route', Number.POSITIVE_INFINITY, false],
  ['forward-conv route', 0, false],
] as const) {
  describe(`conv2d gradients on wasm match cpu (${route})`, () => {
    before(() => {
      convGradientTuning.matmulMaxPatch = patch;
      convGradientTuning.directFilter = directFilter;
    });
    after(() => {
      convGradientTuning.matmulMaxPatch = defaultPatch;
      convGradientTuning.directFilter = true;
    });
    convGrid();
  });
}

function convGrid(): void {
  const pads: Pad[] = [
    'same',
    'valid',
    1,
    [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  ];
  const cases: Array<[number[], number[]]> = [
    [
      [1, 7, 7, 3],
      [3, 3, 3, 4],
    ],
    [
      [3, 8, 9, 2],
      [3, 3, 2, 5],
    ],
    [
      [3, 9, 8, 4],
      [1, 1, 4, 3],
    ],
    [
      [1, 10, 10, 3],
      [4, 2, 3, 2],
    ],
    [
      [3, 6, 6, 1],
      [5, 5, 1, 3],
    ],
    // Output channels a multiple of 4 (the SIMD filter gradient): 4x8 tiles, ci and co remainders.
    [
      [2, 7, 6, 5],
      [3, 3, 5, 12],
    ],
    [
      [1, 9, 9, 8],
      [3, 3, 8, 16],
    ],
  ];
  let seed = 1;
  for (const [xs, ws] of cases) {
    for (const strides of [1, 2]) {
      for (const pad of pads) {
        seed += 3;
        const s = seed;
        // tfjs-core sizes the output of a numeric pad from the filter height alone, so a
        // non-square filter with a numeric pad overruns the output on every backend.
        if (typeof pad === 'number' && ws[0] !== ws[1]) continue;
        it(`x ${xs} w ${ws} stride ${strides} pad ${JSON.stringify(pad)}`, () => {
          const [wasm, cpu] = both(convGrads(xs, ws, strides, pad, s));
          assertClose(wasm, cpu, 1e-5, 'conv2d');
        });
      }
    }
  }

  it('Conv2DBackpropFilter and Conv2DBackpropInput kernels with NCHW data', () => {
    const f = () => {
      const x = tf.tensor4d(randomArray(3 * 2 * 7 * 6, 5), [3, 2, 7, 6]);
      const w = tf.tensor4d(randomArray(3 * 3 * 2 * 4, 6), [3, 3, 2, 4]);
      const dy = tf.tensor4d(randomArray(3 * 4 * 4 * 3, 7), [3, 4, 4, 3]);
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW' };
      const run = (name: string, inputs: tf.NamedTensorMap, more: object) =>
        tf.engine().runKernel(name, inputs, { ...attrs, ...more } as never) as tf.Tensor;
      return [
        run('Conv2DBackpropFilter', { x, dy }, { filterShape: [3, 3, 2, 4] }),
        run('Conv2DBackpropInput', { dy, filter: w }, { inputShape: [3, 2, 7, 6] }),
      ];
    };
    const [wasm, cpu] = both(f);
    assertClose(wasm, cpu, 1e-5, 'NCHW');
  });

  it('dilated conv2d runs forward; its gradient is refused by tfjs-core, not by a kernel', () => {
    const x = tf.tensor(randomArray(2 * 9 * 9 * 2, 9), [2, 9, 9, 2]) as tf.Tensor4D;
    const w = tf.tensor(randomArray(3 * 3 * 2 * 3, 10), [3, 3, 2, 3]) as tf.Tensor4D;
    const [wasm, cpu] = both(() => [tf.conv2d(x, w, 1, 'same', 'NHWC', 2)]);
    assertClose(wasm, cpu, 1e-5, 'dilated forward');
    assert.throws(
      () =>
        onBackend('wasm', () => [
          tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'same', 'NHWC', 2)))(
            x,
          ),
        ]),
      /dilation rates greater than 1/,
    );
    tf.dispose([x, w]);
  });
}

describe('depthwise conv2d gradients on wasm match cpu', () => {
  let seed = 100;
  for (const [xs, ws] of [
    [
      [1, 7, 7, 3],
      [3, 3, 3, 1],
    ],
    [
      [3, 8, 7, 2],
      [3, 3, 2, 3],
    ],
    [
      [3, 6, 6, 4],
      [2, 2, 4, 2],
    ],
  ]) {
    for (const strides of [1, 2]) {
      for (const pad of ['same', 'valid', 1] as Pad[]) {
        seed += 3;
        const s = seed;
        it(`x ${xs} w ${ws} stride ${strides} pad ${pad}`, () => {
          const [wasm, cpu] = both(convGrads(xs, ws, strides, pad, s, true));
          assertClose(wasm, cpu, 1e-5, 'depthwise');
        });
      }
    }
  }
});

/** Central finite difference of sum(pool(x) * r), computed in float64 from float32 forwards. */
function numericPoolGrad(
  backend: Backend,
  kind: 'max' | 'avg',
  xShape: number[],
  size: number,
  strides: number,
  pad: Pad,
  seed: number,
  eps: number,
): Float64Array {
  const n = tf.util.sizeFromShape(xShape);
  const x0 = spacedArray(n, seed);
  const loss = (xv: Float32Array) =>
    onBackend(backend, () => {
      const y = pool(kind, tf.tensor(xv, xShape), size, strides, pad);
      return [tf.mul(y, tf.tensor(randomArray(y.size, seed + 1), y.shape))];
    })[0].reduce((a, b) => a + b, 0);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const xp = x0.slice();
    const xm = x0.slice();
    xp[i] += eps;
    xm[i] -= eps;
    out[i] = (loss(xp) - loss(xm)) / (2 * eps);
  }
  return out;
}

describe('pool gradients on wasm', () => {
  let seed = 200;
  for (const kind of ['max', 'avg'] as const) {
    for (const [xs, size] of [
      [[1, 8, 8, 3], 2],
      [[2, 9, 7, 6], 2], // the SIMD 2x2 route: 4 lanes + 2, odd h and w (last row/column unused)
      [[3, 9, 9, 4], 3],
      [[3, 7, 10, 2], 3],
    ] as Array<[number[], number]>) {
      for (const strides of [1, 2]) {
        for (const pad of ['same', 'valid', 1] as Pad[]) {
          seed += 2;
          const s = seed;
          // tfjs's cpu AvgPoolGrad divides by the full window even where the window overlaps
          // padding, unlike its forward pass; those cases are checked numerically below instead.
          if (kind === 'avg' && pad !== 'valid') continue;
          it(`${kind} pool x ${xs} size ${size} stride ${strides} pad ${pad} matches cpu`, () => {
            const [wasm, cpu] = both(poolGrad(kind, xs, size, strides, pad, s));
            assertClose(wasm, cpu, 1e-6, `${kind} pool`);
          });
        }
      }
    }
  }

  it('2x2 stride-2 max pool with ties and NaN: the first maximum gets dy, as on cpu', () => {
    // Values from {-1, 0, 1, NaN}: most windows hold equal maxima.
    const f = () => {
      const v = randomArray(2 * 6 * 6 * 8, 3).map((u) => (u > 0.9 ? Number.NaN : Math.round(u)));
      const x = tf.tensor4d(v, [2, 6, 6, 8]);
      const r = tf.tensor4d(randomArray(2 * 3 * 3 * 8, 5), [2, 3, 3, 8]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool('max', a, 2, 2, 'valid'), r)))(x)];
    };
    const [wasm, cpu] = both(f);
    assertClose(wasm, cpu, 0, 'ties');
  });
  it('3x3 stride-2 same max pool on [2,9,9,4] (the shipped kernel returned 0) matches a numeric gradient', () => {
    const xs = [2, 9, 9, 4];
    const analytic = onBackend('wasm', poolGrad('max', xs, 3, 2, 'same', 7))[0];
    const numeric = numericPoolGrad('wasm', 'max', xs, 3, 2, 'same', 7, 1e-3);
    let nonzero = 0;
    for (let i = 0; i < numeric.length; i++) {
      assert.ok(
        Math.abs(analytic[i] - numeric[i]) < 2e-3,
        `element ${i}: ${analytic[i]} vs ${numeric[i]}`,
      );
      if (numeric[i] !== 0) nonzero++;
    }
    assert.ok(nonzero > 0);
  });

  for (const pad of ['same', 1] as Pad[]) {
    it(`3x3 stride-2 avg pool, pad ${pad}, matches a numeric gradient of the wasm forward`, () => {
      const xs = [1, 7, 8, 2];
      const analytic = onBackend('wasm', poolGrad('avg', xs, 3, 2, pad, 11))[0];
      const numeric = numericPoolGrad('wasm', 'avg', xs, 3, 2, pad, 11, 1e-2);
      for (let i = 0; i < numeric.length; i++) {
        assert.ok(
          Math.abs(analytic[i] - numeric[i]) < 2e-3,
          `element ${i}: ${analytic[i]} vs ${numeric[i]}`,
        );
      }
    });
  }
});

describe('unsortedSegmentSum on wasm matches cpu', () => {
  it('gather gradient (embedding lookup) and a direct segment sum with dropped ids', () => {
    const f = () => {
      const table = tf.tensor(randomArray(7 * 5, 3), [7, 5]);
      const ids = tf.tensor2d(
        [
          [1, 3, 1],
          [6, 0, 1],
        ],
        [2, 3],
        'int32',
      );
      const g = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.gather(t, ids), tf.tensor(randomArray(30, 4), [2, 3, 5]))),
      );
      const direct = tf.unsortedSegmentSum(
        tf.tensor(randomArray(6 * 2, 5), [6, 2]),
        tf.tensor1d([0, 2, 2, 5, 0, 4], 'int32'),
        4,
      );
      return [g(table), direct];
    };
    const [wasm, cpu] = both(f);
    assertClose(wasm, cpu, 1e-6, 'segment sum');
  });
});

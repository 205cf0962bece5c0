import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '#harness/experiments/backend.js';
import type { ModelConfig } from '#harness/experiments/config.js';
import { loadData } from '#harness/experiments/data/index.js';
import { buildModel, conv2d, torchInitBound } from '#harness/experiments/models.js';
import { writeIdxDataset } from './fixtures.js';

interface InitCase {
  kind: 'conv' | 'linear';
  shape: number[];
  fanIn: number;
  weightBound: number;
  biasBound: number;
}
interface PaddingCase {
  side: number;
  inChannels: number;
  outChannels: number;
  batch: number;
  outSide: number;
  inputNHWC: number[];
  weightHWIO: number[];
  outputNHWC: number[];
}
const golden = JSON.parse(
  readFileSync(join(process.cwd(), 'test', 'fixtures', 'torch-init-padding.json'), 'utf8'),
) as { init: InitCase[]; padding: PaddingCase[] };

/** Kernels and biases of a model by layer class, with fan_in = product of all but the last dim. */
function kernels(model: tfl.LayersModel) {
  return model.layers.flatMap((layer) => {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense') return [];
    const [kernel, bias] = layer.getWeights();
    const shape = kernel.shape;
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return [{ cls, shape, fanIn, w: kernel.dataSync(), b: bias?.dataSync() }];
  });
}

function moments(values: ArrayLike<number>) {
  let sum = 0;
  let sumSq = 0;
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    sumSq += values[i] * values[i];
    maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  }
  const n = values.length;
  const mean = sum / n;
  return { n, mean, variance: sumSq / n - mean * mean, maxAbs };
}

/**
 * Checks that `values` look like U(-b, b): every |x| <= b (float32 rounding of b allowed), the
 * largest within 20/n of b (probability of failing e^-20), mean and variance (b^2/3) within 5
 * standard errors (sd of the mean b/sqrt(3n); of the variance b^2 sqrt(4/(45n))).
 */
function assertUniform(values: ArrayLike<number>, b: number, what: string) {
  const { n, mean, variance, maxAbs } = moments(values);
  assert.ok(maxAbs <= b * (1 + 1e-7), `${what}: max |x| ${maxAbs} > bound ${b}`);
  assert.ok(maxAbs >= b * (1 - 20 / n), `${what}: max |x| ${maxAbs} far below bound ${b} (n ${n})`);
  assert.ok(Math.abs(mean) < (5 * b) / Math.sqrt(3 * n), `${what}: mean ${mean}`);
  const varianceTolerance = 5 * b * b * Math.sqrt(4 / (45 * n));
  assert.ok(
    Math.abs(variance - (b * b) / 3) < varianceTolerance,
    `${what}: variance ${variance}, expected ${(b * b) / 3} +- ${varianceTolerance}`,
  );
}

describe("init 'torch'", () => {
  it("draws every conv and dense weight and bias from PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))", async () => {
    await useBackend('cpu');
    const model = buildModel(
      { kind: 'resnet', blocksPerStage: 1, width: 16, stridePadding: 'symmetric' },
      [28, 28, 1],
      10,
      7,
      'torch',
    );
    const layers = kernels(model);
    assert.equal(layers.length, 1 + 6 + 2 + 1);
    for (const { cls, shape, fanIn, w, b } of layers) {
      assertUniform(w, 1 / Math.sqrt(fanIn), `${cls} [${shape}] weight`);
      if (b) assertUniform(b, 1 / Math.sqrt(fanIn), `${cls} [${shape}] bias`);
    }
    model.dispose();
  });

  it("uses the bounds PyTorch 1.13's reset_parameters computes for the same shapes", async () => {
    await useBackend('cpu');
    const resnet = buildModel(
      { kind: 'resnet', blocksPerStage: 1, width: 16 },
      [28, 28, 1],
      10,
      3,
      'torch',
    );
    const mlp = buildModel({ kind: 'mlp', hidden: [128] }, [28, 28, 1], 10, 3, 'torch');
    const layers = [...kernels(resnet), ...kernels(mlp)];
    for (const c of golden.init) {
      // PyTorch's weight [out, in, k, k] is tfjs's [k, k, in, out]; Linear [out, in] is [in, out].
      const shape =
        c.kind === 'conv'
          ? [c.shape[2], c.shape[2], c.shape[0], c.shape[1]]
          : [c.shape[0], c.shape[1]];
      const layer = layers.find((l) => l.shape.join() === shape.join());
      assert.ok(layer, `a layer of shape [${shape}] in the test models`);
      assert.equal(layer.fanIn, c.fanIn);
      assert.ok(Math.abs(torchInitBound(c.fanIn) - c.weightBound) < 1e-12, `[${shape}]`);
      assertUniform(layer.w, c.weightBound, `[${shape}] against PyTorch`);
      if (c.kind === 'linear' && layer.b) assertUniform(layer.b, c.biasBound, `[${shape}] bias`);
    }
    resnet.dispose();
    mlp.dispose();
  });

  it("leaves 'keras' as it was: truncated He-normal of sd 0.88 sqrt(2/fan_in), zero biases", async () => {
    await useBackend('cpu');
    const model = buildModel({ kind: 'mlp', hidden: [512] }, [28, 28, 1], 10, 5);
    const [hidden] = kernels(model);
    const { mean, variance, maxAbs } = moments(hidden.w);
    const he = Math.sqrt(2 / hidden.fanIn);
    // A standard normal truncated at +-2 has sd 0.8796 (1 - 2*2*phi(2)/(2*Phi(2)-1))^(1/2).
    assert.ok(
      Math.abs(Math.sqrt(variance) / he - 0.8796) < 0.005,
      `sd ratio ${Math.sqrt(variance) / he}`,
    );
    assert.ok(maxAbs <= 2 * he * (1 + 1e-6) && Math.abs(mean) < 0.01 * he);
    assert.ok(hidden.b?.every((v) => v === 0));
    model.dispose();
  });
});

describe("stridePadding 'symmetric'", () => {
  for (const c of golden.padding) {
    it(`matches PyTorch conv2d(stride 2, padding 1) on a ${c.side}x${c.side} image`, async () => {
      await useBackend('wasm');
      const run = (padding: 'same' | 'symmetric') => {
        const input = tfl.input({ shape: [c.side, c.side, c.inChannels] });
        const output = conv2d(input, {
          name: `conv_${padding}`,
          filters: c.outChannels,
          kernelSize: 3,
          strides: 2,
          padding,
          kernelInitializer: tfl.initializers.zeros(),
        });
        const model = tfl.model({ inputs: input, outputs: output });
        const conv = model.layers.find((l) => l.getClassName() === 'Conv2D') as tfl.layers.Layer;
        conv.setWeights([tf.tensor4d(c.weightHWIO, [3, 3, c.inChannels, c.outChannels])]);
        const x = tf.tensor4d(c.inputNHWC, [c.batch, c.side, c.side, c.inChannels]);
        const y = model.predict(x) as tf.Tensor;
        const out = { shape: y.shape, values: y.dataSync() };
        model.dispose();
        x.dispose();
        y.dispose();
        return out;
      };
      const symmetric = run('symmetric');
      assert.deepEqual(symmetric.shape, [c.batch, c.outSide, c.outSide, c.outChannels]);
      let maxDiff = 0;
      c.outputNHWC.forEach((v, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - symmetric.values[i]));
      });
      assert.ok(maxDiff < 1e-5, `max |tfjs - torch| = ${maxDiff}`);
      if (c.side % 2 === 0) {
        // tfjs 'same' pads an even side only after the image: a shifted grid, not PyTorch's.
        const same = run('same');
        const shifted = c.outputNHWC.some((v, i) => Math.abs(v - same.values[i]) > 1e-2);
        assert.ok(shifted, "'same' should differ from PyTorch on an even side");
      }
    });
  }

  it('keeps the ResNet shapes of the same-padded model', async () => {
    await useBackend('cpu');
    const config = { kind: 'resnet', blocksPerStage: 1, width: 4 } satisfies ModelConfig;
    const model = buildModel({ ...config, stridePadding: 'symmetric' }, [28, 28, 1], 10, 1);
    const same = buildModel({ ...config, stridePadding: 'same' }, [28, 28, 1], 10, 1);
    assert.deepEqual(
      model.getWeights().map((w) => w.shape),
      same.getWeights().map((w) => w.shape),
    );
    const pads = model.layers.filter((l) => l.getClassName() === 'ZeroPadding2D').length;
    assert.equal(pads, 2, 'one per stride-2 3x3 conv');
    model.dispose();
    same.dispose();
  });
});

describe('dataSeed', () => {
  it('fixes the training subset and validation split across seeds', () => {
    const dataDir = writeIdxDataset({ train: 300, test: 20, side: 12, seed: 4 });
    const load = (seed: number, dataSeed?: number) =>
      loadData({
        dataset: 'fashion-mnist',
        dataDir,
        seed,
        dataSeed,
        validationSize: 40,
        subset: 100,
      });
    const a = load(1, 9);
    const b = load(2, 9);
    assert.deepEqual(a.train.images, b.train.images);
    assert.deepEqual(a.validation?.images, b.validation?.images);
    // Without it, the subset follows the seed, and dataSeed d selects what seed d would.
    assert.notDeepEqual(load(1).train.images, load(2).train.images);
    assert.deepEqual(load(9).train.images, a.train.images);
  });
});

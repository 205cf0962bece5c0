/**
 * The models of the harness, built with tfjs layers and seeded initializers, so a seed fixes the
 * initial weights.
 *
 *   mlp:    flatten, [dense(h) relu]*, dense(classes)
 *   cnn:    conv3x3(32w)-BN-relu-maxpool2, conv3x3(64w)-BN-relu-maxpool2, dense(128w) relu,
 *           dense(classes)                                   (the PyTorch pilot's small CNN)
 *   resnet: conv3x3(w)-BN-relu stem; 3 stages of `blocksPerStage` basic blocks (conv3x3-BN-relu-
 *           conv3x3-BN + shortcut, relu), widths w, 2w, 4w, stride 2 at the start of stages 2 and 3
 *           with a 1x1 conv-BN projection shortcut; global average pooling; dense(classes).
 *           Depth 6 * blocksPerStage + 2 (ResNet-8 with blocksPerStage 1, width 16).
 * Every model outputs logits; the loss applies the softmax.
 *
 * Initializations (`init`):
 *   keras (default): conv and hidden dense kernels tfjs's heNormal, i.e. a normal of sd
 *     sqrt(2 / fan_in) truncated at 2 sd and not rescaled (sd 0.88 * sqrt(2 / fan_in)); the
 *     classifier Glorot-uniform; biases 0.
 *   torch: PyTorch's Conv2d/Linear reset_parameters: kaiming_uniform(a = sqrt(5)) weights,
 *     U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)), so b = 1 / sqrt(fan_in);
 *     biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in = in_channels * kh * kw (conv), in (dense).
 * BatchNorm starts at gamma 1, beta 0 in both.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { InitName, ModelConfig, StridePadding } from './config.js';
import { deriveSeed } from './rng.js';

type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** The bound b of PyTorch's default init for a layer with `fanIn` inputs: 1 / sqrt(fan_in). */
export function torchInitBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}

/** Initializers of one model: each call draws a new per-layer seed from the model's seed. */
class Initializers {
  private layerIndex = 0;

  constructor(
    private readonly seed: number,
    private readonly init: InitName,
  ) {}

  /** A distinct small integer seed per layer (tfjs seeds go through seedrandom as strings). */
  private nextSeed(): number {
    return deriveSeed(this.seed, `layer${this.layerIndex++}`) % 2147483647;
  }

  /** Kernel of a conv or dense layer; `classifier` marks the last dense layer. */
  kernel(classifier = false): Initializer {
    const seed = this.nextSeed();
    if (this.init === 'torch') {
      // VarianceScaling uniform draws U(-sqrt(3 * scale / fan_in), +...): scale 1/3 gives 1/sqrt(fan_in).
      return tfl.initializers.varianceScaling({
        scale: 1 / 3,
        mode: 'fanIn',
        distribution: 'uniform',
        seed,
      });
    }
    return classifier
      ? tfl.initializers.glorotUniform({ seed })
      : tfl.initializers.heNormal({ seed });
  }

  /** Bias of a layer with `fanIn` inputs. */
  bias(fanIn: number): Initializer {
    if (this.init !== 'torch') return tfl.initializers.zeros();
    const b = torchInitBound(fanIn);
    return tfl.initializers.randomUniform({ minval: -b, maxval: b, seed: this.nextSeed() });
  }
}

export interface ConvOptions {
  name: string;
  filters: number;
  kernelSize: number;
  strides: number;
  /** How a strided conv pads (stride 1 always pads 'same', which is symmetric for odd kernels). */
  padding: StridePadding;
  kernelInitializer: Initializer;
}

/**
 * A bias-free conv. With `padding: 'symmetric'` and stride > 1, the input is zero-padded by
 * (k - 1) / 2 on every side and convolved 'valid', as PyTorch's Conv2d(padding=(k-1)/2); tfjs's
 * 'same' would put the whole (odd) total padding after the image, shifting the sampling grid.
 */
export function conv2d(x: tfl.SymbolicTensor, options: ConvOptions): tfl.SymbolicTensor {
  const { name, filters, kernelSize, strides, kernelInitializer } = options;
  // A 1x1 kernel needs no padding: 'same' and 'valid' coincide.
  const symmetric = options.padding === 'symmetric' && strides > 1 && kernelSize > 1;
  let input = x;
  if (symmetric) {
    if (kernelSize % 2 !== 1)
      throw new RangeError(`symmetric padding needs an odd kernel, got ${kernelSize}`);
    const p = (kernelSize - 1) / 2;
    const pad = tfl.layers.zeroPadding2d({
      name: `${name}_pad`,
      padding: [
        [p, p],
        [p, p],
      ],
    });
    input = pad.apply(x) as tfl.SymbolicTensor;
  }
  const layer = tfl.layers.conv2d({
    name,
    filters,
    kernelSize,
    strides,
    padding: symmetric ? 'valid' : 'same',
    useBias: false,
    kernelInitializer,
  });
  return layer.apply(input) as tfl.SymbolicTensor;
}

/** Builds `config` for images of `inputShape` [h, w, c]; the same seed gives the same weights. */
export function buildModel(
  config: ModelConfig,
  inputShape: [number, number, number],
  classes: number,
  seed: number,
  init: InitName = 'keras',
): tfl.LayersModel {
  // Stable layer names (conv1, bn1, dense1, ...), so variable and optimizer-slot names do not
  // depend on how many models the process built before (tfjs' default names use global counters).
  const counts = new Map<string, number>();
  const name = (kind: string) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    return `${kind}${n}`;
  };
  const inits = new Initializers(seed, init);
  const stridePadding: StridePadding =
    config.kind === 'resnet' ? (config.stridePadding ?? 'same') : 'same';
  const input = tfl.input({ shape: inputShape, name: 'image' });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor) =>
    layer.apply(x) as tfl.SymbolicTensor;
  const conv = (x: tfl.SymbolicTensor, filters: number, strides = 1, kernelSize = 3) =>
    conv2d(x, {
      name: name('conv'),
      filters,
      kernelSize,
      strides,
      padding: stridePadding,
      kernelInitializer: inits.kernel(),
    });
  const bn = (x: tfl.SymbolicTensor) =>
    apply(tfl.layers.batchNormalization({ name: name('bn'), momentum: 0.9, epsilon: 1e-5 }), x);
  const relu = (x: tfl.SymbolicTensor) => apply(tfl.layers.reLU({ name: name('relu') }), x);
  const dense = (x: tfl.SymbolicTensor, units: number, last = false) =>
    apply(
      tfl.layers.dense({
        name: name('dense'),
        units,
        kernelInitializer: inits.kernel(last),
        biasInitializer: inits.bias(x.shape[x.shape.length - 1] as number),
      }),
      x,
    );

  let x: tfl.SymbolicTensor = input;
  switch (config.kind) {
    case 'mlp': {
      x = apply(tfl.layers.flatten({ name: name('flatten') }), x);
      for (const h of config.hidden) x = relu(dense(x, h));
      break;
    }
    case 'cnn': {
      const w = (n: number) => Math.max(1, Math.round(n * config.width));
      x = apply(
        tfl.layers.maxPooling2d({ name: name('pool'), poolSize: 2 }),
        relu(bn(conv(x, w(32)))),
      );
      x = apply(
        tfl.layers.maxPooling2d({ name: name('pool'), poolSize: 2 }),
        relu(bn(conv(x, w(64)))),
      );
      x = relu(dense(apply(tfl.layers.flatten({ name: name('flatten') }), x), w(128)));
      break;
    }
    case 'resnet': {
      x = relu(bn(conv(x, config.width)));
      for (let stage = 0; stage < 3; stage++) {
        const filters = config.width * 2 ** stage;
        for (let block = 0; block < config.blocksPerStage; block++) {
          const strides = stage > 0 && block === 0 ? 2 : 1;
          const projection = strides !== 1 || (x.shape[3] as number) !== filters;
          const shortcut = projection ? bn(conv(x, filters, strides, 1)) : x;
          const y = bn(conv(relu(bn(conv(x, filters, strides))), filters));
          x = relu(
            tfl.layers.add({ name: name('add') }).apply([y, shortcut]) as tfl.SymbolicTensor,
          );
        }
      }
      x = apply(tfl.layers.globalAveragePooling2d({ name: name('gap') }), x);
      break;
    }
  }
  const logits = dense(x, classes, true);
  return tfl.model({ inputs: input, outputs: logits, name: config.kind });
}

/** Logits of `model` on `x` in training mode (batch statistics in BN) or inference mode. */
export function forward(model: tfl.LayersModel, x: Tensor, training: boolean): Tensor {
  return model.apply(x, { training }) as Tensor;
}

export function countParams(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce(
    (n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
    0,
  );
}

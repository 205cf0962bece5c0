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

/**
 * Makes the layers of one model: stable layer names (conv1, bn1, dense1, ...), so variable and
 * optimizer-slot names do not depend on how many models the process built before (tfjs' default
 * names use global counters), and initial weights drawn in layer order from one seed.
 */
class LayerMaker {
  private readonly counts = new Map<string, number>();
  private readonly inits: Initializers;

  constructor(
    seed: number,
    init: InitName,
    private readonly stridePadding: StridePadding,
  ) {
    this.inits = new Initializers(seed, init);
  }

  name(kind: string): string {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    return `${kind}${n}`;
  }

  apply(layer: tfl.layers.Layer, x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    return layer.apply(x) as tfl.SymbolicTensor;
  }

  conv(x: tfl.SymbolicTensor, filters: number, strides = 1, kernelSize = 3): tfl.SymbolicTensor {
    return conv2d(x, {
      name: this.name('conv'),
      filters,
      kernelSize,
      strides,
      padding: this.stridePadding,
      kernelInitializer: this.inits.kernel(),
    });
  }

  bn(x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    const layer = tfl.layers.batchNormalization({
      name: this.name('bn'),
      momentum: 0.9,
      epsilon: 1e-5,
    });
    return this.apply(layer, x);
  }

  relu(x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    return this.apply(tfl.layers.reLU({ name: this.name('relu') }), x);
  }

  dense(x: tfl.SymbolicTensor, units: number, last = false): tfl.SymbolicTensor {
    const layer = tfl.layers.dense({
      name: this.name('dense'),
      units,
      kernelInitializer: this.inits.kernel(last),
      biasInitializer: this.inits.bias(x.shape[x.shape.length - 1] as number),
    });
    return this.apply(layer, x);
  }

  flatten(x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    return this.apply(tfl.layers.flatten({ name: this.name('flatten') }), x);
  }

  maxPool(x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    return this.apply(tfl.layers.maxPooling2d({ name: this.name('pool'), poolSize: 2 }), x);
  }
}

function mlpBody(make: LayerMaker, x: tfl.SymbolicTensor, hidden: number[]): tfl.SymbolicTensor {
  let y = make.flatten(x);
  for (const h of hidden) y = make.relu(make.dense(y, h));
  return y;
}

function cnnBody(make: LayerMaker, x: tfl.SymbolicTensor, width: number): tfl.SymbolicTensor {
  const w = (n: number) => Math.max(1, Math.round(n * width));
  let y = make.maxPool(make.relu(make.bn(make.conv(x, w(32)))));
  y = make.maxPool(make.relu(make.bn(make.conv(y, w(64)))));
  return make.relu(make.dense(make.flatten(y), w(128)));
}

/** The CIFAR ResNet of He et al. (2016, section 4.2): a 3x3 stem, 3 stages of basic blocks (1x1
 * projection shortcuts where the shape changes), global average pooling. */
function resnetBody(
  make: LayerMaker,
  input: tfl.SymbolicTensor,
  width: number,
  blocksPerStage: number,
): tfl.SymbolicTensor {
  let x = make.relu(make.bn(make.conv(input, width)));
  for (let stage = 0; stage < 3; stage++) {
    const filters = width * 2 ** stage;
    for (let block = 0; block < blocksPerStage; block++) {
      const strides = stage > 0 && block === 0 ? 2 : 1;
      const projection = strides !== 1 || (x.shape[3] as number) !== filters;
      const shortcut = projection ? make.bn(make.conv(x, filters, strides, 1)) : x;
      const y = make.bn(make.conv(make.relu(make.bn(make.conv(x, filters, strides))), filters));
      const sum = tfl.layers.add({ name: make.name('add') }).apply([y, shortcut]);
      x = make.relu(sum as tfl.SymbolicTensor);
    }
  }
  return make.apply(tfl.layers.globalAveragePooling2d({ name: make.name('gap') }), x);
}

/** Builds `config` for images of `inputShape` [h, w, c]; the same seed gives the same weights. */
export function buildModel(
  config: ModelConfig,
  inputShape: [number, number, number],
  classes: number,
  seed: number,
  init: InitName = 'keras',
): tfl.LayersModel {
  const stridePadding: StridePadding =
    config.kind === 'resnet' ? (config.stridePadding ?? 'same') : 'same';
  const make = new LayerMaker(seed, init, stridePadding);
  const input = tfl.input({ shape: inputShape, name: 'image' });
  let x: tfl.SymbolicTensor;
  switch (config.kind) {
    case 'mlp':
      x = mlpBody(make, input, config.hidden);
      break;
    case 'cnn':
      x = cnnBody(make, input, config.width);
      break;
    case 'resnet':
      x = resnetBody(make, input, config.width, config.blocksPerStage);
      break;
  }
  const logits = make.dense(x, classes, true);
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

/**
 * The models of the harness, built with tfjs layers and seeded initializers (He-normal for conv and
 * hidden dense kernels, Glorot-uniform for the classifier), so a seed fixes the initial weights.
 *
 *   mlp:    flatten, [dense(h) relu]*, dense(classes)
 *   cnn:    conv3x3(32w)-BN-relu-maxpool2, conv3x3(64w)-BN-relu-maxpool2, dense(128w) relu,
 *           dense(classes)                                   (the PyTorch pilot's small CNN)
 *   resnet: conv3x3(w)-BN-relu stem; 3 stages of `blocksPerStage` basic blocks (conv3x3-BN-relu-
 *           conv3x3-BN + shortcut, relu), widths w, 2w, 4w, stride 2 at the start of stages 2 and 3
 *           with a 1x1 conv-BN projection shortcut; global average pooling; dense(classes).
 *           Depth 6 * blocksPerStage + 2 (ResNet-8 with blocksPerStage 1, width 16).
 * Every model outputs logits; the loss applies the softmax.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelConfig } from './config.js';
import { deriveSeed } from './rng.js';

/** Builds `config` for images of `inputShape` [h, w, c]; the same seed gives the same weights. */
export function buildModel(
  config: ModelConfig,
  inputShape: [number, number, number],
  classes: number,
  seed: number,
): tfl.LayersModel {
  let layerIndex = 0;
  // Stable layer names (conv1, bn1, dense1, ...), so variable and optimizer-slot names do not
  // depend on how many models the process built before (tfjs' default names use global counters).
  const counts = new Map<string, number>();
  const name = (kind: string) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    return `${kind}${n}`;
  };
  // A distinct small integer seed per layer (tfjs seeds go through seedrandom as strings).
  const nextSeed = () => deriveSeed(seed, `layer${layerIndex++}`) % 2147483647;
  const he = () => tfl.initializers.heNormal({ seed: nextSeed() });
  const glorot = () => tfl.initializers.glorotUniform({ seed: nextSeed() });
  const input = tfl.input({ shape: inputShape, name: 'image' });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor) =>
    layer.apply(x) as tfl.SymbolicTensor;
  const conv = (x: tfl.SymbolicTensor, filters: number, strides = 1, kernelSize = 3) =>
    apply(
      tfl.layers.conv2d({
        name: name('conv'),
        filters,
        kernelSize,
        strides,
        padding: 'same',
        useBias: false,
        kernelInitializer: he(),
      }),
      x,
    );
  const bn = (x: tfl.SymbolicTensor) =>
    apply(tfl.layers.batchNormalization({ name: name('bn'), momentum: 0.9, epsilon: 1e-5 }), x);
  const relu = (x: tfl.SymbolicTensor) => apply(tfl.layers.reLU({ name: name('relu') }), x);
  const dense = (x: tfl.SymbolicTensor, units: number, last = false) =>
    apply(
      tfl.layers.dense({ name: name('dense'), units, kernelInitializer: last ? glorot() : he() }),
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

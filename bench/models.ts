/**
 * The models the training benchmarks time (bench:train, bench:profile), matching
 * bench/train-torch.py: the small CNN and a BatchNorm ResNet-8 of width 16.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ModelConfig } from '#harness/experiments/config.js';
import { buildModel } from '#harness/experiments/models.js';

export const BENCH_MODELS: Record<string, ModelConfig> = {
  cnn: { kind: 'cnn', width: 1 },
  resnet: { kind: 'resnet', blocksPerStage: 1, width: 16 },
};

/** One fixed training problem: the model, tf.train.adam, its variables and a seeded batch. */
export interface BenchProblem {
  model: LayersModel;
  optimizer: tf.Optimizer;
  variables: tf.Variable[];
  x: tf.Tensor;
  oneHot: tf.Tensor;
}

/** The same batch and model for every benchmark: 28x28x1 images, 10 classes, seed 1. */
export function benchProblem(config: ModelConfig, batch: number): BenchProblem {
  const model = buildModel(config, [28, 28, 1], 10, 1);
  const optimizer = tf.train.adam(1e-3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', 3);
  const labels = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => (i * 7) % 10),
    'int32',
  );
  const oneHot = tf.oneHot(labels, 10);
  labels.dispose();
  return { model, optimizer, variables, x, oneHot };
}

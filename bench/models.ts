/**
 * The models the training benchmarks time (bench:train, bench:profile), matching
 * bench/train-torch.py: the small CNN and a BatchNorm ResNet-8 of width 16.
 */
import type { ModelConfig } from '../src/experiments/config.js';

export const BENCH_MODELS: Record<string, ModelConfig> = {
  cnn: { kind: 'cnn', width: 1 },
  resnet: { kind: 'resnet', blocksPerStage: 1, width: 16 },
};

/**
 * The experiment harness: datasets (IDX, CIFAR-10), models (MLP, CNN, ResNet), the resumable
 * training loop `runTraining` and its plain-JSON `TrainConfig`.
 */

export { removeStaleTempFiles, writeFileAtomic } from './atomic-file.js';
export { useBackend } from './backend.js';
export {
  type Checkpoint,
  CheckpointError,
  loadCheckpoint,
  parseCheckpoint,
} from './checkpoint.js';
export * from './config.js';
export {
  clearDatasetCache,
  DatasetError,
  DEFAULT_DATA_DIRS,
  type ImageSet,
  type LoadedData,
  loadData,
  loadRaw,
  makeBatch,
  splitTraining,
} from './data/index.js';
export { buildModel, countParams } from './models.js';
export { createOptimizer } from './optimizer.js';
export { deriveSeed, Rng, type RngState } from './rng.js';
export { buildSchedule, buildWeightDecay, stepsPerEpoch } from './schedule.js';
export { evaluate, runTraining, type TrainOptions } from './train.js';

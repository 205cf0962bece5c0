/**
 * `decoupled/tfjs`: decoupled weight decay optimizers for TensorFlow.js (Loshchilov & Hutter):
 * AdamW, Adam, SGDW, SGD, AdamWR, SGDWR, ScheduleFreeAdamW and ScheduleFreeSGD as tf.Optimizer
 * subclasses, for model.compile / model.fit, optimizer.minimize and applyGradients. Importing this module registers the classes
 * for serialization and the fused update kernels for the cpu and wasm backends.
 */
import { registerOptimizerKernels } from './backend-kernels.js';
import { registerSerialization } from './optimizers.js';
import { registerScheduleFreeSerialization } from './schedule-free.js';

export { ADAM_KERNEL, registerOptimizerKernels, SGD_KERNEL } from './backend-kernels.js';
export {
  DecoupledOptimizer,
  type TfjsCommonOptions,
  type TfjsDecayExclusion,
  type TfjsExtraOptions,
} from './optimizer.js';
export {
  Adam,
  type AdamTfjsOptions,
  AdamW,
  type AdamWOptions,
  AdamWR,
  type AdamWRTfjsOptions,
  registerSerialization,
  SGD,
  type SGDTfjsOptions,
  SGDW,
  SGDWR,
  type SGDWRTfjsOptions,
  type SGDWTfjsOptions,
} from './optimizers.js';
export {
  type ModeVariables,
  registerScheduleFreeSerialization,
  ScheduleFreeAdamW,
  type ScheduleFreeAdamWTfjsOptions,
  ScheduleFreeOptimizer,
  ScheduleFreeSGD,
  type ScheduleFreeSGDTfjsOptions,
} from './schedule-free.js';
export { registerWasmTrainingKernels } from './training-kernels/index.js';

registerSerialization();
registerScheduleFreeSerialization();
registerOptimizerKernels();

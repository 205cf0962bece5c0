/**
 * `decoupled`: decoupled weight decay optimizers (AdamW, SGDW) and their coupled L2 baselines
 * (Adam, SGD) on Float32Array, framework-free, with PyTorch 1.13's math.
 */
import { setDefaultKernels } from './core/optimizer.js';
import { wasmKernels, wasmKernelsSupported } from './kernels/index.js';

export {
  Adam,
  AdamFamily,
  type AdamHyper,
  type AdamOptions,
  type AdamParams,
} from './core/adam.js';
export { AdamW } from './core/adamw.js';
export { clipCoefficient, clipGradNorm, globalNorm } from './core/clip.js';
export { crc32c, crc32cHex } from './core/crc32c.js';
export { decoupledDecayFactor } from './core/decay.js';
export type { EmaOptions } from './core/ema.js';
export { NonFiniteGradientError, OptionError } from './core/errors.js';
export {
  type AdamScalars,
  type AdamStepScalars,
  type AdamUpdate,
  adamReferenceUpdate,
  firstNonFinite,
  referenceKernels,
  type ScheduleFreeScalars,
  type ScheduleFreeUpdate,
  type SgdScalars,
  type SgdStepScalars,
  type SgdUpdate,
  scheduleFreeReferenceUpdate,
  sgdReferenceUpdate,
  type UpdateKernels,
} from './core/kernels.js';
export {
  type NormalizedDecayRestartsConfig,
  type NormalizedDecayRestartsOptions,
  type NormalizedWeightDecayOptions,
  normalizedWeightDecay,
  normalizedWeightDecayForRestarts,
} from './core/normalized-decay.js';
export {
  type BaseHyper,
  type GlobalOptions,
  type GroupPlan,
  getDefaultKernels,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type StepPlan,
  setDefaultKernels,
} from './core/optimizer.js';
export {
  DEFAULT_NO_DECAY_PATTERNS,
  type DecayExclusion,
  groupParams,
  isDefaultNoDecay,
  type NamedParam,
  type NamedParamGroup,
  type NamedParams,
  orderByGroups,
  type ShapedParam,
} from './core/param-groups.js';
export {
  createOptimizer,
  type FamilyOptimizer,
  type OptimizerFamily,
  optimizerFamily,
  optimizerOptionNames,
} from './core/registry.js';
export {
  AdamWR,
  type AdamWROptions,
  SGDWR,
  type SGDWROptions,
  type WarmRestartHyper,
  type WarmRestartScheduleSettings,
  type WarmRestartSettings,
  warmRestartHyper,
  warmRestartSchedule,
} from './core/restarts.js';
export {
  SCHEDULE_FREE_MODES,
  ScheduleFreeAdamW,
  type ScheduleFreeAdamWHyper,
  type ScheduleFreeAdamWOptions,
  type ScheduleFreeCommonHyper,
  type ScheduleFreeMode,
  ScheduleFreeSGD,
  type ScheduleFreeSGDOptions,
  type ScheduleFreeSgdHyper,
  type ScheduleFreeStepScalars,
} from './core/schedule-free.js';
export { scheduleFromConfig } from './core/schedule-registry.js';
export {
  type ConfiguredSchedule,
  type CosineOptions,
  constant,
  cosine,
  epochsToSteps,
  type LinearOptions,
  type LinearWarmupOptions,
  linear,
  linearWarmup,
  perEpoch,
  type RestartPeriod,
  restartPeriod,
  type ScheduleConfig,
  type StepDecayOptions,
  sequence,
  stepDecay,
  stepsPerEpoch,
  type WarmRestartsOptions,
  warmRestarts,
  withConfig,
} from './core/schedules.js';
export {
  firstMomentumStep,
  SGD,
  type SGDOptions,
  type SGDWOptions,
  SgdFamily,
  type SgdHyper,
  type SgdwHyper,
} from './core/sgd.js';
export { SGDW } from './core/sgdw.js';
export {
  decodeStateDict,
  type ExtraStateValue,
  encodeStateDict,
  type OptimizerStateDict,
  type SavedGroupHyper,
  stateDictFromJSON,
  stateDictToJSON,
  validateStateDict,
} from './core/state.js';
export {
  type DecayForTimescaleOptions,
  decayForTimescale,
  type TimescaleOfOptions,
  timescaleOf,
} from './core/timescale.js';
export {
  type CoreOptimizerKind,
  DECAY_SCALES,
  type DecayScale,
  NON_FINITE_POLICIES,
  type NonFinitePolicy,
  OPTIMIZER_KINDS,
  type OptimizerKind,
  SCHEDULE_FREE_KINDS,
  type Schedule,
  type ScheduleConfigLike,
  type ScheduleFreeKind,
  type StepValue,
} from './core/types.js';
export {
  type ArenaOptions,
  arenaOf,
  createArena,
  initKernels,
  KernelArena,
  type KernelThreadOptions,
  kernelThreads,
  shutdownKernels,
  type WasmKernels,
  wasmKernels,
  wasmKernelsSupported,
} from './kernels/index.js';

// The fused WASM SIMD kernels are the default wherever WebAssembly SIMD exists: same bits as the
// reference loops, several times faster. initKernels() adds worker threads for large tensors.
if (wasmKernelsSupported()) setDefaultKernels(wasmKernels);

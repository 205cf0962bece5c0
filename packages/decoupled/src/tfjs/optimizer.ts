/**
 * The base of the tfjs optimizers: a tf.Optimizer whose step is the core's. One applyGradients is
 * one core step t (0-based), in the order Keras's `_backend_apply_gradients` takes its steps:
 *
 *   1. check the gradients (names, shapes, dtypes: ./gradients.ts) and the nonFinite policy,
 *      before anything is written;
 *   2. plan: the core's planStep gives eta_t = schedule(t), lr_t, lambda_t, the bias corrections
 *      and the decay factor of its two decay groups, all checked, before anything is written;
 *   3. bind each variable to its slots (./slots.ts), restoring saved ones by variable name;
 *   4. clip: n = sqrt(sum ||g_i||^2); if n > clipNorm, g_i <- g_i * clipNorm / (n + 1e-6);
 *   5. decay and update each variable in the backend's fused kernel with its group's scalars;
 *   6. advance t: the schedule moves per batch, no callback needed.
 *
 * Steps 1, 4 and 5 run where the arrays live: on the host for cpu and wasm (./host-path.ts), on
 * the device with no readback for every other backend (./device-path.ts).
 *
 * The core optimizer (src/core/registry.ts) holds the options, the defaults, the validation and t
 * (./options.ts); the config save/load is ./config.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptionError } from '../core/errors.js';
import type { FamilyOptimizer } from '../core/registry.js';
import type { NonFinitePolicy, OptimizerKind } from '../core/types.js';
import { checkNumber } from '../core/validate.js';
import { registerOptimizerKernels } from './backend-kernels.js';
import { optionsFromConfig, saveConfig } from './config.js';
import { DevicePath } from './device-path.js';
import { runsOnDevice } from './gpu/device-step.js';
import { resolveGradients } from './gradients.js';
import { HostPath } from './host-path.js';
import {
  isExcluded,
  parseOptions,
  type TfjsCommonOptions,
  type TfjsDecayExclusion,
} from './options.js';
import { type NamedTensor, SlotStore } from './slots.js';
import { planGroups, type StepPath, StepStats } from './step.js';

export type { TfjsCommonOptions, TfjsDecayExclusion, TfjsExtraOptions } from './options.js';
export type { NamedTensor } from './slots.js';

export abstract class DecoupledOptimizer extends tf.Optimizer {
  /** The core kind whose math this optimizer runs. */
  readonly kind: OptimizerKind;
  readonly clipNorm: number | null;
  readonly nonFinite: NonFinitePolicy;
  /** The core optimizer whose planStep gives each step's scalars (two empty decay groups). */
  protected readonly core: FamilyOptimizer;
  /** The class's short name ('AdamW', 'AdamWR', …), for error messages. */
  private readonly label: string;
  private readonly exclusion: TfjsDecayExclusion;
  private readonly slots: SlotStore;
  private readonly stats = new StepStats();
  private readonly host: StepPath;
  private readonly device: StepPath;

  protected constructor(kind: OptimizerKind, options: TfjsCommonOptions, where: string) {
    super();
    const parsed = parseOptions(kind, options, where);
    this.kind = kind;
    this.label = where;
    this.clipNorm = parsed.clipNorm;
    this.exclusion = parsed.exclusion;
    this.core = parsed.core;
    this.nonFinite = this.core.optimizer.nonFinite;
    this.slots = new SlotStore((name, shape) => this.isExcludedFromDecay(name, shape), where);
    const settings = { clipNorm: this.clipNorm, nonFinite: this.nonFinite };
    this.host = new HostPath(settings, this.slots, this.stats);
    this.device = new DevicePath(settings, this.slots, this.stats);
    this.iterations_ = 0;
    registerOptimizerKernels();
  }

  /**
   * Steps skipped for a non-finite gradient (nonFinite: 'skip'). After steps on a GPU backend,
   * reading it reads the device's step state (4 floats, once per step).
   */
  get skippedSteps(): number {
    return this.stats.skipped;
  }

  /**
   * The global gradient norm of the last step, before clipping (when clipNorm is set). After a
   * step on a GPU backend, the first read of it reads the step state (4 floats) from the device.
   */
  get lastGradNorm(): number | null {
    return this.stats.norm;
  }

  /** Steps taken so far; the 0-based schedule index of the next step. */
  get stepCount(): number {
    return this.core.optimizer.stepCount;
  }

  /** The scheduled learning rate lr * eta_t of the next step (eta_t checked by the core). */
  get currentLearningRate(): number {
    return this.core.optimizer.currentLearningRates()[0];
  }

  /** True if a variable of this name and shape gets no weight decay under this optimizer's rules. */
  isExcludedFromDecay(name: string, shape: readonly number[]): boolean {
    return isExcluded(this.exclusion, name, shape);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const items = resolveGradients(variableGradients, `${this.label}.applyGradients`); // 1. check
    const path = runsOnDevice(tf.getBackend()) ? this.device : this.host;
    const grads = items.map((it) => it.grad);
    if (!path.admit(grads)) return; // 1. nonFinite: 'error' throws, 'skip' returns (host)
    const plan = planGroups(this.core); // 2. the core's scalars of step t
    const entries = items.map((it) => this.slots.bind(it.variable)); // 3. slots
    tf.tidy(() => {
      const step = path.clip(grads); // 4. clip (and the device's non-finite control)
      entries.forEach((entry, i) => {
        path.update(entry, step.grads[i], plan[entry.excluded ? 1 : 0], step); // 5. decay, update
      });
    });
    this.advance(); // 6. t + 1
  }

  override dispose(): void {
    this.stats.device.dispose();
    this.slots.dispose();
  }

  /** The step count ('iter'), then `<variable name>/<slot>` for every variable. */
  override async getWeights(): Promise<NamedTensor[]> {
    const iter = { name: 'iter', tensor: tf.scalar(this.core.optimizer.stepCount, 'int32') };
    return [iter, ...this.slots.weights()];
  }

  /** Restores a list from getWeights; slots bind to variables at their first step (./slots.ts). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const where = `${this.label}.setWeights`;
    if (!Array.isArray(weightValues) || weightValues[0]?.name !== 'iter') {
      const allowed = "the list from getWeights(): 'iter' first, then '<variable>/<slot>' tensors";
      throw new OptionError('weightValues', weightValues, allowed, where);
    }
    const iter = (await weightValues[0].tensor.data())[0];
    checkNumber("weightValues 'iter'", iter, { min: 0, integer: true }, where);
    this.slots.restore(weightValues.slice(1));
    this.core.optimizer.stepCount = iter;
    this.iterations_ = iter;
  }

  /** The serializable configuration: base lr, schedule config, decay settings, exclusion rules. */
  override getConfig(): tf.serialization.ConfigDict {
    const hyper = this.core.optimizer.paramGroups[0].hyper as unknown as Record<string, unknown>;
    const { nonFinite, clipNorm, exclusion } = this;
    return saveConfig(hyper, { nonFinite, clipNorm, exclusion }, `${this.label}.getConfig`);
  }

  /** Options rebuilt from a config written by getConfig (after tfjs-layers' key conversion). */
  static optionsFromConfig(config: tf.serialization.ConfigDict): Record<string, unknown> {
    return optionsFromConfig(config);
  }

  /** t <- t + 1 (a step skipped on a device counts too: the host cannot know without a read). */
  private advance(): void {
    this.core.optimizer.stepCount++;
    this.iterations_ = this.core.optimizer.stepCount;
  }
}

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
 *   6. advance t: the schedule moves per batch, no callback needed; then the weight averages
 *      (`ema`, ./ema.ts) take in the new weights.
 * With `accumulate: k` (./accumulate.ts), calls 1..k-1 of a window stop after step 3 and add their
 * gradients to the window; call k takes steps 2 to 6 with the window's mean gradient.
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
import { GradientWindow, takeSavedCalls } from './accumulate.js';
import { registerOptimizerKernels } from './backend-kernels.js';
import { optionsFromConfig, saveConfig } from './config.js';
import { DevicePath } from './device-path.js';
import { VariableAverages } from './ema.js';
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
  /** The weight averages (option `ema`), or null. */
  private readonly ema: VariableAverages | null;
  /** The gradient window (option `accumulate` > 1), or null. */
  private readonly window: GradientWindow | null;

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
    const accumulate = parsed.accumulate > 1;
    const settings = { clipNorm: this.clipNorm, nonFinite: this.nonFinite, accumulate };
    this.host = new HostPath(settings, this.slots, this.stats);
    this.device = new DevicePath(settings, this.slots, this.stats);
    this.ema = parsed.ema && new VariableAverages(parsed.ema, this.slots, where);
    this.window = accumulate ? new GradientWindow(parsed.accumulate, this.slots, where) : null;
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
    const where = `${this.label}.applyGradients`;
    const items = resolveGradients(variableGradients, where); // 1. check
    if (this.ema?.swapped) {
      const allowed = 'swapped back (call swapAverages() again) before a step';
      throw new OptionError('swapAverages', 'swapped in', allowed, where);
    }
    const path = runsOnDevice(tf.getBackend()) ? this.device : this.host;
    const grads = items.map((it) => it.grad);
    if (!path.admit(grads)) return; // 1. nonFinite: 'error' throws, 'skip' returns (host)
    const window = this.window;
    if (window && !window.completesNext) {
      const entries = items.map((it) => this.slots.bind(it.variable)); // 3. slots
      window.check(entries);
      window.add(entries, grads); // accumulate: only added to the window
      return;
    }
    const plan = planGroups(this.core); // 2. the core's scalars of step t
    const entries = items.map((it) => this.slots.bind(it.variable)); // 3. slots
    window?.check(entries);
    tf.tidy(() => {
      const applied = window ? window.finish(entries, grads) : grads; // the window's mean
      const step = path.clip(applied); // 4. clip (and the device's non-finite control)
      entries.forEach((entry, i) => {
        path.update(entry, step.grads[i], plan[entry.excluded ? 1 : 0], step); // 5. decay, update
      });
      this.ema?.update(this.stepCount + 1, step.control); // 6. the averages of t + 1
    });
    this.advance(); // 6. t + 1
  }

  /** Gradient calls in the current accumulation window (0 without `accumulate`). */
  get accumulatedCalls(): number {
    return this.window?.calls ?? 0;
  }

  /**
   * The averaged weights (option `ema`) as new tensors the caller disposes, one per variable,
   * named by variable, in first-seen order; before the first step, copies of the weights.
   * `variables` (the model's trainable variables) binds state restored by setWeights that no step
   * has bound yet.
   */
  averages(variables?: readonly tf.Variable[]): NamedTensor[] {
    return this.requireEma('averages').averages(this.stepCount, variables);
  }

  /**
   * Swaps the averaged weights into the variables (to evaluate with them), or, if they are
   * swapped in, puts the trained weights back (Keras's `finalize_variable_values`, reversible).
   * No step may be taken while they are swapped in. `variables`: as for averages().
   */
  swapAverages(variables?: readonly tf.Variable[]): void {
    this.requireEma('swapAverages').swap(this.stepCount, variables);
  }

  /** True while swapAverages has put the averaged weights in the variables. */
  get averagesSwapped(): boolean {
    return this.ema?.swapped ?? false;
  }

  override dispose(): void {
    this.stats.device.dispose();
    this.slots.dispose();
    this.window?.dispose();
  }

  /**
   * The step count ('iter'), then `<variable name>/<slot>` for every variable (the averages and
   * partial gradient sums too), then, with `accumulate`, the window's call count
   * ('accumulate_calls').
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const iter = { name: 'iter', tensor: tf.scalar(this.core.optimizer.stepCount, 'int32') };
    const calls = this.window ? [this.window.weight()] : [];
    return [iter, ...this.slots.weights(), ...calls];
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
    const saved = await takeSavedCalls(weightValues.slice(1), this.window?.every ?? null, where);
    if (!this.ema && saved.rest.some((w) => w.name.endsWith('/ema_backup'))) {
      const allowed = 'absent for an optimizer without ema (they hold the trained weights)';
      throw new OptionError("weightValues '<variable>/ema_backup'", 'given', allowed, where);
    }
    this.slots.restore(saved.rest);
    this.window?.restore(saved.calls);
    this.core.optimizer.stepCount = iter;
    this.iterations_ = iter;
  }

  /** The serializable configuration: base lr, schedule config, decay settings, exclusion rules. */
  override getConfig(): tf.serialization.ConfigDict {
    const hyper = this.core.optimizer.paramGroups[0].hyper as unknown as Record<string, unknown>;
    const { nonFinite, clipNorm, exclusion } = this;
    const features = { ema: this.ema?.settings ?? null, accumulate: this.window?.every ?? 1 };
    const settings = { nonFinite, clipNorm, exclusion, ...features };
    return saveConfig(hyper, settings, `${this.label}.getConfig`);
  }

  /** Options rebuilt from a config written by getConfig (after tfjs-layers' key conversion). */
  static optionsFromConfig(config: tf.serialization.ConfigDict): Record<string, unknown> {
    return optionsFromConfig(config);
  }

  private requireEma(method: string): VariableAverages {
    if (!this.ema) {
      const allowed = `set (ema: true or { decay }) to call ${method}()`;
      throw new OptionError('ema', undefined, allowed, this.label);
    }
    return this.ema;
  }

  /** t <- t + 1 (a step skipped on a device counts too: the host cannot know without a read). */
  private advance(): void {
    this.core.optimizer.stepCount++;
    this.iterations_ = this.core.optimizer.stepCount;
  }
}

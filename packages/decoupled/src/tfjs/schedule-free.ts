/**
 * Schedule-free AdamW and SGD for TensorFlow.js (Defazio et al. 2024): the core's
 * ScheduleFreeAdamW and ScheduleFreeSGD (src/core/schedule-free.ts: same options, checks and math)
 * as tf.Optimizer subclasses, registered for serialization as `decoupled.ScheduleFreeAdamW` and
 * `decoupled.ScheduleFreeSGD`. The parameter variables hold y (train mode) or x (eval mode); the
 * optimizer keeps z (and AdamW's second moment) per variable. One applyGradients is one core step:
 *
 *   1. check the gradients (./gradients.ts) and the mode (a step in eval mode throws), and apply
 *      the nonFinite policy, before anything is written;
 *   2. plan: the core's planStep gives lr_t (warmup included), c = w_t / W, yStep and lambda_t of
 *      both decay groups (decayed, excluded: ./options.ts);
 *   3. clip (clipNorm), then per variable the core's step: on cpu and wasm the core's own loop
 *      (the fused WASM kernel, or scheduleFreeReferenceUpdate without WASM SIMD) on the backend's
 *      arrays, so the result is the core's bit for bit; on every other backend the same step from
 *      tf ops with no readback (./gpu/schedule-free-ops.ts);
 *   4. commit: the core steps its empty groups, which records lrMax and W and advances t.
 *
 * train() and eval() move the variables between y and x (p <- lerp(p, z, w), w = 1 - beta or
 * 1 - 1/beta: the core's switchWeights), on the host or from tf ops like the step. Before the
 * first step they change nothing (x = y = z).
 *
 * Train in train mode (model.fit and minimize throw in eval mode); call eval() before evaluating
 * or predicting and train() before fitting again. BatchNormalization's moving statistics are
 * gathered at y during training; in eval mode recompute them at x before evaluating: a few
 * forward passes in training mode (no steps) over a batch or more of training data, e.g.
 * `model.apply(x, { training: true })` on 50 batches, as the reference's README advises (with
 * tfjs's default BatchNormalization momentum, 0.99, rather than PyTorch's 0.1, run more).
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptionError } from '../core/errors.js';
import {
  ScheduleFreeAdamW as CoreScheduleFreeAdamW,
  ScheduleFreeSGD as CoreScheduleFreeSGD,
  lerpInPlace,
  SCHEDULE_FREE_MODES,
  type ScheduleFreeAdamWOptions,
  type ScheduleFreeMode,
  type ScheduleFreeSGDOptions,
  type ScheduleFreeStepScalars,
  scheduleFreeOptionNames,
  scheduleFreeReferenceUpdate,
} from '../core/schedule-free.js';
import type { ExtraStateValue } from '../core/state.js';
import type { NonFinitePolicy, ScheduleFreeKind } from '../core/types.js';
import { checkNumber } from '../core/validate.js';
import { cpuKernels, readView, registerOptimizerKernels } from './backend-kernels.js';
import { optionsFromConfig, saveConfig } from './config.js';
import { DevicePath } from './device-path.js';
import { runsOnDevice } from './gpu/device-step.js';
import { lerpOps, scheduleFreeUpdateOps } from './gpu/schedule-free-ops.js';
import { resolveGradients } from './gradients.js';
import { HostPath, ownHostData } from './host-path.js';
import type { TfjsExtraOptions } from './optimizer.js';
import { fromConfig } from './optimizers.js';
import {
  isExcluded,
  parseAdapterOptions,
  type TfjsCommonOptions,
  type TfjsDecayExclusion,
} from './options.js';
import { type BoundEntry, type NamedTensor, SlotStore } from './slots.js';
import { type StepPath, StepStats } from './step.js';

type Ctor<T extends tf.serialization.Serializable> = tf.serialization.SerializableConstructor<T>;
type Core = CoreScheduleFreeAdamW | CoreScheduleFreeSGD;

/** Core options decoupled/tfjs does not take: its own kernels; ema and accumulate. */
type CoreOnly = 'kernels' | 'ema' | 'accumulate';
export type ScheduleFreeAdamWTfjsOptions = Omit<ScheduleFreeAdamWOptions, CoreOnly> &
  TfjsExtraOptions;
export type ScheduleFreeSGDTfjsOptions = Omit<ScheduleFreeSGDOptions, CoreOnly> & TfjsExtraOptions;

/** The variables train() and eval() may be given: tf.Variables or tfjs-layers' LayerVariables. */
export type ModeVariables = readonly (tf.Variable | { read(): tf.Tensor })[];

/** The name of the schedule-free scalars in getWeights. */
const STATE_NAME = 'scheduleFree';
/** The per-group scalars of the core's state, in the order they are encoded. */
const GROUP_SCALARS = ['scheduleFree.lrMax', 'scheduleFree.weightSum'] as const;

/**
 * The core's schedule-free scalars as int32 words: the mode (0 train, 1 eval), then lrMax and then
 * W of each group, each float64 as two little-endian words (float32 would not resume exactly).
 */
function encodeState(extra: Record<string, ExtraStateValue>, groups: number): Int32Array {
  const view = new DataView(new ArrayBuffer(4 * (1 + 4 * groups)));
  view.setInt32(
    0,
    SCHEDULE_FREE_MODES.indexOf(extra['scheduleFree.mode'] as ScheduleFreeMode),
    true,
  );
  let at = 4;
  for (const name of GROUP_SCALARS) {
    for (const x of extra[name] as number[]) {
      view.setFloat64(at, x, true);
      at += 8;
    }
  }
  return new Int32Array(view.buffer);
}

/** The core's `extra` state from encodeState's words (its values are checked by the core). */
function decodeState(
  tensor: tf.Tensor,
  groups: number,
  where: string,
): Record<string, ExtraStateValue> {
  const length = 1 + 4 * groups;
  if (tensor.dtype !== 'int32' || tensor.size !== length) {
    const allowed = `an int32 tensor of ${length} words, as getWeights() writes it`;
    throw new OptionError(`weightValues '${STATE_NAME}'`, tensor, allowed, where);
  }
  const view = new DataView(Int32Array.from(tensor.dataSync()).buffer);
  const mode = SCHEDULE_FREE_MODES[view.getInt32(0, true)] ?? view.getInt32(0, true);
  const extra: Record<string, ExtraStateValue> = { 'scheduleFree.mode': mode };
  let at = 4;
  for (const name of GROUP_SCALARS) {
    extra[name] = Array.from({ length: groups }, (_, i) => view.getFloat64(at + 8 * i, true));
    at += 8 * groups;
  }
  return extra;
}

/** The tf.Variable behind a tf.Variable or a LayerVariable (`read()`), or null. */
function variableOf(v: unknown): tf.Variable | null {
  if (v instanceof tf.Variable) return v;
  const read = (v as { read?: unknown } | null)?.read;
  if (typeof read !== 'function') return null;
  const value = read.call(v);
  return value instanceof tf.Variable ? value : null;
}

/** The base of ScheduleFreeAdamW and ScheduleFreeSGD: a tf.Optimizer whose step is the core's. */
export abstract class ScheduleFreeOptimizer extends tf.Optimizer {
  readonly kind: ScheduleFreeKind;
  readonly clipNorm: number | null;
  readonly nonFinite: NonFinitePolicy;
  /** The core optimizer over two empty decay groups: plans each step, keeps t, lrMax, W, mode. */
  protected readonly core: Core;
  private readonly exclusion: TfjsDecayExclusion;
  private readonly slots: SlotStore;
  private readonly stats = new StepStats();
  private readonly host: StepPath;
  private readonly device: StepPath;
  /** The live tensor getWeights hands out for the scalars (so a caller owns none of them). */
  private state: tf.Variable | null = null;

  /**
   * A prototype check: tf.Optimizer's own `instanceof` is true for any object with minimize,
   * computeGradients and applyGradients, which would make every optimizer schedule-free.
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof asks about.
    return Function.prototype[Symbol.hasInstance].call(this, instance);
  }

  protected constructor(kind: ScheduleFreeKind, options: TfjsCommonOptions) {
    super();
    const names = scheduleFreeOptionNames(kind);
    const parsed = parseAdapterOptions(options, kind, names, (coreOptions, groups) =>
      kind === 'ScheduleFreeAdamW'
        ? new CoreScheduleFreeAdamW(groups, coreOptions as ScheduleFreeAdamWOptions)
        : new CoreScheduleFreeSGD(groups, coreOptions as ScheduleFreeSGDOptions),
    );
    // Schedule-free already averages its iterates (x); weight EMA and accumulation are the Adam
    // and SGD families' options here.
    if (parsed.ema !== null) {
      throw new OptionError('ema', options.ema, `not given: ${kind} takes no ema`, kind);
    }
    if (parsed.accumulate !== 1) {
      const allowed = `not given (1): ${kind} in decoupled/tfjs does not accumulate`;
      throw new OptionError('accumulate', options.accumulate, allowed, kind);
    }
    this.kind = kind;
    this.clipNorm = parsed.clipNorm;
    this.exclusion = parsed.exclusion;
    this.core = parsed.core;
    this.nonFinite = this.core.nonFinite;
    this.slots = new SlotStore((name, shape) => this.isExcludedFromDecay(name, shape), kind);
    const settings = { clipNorm: this.clipNorm, nonFinite: this.nonFinite };
    this.host = new HostPath(settings, this.slots, this.stats);
    this.device = new DevicePath(settings, this.slots, this.stats);
    this.iterations_ = 0;
    registerOptimizerKernels();
  }

  /** 'train' (the variables hold y; steps allowed) or 'eval' (they hold x, the average). */
  get mode(): ScheduleFreeMode {
    return this.core.mode;
  }

  /** Steps skipped for a non-finite gradient (nonFinite: 'skip'); on a GPU, reads one scalar. */
  get skippedSteps(): number {
    return this.stats.skipped;
  }

  /** The global gradient norm of the last step, before clipping (when clipNorm is set). */
  get lastGradNorm(): number | null {
    return this.stats.norm;
  }

  /** Steps taken so far; the 0-based index of the next step. */
  get stepCount(): number {
    return this.core.stepCount;
  }

  /** lr_t of the next step, warmup included (the reference's `scheduled_lr`). */
  get currentLearningRate(): number {
    return this.core.currentLearningRates()[0];
  }

  /** True if a variable of this name and shape gets no weight decay under this optimizer's rules. */
  isExcludedFromDecay(name: string, shape: readonly number[]): boolean {
    return isExcluded(this.exclusion, name, shape);
  }

  /**
   * Puts y back in the variables (y = lerp(x, z, 1 - beta)) to train; nothing to do in train mode.
   * `variables` (the model's trainable variables, e.g. `model.trainableWeights`) are needed once
   * after setWeights or loading a model, when the restored state is matched to its variables.
   */
  train(variables?: ModeVariables): void {
    this.switchTo('train', variables);
  }

  /**
   * Puts x, the average to evaluate, in the variables (x = lerp(y, z, 1 - 1/beta)); recompute
   * BatchNormalization statistics after it (see the module comment). `variables` as for train().
   */
  eval(variables?: ModeVariables): void {
    this.switchTo('eval', variables);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const where = `${this.kind}.applyGradients`;
    const items = resolveGradients(variableGradients, where);
    this.core.checkCanStep(where);
    const onDevice = runsOnDevice(tf.getBackend());
    const path = onDevice ? this.device : this.host;
    const grads = items.map((it) => it.grad);
    if (!path.admit(grads)) return;
    const plan = this.core.planStep();
    const entries = items.map((it) => this.slots.bind(it.variable));
    tf.tidy(() => {
      const step = path.clip(grads);
      entries.forEach((entry, i) => {
        const s = plan.groups[entry.excluded ? 1 : 0].scalars;
        if (onDevice) this.updateOnDevice(entry, step.grads[i], s, step.control);
        else this.updateOnHost(entry, step.grads[i], s);
      });
    });
    // The core's groups are empty: its step records lrMax and W of this plan and advances t.
    this.core.step([]);
    this.iterations_ = this.core.stepCount;
  }

  override dispose(): void {
    this.stats.device.dispose();
    this.slots.dispose();
    this.state?.dispose();
    this.state = null;
  }

  /**
   * 'iter' (the step count), 'scheduleFree' (the mode and each decay group's lrMax and W, as int32
   * words: encodeState), then `<variable name>/z` and, for AdamW, `<variable name>/exp_avg_sq`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const words = encodeState(this.core.stateDict().extra ?? {}, this.core.paramGroups.length);
    tf.tidy(() => {
      const value = tf.tensor1d(words, 'int32');
      if (this.state) this.state.assign(value);
      else this.state = tf.variable(value, false);
    });
    const iter = { name: 'iter', tensor: tf.scalar(this.core.stepCount, 'int32') };
    return [iter, { name: STATE_NAME, tensor: this.state as tf.Variable }, ...this.slots.weights()];
  }

  /** Restores a list from getWeights, all checked before anything changes. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const where = `${this.kind}.setWeights`;
    if (
      !Array.isArray(weightValues) ||
      weightValues[0]?.name !== 'iter' ||
      weightValues[1]?.name !== STATE_NAME
    ) {
      const allowed = `the list from getWeights(): 'iter', '${STATE_NAME}', then '<variable>/<slot>' tensors`;
      throw new OptionError('weightValues', weightValues, allowed, where);
    }
    const iter = (await weightValues[0].tensor.data())[0];
    checkNumber("weightValues 'iter'", iter, { min: 0, integer: true }, where);
    const groups = this.core.paramGroups.length;
    const current = this.core.stateDict();
    const slotNames = Object.keys(current.slots);
    const slots = weightValues.slice(2);
    for (const { name } of slots) {
      const slot = typeof name === 'string' ? name.slice(name.lastIndexOf('/') + 1) : '';
      if (!slotNames.includes(slot)) {
        const allowed = `'<variable>/<slot>' with slot ${slotNames.join(' or ')}`;
        throw new OptionError('weightValues name', name, allowed, where);
      }
    }
    const extra = decodeState(weightValues[1].tensor, groups, where);
    try {
      // The core checks the mode, lrMax and W; nothing changes if one is wrong.
      this.core.loadStateDict({ ...current, stepCount: iter, extra });
    } catch (error) {
      throw error instanceof OptionError ? error.relabeled(where) : error;
    }
    try {
      this.slots.restore(slots);
    } catch (error) {
      this.core.loadStateDict(current);
      throw error;
    }
    this.iterations_ = iter;
  }

  /** The serializable configuration: the core's hyperparameters, clipNorm, the exclusion rules. */
  override getConfig(): tf.serialization.ConfigDict {
    const hyper = this.core.paramGroups[0].hyper as unknown as Record<string, unknown>;
    const { nonFinite, clipNorm, exclusion } = this;
    const settings = { nonFinite, clipNorm, exclusion, ema: null, accumulate: 1 };
    return saveConfig(hyper, settings, `${this.kind}.getConfig`);
  }

  /** Options rebuilt from a config written by getConfig (after tfjs-layers' key conversion). */
  static optionsFromConfig(config: tf.serialization.ConfigDict): Record<string, unknown> {
    return optionsFromConfig(config);
  }

  /** Binds given variables to restored state, checks every z has its variable, then moves them. */
  private switchTo(to: ScheduleFreeMode, variables: ModeVariables | undefined): void {
    const where = `${this.kind}.${to}`;
    const given =
      variables === undefined ? [] : Array.isArray(variables) ? variables.map(variableOf) : [null];
    if (given.some((v) => v === null)) {
      const allowed = 'an array of tf.Variables or LayerVariables (model.trainableWeights)';
      throw new OptionError('variables', variables, allowed, where);
    }
    if (this.core.mode === to) return;
    const unbound = () => this.slots.list().filter((e) => e.variable === null && e.slots.has('z'));
    if (unbound().length > 0) for (const v of given as tf.Variable[]) this.slots.bind(v);
    const missing = unbound();
    if (missing.length > 0) {
      const allowed =
        `the model's trainable variables (model.trainableWeights), to match the state restored ` +
        `by setWeights (${missing.map((e) => `'${e.name}'`).join(', ')})`;
      throw new OptionError('variables', variables, allowed, where);
    }
    const weights = this.core.switchWeights(to);
    const onDevice = runsOnDevice(tf.getBackend());
    tf.tidy(() => {
      for (const entry of this.slots.list()) {
        const z = entry.slots.get('z');
        if (!entry.variable || !z) continue;
        const w = weights[entry.excluded ? 1 : 0];
        const p = entry.variable;
        if (onDevice) {
          p.assign(lerpOps(p, z, w));
        } else {
          const out = Float32Array.from(readView(p));
          lerpInPlace(out, readView(z), w);
          p.assign(tf.tensor(out, p.shape, 'float32'));
        }
      }
    });
    this.core[to]();
  }

  /** z of `entry`, made on its first step as a copy of the variable (the core's rule). */
  private z(entry: BoundEntry): tf.Variable {
    let z = entry.slots.get('z');
    if (!z) {
      // Shares the variable's data until either is written (the host path copies first).
      z = tf.variable(entry.variable, false);
      entry.slots.set('z', z);
    }
    return z;
  }

  /** cpu, wasm: the core's loop on the backend's arrays; y is written to a new tensor. */
  private updateOnHost(entry: BoundEntry, grad: tf.Tensor, s: ScheduleFreeStepScalars): void {
    const param = entry.variable;
    // z and v are updated in place, so each must own its data (allocations before any view).
    const z = ownHostData(this.z(entry));
    const v = s.adam ? ownHostData(this.slots.slot(entry, 'exp_avg_sq')) : null;
    const y = Float32Array.from(readView(param));
    // The fused WASM kernel where WebAssembly SIMD runs (bit for bit the reference loop; it falls
    // back to that loop where its shortcut would not be exact), staged through its memory.
    const update = cpuKernels().scheduleFree ?? scheduleFreeReferenceUpdate;
    update(y, readView(grad), readView(z), v && readView(v), s);
    param.assign(tf.tensor(y, param.shape, 'float32'));
  }

  /** Any other backend: the step from tf ops, no readback. */
  private updateOnDevice(
    entry: BoundEntry,
    grad: tf.Tensor,
    s: ScheduleFreeStepScalars,
    control: tf.Tensor | null,
  ): void {
    const param = entry.variable;
    const z = this.z(entry);
    const v = s.adam ? this.slots.slot(entry, 'exp_avg_sq') : null;
    const [y2, z2, v2] = scheduleFreeUpdateOps({ y: param, grad, z, v, control }, s);
    param.assign(y2);
    z.assign(z2);
    v?.assign(v2);
  }
}

/**
 * Schedule-free AdamW (the core's defaults: lr 0.0025, betas [0.9, 0.999], eps 1e-8, weightDecay
 * 0, warmupSteps 0, r 0, weightLrPower 2). No schedule needed. Call eval() before evaluating and
 * train() before training again; with BatchNormalization, recompute its statistics after eval()
 * (see the module comment and docs/tfjs.md).
 */
export class ScheduleFreeAdamW extends ScheduleFreeOptimizer {
  static get className(): string {
    return 'decoupled.ScheduleFreeAdamW';
  }
  static override fromConfig = fromConfig;
  constructor(options: ScheduleFreeAdamWTfjsOptions = {}) {
    super('ScheduleFreeAdamW', options);
  }
}

/**
 * Schedule-free SGD (the core's defaults: lr 1, momentum 0.9 as beta, weightDecay 0). As
 * ScheduleFreeAdamW for train(), eval() and BatchNormalization.
 */
export class ScheduleFreeSGD extends ScheduleFreeOptimizer {
  static get className(): string {
    return 'decoupled.ScheduleFreeSGD';
  }
  static override fromConfig = fromConfig;
  constructor(options: ScheduleFreeSGDTfjsOptions = {}) {
    super('ScheduleFreeSGD', options);
  }
}

/** Registers both classes for tfjs serialization (model.save / loadLayersModel). */
export function registerScheduleFreeSerialization(): void {
  for (const cls of [ScheduleFreeAdamW, ScheduleFreeSGD]) {
    tf.serialization.registerClass(cls as unknown as Ctor<ScheduleFreeOptimizer>);
  }
}

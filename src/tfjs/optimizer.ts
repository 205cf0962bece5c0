/**
 * The base of the tfjs optimizers: a tf.Optimizer whose step is the core's. One applyGradients is
 * one core step t (0-based):
 *
 *   1. gradients are checked (shape, dtype, the nonFinite policy) before anything is written;
 *   2. clipNorm: n = sqrt(sum ||g_i||^2); if n > clipNorm, g_i <- g_i * clipNorm / (n + 1e-6);
 *   3. the core plans step t (its planStep: eta_t = schedule(t), lr_t, lambda_t, bias corrections,
 *      decay factor, all checked) for its two decay groups, before anything is written;
 *   4. each variable is updated by the fused kernel of the active backend (./backend-kernels.ts)
 *      with its group's planned scalars, then the core's t advances: the schedule moves per
 *      batch, no callback needed.
 *
 * On cpu and wasm, 1 and 2 run on the host's view of the arrays. On every other backend (webgl,
 * webgpu, tfjs-node, custom) they run on the device (./gpu/device-step.ts) and nothing is read
 * back: clipping multiplies by a device scalar, and nonFinite 'skip' selects the old values when a
 * gradient is not finite. Such a skipped step still advances t (the host cannot know it was
 * skipped without a read); skippedSteps and lastGradNorm read their device scalar when asked.
 * nonFinite 'error' reads one scalar per step there.
 *
 * The core optimizer (src/core/registry.ts) holds the options, the defaults, the validation and t;
 * it has no params, only two empty groups: 0 decayed (the configured weightDecay), 1 excluded
 * (weightDecay 0). A variable is excluded from weight decay (lambda = 0) by the core's rule
 * (src/core/param-groups.ts: rank <= 1, i.e. biases and BatchNorm/LayerNorm gamma and beta), by
 * name patterns, or by a predicate.
 *
 * State: slots are non-trainable tf.Variables (so a tensor handed out by getWeights stays valid),
 * kept per parameter Variable object, not by name (tfjs renames variables when
 * a model is loaded again in the same process, kernel -> kernel_1). getWeights lists the step
 * count ('iter') and then `<variable name>/<slot>` for every variable in first-seen order;
 * setWeights restores them and binds each saved entry to a variable at its first step, by exact
 * name, then by name without tfjs' `_N` suffix, then by order; the shapes must agree.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipCoefficient, globalNorm } from '../core/clip.js';
import { NonFiniteGradientError, OptionError } from '../core/errors.js';
import type { AdamStepScalars, SgdStepScalars } from '../core/kernels.js';
import { getDefaultKernels } from '../core/optimizer.js';
import { type DecayExclusion, groupParams } from '../core/param-groups.js';
import { createOptimizer, type FamilyOptimizer, optimizerOptionNames } from '../core/registry.js';
import { scheduleFromConfig } from '../core/schedule-registry.js';
import { firstMomentumStep } from '../core/sgd.js';
import type { NonFinitePolicy, OptimizerKind, Schedule, StepValue } from '../core/types.js';
import { checkBoolean, checkKnownKeys, checkNumber } from '../core/validate.js';
import {
  ADAM_KERNEL,
  firstNonFinite,
  hasKernel,
  readView,
  registerOptimizerKernels,
  SGD_KERNEL,
  sharedData,
  updatesInPlace,
} from './backend-kernels.js';
import {
  DeviceStepStats,
  type DeviceUpdate,
  deviceControl,
  deviceUpdate,
  runsOnDevice,
} from './gpu/device-step.js';

/** Decay exclusion for tfjs variables (the core's DecayExclusion, with tfjs' name and shape). */
export interface TfjsDecayExclusion {
  /** Variables whose name contains a string, or matches a RegExp, are excluded. */
  patterns?: readonly (string | RegExp)[];
  /** Returns true for variables to exclude. Not serializable: getConfig refuses it. */
  predicate?: (name: string, shape: readonly number[]) => boolean;
  /** Also exclude by the core's default rule, rank <= 1 (default true). */
  useDefaultRule?: boolean;
}

/** Options the tfjs optimizers add to the core's. */
export interface TfjsExtraOptions {
  /** Clip the gradients to this global L2 norm before the step (default: no clipping). */
  clipNorm?: number;
  /** Which variables get no weight decay (default: the core's rule, rank <= 1). */
  excludeFromDecay?: TfjsDecayExclusion;
}

/** Core options every tfjs optimizer takes (no params, no kernels: tfjs supplies both). */
export interface TfjsCommonOptions extends TfjsExtraOptions {
  lr?: number;
  weightDecay?: StepValue;
  maximize?: boolean;
  schedule?: Schedule;
  nonFinite?: NonFinitePolicy;
}

/** A tensor with its name, as tf.Optimizer's weights are listed. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One decay group's planned scalars, tagged with the kernel family that takes them. */
type GroupScalars =
  | { readonly family: 'adam'; readonly scalars: AdamStepScalars }
  | { readonly family: 'sgd'; readonly scalars: SgdStepScalars };

/** The saved form of a StepValue or Schedule: a number, a schedule config, or null (none). */
type SavedStep = number | tf.serialization.ConfigDict | null;

interface Entry {
  /** The variable this entry updates; null until a restored entry is bound at a step. */
  variable: tf.Variable | null;
  /** The variable's name when the entry was made (saved with the slots). */
  name: string;
  shape: number[];
  /** Excluded from weight decay: uses group 1 (lambda 0). */
  excluded: boolean;
  slots: Map<string, tf.Variable>;
}

const EXTRA_KEYS = ['clipNorm', 'excludeFromDecay'] as const;
const EXCLUSION_KEYS = ['patterns', 'predicate', 'useDefaultRule'] as const;
const SLOT_NAMES = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'momentum_buffer'] as const;

/** Name without tfjs' deduplication suffix: `dense/kernel_1` -> `dense/kernel`. */
function canonicalName(name: string): string {
  return name.replace(/_\d+$/, '');
}

/** Escapes `_` and `%`: tfjs-layers camel-cases every string with `_` in a loaded config. */
function escapeText(text: string): string {
  return text.replace(/%/g, '%25').replace(/_/g, '%5F');
}

function unescapeText(text: string): string {
  return text.replace(/%5F/g, '_').replace(/%25/g, '%');
}

export abstract class DecoupledOptimizer extends tf.Optimizer {
  /** The core kind whose math this optimizer runs. */
  readonly kind: OptimizerKind;
  readonly clipNorm: number | null;
  readonly nonFinite: NonFinitePolicy;
  private hostSkipped = 0;
  private hostNorm: number | null = null;
  /** The norm and skip count of device steps, on the device until read. */
  private readonly deviceStats = new DeviceStepStats();
  /** The core optimizer whose planStep gives each step's scalars (two empty decay groups). */
  protected readonly core: FamilyOptimizer;
  /** The class's short name ('AdamW', 'AdamWR', …), for error messages. */
  private readonly label: string;
  private readonly exclusion: TfjsDecayExclusion;
  private entries: Entry[] = [];
  private readonly byVariable = new Map<tf.Variable, Entry>();

  protected constructor(kind: OptimizerKind, options: TfjsCommonOptions, where: string) {
    super();
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new OptionError(
        'options',
        options,
        'an options object (the variables come from minimize/fit)',
        where,
      );
    }
    if ('params' in options) {
      throw new OptionError(
        'params',
        (options as { params: unknown }).params,
        'not given: tfjs optimizers take their variables from minimize, applyGradients or fit',
        where,
      );
    }
    const { clipNorm, excludeFromDecay, ...coreOptions } = options;
    if ('kernels' in coreOptions) {
      throw new OptionError('kernels', 'given', 'not given: tfjs runs its backend kernels', where);
    }
    this.kind = kind;
    this.label = where;
    this.clipNorm =
      clipNorm === undefined ? null : checkNumber('clipNorm', clipNorm, { above: 0 }, where);
    this.exclusion = checkExclusion(excludeFromDecay, where);
    // Unknown keys first, against the core's option names and ours.
    const coreKeys = optimizerOptionNames(kind).filter((key) => key !== 'kernels');
    checkKnownKeys(options, [...coreKeys, ...EXTRA_KEYS], where);
    // The core checks every other option and owns the step count.
    const groups = [{ params: [] }, { params: [], weightDecay: 0 }];
    try {
      this.core = createOptimizer(kind, groups, coreOptions);
    } catch (error) {
      throw error instanceof OptionError ? error.relabeled(where) : error;
    }
    this.nonFinite = this.core.optimizer.nonFinite;
    this.iterations_ = 0;
    registerOptimizerKernels();
  }

  /**
   * Steps skipped for a non-finite gradient (nonFinite: 'skip'). After steps on a GPU backend,
   * reading it reads the device's count (one scalar).
   */
  get skippedSteps(): number {
    this.hostSkipped += this.deviceStats.takeSkipped();
    return this.hostSkipped;
  }

  /**
   * The global gradient norm of the last step, before clipping (when clipNorm is set). After a
   * step on a GPU backend, the first read of it reads one scalar from the device.
   */
  get lastGradNorm(): number | null {
    this.hostNorm = this.deviceStats.takeNorm() ?? this.hostNorm;
    return this.hostNorm;
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
    const ex = this.exclusion;
    const groups = groupParams([[name, { values: new Float32Array(0), shape }]], {
      patterns: ex.patterns,
      useDefaultRule: ex.useDefaultRule,
      predicate: ex.predicate ? (n, _v, s) => ex.predicate?.(n, s ?? []) === true : undefined,
    } satisfies DecayExclusion);
    return groups[0].weightDecay === 0;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const where = `${this.label}.applyGradients`;
    const items = this.resolve(variableGradients, where);
    if (runsOnDevice(tf.getBackend())) {
      this.applyOnDevice(items);
      return;
    }
    // 1. Checks, before any write.
    if (this.nonFinite !== 'ignore') {
      for (let i = 0; i < items.length; i++) {
        const bad = firstNonFinite(items[i].grad);
        if (!bad) continue;
        if (this.nonFinite === 'error') throw new NonFiniteGradientError(i, bad[0], bad[1]);
        this.hostSkipped++;
        return;
      }
    }
    // 3. The core's plan for this step (checks schedule(t), weightDecay(t)); nothing written yet.
    const planned = this.planStep();
    const entries = items.map((it) => this.entryFor(it.variable));
    tf.tidy(() => {
      // 2. Clipping (new gradient tensors; the caller's are not changed).
      const grads = this.clip(items.map((it) => it.grad));
      // 4. The updates, then the step count.
      entries.forEach((entry, i) => {
        this.update(entry, grads[i], planned[entry.excluded ? 1 : 0]);
      });
    });
    this.core.optimizer.stepCount++;
    this.iterations_ = this.core.optimizer.stepCount;
  }

  override dispose(): void {
    this.deviceStats.dispose();
    for (const e of this.entries) for (const s of e.slots.values()) s.dispose();
    this.entries = [];
    this.byVariable.clear();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [
      { name: 'iter', tensor: tf.scalar(this.core.optimizer.stepCount, 'int32') },
    ];
    for (const e of this.entries) {
      for (const slot of SLOT_NAMES) {
        const t = e.slots.get(slot);
        if (t) weights.push({ name: `${e.name}/${slot}`, tensor: t });
      }
    }
    return weights;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const where = `${this.label}.setWeights`;
    if (
      !Array.isArray(weightValues) ||
      weightValues.length === 0 ||
      weightValues[0]?.name !== 'iter'
    ) {
      throw new OptionError(
        'weightValues',
        weightValues,
        "the list from getWeights(): 'iter' first, then '<variable>/<slot>' tensors",
        where,
      );
    }
    const iter = (await weightValues[0].tensor.data())[0];
    checkNumber("weightValues 'iter'", iter, { min: 0, integer: true }, where);
    const restored: Entry[] = [];
    for (const { name, tensor } of weightValues.slice(1)) {
      const cut = typeof name === 'string' ? name.lastIndexOf('/') : -1;
      const slot = cut > 0 ? name.slice(cut + 1) : '';
      if (!(SLOT_NAMES as readonly string[]).includes(slot) || tensor.dtype !== 'float32') {
        throw new OptionError(
          'weightValues name',
          name,
          `'<variable>/<slot>' with a float32 tensor, slot one of ${SLOT_NAMES.join(', ')}`,
          where,
        );
      }
      const varName = name.slice(0, cut);
      let entry = restored.find((e) => e.name === varName);
      if (!entry) {
        entry = {
          variable: null,
          name: varName,
          shape: tensor.shape,
          excluded: false,
          slots: new Map(),
        };
        restored.push(entry);
      } else if (!tf.util.arraysEqual(entry.shape, tensor.shape)) {
        throw new OptionError(
          `weightValues '${name}' shape`,
          tensor.shape,
          `[${entry.shape}]`,
          where,
        );
      }
      // Shares the caller's data until the first step makes it private (see ownedSlot).
      entry.slots.set(slot, tf.variable(tensor, false));
    }
    this.dispose();
    this.entries = restored;
    this.core.optimizer.stepCount = iter;
    this.iterations_ = iter;
  }

  /** The serializable configuration: base lr, schedule config, decay settings, exclusion rules. */
  override getConfig(): tf.serialization.ConfigDict {
    const where = `${this.label}.getConfig`;
    const h = this.core.optimizer.paramGroups[0].hyper as unknown as Record<string, unknown>;
    const config: tf.serialization.ConfigDict = {};
    for (const [key, value] of Object.entries(h)) {
      if (key === 'schedule' || key === 'weightDecay') continue;
      config[key] = Array.isArray(value) ? [...value] : (value as tf.serialization.ConfigDictValue);
    }
    config.weightDecay = saveStep('weightDecay', h.weightDecay as StepValue, where);
    config.schedule = saveStep('schedule', h.schedule as Schedule | undefined, where);
    config.nonFinite = this.nonFinite;
    config.clipNorm = this.clipNorm;
    const ex = this.exclusion;
    if (ex.predicate) {
      throw new OptionError(
        'excludeFromDecay.predicate',
        ex.predicate,
        'absent for a saved optimizer (a function cannot be saved; use patterns)',
        where,
      );
    }
    config.excludeFromDecay = {
      useDefaultRule: ex.useDefaultRule ?? true,
      patterns: (ex.patterns ?? []).map((p) =>
        typeof p === 'string'
          ? { text: escapeText(p) }
          : { regex: escapeText(p.source), flags: p.flags },
      ),
    } as unknown as tf.serialization.ConfigDict;
    return config;
  }

  /** Options rebuilt from a config written by getConfig (after tfjs-layers' key conversion). */
  static optionsFromConfig(config: tf.serialization.ConfigDict): Record<string, unknown> {
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      // tfjs-layers' deserialize adds customObjects to the config it passes.
      if (value === null || value === undefined || key === 'customObjects') continue;
      if (key === 'schedule' || key === 'weightDecay') {
        options[key] = typeof value === 'number' ? value : scheduleFromConfig(value);
      } else if (key === 'excludeFromDecay') {
        const ex = value as { useDefaultRule?: boolean; patterns?: Record<string, string>[] };
        options.excludeFromDecay = {
          useDefaultRule: ex.useDefaultRule,
          patterns: (ex.patterns ?? []).map((p) =>
            'regex' in p ? new RegExp(unescapeText(p.regex), p.flags) : unescapeText(p.text),
          ),
        };
      } else {
        options[key] = value;
      }
    }
    return options;
  }

  // -------------------------------------------------------------------------------------------

  /** The core's scalars of the next step for the decayed (0) and the excluded (1) group. */
  private planStep(): GroupScalars[] {
    const core = this.core;
    if (core.family === 'adam') {
      return core.optimizer.planStep().groups.map((g) => ({ family: 'adam', scalars: g.scalars }));
    }
    return core.optimizer.planStep().groups.map((g) => ({ family: 'sgd', scalars: g.scalars }));
  }

  private resolve(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
    where: string,
  ): { variable: tf.Variable; grad: tf.Tensor }[] {
    const pairs: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((ng) => [ng?.name, ng?.tensor])
      : Object.entries(variableGradients ?? {});
    const registered = tf.engine().registeredVariables;
    const items: { variable: tf.Variable; grad: tf.Tensor }[] = [];
    const seen = new Set<tf.Variable>();
    for (const [name, grad] of pairs) {
      if (grad == null) continue; // tfjs: a variable without a gradient is left as is
      const variable = registered[name];
      if (!variable) {
        throw new OptionError(
          'variableGradients name',
          name,
          'the name of a registered tf.Variable',
          where,
        );
      }
      if (!(grad instanceof tf.Tensor) || grad.dtype !== 'float32') {
        throw new OptionError(`gradient of '${name}'`, grad, 'a float32 tf.Tensor', where);
      }
      if (!tf.util.arraysEqual(grad.shape, variable.shape)) {
        throw new OptionError(
          `gradient of '${name}' shape`,
          grad.shape,
          `the variable's shape [${variable.shape}]`,
          where,
        );
      }
      if (variable.dtype !== 'float32') {
        throw new OptionError(`variable '${name}' dtype`, variable.dtype, "'float32'", where);
      }
      if (seen.has(variable)) {
        throw new OptionError('variableGradients', name, 'each variable once', where);
      }
      seen.add(variable);
      items.push({ variable, grad });
    }
    return items;
  }

  /** The entry of `variable`: known, a restored one bound now, or a new one. */
  private entryFor(variable: tf.Variable): Entry {
    const known = this.byVariable.get(variable);
    if (known) return known;
    const pending = this.entries.filter((e) => e.variable === null);
    const canonical = canonicalName(variable.name);
    const byCanonical = pending.filter((e) => canonicalName(e.name) === canonical);
    let entry =
      pending.find((e) => e.name === variable.name) ??
      (byCanonical.length === 1 ? byCanonical[0] : undefined) ??
      pending[0];
    if (entry) {
      if (!tf.util.arraysEqual(entry.shape, variable.shape)) {
        throw new OptionError(
          `restored state '${entry.name}' shape`,
          entry.shape,
          `the shape of variable '${variable.name}' it was matched to, [${variable.shape}]`,
          `${this.label}.applyGradients`,
        );
      }
      entry.variable = variable;
    } else {
      entry = {
        variable,
        name: variable.name,
        shape: variable.shape,
        excluded: false,
        slots: new Map(),
      };
      this.entries.push(entry);
    }
    entry.excluded = this.isExcludedFromDecay(variable.name, variable.shape);
    this.byVariable.set(variable, entry);
    return entry;
  }

  /** Gradients scaled to the global norm clipNorm (src/core/clip.ts's rule), or as given. */
  private clip(grads: tf.Tensor[]): tf.Tensor[] {
    if (this.clipNorm === null) return grads;
    const norm = globalNorm(grads.map(readView));
    this.hostNorm = norm;
    const c = clipCoefficient(norm, this.clipNorm);
    if (c === null) return grads;
    if (tf.getBackend() === 'cpu') {
      // cpu's generic broadcasting Mul is slow; this loop rounds each product to float32 the same.
      return grads.map((g) => {
        const a = readView(g);
        const out = new Float32Array(a.length);
        for (let i = 0; i < a.length; i++) out[i] = a[i] * c;
        return tf.tensor(out, g.shape, 'float32');
      });
    }
    const scale = tf.scalar(c);
    return grads.map((g) => tf.mul(g, scale));
  }

  /**
   * The step on a GPU or other device backend (./gpu/device-step.ts): checks, clipping and the
   * updates on the device; nothing is read back except with nonFinite 'error' (one scalar).
   */
  private applyOnDevice(items: { variable: tf.Variable; grad: tf.Tensor }[]): void {
    const planned = this.planStep();
    const entries = items.map((it) => this.entryFor(it.variable));
    tf.tidy(() => {
      const grads = items.map((it) => it.grad);
      const step = deviceControl(grads, this.clipNorm, this.nonFinite);
      if (this.nonFinite === 'error' && step.finite?.dataSync()[0] === 0) {
        // The one read of this policy; locating the element reads the gradients (error path).
        const at = grads.findIndex((g) => firstNonFinite(g) !== null);
        const bad = at < 0 ? [-1, Number.NaN] : (firstNonFinite(grads[at]) as [number, number]);
        throw new NonFiniteGradientError(at, bad[0], bad[1]);
      }
      this.deviceStats.record(step, this.nonFinite === 'skip');
      entries.forEach((entry, i) => {
        this.updateOnDevice(entry, grads[i], planned[entry.excluded ? 1 : 0], step.control);
      });
    });
    // A step skipped on the device still counts: the host cannot know without a read.
    this.core.optimizer.stepCount++;
    this.iterations_ = this.core.optimizer.stepCount;
  }

  private updateOnDevice(
    entry: Entry,
    grad: tf.Tensor,
    group: GroupScalars,
    control: tf.Scalar | null,
  ): void {
    const param = entry.variable as tf.Variable;
    const slot = (name: string) => {
      let t = entry.slots.get(name);
      // In its own scope, so the zeros are released and the slot owns its data.
      t ??= tf.tidy(() => tf.variable(tf.zeros(entry.shape, 'float32'), false));
      entry.slots.set(name, t);
      return t;
    };
    let slots: tf.Variable[];
    let update: DeviceUpdate;
    if (group.family === 'adam') {
      slots = [slot('exp_avg'), slot('exp_avg_sq')];
      if (group.scalars.amsgrad) slots.push(slot('max_exp_avg_sq'));
      const [m, v, vMax] = slots;
      update = { family: 'adam', inputs: { param, grad, m, v, vMax }, scalars: group.scalars };
    } else {
      const m = group.scalars.momentum;
      const firstStep = firstMomentumStep(m, entry.slots.has('momentum_buffer'));
      slots = m !== 0 ? [slot('momentum_buffer')] : [];
      update = {
        family: 'sgd',
        inputs: { param, grad, buf: slots[0] },
        scalars: { ...group.scalars, firstStep },
      };
    }
    const kernel = group.family === 'adam' ? ADAM_KERNEL : SGD_KERNEL;
    deviceUpdate(kernel, param, update, control);
  }

  /** Slot `name` of `entry`, created as zeros, its data never shared with another tensor. */
  private ownedSlot(entry: Entry, name: string): tf.Variable {
    let t = entry.slots.get(name);
    if (!t) {
      t = tf.variable(tf.zeros(entry.shape, 'float32'), false);
      entry.slots.set(name, t);
    } else if (sharedData(t)) {
      // Kernels update slots in place: first give the slot its own copy of the data.
      t.assign(tf.tensor(Float32Array.from(readView(t)), t.shape, 'float32'));
    }
    return t;
  }

  private update(entry: Entry, grad: tf.Tensor, group: GroupScalars): void {
    const variable = entry.variable as tf.Variable;
    const backend = tf.getBackend();
    const inPlace = updatesInPlace(backend);
    if (inPlace && sharedData(variable)) {
      // In-place kernels need the variable's own memory (assign() shares data with its source).
      variable.assign(tf.tensor(Float32Array.from(readView(variable)), variable.shape, 'float32'));
    }
    const inputs: tf.NamedTensorMap = { param: variable, grad };
    let kernel: string;
    let attrs: Record<string, number | boolean>;
    if (group.family === 'adam') {
      kernel = ADAM_KERNEL;
      attrs = { ...group.scalars };
      inputs.m = this.ownedSlot(entry, 'exp_avg');
      inputs.v = this.ownedSlot(entry, 'exp_avg_sq');
      if (group.scalars.amsgrad) inputs.vMax = this.ownedSlot(entry, 'max_exp_avg_sq');
    } else {
      kernel = SGD_KERNEL;
      const m = group.scalars.momentum;
      const firstStep = firstMomentumStep(m, entry.slots.has('momentum_buffer'));
      attrs = { ...group.scalars, firstStep };
      if (m !== 0) inputs.buf = this.ownedSlot(entry, 'momentum_buffer');
    }
    if (hasKernel(kernel)) {
      const out = tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor | undefined;
      if (!inPlace && out) variable.assign(out);
      return;
    }
    this.updateAnywhere(entry, inputs, attrs, group.family);
  }

  /** Any backend: the core's loops on copies read with dataSync, written back as new tensors. */
  private updateAnywhere(
    entry: Entry,
    inputs: tf.NamedTensorMap,
    attrs: Record<string, number | boolean>,
    family: GroupScalars['family'],
  ): void {
    const copy = (t: tf.Tensor | undefined) => (t ? Float32Array.from(t.dataSync()) : null);
    const p = copy(inputs.param) as Float32Array;
    const g = inputs.grad.dataSync() as Float32Array;
    const kernels = getDefaultKernels();
    const slotArrays: [string, Float32Array | null][] =
      family === 'adam'
        ? [
            ['exp_avg', copy(inputs.m)],
            ['exp_avg_sq', copy(inputs.v)],
            ['max_exp_avg_sq', copy(inputs.vMax)],
          ]
        : [['momentum_buffer', copy(inputs.buf)]];
    if (family === 'adam') {
      const s = attrs as unknown as Parameters<typeof kernels.adam>[5];
      kernels.adam(
        p,
        g,
        slotArrays[0][1] as Float32Array,
        slotArrays[1][1] as Float32Array,
        slotArrays[2][1],
        s,
      );
    } else {
      kernels.sgd(p, g, slotArrays[0][1], attrs as unknown as Parameters<typeof kernels.sgd>[3]);
    }
    (entry.variable as tf.Variable).assign(tf.tensor(p, entry.shape, 'float32'));
    for (const [name, values] of slotArrays) {
      if (!values) continue;
      entry.slots.get(name)?.assign(tf.tensor(values, entry.shape, 'float32'));
    }
  }
}

function checkExclusion(value: unknown, where: string): TfjsDecayExclusion {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionError(
      'excludeFromDecay',
      value,
      '{ patterns?: (string | RegExp)[], predicate?: (name, shape) => boolean, useDefaultRule?: boolean }',
      where,
    );
  }
  checkKnownKeys(value, EXCLUSION_KEYS, where, 'excludeFromDecay.');
  const ex = value as TfjsDecayExclusion;
  if (
    ex.patterns !== undefined &&
    (!Array.isArray(ex.patterns) ||
      ex.patterns.some((p) => typeof p !== 'string' && !(p instanceof RegExp)))
  ) {
    throw new OptionError(
      'excludeFromDecay.patterns',
      ex.patterns,
      'an array of strings and RegExps',
      where,
    );
  }
  if (ex.predicate !== undefined && typeof ex.predicate !== 'function') {
    throw new OptionError(
      'excludeFromDecay.predicate',
      ex.predicate,
      'a function (name, shape) => boolean',
      where,
    );
  }
  if (ex.useDefaultRule !== undefined)
    checkBoolean('excludeFromDecay.useDefaultRule', ex.useDefaultRule, where);
  return { ...ex, patterns: ex.patterns ? [...ex.patterns] : undefined };
}

function saveStep(
  option: string,
  value: StepValue | Schedule | undefined,
  where: string,
): SavedStep {
  if (value === undefined) return null;
  if (typeof value === 'number') return value;
  const config = (value as Schedule).config;
  if (!config) {
    throw new OptionError(
      option,
      value,
      'a number or a schedule from decoupled (with a config) for a saved optimizer',
      where,
    );
  }
  return JSON.parse(JSON.stringify(config)) as tf.serialization.ConfigDict;
}

/**
 * The optimizer base class: parameter groups, option validation, the schedule multiplier eta_t,
 * the step-dependent weight decay lambda_t, the non-finite gradient policy and the state dict. The
 * per-element math lives in the update kernels (./kernels.ts); subclasses only turn a group's
 * hyperparameters into the kernel's scalars for step t.
 *
 * One step, for step index t (0-based, the number of steps taken so far), is plan then apply:
 *   plan (planStep, public; reads state, writes nothing; every check that can fail is here):
 *     eta_t    = schedule(t)                 (1 without a schedule; finite and >= 0)
 *     lr_t     = lr * eta_t
 *     lambda_t = weightDecay(t)              (or the constant weightDecay; finite and >= 0)
 *     scalars  = the kernel's scalars of each group (AdamStepScalars, SgdStepScalars: ./kernels.ts)
 *   apply (applyPlan): each parameter is updated by the kernel with its group's scalars.
 * `step` checks the gradients and the non-finite policy, plans, applies, and advances t, so a step
 * either updates every parameter or none. Adapters (decoupled/tfjs) call planStep and run their
 * own kernels with the planned scalars.
 *
 * Two features live here, once, for every optimizer: `accumulate: k` (./accumulate.ts: a step every
 * k calls, on the mean gradient) and `ema` (./ema.ts: averages of the weights after each applied
 * step, `averages()`, `swapAverages()`). decoupled/tfjs runs the same rules on its variables
 * (src/tfjs/accumulate.ts, src/tfjs/ema.ts).
 */
import { accumulateSetting, GradientAccumulator } from './accumulate.js';
import { type EmaOptions, emaSettings, WeightAverages } from './ema.js';
import { NonFiniteGradientError, OptionError } from './errors.js';
import { checkSlotList } from './feature-state.js';
import { firstNonFinite, referenceKernels, type UpdateKernels } from './kernels.js';
import {
  type ExtraStateValue,
  type OptimizerStateDict,
  type SavedGroupHyper,
  validateStateDict,
} from './state.js';
import {
  type CoreOptimizerKind,
  NON_FINITE_POLICIES,
  type NonFinitePolicy,
  type Schedule,
  type StepValue,
} from './types.js';
import { checkFunction, checkKnownKeys, checkNumber, checkOneOf } from './validate.js';

let defaultKernels: UpdateKernels = referenceKernels;

/** Sets the update kernels that optimizers created afterwards use when none are passed. */
export function setDefaultKernels(kernels: UpdateKernels): void {
  defaultKernels = kernels;
}

/** The update kernels new optimizers use by default. */
export function getDefaultKernels(): UpdateKernels {
  return defaultKernels;
}

/** Hyperparameters every group has. */
export interface BaseHyper {
  lr: number;
  weightDecay: StepValue;
  maximize: boolean;
  schedule?: Schedule;
}

/** Options that apply to the whole optimizer, not to a group. */
export interface GlobalOptions {
  /** What a step does with a NaN or infinite gradient (default 'error'). */
  nonFinite?: NonFinitePolicy;
  /** The update loops to run (default: the fastest available, see setDefaultKernels). */
  kernels?: UpdateKernels;
  /** Weight averaging (./ema.ts): true for the defaults, or { decay, every, debias }. */
  ema?: boolean | EmaOptions;
  /** Gradient accumulation (./accumulate.ts): apply a step every k calls (default 1). */
  accumulate?: number;
}

/** A parameter group as given by the user: its params and any per-group overrides. */
export type ParamGroupInput<H> = { params: Float32Array[]; names?: string[] } & Partial<H>;

/** A resolved group: its params and its full hyperparameters. */
export interface ParamGroup<H> {
  readonly params: Float32Array[];
  readonly names?: string[];
  hyper: H;
}

/** What a subclass tells the base class about itself. */
export interface OptimizerSpec<H extends BaseHyper> {
  readonly kind: CoreOptimizerKind;
  readonly defaults: H;
  /** Hyperparameters without a default (absent unless given), e.g. cautiousDecay. */
  readonly optionalKeys?: readonly string[];
  /** Checks a complete hyperparameter set; throws OptionError naming `where`. */
  validate(hyper: H, where: string): void;
}

/** The options of `GlobalOptions` that every adapter also takes. */
export const GLOBAL_OPTION_KEYS = ['nonFinite', 'kernels'] as const;

/**
 * The options of `GlobalOptions` whose state lives per parameter (ema, accumulate): the core keeps
 * it here; decoupled/tfjs parses them itself and keeps the state in its slots.
 */
export const CORE_ONLY_OPTION_KEYS = ['ema', 'accumulate'] as const;

/** One group's part of a planned step: the step-dependent values and the kernel's scalars. */
export interface GroupPlan<S> {
  /** eta_t = schedule(t) (1 without a schedule), checked finite and >= 0. */
  readonly eta: number;
  /** lr_t = lr * eta_t. */
  readonly lr: number;
  /** lambda_t = weightDecay(t) or the constant weightDecay, checked finite and >= 0. */
  readonly weightDecay: number;
  /** What the update kernel takes for this group (AdamStepScalars or SgdStepScalars). */
  readonly scalars: S;
}

/** A planned step: one GroupPlan per parameter group, in the order of `paramGroups`. */
export interface StepPlan<S> {
  /** The 0-based index t of the planned step (the stepCount it was planned at). */
  readonly step: number;
  readonly groups: readonly GroupPlan<S>[];
}

/**
 * The base of every core optimizer. `H`: a group's hyperparameters; `S`: the per-group scalars
 * its kernel takes, as planned by `planStep`.
 */
export abstract class Optimizer<H extends BaseHyper, S = unknown> {
  readonly kind: CoreOptimizerKind;
  readonly paramGroups: ParamGroup<H>[];
  readonly nonFinite: NonFinitePolicy;
  kernels: UpdateKernels;
  /** Steps taken so far, which is also the 0-based index of the next step. */
  stepCount = 0;
  /** Steps skipped because a gradient was not finite (nonFinite: 'skip'). */
  skippedSteps = 0;
  /** Every parameter, in the order of the groups: the order `step` expects the gradients in. */
  protected readonly params: Float32Array[];
  /** Per-parameter state arrays by slot name (PyTorch's names); null where a slot is unused. */
  protected readonly slots: Record<string, (Float32Array | null)[]> = {};
  /** The weight averages (option `ema`), or null. */
  private readonly ema: WeightAverages | null;
  /** The gradient window (option `accumulate` > 1), or null. */
  private readonly accumulator: GradientAccumulator | null;

  protected constructor(
    params: Float32Array[] | ParamGroupInput<H>[],
    options: Partial<H> & GlobalOptions,
    spec: OptimizerSpec<H>,
  ) {
    const where = spec.kind;
    this.kind = spec.kind;
    const hyperKeys = [...Object.keys(spec.defaults), ...(spec.optionalKeys ?? [])];
    if (options === null || typeof options !== 'object') {
      throw new OptionError('options', options, 'an object', where);
    }
    checkKnownKeys(
      options,
      [...hyperKeys, 'schedule', ...GLOBAL_OPTION_KEYS, ...CORE_ONLY_OPTION_KEYS],
      where,
    );
    const ema = emaSettings(options.ema, where);
    const accumulate = accumulateSetting(options.accumulate, where);
    this.nonFinite = checkOneOf(
      'nonFinite',
      options.nonFinite ?? 'error',
      NON_FINITE_POLICIES,
      where,
    );
    this.kernels = options.kernels ?? defaultKernels;
    const base = { ...spec.defaults };
    for (const key of [...hyperKeys, 'schedule']) {
      const value = (options as Record<string, unknown>)[key];
      if (value !== undefined) (base as Record<string, unknown>)[key] = value;
    }
    this.paramGroups = normalizeGroups(params, base, hyperKeys, spec, where);
    this.params = this.paramGroups.flatMap((g) => g.params);
    this.ema = ema ? new WeightAverages(ema, this.params.length) : null;
    this.accumulator =
      accumulate > 1 ? new GradientAccumulator(accumulate, this.params.length) : null;
  }

  /**
   * Applies one update with `grads`, given in the flattened order of the groups. Returns false if
   * the step was skipped (nonFinite: 'skip' and a gradient was not finite), true otherwise. With
   * `accumulate: k`, only every k-th accepted call applies a step (with the mean gradient); the
   * others only add to the window.
   */
  step(grads: readonly Float32Array[]): boolean {
    this.checkGrads(grads);
    this.checkCanStep(`${this.kind}.step`);
    if (this.nonFinite !== 'ignore') {
      for (let i = 0; i < grads.length; i++) {
        const bad = firstNonFinite(grads[i], this.kernels.allFinite);
        if (!bad) continue;
        if (this.nonFinite === 'error') throw new NonFiniteGradientError(i, bad[0], bad[1]);
        this.skippedSteps++;
        return false;
      }
    }
    const window = this.accumulator;
    if (window && !window.completesNext) {
      window.add(grads);
      return true;
    }
    const plan = this.planStep();
    this.applyPlan(plan, window ? window.finish(grads) : grads);
    this.stepCount++;
    this.afterStep();
    return true;
  }

  /** Gradient calls in the current accumulation window (0 without `accumulate`). */
  get accumulatedCalls(): number {
    return this.accumulator?.calls ?? 0;
  }

  /**
   * Copies of the averaged weights (option `ema`), one per parameter in the order of `step`'s
   * gradients. Before the first step, copies of the parameters.
   */
  averages(): Float32Array[] {
    return this.requireEma('averages').averages(this.params);
  }

  /**
   * Swaps the averaged weights into the parameters (to evaluate with them), or, if they are
   * swapped in, puts the trained weights back. No step may be taken while they are swapped in.
   */
  swapAverages(): void {
    this.requireEma('swapAverages').swap(this.params);
  }

  /** True while swapAverages has put the averaged weights in the parameters. */
  get averagesSwapped(): boolean {
    return this.ema?.swapped ?? false;
  }

  /** Throws if a step may not be taken now (averages swapped in; subclasses add their own). */
  protected checkCanStep(where: string): void {
    if (this.ema?.swapped) {
      throw new OptionError(
        'swapAverages',
        'swapped in',
        'swapped back (call swapAverages() again) before a step',
        where,
      );
    }
  }

  /** What follows every applied step: the EMA update and its `every` overwrite. */
  private afterStep(): void {
    const ema = this.ema;
    if (!ema) return;
    ema.update(this.params);
    if (ema.overwriteDue()) {
      const averaged = ema.averages(this.params);
      this.params.forEach((p, i) => {
        p.set(averaged[i]);
      });
    }
  }

  private requireEma(method: string): WeightAverages {
    if (!this.ema) {
      throw new OptionError(
        'ema',
        undefined,
        `set (ema: true or { decay }) to call ${method}()`,
        this.kind,
      );
    }
    return this.ema;
  }

  /**
   * The scalars of the next step (index stepCount) for every group, checked: eta_t, lr_t,
   * lambda_t and the kernel's scalars. Changes nothing; throws an OptionError naming the group and
   * step if schedule(t) or weightDecay(t) is not a finite number >= 0.
   */
  planStep(): StepPlan<S> {
    const t = this.stepCount;
    const groups = this.paramGroups.map((group, i): GroupPlan<S> => {
      const where = `${this.kind} group ${i} at step ${t}`;
      const eta = scheduleValue(group.hyper, t, where);
      const wd = group.hyper.weightDecay;
      const lambda =
        typeof wd === 'function'
          ? checkNumber('weightDecay(step)', wd(t), { min: 0 }, where)
          : (wd as number);
      const lr = group.hyper.lr * eta;
      return {
        eta,
        lr,
        weightDecay: lambda,
        scalars: this.groupScalars(group.hyper, t, eta, lr, lambda, i),
      };
    });
    return { step: t, groups };
  }

  /** Runs the kernel on every parameter with its group's planned scalars (nothing is re-derived). */
  protected applyPlan(plan: StepPlan<S>, grads: readonly Float32Array[]): void {
    let index = 0;
    plan.groups.forEach((group, i) => {
      for (const param of this.paramGroups[i].params) {
        this.updateParam(index, param, grads[index], group.scalars);
        index++;
      }
    });
  }

  /** The scheduled learning rate lr * eta_t of each group for the next step. */
  currentLearningRates(): number[] {
    return this.paramGroups.map(
      (g) => g.hyper.lr * scheduleValue(g.hyper, this.stepCount, this.kind),
    );
  }

  /** A deep copy of the optimizer state as plain data (see ./state.ts for the encodings). */
  stateDict(): OptimizerStateDict {
    const slots: OptimizerStateDict['slots'] = {};
    const names = Object.keys(
      this.expectedSlots(
        this.paramGroups.map((g) => g.hyper),
        this.stepCount,
      ),
    );
    for (const name of names) {
      slots[name] = this.params.map((_, i) => this.slots[name]?.[i]?.slice() ?? null);
    }
    const extra: Record<string, ExtraStateValue> = { ...this.saveExtra() };
    for (const feature of [this.ema, this.accumulator]) {
      if (!feature) continue;
      const saved = feature.save();
      Object.assign(slots, saved.slots);
      Object.assign(extra, saved.extra);
    }
    const state: OptimizerStateDict = {
      format: 'decoupled.optimizer',
      version: 1,
      optimizer: this.kind,
      stepCount: this.stepCount,
      skippedSteps: this.skippedSteps,
      paramLengths: this.params.map((p) => p.length),
      groups: this.paramGroups.map((g) => ({
        paramCount: g.params.length,
        hyper: this.saveHyper(g.hyper),
      })),
      slots,
    };
    if (Object.keys(extra).length > 0) state.extra = extra;
    return state;
  }

  /**
   * Restores a state saved by `stateDict` from an optimizer of the same kind over parameters of
   * the same shapes. Numeric hyperparameters are restored from the state (as in PyTorch); a
   * schedule or weight decay given as a function stays the one this optimizer was built with.
   * Everything is checked first, so a rejected state changes nothing.
   */
  loadStateDict(state: OptimizerStateDict): void {
    const where = `${this.kind}.loadStateDict`;
    // Format, version, types and counts; what follows checks the state against this optimizer.
    validateStateDict(state, where);
    if (state.optimizer !== this.kind) {
      throw new OptionError('state.optimizer', state.optimizer, `'${this.kind}'`, where);
    }
    const lengths = this.checkSavedShapes(state, where);
    const restored = state.groups.map((saved, i) =>
      this.restoreHyper(this.paramGroups[i].hyper, saved.hyper, `${where} groups[${i}]`),
    );
    const expected = this.expectedSlots(restored, state.stepCount);
    for (const [name, perParam] of Object.entries(expected)) {
      const saved = state.slots?.[name];
      const allOptional = perParam.every((need) => need === 'optional');
      if (saved === undefined && !allOptional) {
        throw new OptionError(`state.slots.${name}`, saved, `${lengths.length} entries`, where);
      }
      const arrays = checkSlotList(name, saved, lengths, false, where);
      arrays.forEach((a, i) => {
        if (a === null && perParam[i] === 'required') {
          throw new OptionError(
            `state.slots.${name}[${i}]`,
            a,
            `a Float32Array of length ${lengths[i]}`,
            where,
          );
        }
      });
    }
    const extra = state.extra;
    const pending = extra?.['accumulate.calls'];
    if (!this.accumulator && pending !== undefined && pending !== 0) {
      throw new OptionError(
        'state.extra["accumulate.calls"]',
        pending,
        '0 for an optimizer without accumulate (its partial gradient sums would be lost)',
        where,
      );
    }
    const appliers = [
      this.restoreExtra(extra, where),
      ...[this.ema, this.accumulator].map((feature) =>
        feature ? feature.restore(state.slots, extra, lengths, where) : () => {},
      ),
    ];
    // Checked: now apply, all of it.
    restored.forEach((hyper, i) => {
      this.paramGroups[i].hyper = hyper;
    });
    this.restoreSlots(state, Object.keys(expected), lengths);
    for (const apply of appliers) apply();
    this.stepCount = state.stepCount;
    this.skippedSteps = state.skippedSteps;
  }

  /** Checks the saved groups and parameter lengths against this optimizer's; returns the lengths. */
  private checkSavedShapes(state: OptimizerStateDict, where: string): number[] {
    const groups = state.groups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new OptionError(
        'state.groups',
        groups,
        `${this.paramGroups.length} group(s), as this optimizer has`,
        where,
      );
    }
    const lengths = this.params.map((p) => p.length);
    if (
      !Array.isArray(state.paramLengths) ||
      state.paramLengths.length !== lengths.length ||
      state.paramLengths.some((n, i) => n !== lengths[i])
    ) {
      throw new OptionError(
        'state.paramLengths',
        state.paramLengths,
        `the lengths of this optimizer's params [${lengths.join(', ')}]`,
        where,
      );
    }
    groups.forEach((saved, i) => {
      if (saved.paramCount !== this.paramGroups[i].params.length) {
        throw new OptionError(
          `state.groups[${i}].paramCount`,
          saved.paramCount,
          `${this.paramGroups[i].params.length}`,
          where,
        );
      }
    });
    return lengths;
  }

  /** Copies the checked slot arrays `names` of `state` into this optimizer's slots. */
  private restoreSlots(state: OptimizerStateDict, names: string[], lengths: number[]): void {
    for (const name of Object.keys(this.slots)) {
      if (!names.includes(name)) delete this.slots[name];
    }
    for (const name of names) {
      const current = this.slots[name] ?? new Array(lengths.length).fill(null);
      (state.slots?.[name] ?? lengths.map(() => null)).forEach((a, i) => {
        if (a === null) current[i] = null;
        else if (current[i]) current[i].set(a);
        else {
          const slot = this.kernels.allocateState?.(this.params[i]) ?? new Float32Array(a.length);
          slot.set(a);
          current[i] = slot;
        }
      });
      this.slots[name] = current;
    }
  }

  /** Scalar state of a subclass for `OptimizerStateDict.extra` (none by default). */
  protected saveExtra(): Record<string, ExtraStateValue> {
    return {};
  }

  /**
   * Checks a subclass's saved scalar state and returns the function that restores it (called only
   * once everything is checked). None by default.
   */
  protected restoreExtra(
    _extra: Record<string, ExtraStateValue> | undefined,
    _where: string,
  ): () => void {
    return () => {};
  }

  /**
   * The scalars a group's kernel call needs at step index t (checked; nothing written yet);
   * `group` is the group's index in paramGroups.
   */
  protected abstract groupScalars(
    hyper: H,
    t: number,
    eta: number,
    scheduledLr: number,
    lambda: number,
    group: number,
  ): S;

  /** Updates one parameter with its gradient and the scalars of its group. */
  protected abstract updateParam(
    index: number,
    param: Float32Array,
    grad: Float32Array,
    scalars: S,
  ): void;

  /** Saved form of a group's hyperparameters (functions become null). */
  protected abstract saveHyper(hyper: H): SavedGroupHyper;

  /** Which slots a state must have, per parameter: 'required', or 'optional' (may be null). */
  protected abstract expectedSlots(
    hypers: H[],
    stepsTaken: number,
  ): Record<string, ('required' | 'optional')[]>;

  /** Rebuilds a group's hyperparameters from saved ones; functions stay the current ones. */
  protected abstract restoreHyper(current: H, saved: SavedGroupHyper, where: string): H;

  /** Returns the slot array `name` of parameter `index`, creating it (zeros) on first use. */
  protected slot(name: string, index: number): Float32Array {
    let arrays = this.slots[name];
    if (!arrays) {
      arrays = new Array(this.params.length).fill(null);
      this.slots[name] = arrays;
    }
    let a = arrays[index];
    if (!a) {
      const param = this.params[index];
      a = this.kernels.allocateState?.(param) ?? new Float32Array(param.length);
      arrays[index] = a;
    }
    return a;
  }

  private checkGrads(grads: readonly Float32Array[]): void {
    const where = `${this.kind}.step`;
    if (!Array.isArray(grads) || grads.length !== this.params.length) {
      throw new OptionError(
        'grads',
        grads,
        `an array of ${this.params.length} Float32Array(s), one per param`,
        where,
      );
    }
    for (let i = 0; i < grads.length; i++) {
      const g = grads[i];
      if (!(g instanceof Float32Array) || g.length !== this.params[i].length) {
        throw new OptionError(
          `grads[${i}]`,
          g,
          `a Float32Array of length ${this.params[i].length}`,
          where,
        );
      }
    }
  }
}

/** eta_t of a group, checked to be a finite number >= 0. */
function scheduleValue(hyper: BaseHyper, t: number, where: string): number {
  if (!hyper.schedule) return 1;
  return checkNumber('schedule(step)', hyper.schedule(t), { min: 0 }, where);
}

function normalizeGroups<H extends BaseHyper>(
  params: Float32Array[] | ParamGroupInput<H>[],
  base: H,
  hyperKeys: string[],
  spec: OptimizerSpec<H>,
  where: string,
): ParamGroup<H>[] {
  if (!Array.isArray(params) || params.length === 0) {
    throw new OptionError(
      'params',
      params,
      'a non-empty array of Float32Array or of parameter groups { params, ...options }',
      where,
    );
  }
  const inputs: ParamGroupInput<H>[] = params.every((p) => p instanceof Float32Array)
    ? [{ params: params as Float32Array[] } as ParamGroupInput<H>]
    : (params as ParamGroupInput<H>[]);
  const seen = new Set<Float32Array>();
  return inputs.map((input, i) => {
    const groupWhere =
      inputs.length > 1 || !(params[0] instanceof Float32Array) ? `${where} group ${i}` : where;
    if (
      input instanceof Float32Array ||
      Array.isArray(input) ||
      input === null ||
      typeof input !== 'object'
    ) {
      throw new OptionError(
        `params[${i}]`,
        input,
        'a parameter group { params, ...options }',
        where,
      );
    }
    checkKnownKeys(input, ['params', 'names', ...hyperKeys, 'schedule'], groupWhere);
    const list = input.params;
    if (!Array.isArray(list) || list.some((p) => !(p instanceof Float32Array))) {
      throw new OptionError('params', list, 'an array of Float32Array', groupWhere);
    }
    for (const p of list) {
      if (seen.has(p)) {
        throw new OptionError(
          'params',
          'a Float32Array given twice',
          'each param once',
          groupWhere,
        );
      }
      seen.add(p);
    }
    if (input.names !== undefined) {
      if (!Array.isArray(input.names) || input.names.length !== list.length) {
        throw new OptionError(
          'names',
          input.names,
          `${list.length} names, one per param`,
          groupWhere,
        );
      }
    }
    const hyper = { ...base };
    for (const key of [...hyperKeys, 'schedule']) {
      const value = (input as Record<string, unknown>)[key];
      if (value !== undefined) (hyper as Record<string, unknown>)[key] = value;
    }
    validateBaseHyper(hyper, groupWhere);
    spec.validate(hyper, groupWhere);
    return { params: list, names: input.names, hyper };
  });
}

/** Checks the hyperparameters every optimizer has. */
export function validateBaseHyper(hyper: BaseHyper, where: string): void {
  checkNumber('lr', hyper.lr, { min: 0 }, where);
  if (typeof hyper.weightDecay === 'function') {
    checkFunction('weightDecay', hyper.weightDecay, where);
  } else if (typeof hyper.weightDecay === 'number') {
    checkNumber('weightDecay', hyper.weightDecay, { min: 0 }, where);
  } else {
    throw new OptionError(
      'weightDecay',
      hyper.weightDecay,
      'a finite number >= 0 or a function of the step',
      where,
    );
  }
  if (typeof hyper.maximize !== 'boolean') {
    throw new OptionError('maximize', hyper.maximize, 'true or false', where);
  }
  if (hyper.schedule !== undefined) checkFunction('schedule', hyper.schedule, where);
}

/** The saved form of the hyperparameters every optimizer has. */
export function saveBaseHyper(hyper: BaseHyper): SavedGroupHyper {
  return {
    lr: hyper.lr,
    weightDecay: typeof hyper.weightDecay === 'number' ? hyper.weightDecay : null,
    maximize: hyper.maximize,
    schedule: hyper.schedule?.config ?? null,
  };
}

/** Restores the common hyperparameters; keeps functions, and refuses a different schedule. */
export function restoreBaseHyper<H extends BaseHyper>(
  current: H,
  saved: SavedGroupHyper,
  where: string,
): H {
  const next = { ...current, lr: saved.lr, maximize: saved.maximize };
  if (saved.weightDecay !== null) next.weightDecay = saved.weightDecay;
  const currentConfig = current.schedule?.config;
  if (
    saved.schedule &&
    currentConfig &&
    JSON.stringify(saved.schedule) !== JSON.stringify(currentConfig)
  ) {
    throw new OptionError(
      'state schedule',
      saved.schedule,
      `the schedule this optimizer was built with (${JSON.stringify(currentConfig)})`,
      where,
    );
  }
  return next;
}

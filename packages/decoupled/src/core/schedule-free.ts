/**
 * Schedule-free AdamW and SGD (Defazio et al. 2024, "The Road Less Scheduled"), following the
 * reference implementation facebookresearch/schedule_free (schedulefree/adamw_schedulefree.py and
 * sgd_schedulefree.py, the versions with train()/eval()). Three sequences: z (the base SGD/Adam
 * iterates), x (their weighted average, used for evaluation) and y = (1 - beta) z + beta x (where
 * gradients are taken). The parameters hold y in train mode and x in eval mode.
 *
 * Step t (k = t, 0-based), for each group:
 *   lr_t   = lr * eta_t * min(1, (k + 1) / warmupSteps)       (eta_t: optional schedule, default 1)
 *   lrMax  = max(lrMax, lr_t)                                 (starts at -1)
 *   w_t    = (k + 1)^r * lrMax^weightLrPower,  W = W + w_t,  c = w_t / W   (c = 0 if W = 0)
 * and for each element, with beta = beta1 (AdamW) or momentum (SGD):
 *   AdamW:  v = beta2 v + (1 - beta2) g^2;  g = g / (sqrt(v / (1 - beta2^(k+1))) + eps)
 *   g = g + lambda_t y                                         (decay at y, scaled by lr_t below)
 *   y = lerp(y, z, c);  y = y + lr_t (beta (1 - c) - 1) g      (the x and y updates, without x)
 *   z = z - lr_t g
 * (the per-element loop: scheduleFreeReferenceUpdate in ./kernels.ts, run through the optimizer's
 * kernels, which may be the fused WASM kernel). train(): y = lerp(x, z, 1 - beta);
 * eval(): x = lerp(y, z, 1 - 1/beta). On the first step z is a copy of the parameters. Float32
 * operations follow PyTorch 1.13 single-tensor order, and lerp is PyTorch 1.13's: a + w (b - a) if
 * w < 0.5 (negative w included), else b - (b - a) (1 - w).
 *
 * Differences from the reference: the optimizer starts in train mode (the reference starts in
 * eval mode and needs train() first; before the first step the two are the same parameters), the
 * gradients are not modified in place, and `maximize` negates them. Models with BatchNorm need
 * their running statistics recomputed after eval() (the statistics were gathered at y, not x).
 */
import { OptionError } from './errors.js';
import { lerp, type ScheduleFreeScalars, scheduleFreeReferenceUpdate } from './kernels.js';
import {
  type BaseHyper,
  GLOBAL_OPTION_KEYS,
  type GlobalOptions,
  Optimizer,
  type ParamGroupInput,
  restoreBaseHyper,
  type StepPlan,
  saveBaseHyper,
  validateBaseHyper,
} from './optimizer.js';
import type { ExtraStateValue, SavedGroupHyper } from './state.js';
import type { ScheduleFreeKind } from './types.js';
import { checkBetas, checkNumber, checkOneOf } from './validate.js';

const f = Math.fround;

/** What schedule-free AdamW and SGD share: the warmup and the weighting of the average. */
export interface ScheduleFreeCommonHyper extends BaseHyper {
  /** Linear warmup over this many steps (reference `warmup_steps`, default 0). */
  warmupSteps: number;
  /** Polynomial weighting (k + 1)^r of the average (default 0). */
  r: number;
  /** The average weights steps by lrMax^weightLrPower (default 2). */
  weightLrPower: number;
}

export interface ScheduleFreeAdamWHyper extends ScheduleFreeCommonHyper {
  betas: readonly [number, number];
  eps: number;
}

export interface ScheduleFreeSgdHyper extends ScheduleFreeCommonHyper {
  momentum: number;
}

export type ScheduleFreeAdamWOptions = Partial<ScheduleFreeAdamWHyper> & GlobalOptions;
export type ScheduleFreeSGDOptions = Partial<ScheduleFreeSgdHyper> & GlobalOptions;

// Also importable from here, next to the optimizers that run it (its home is ./kernels.ts).
export { scheduleFreeReferenceUpdate };

/**
 * The scalars of one schedule-free step of one group (planStep; float64): the kernel's, and the
 * group state the step leaves behind.
 */
export interface ScheduleFreeStepScalars extends ScheduleFreeScalars {
  /** The group's lrMax and W after this step, written when the step is applied. */
  readonly lrMax: number;
  readonly weightSum: number;
}

/** The mode: train (parameters hold y) or eval (parameters hold x). */
export const SCHEDULE_FREE_MODES = ['train', 'eval'] as const;
export type ScheduleFreeMode = (typeof SCHEDULE_FREE_MODES)[number];

/** p <- lerp(p, z, w) elementwise: how train() and eval() move between y and x. */
export function lerpInPlace(p: Float32Array, z: Float32Array, weight: number): void {
  const w = f(weight);
  for (let i = 0; i < p.length; i++) p[i] = lerp(p[i], z[i], w);
}

/**
 * The weight w of p <- lerp(p, z, w) that moves the parameters to `to`'s sequence: to y (train)
 * w = 1 - beta, from y = lerp(x, z, 1 - beta); to x (eval) w = 1 - 1/beta, its inverse.
 */
export function switchWeight(beta: number, to: ScheduleFreeMode): number {
  return to === 'train' ? 1 - beta : 1 - 1 / beta;
}

function validateCommon(h: ScheduleFreeCommonHyper, where: string): void {
  checkNumber('warmupSteps', h.warmupSteps, { min: 0, integer: true }, where);
  checkNumber('r', h.r, { min: 0 }, where);
  checkNumber('weightLrPower', h.weightLrPower, { min: 0 }, where);
}

function validateAdamW(h: ScheduleFreeAdamWHyper, where: string): void {
  validateCommon(h, where);
  h.betas = checkBetas(h.betas, where);
  // eval() moves by 1 - 1/beta1, so beta1 = 0 has no x (the reference divides by zero).
  checkNumber('betas[0]', h.betas[0], { above: 0, below: 1 }, where);
  checkNumber('eps', h.eps, { above: 0 }, where);
}

function validateSgd(h: ScheduleFreeSgdHyper, where: string): void {
  validateCommon(h, where);
  checkNumber('momentum', h.momentum, { above: 0, below: 1 }, where);
}

const ADAMW_DEFAULTS: ScheduleFreeAdamWHyper = {
  lr: 0.0025,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
  warmupSteps: 0,
  r: 0,
  weightLrPower: 2,
  maximize: false,
};

const SGD_DEFAULTS: ScheduleFreeSgdHyper = {
  lr: 1,
  momentum: 0.9,
  weightDecay: 0,
  warmupSteps: 0,
  r: 0,
  weightLrPower: 2,
  maximize: false,
};

/**
 * Every option the constructor of `kind` takes that adapters pass on: its hyperparameters, schedule
 * and global options (not the base class's `ema` and `accumulate`).
 */
export function scheduleFreeOptionNames(kind: ScheduleFreeKind): readonly string[] {
  const defaults = kind === 'ScheduleFreeAdamW' ? ADAMW_DEFAULTS : SGD_DEFAULTS;
  return [...Object.keys(defaults), 'schedule', ...GLOBAL_OPTION_KEYS];
}

/** The schedule-free state of the two classes: z, lrMax and W per group, and the mode. */
abstract class ScheduleFreeFamily<H extends ScheduleFreeCommonHyper> extends Optimizer<
  H,
  ScheduleFreeStepScalars
> {
  private modeNow: ScheduleFreeMode = 'train';
  private lrMax: number[];
  private weightSum: number[];
  private readonly validateHyper: (h: H, where: string) => void;

  protected constructor(
    params: Float32Array[] | ParamGroupInput<H>[],
    options: Partial<H> & GlobalOptions,
    kind: ScheduleFreeKind,
    defaults: H,
    validate: (h: H, where: string) => void,
  ) {
    super(params, options ?? {}, { kind, defaults, validate });
    this.validateHyper = validate;
    this.lrMax = this.paramGroups.map(() => -1);
    this.weightSum = this.paramGroups.map(() => 0);
  }

  /** train (the parameters hold y, steps allowed) or eval (they hold x). */
  get mode(): ScheduleFreeMode {
    return this.modeNow;
  }

  /** Puts y in the parameters (y = lerp(x, z, 1 - beta)); nothing to do if already in train mode. */
  train(): void {
    if (this.modeNow === 'train') return;
    this.moveParams('train');
    this.modeNow = 'train';
  }

  /** Puts x, the average to evaluate, in the parameters (x = lerp(y, z, 1 - 1/beta)). */
  eval(): void {
    if (this.modeNow === 'eval') return;
    this.moveParams('eval');
    this.modeNow = 'eval';
  }

  /** Per group, the weight w of p <- lerp(p, z, w) that train() or eval() applies (switchWeight). */
  switchWeights(to: ScheduleFreeMode): number[] {
    return this.paramGroups.map((g) => switchWeight(this.beta(g.hyper), to));
  }

  /** lr_t of each group for the next step, warmup included (the reference's `scheduled_lr`). */
  override currentLearningRates(): number[] {
    return this.planStep().groups.map((g) => g.scalars.lr);
  }

  /** beta of a group: beta1 (AdamW) or momentum (SGD). */
  protected abstract beta(h: H): number;

  /** Adam's second-moment scalars of a group at 1-based step, or null (SGD). */
  protected abstract adamScalars(h: H, step: number): ScheduleFreeStepScalars['adam'];

  /** Throws an OptionError naming `where` if no step may be taken now (eval mode, EMA swapped). */
  override checkCanStep(where: string): void {
    super.checkCanStep(where);
    if (this.modeNow !== 'train') {
      throw new OptionError('mode', this.modeNow, "'train' (call train() before step)", where);
    }
  }

  protected groupScalars(
    h: H,
    t: number,
    _eta: number,
    scheduledLr: number,
    lambda: number,
    group: number,
  ): ScheduleFreeStepScalars {
    const lr = t < h.warmupSteps ? scheduledLr * ((t + 1) / h.warmupSteps) : scheduledLr;
    const lrMax = Math.max(lr, this.lrMax[group]);
    const weight = (t + 1) ** h.r * lrMax ** h.weightLrPower;
    const weightSum = this.weightSum[group] + weight;
    const ckp1 = weightSum === 0 ? 0 : weight / weightSum;
    return {
      lr,
      ckp1,
      yStep: lr * (this.beta(h) * (1 - ckp1) - 1),
      weightDecay: lambda,
      adam: this.adamScalars(h, t + 1),
      maximize: h.maximize,
      lrMax,
      weightSum,
    };
  }

  protected override applyPlan(
    plan: StepPlan<ScheduleFreeStepScalars>,
    grads: readonly Float32Array[],
  ): void {
    super.applyPlan(plan, grads);
    plan.groups.forEach((g, i) => {
      this.lrMax[i] = g.scalars.lrMax;
      this.weightSum[i] = g.scalars.weightSum;
    });
  }

  protected updateParam(
    index: number,
    p: Float32Array,
    g: Float32Array,
    s: ScheduleFreeStepScalars,
  ): void {
    const fresh = !this.slots.z?.[index];
    const z = this.slot('z', index);
    if (fresh) z.set(p);
    const update = this.kernels.scheduleFree ?? scheduleFreeReferenceUpdate;
    update(p, g, z, s.adam ? this.slot('exp_avg_sq', index) : null, s);
  }

  protected expectedSlots(
    _hypers: H[],
    stepsTaken: number,
  ): Record<string, ('required' | 'optional')[]> {
    const need = this.params.map((): 'required' | 'optional' =>
      stepsTaken > 0 ? 'required' : 'optional',
    );
    return this.adamScalars(this.paramGroups[0].hyper, 1)
      ? { z: need, exp_avg_sq: need }
      : { z: need };
  }

  protected restoreHyper(current: H, saved: SavedGroupHyper, where: string): H {
    const next = { ...restoreBaseHyper(current, saved, where) } as H;
    const record = saved as unknown as Record<string, unknown>;
    for (const key of Object.keys(current)) {
      if (key in record && !['lr', 'weightDecay', 'maximize', 'schedule'].includes(key)) {
        (next as Record<string, unknown>)[key] = record[key];
      }
    }
    validateBaseHyper(next, where);
    this.validateHyper(next, where);
    return next;
  }

  protected override saveExtra(): Record<string, ExtraStateValue> {
    return {
      'scheduleFree.mode': this.modeNow,
      'scheduleFree.lrMax': [...this.lrMax],
      'scheduleFree.weightSum': [...this.weightSum],
    };
  }

  protected override restoreExtra(
    extra: Record<string, ExtraStateValue> | undefined,
    where: string,
  ): () => void {
    const mode = checkOneOf(
      'state.extra["scheduleFree.mode"]',
      extra?.['scheduleFree.mode'],
      SCHEDULE_FREE_MODES,
      where,
    );
    const perGroup = (name: string, min: number): number[] => {
      const list = extra?.[name];
      const option = `state.extra["${name}"]`;
      if (!Array.isArray(list) || list.length !== this.paramGroups.length) {
        throw new OptionError(
          option,
          list,
          `${this.paramGroups.length} number(s), one per group`,
          where,
        );
      }
      return list.map((x, i) => checkNumber(`${option}[${i}]`, x, { min }, where));
    };
    const lrMax = perGroup('scheduleFree.lrMax', -1);
    const weightSum = perGroup('scheduleFree.weightSum', 0);
    return () => {
      this.modeNow = mode;
      this.lrMax = lrMax;
      this.weightSum = weightSum;
    };
  }

  private moveParams(to: ScheduleFreeMode): void {
    const weights = this.switchWeights(to);
    let index = 0;
    for (const [i, group] of this.paramGroups.entries()) {
      const w = weights[i];
      for (const p of group.params) {
        const z = this.slots.z?.[index];
        if (z) lerpInPlace(p, z, w);
        index++;
      }
    }
  }
}

/** Schedule-free AdamW. Defaults are the reference's: lr 0.0025, betas [0.9, 0.999], eps 1e-8. */
export class ScheduleFreeAdamW extends ScheduleFreeFamily<ScheduleFreeAdamWHyper> {
  constructor(
    params: Float32Array[] | ParamGroupInput<ScheduleFreeAdamWHyper>[],
    options: ScheduleFreeAdamWOptions = {},
  ) {
    super(params, options, 'ScheduleFreeAdamW', ADAMW_DEFAULTS, validateAdamW);
  }

  protected beta(h: ScheduleFreeAdamWHyper): number {
    return h.betas[0];
  }

  protected adamScalars(h: ScheduleFreeAdamWHyper, step: number): ScheduleFreeStepScalars['adam'] {
    return { beta2: h.betas[1], eps: h.eps, biasCorrection2: 1 - h.betas[1] ** step };
  }

  protected saveHyper(h: ScheduleFreeAdamWHyper): SavedGroupHyper {
    return {
      ...saveBaseHyper(h),
      betas: [h.betas[0], h.betas[1]],
      eps: h.eps,
      warmupSteps: h.warmupSteps,
      r: h.r,
      weightLrPower: h.weightLrPower,
    };
  }
}

/** Schedule-free SGD. Defaults are the reference's: lr 1, momentum 0.9. */
export class ScheduleFreeSGD extends ScheduleFreeFamily<ScheduleFreeSgdHyper> {
  constructor(
    params: Float32Array[] | ParamGroupInput<ScheduleFreeSgdHyper>[],
    options: ScheduleFreeSGDOptions = {},
  ) {
    super(params, options, 'ScheduleFreeSGD', SGD_DEFAULTS, validateSgd);
  }

  protected beta(h: ScheduleFreeSgdHyper): number {
    return h.momentum;
  }

  protected adamScalars(): ScheduleFreeStepScalars['adam'] {
    return null;
  }

  protected saveHyper(h: ScheduleFreeSgdHyper): SavedGroupHyper {
    return {
      ...saveBaseHyper(h),
      momentum: h.momentum,
      warmupSteps: h.warmupSteps,
      r: h.r,
      weightLrPower: h.weightLrPower,
    };
  }
}

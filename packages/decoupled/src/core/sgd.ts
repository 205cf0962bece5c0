/**
 * SGD with momentum and coupled L2 regularization, with PyTorch 1.13's exact math (the baseline of
 * Loshchilov & Hutter, Algorithm 1):
 *
 *   g_t = grad f(theta_{t-1}) + lambda_t * theta_{t-1}    (negated first when maximize)
 *   b_t = g_1 on the first step, else momentum * b_{t-1} + (1 - dampening) * g_t
 *   d_t = nesterov ? g_t + momentum * b_t : b_t           (d_t = g_t when momentum = 0)
 *   theta_t = theta_{t-1} - lr_t * d_t
 *
 * Like PyTorch and the authors' code, the buffer accumulates raw gradients and the step is scaled by
 * lr_t; the paper's Algorithm 1 folds eta_t * alpha into the buffer instead (equal while lr_t is
 * constant). `SgdFamily` holds what SGD and SGDW share.
 */
import { decoupledDecayFactor, decoupledOptionalKeys, restoreCautious } from './decay.js';
import { OptionError } from './errors.js';
import type { SgdStepScalars } from './kernels.js';
import {
  type BaseHyper,
  type GlobalOptions,
  Optimizer,
  type ParamGroupInput,
  restoreBaseHyper,
  saveBaseHyper,
  validateBaseHyper,
} from './optimizer.js';
import type { SavedGroupHyper } from './state.js';
import { DECAY_SCALES, type DecayScale, type OptimizerKind } from './types.js';
import { checkBoolean, checkNumber, checkOneOf } from './validate.js';

export interface SgdHyper extends BaseHyper {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

export interface SgdwHyper extends SgdHyper {
  decayScale: DecayScale;
  /** Core only (optional): decay only where the step moves theta toward zero. Absent: false. */
  cautiousDecay?: boolean;
}

export type SGDOptions = Partial<SgdHyper> & GlobalOptions;
export type SGDWOptions = Partial<SgdwHyper> & GlobalOptions;

/**
 * SGD's first-step rule (PyTorch): a parameter's momentum buffer starts as its first gradient, so
 * the step is a first momentum step when momentum is on and the parameter has no buffer yet.
 */
export function firstMomentumStep(momentum: number, hasBuffer: boolean): boolean {
  return momentum !== 0 && !hasBuffer;
}

/** The default hyperparameters of SGD (and, with `decoupled`, of SGDW). */
export function sgdDefaults(decoupled: boolean): SgdHyper | SgdwHyper {
  const base: SgdHyper = {
    lr: 1e-3,
    momentum: 0,
    dampening: 0,
    nesterov: false,
    weightDecay: 0,
    maximize: false,
  };
  return decoupled ? { ...base, decayScale: 'lr' } : base;
}

function validateSgdHyper(h: SgdHyper | SgdwHyper, where: string): void {
  checkNumber('momentum', h.momentum, { min: 0 }, where);
  checkNumber('dampening', h.dampening, {}, where);
  checkBoolean('nesterov', h.nesterov, where);
  if ('decayScale' in h) checkOneOf('decayScale', h.decayScale, DECAY_SCALES, where);
  const cautious = (h as SgdwHyper).cautiousDecay;
  if (cautious !== undefined) checkBoolean('cautiousDecay', cautious, where);
}

/**
 * Nesterov needs momentum > 0 and dampening 0 in the optimizer's options. As in PyTorch, a group
 * may still override momentum or dampening: a group with momentum 0 takes plain SGD steps.
 */
function checkNesterov(options: Partial<SgdHyper>, where: string): void {
  const momentum = options.momentum ?? 0;
  const dampening = options.dampening ?? 0;
  if (options.nesterov === true && (momentum <= 0 || dampening !== 0)) {
    throw new OptionError(
      'nesterov',
      true,
      `used only with momentum > 0 and dampening 0 (momentum ${momentum}, dampening ${dampening})`,
      where,
    );
  }
}

/** SGD and SGDW: momentum buffer and state; `decoupled` picks the decay rule. */
export abstract class SgdFamily<H extends SgdHyper> extends Optimizer<H, SgdStepScalars> {
  protected abstract readonly decoupled: boolean;

  protected constructor(
    params: Float32Array[] | ParamGroupInput<H>[],
    options: Partial<H> & GlobalOptions,
    kind: OptimizerKind,
  ) {
    const decoupled = kind === 'SGDW';
    super(params, options ?? {}, {
      kind,
      defaults: sgdDefaults(decoupled) as H,
      optionalKeys: decoupledOptionalKeys(decoupled),
      validate: validateSgdHyper,
    });
    checkNesterov(options ?? {}, kind);
  }

  protected groupScalars(
    h: H,
    _t: number,
    eta: number,
    scheduledLr: number,
    lambda: number,
  ): SgdStepScalars {
    const { decayScale: scale, cautiousDecay } = h as unknown as SgdwHyper;
    return {
      lr: scheduledLr,
      momentum: h.momentum,
      dampening: h.dampening,
      nesterov: h.nesterov,
      l2: this.decoupled ? 0 : lambda,
      decayFactor: this.decoupled ? decoupledDecayFactor(scale, scheduledLr, eta, lambda) : 1,
      maximize: h.maximize,
      ...(this.decoupled && cautiousDecay === true ? { cautious: true } : {}),
    };
  }

  protected updateParam(
    index: number,
    p: Float32Array,
    g: Float32Array,
    scalars: SgdStepScalars,
  ): void {
    const firstStep = firstMomentumStep(scalars.momentum, !!this.slots.momentum_buffer?.[index]);
    const buffer = scalars.momentum === 0 ? null : this.slot('momentum_buffer', index);
    this.kernels.sgd(p, g, buffer, { ...scalars, firstStep });
  }

  protected saveHyper(h: H): SavedGroupHyper {
    const saved: SavedGroupHyper = {
      ...saveBaseHyper(h),
      momentum: h.momentum,
      dampening: h.dampening,
      nesterov: h.nesterov,
    };
    if (this.decoupled) {
      saved.decayScale = (h as unknown as SgdwHyper).decayScale;
      if ((h as unknown as SgdwHyper).cautiousDecay) saved.cautiousDecay = true;
    }
    return saved;
  }

  protected restoreHyper(current: H, saved: SavedGroupHyper, where: string): H {
    const next = {
      ...restoreBaseHyper(current, saved, where),
      momentum: saved.momentum as number,
      dampening: saved.dampening as number,
      nesterov: saved.nesterov as boolean,
    } as H;
    if (this.decoupled) {
      (next as unknown as SgdwHyper).decayScale = saved.decayScale as DecayScale;
      restoreCautious(next as unknown as SgdwHyper, saved);
    }
    validateBaseHyper(next, where);
    validateSgdHyper(next, where);
    return next;
  }

  protected expectedSlots(): Record<string, ('required' | 'optional')[]> {
    // null means "no step with momentum yet" (PyTorch's buffer is None), so none is required.
    return { momentum_buffer: this.params.map(() => 'optional') };
  }
}

/** SGD with momentum and coupled L2 regularization (`weightDecay` is added to the gradient). */
export class SGD extends SgdFamily<SgdHyper> {
  protected readonly decoupled = false;

  constructor(params: Float32Array[] | ParamGroupInput<SgdHyper>[], options: SGDOptions = {}) {
    super(params, options, 'SGD');
  }
}

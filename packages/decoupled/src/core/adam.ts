/**
 * Adam with coupled L2 regularization (Kingma & Ba 2015; the baseline of Loshchilov & Hutter,
 * Algorithm 2 without the decoupled term), with PyTorch 1.13's exact math:
 *
 *   g_t   = grad f(theta_{t-1}) + lambda_t * theta_{t-1}      (negated first when maximize)
 *   m_t   = beta1 m_{t-1} + (1 - beta1) g_t
 *   v_t   = beta2 v_{t-1} + (1 - beta2) g_t^2                  (amsgrad: vmax_t = max(vmax_{t-1}, v_t))
 *   theta_t = theta_{t-1} - lr_t / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
 *
 * The L2 term is divided by sqrt(v) like the rest of the gradient, so weights with large past
 * gradients are barely regularized: the paper's point, and why AdamW (./adamw.ts) exists.
 * `AdamFamily` holds what Adam and AdamW share; they differ only in how the decay is applied.
 */

import { decoupledDecayFactor, decoupledOptionalKeys, restoreCautious } from './decay.js';
import type { AdamStepScalars } from './kernels.js';
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
import { checkBetas, checkBoolean, checkNumber, checkOneOf } from './validate.js';

export interface AdamHyper extends BaseHyper {
  betas: readonly [number, number];
  eps: number;
  /** How decoupled decay is scaled (AdamW); Adam's L2 term is not scaled, so it has no effect there. */
  decayScale: DecayScale;
  amsgrad: boolean;
  /**
   * AdamW only (core only, optional so adapters never see it): decay only where the step moves
   * theta toward zero (./decay.ts, cautious). Absent means false.
   */
  cautiousDecay?: boolean;
}

export type AdamOptions = Partial<AdamHyper> & GlobalOptions;
export type AdamParams = Float32Array[] | ParamGroupInput<AdamHyper>[];

export function adamDefaults(weightDecay: number): AdamHyper {
  return {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay,
    decayScale: 'lr',
    amsgrad: false,
    maximize: false,
  };
}

function validateAdamHyper(h: AdamHyper, where: string): void {
  h.betas = checkBetas(h.betas, where);
  checkNumber('eps', h.eps, { above: 0 }, where);
  checkOneOf('decayScale', h.decayScale, DECAY_SCALES, where);
  checkBoolean('amsgrad', h.amsgrad, where);
  if (h.cautiousDecay !== undefined) checkBoolean('cautiousDecay', h.cautiousDecay, where);
}

/** Adam and AdamW: the moments, bias correction and state; `decoupled` picks the decay rule. */
export abstract class AdamFamily extends Optimizer<AdamHyper, AdamStepScalars> {
  protected abstract readonly decoupled: boolean;

  protected constructor(
    params: AdamParams,
    options: AdamOptions,
    kind: OptimizerKind,
    defaultWeightDecay: number,
  ) {
    super(params, options ?? {}, {
      kind,
      defaults: adamDefaults(defaultWeightDecay),
      // Cautious decay masks decoupled decay; Adam's coupled L2 term has none to mask.
      optionalKeys: decoupledOptionalKeys(kind === 'AdamW'),
      validate: validateAdamHyper,
    });
  }

  protected groupScalars(
    h: AdamHyper,
    t: number,
    eta: number,
    scheduledLr: number,
    lambda: number,
  ): AdamStepScalars {
    const step = t + 1;
    const [beta1, beta2] = h.betas;
    return {
      stepSize: scheduledLr / (1 - beta1 ** step),
      beta1,
      beta2,
      eps: h.eps,
      biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** step),
      l2: this.decoupled ? 0 : lambda,
      decayFactor: this.decoupled
        ? decoupledDecayFactor(h.decayScale, scheduledLr, eta, lambda)
        : 1,
      amsgrad: h.amsgrad,
      maximize: h.maximize,
      // Present only when on, so the scalars of plain AdamW are unchanged.
      ...(this.decoupled && h.cautiousDecay === true ? { cautious: true } : {}),
    };
  }

  protected updateParam(
    index: number,
    p: Float32Array,
    g: Float32Array,
    scalars: AdamStepScalars,
  ): void {
    this.kernels.adam(
      p,
      g,
      this.slot('exp_avg', index),
      this.slot('exp_avg_sq', index),
      scalars.amsgrad ? this.slot('max_exp_avg_sq', index) : null,
      scalars,
    );
  }

  protected saveHyper(h: AdamHyper): SavedGroupHyper {
    return {
      ...saveBaseHyper(h),
      betas: [h.betas[0], h.betas[1]],
      eps: h.eps,
      decayScale: h.decayScale,
      amsgrad: h.amsgrad,
      ...(h.cautiousDecay ? { cautiousDecay: true } : {}),
    };
  }

  protected restoreHyper(current: AdamHyper, saved: SavedGroupHyper, where: string): AdamHyper {
    const next: AdamHyper = {
      ...restoreBaseHyper(current, saved, where),
      betas: saved.betas as [number, number],
      eps: saved.eps as number,
      decayScale: saved.decayScale as DecayScale,
      amsgrad: saved.amsgrad as boolean,
    };
    restoreCautious(next, saved);
    validateBaseHyper(next, where);
    validateAdamHyper(next, where);
    return next;
  }

  protected expectedSlots(
    hypers: AdamHyper[],
    stepsTaken: number,
  ): Record<string, ('required' | 'optional')[]> {
    const taken = stepsTaken > 0 ? 'required' : 'optional';
    const perParam = (pick: (h: AdamHyper) => boolean) =>
      this.paramGroups.flatMap((g, i) =>
        g.params.map(() => (pick(hypers[i]) ? taken : 'optional')),
      );
    return {
      exp_avg: perParam(() => true),
      exp_avg_sq: perParam(() => true),
      max_exp_avg_sq: perParam((h) => h.amsgrad),
    };
  }
}

/** Adam with coupled L2 regularization: `weightDecay` (default 0) is added to the gradient. */
export class Adam extends AdamFamily {
  protected readonly decoupled = false;

  constructor(params: AdamParams, options: AdamOptions = {}) {
    super(params, options, 'Adam', 0);
  }
}

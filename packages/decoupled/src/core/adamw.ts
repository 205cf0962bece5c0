/**
 * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 2):
 *
 *   theta_{t-1}' = theta_{t-1} * (1 - s_t * lambda_t)
 *       s_t = lr_t  = lr * eta_t  (decayScale 'lr', default: PyTorch, optax, Keras)
 *       s_t = eta_t               (decayScale 'schedule': the paper, lambda independent of lr)
 *   then the Adam step of ./adam.ts on theta_{t-1}' with the plain gradient (no L2 term).
 *
 * The decay shrinks every weight by the same factor, whatever its gradient history.
 * Defaults are PyTorch's: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2.
 */
import { AdamFamily, type AdamOptions, type AdamParams } from './adam.js';

export class AdamW extends AdamFamily {
  protected readonly decoupled = true;

  constructor(params: AdamParams, options: AdamOptions = {}) {
    super(params, options, 'AdamW', 1e-2);
  }
}

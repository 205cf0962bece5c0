/**
 * The decoupled weight decay rule, in one place (Loshchilov & Hutter, Algorithms 1 and 2):
 *
 *   decayScale 'lr'       theta <- theta * (1 - lr_t * lambda_t)    PyTorch, optax, Keras
 *   decayScale 'schedule' theta <- theta * (1 - eta_t * lambda_t)   the paper, Composer
 *
 * where lr_t = lr * eta_t. With lr = 1 the two agree. Coupled L2 (Adam, SGD) does not use this: it
 * adds lambda_t * theta to the gradient instead.
 */
import type { DecayScale } from './types.js';

export function decoupledDecayFactor(
  scale: DecayScale,
  scheduledLr: number,
  eta: number,
  lambda: number,
): number {
  return 1 - (scale === 'lr' ? scheduledLr : eta) * lambda;
}

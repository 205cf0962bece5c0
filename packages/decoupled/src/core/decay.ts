/**
 * The decoupled weight decay rule, in one place (Loshchilov & Hutter, Algorithms 1 and 2):
 *
 *   decayScale 'lr'       theta <- theta * (1 - lr_t * lambda_t)    PyTorch, optax, Keras
 *   decayScale 'schedule' theta <- theta * (1 - eta_t * lambda_t)   the paper, Composer
 *
 * where lr_t = lr * eta_t. With lr = 1 the two agree. Coupled L2 (Adam, SGD) does not use this: it
 * adds lambda_t * theta to the gradient instead.
 *
 * Cautious decay (`cautiousDecay: true` on AdamW and SGDW; arXiv 2510.12402) decays only where the
 * step already moves theta toward zero. The paper's update, with u_t the direction the step
 * subtracts (AdamW: m_hat / (sqrt(v_hat) + eps), sign of m; SGDW: the momentum direction d):
 *   theta <- theta - eta_t (u_t + lambda 1[u_t theta >= 0] theta)
 * In the decayed form the core uses, with the mask taken on theta_{t-1} (before decay):
 *   theta' = 1[u_t theta >= 0] ? theta * (1 - s_t lambda_t) : theta,   theta <- theta' - lr_t u_t
 * which is the paper's update with eta_t = lr_t for decayScale 'lr' (s_t = lr_t), and with the decay
 * scaled by the multiplier, theta - lr_t u_t - eta_t lambda_t 1[.] theta, for 'schedule'.
 * The mask is `sameDirection` of ./kernels.ts (u = 0 or theta = 0 count as >= 0).
 */
import type { SavedGroupHyper } from './state.js';
import type { DecayScale } from './types.js';

export function decoupledDecayFactor(
  scale: DecayScale,
  scheduledLr: number,
  eta: number,
  lambda: number,
): number {
  return 1 - (scale === 'lr' ? scheduledLr : eta) * lambda;
}

/**
 * The hyperparameters without a default that a decoupled optimizer (AdamW, SGDW) takes on top of
 * its defaults: `cautiousDecay` (absent means false, so configs of plain AdamW do not change).
 */
export function decoupledOptionalKeys(decoupled: boolean): readonly string[] {
  return decoupled ? ['cautiousDecay'] : [];
}

/** Sets `cautiousDecay` from a saved group: present (true) only if it was on, else absent. */
export function restoreCautious(next: { cautiousDecay?: boolean }, saved: SavedGroupHyper): void {
  if (saved.cautiousDecay === true) next.cautiousDecay = true;
  else delete next.cautiousDecay;
}

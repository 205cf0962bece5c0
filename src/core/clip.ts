/**
 * Gradient clipping by global norm (Pascanu et al. 2013; PyTorch `clip_grad_norm_`):
 *
 *   n = sqrt(sum_i ||g_i||^2);  if n > maxNorm: g_i <- g_i * maxNorm / (n + 1e-6)
 *
 * The norm is accumulated in float64. A non-finite norm leaves the gradients untouched (so the
 * optimizer's nonFinite policy sees them) and is returned as is.
 */
import { OptionError } from './errors.js';
import { checkNumber } from './validate.js';

/** Clips `grads` in place to global L2 norm `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  checkNumber('maxNorm', maxNorm, { above: 0 }, 'clipGradNorm');
  if (!Array.isArray(grads) || grads.some((g) => !(g instanceof Float32Array))) {
    throw new OptionError('grads', grads, 'an array of Float32Array', 'clipGradNorm');
  }
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  if (!Number.isFinite(norm)) return norm;
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) {
    const c = Math.fround(coefficient);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= c;
  }
  return norm;
}

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

/** The global L2 norm sqrt(sum_i ||g_i||^2) of several arrays, accumulated in float64. */
export function globalNorm(arrays: readonly ArrayLike<number>[]): number {
  let sumSquares = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) sumSquares += a[i] * a[i];
  return Math.sqrt(sumSquares);
}

/**
 * The float32 factor that scales gradients of global norm `norm` to `maxNorm`, or null when they
 * are to be left as they are (norm within maxNorm, or not finite).
 */
export function clipCoefficient(norm: number, maxNorm: number): number | null {
  if (!Number.isFinite(norm)) return null;
  const coefficient = maxNorm / (norm + 1e-6);
  return coefficient < 1 ? Math.fround(coefficient) : null;
}

/** Clips `grads` in place to global L2 norm `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  checkNumber('maxNorm', maxNorm, { above: 0 }, 'clipGradNorm');
  if (!Array.isArray(grads) || grads.some((g) => !(g instanceof Float32Array))) {
    throw new OptionError('grads', grads, 'an array of Float32Array', 'clipGradNorm');
  }
  const norm = globalNorm(grads);
  const c = clipCoefficient(norm, maxNorm);
  if (c !== null) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= c;
  return norm;
}

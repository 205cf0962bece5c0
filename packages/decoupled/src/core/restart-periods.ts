/**
 * Warm-restart periods (SGDR, Loshchilov & Hutter 2017): the one home of the restart arithmetic.
 *
 *   T_i     = t0 tMult^i                                  length of period i (t0 > 0, tMult >= 1)
 *   start_i = t0 (1 + tMult + ... + tMult^(i-1))          = i t0, or t0 (tMult^i - 1) / (tMult - 1)
 *   T_cur   = t - start_i                                 for start_i <= t < start_{i+1}
 *
 * A boundary counts as reached where exact decimal arithmetic puts it, so t0 = 7, tMult = 1.3
 * restarts on step 7 although 7 (1.3 - 1) / (1.3 - 1) = 7.000000000000001 in floating point.
 * Anything that changes at restarts (the SGDR cosine, the normalized decay of the current period)
 * is a value per period, run through {@link restarting}; none repeats this arithmetic.
 */
import { OptionError } from './errors.js';
import { checkNumber } from './validate.js';

/** Where step t falls in a warm-restart run: period index i, its first step, length T_i, T_cur. */
export interface RestartPeriod {
  readonly index: number;
  readonly start: number;
  readonly length: number;
  readonly position: number;
}

/**
 * Relative slack within which a period boundary counts as reached. t0 and tMult are decimals
 * (7 and 1.3, or 2.5 epochs) whose floating-point products land an ulp or two beside the step
 * where the exact boundary is, and a restart missed by an ulp would leave eta at its minimum for
 * that step.
 */
const BOUNDARY_SLACK = 1e-9;

/** Whether step t has reached a boundary at `start` (exactly, or within BOUNDARY_SLACK of it). */
function reached(t: number, start: number): boolean {
  return t >= start - BOUNDARY_SLACK * Math.max(1, start);
}

/** The restart period containing step t (t0 and tMult as validated by {@link checkPeriods}). */
export function restartPeriod(t: number, t0: number, tMult: number): RestartPeriod {
  if (!(t >= 0 && t < Number.POSITIVE_INFINITY)) {
    throw new OptionError('step', t, 'a finite number >= 0', 'restartPeriod');
  }
  // Exact for integer t0 and tMult.
  const startOf =
    tMult === 1 ? (i: number) => i * t0 : (i: number) => (t0 * (tMult ** i - 1)) / (tMult - 1);
  // A closed-form guess, O(1) even for tMult near 1, then fix-ups against startOf.
  let index =
    tMult === 1
      ? Math.floor(t / t0)
      : Math.max(0, Math.floor(Math.log1p((t * (tMult - 1)) / t0) / Math.log(tMult)));
  while (index > 0 && !reached(t, startOf(index))) index--;
  while (reached(t, startOf(index + 1))) index++;
  const start = startOf(index);
  const length = t0 * tMult ** index;
  return { index, start, length, position: Math.max(0, t - start) };
}

/** The period settings every warm-restart schedule takes: t0 > 0, tMult >= 1 (default 1). */
export function checkPeriods(
  options: { t0: unknown; tMult?: unknown },
  where: string,
): { t0: number; tMult: number } {
  return {
    t0: checkNumber('t0', options.t0, { above: 0 }, where),
    tMult: checkNumber('tMult', options.tMult ?? 1, { min: 1 }, where),
  };
}

/**
 * A schedule that runs `valueIn` afresh in every restart period: step t gives valueIn(period of t).
 * The warm-restart counterpart of optax's join_schedules over the boundaries start_1, start_2, ...
 */
export function restarting(
  t0: number,
  tMult: number,
  valueIn: (period: RestartPeriod) => number,
): (step: number) => number {
  return (t) => valueIn(restartPeriod(t, t0, tMult));
}

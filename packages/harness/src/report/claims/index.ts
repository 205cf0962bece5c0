/**
 * One analysis per claim of the paper (shared/PAPER.md), each run only when the sweep has the data
 * for it; otherwise the claim carries one line saying why the sweep cannot address it:
 * - generalization: each decoupled optimizer against its coupled twin (Adam+L2 and AdamW, SGD+L2
 *   and SGDW) at their best settings, and each optimizer's best decay against no decay, paired by
 *   seed (metrics.ts);
 * - separable: the basin slope of log(best decay) on log(lr) per optimizer (separable.ts);
 * - budget: the best λ_norm and raw λ at two training lengths (budget.ts);
 * - restarts: AdamWR against AdamW with cosine, at each restart point (restarts.ts).
 */
import type { Trial } from '../../sweep/types.js';
import type { ReportRecord } from '../load.js';
import type { Cell, Comparison, DecayEffect, SelectionMetric } from '../metrics.js';
import { analyzeBudget, type BudgetTransfer, budgetGap } from './budget.js';
import { analyzeRestarts, type RestartsClaim, restartsGap } from './restarts.js';
import { analyzeSeparable, type SeparableClaim, separableGap } from './separable.js';

/** A claim's analysis, or why the sweep cannot address it. */
export type ClaimResult<T> = { status: 'analyzed'; result: T } | { status: 'missing'; why: string };

export interface Generalization {
  /** Decoupled against coupled, each at its best setting. */
  comparisons: Comparison[];
  /** Each optimizer's best decay against its best without decay. */
  decayEffects: DecayEffect[];
}

export interface ClaimsSummary {
  generalization: ClaimResult<Generalization>;
  separable: ClaimResult<SeparableClaim>;
  budget: ClaimResult<BudgetTransfer[]>;
  restarts: ClaimResult<RestartsClaim[]>;
}

/** A claim's name in the analyses. */
export type ClaimKey = keyof ClaimsSummary;

function claim<T>(gap: string | undefined, run: () => T, empty: (t: T) => boolean, why: string) {
  if (gap) return { status: 'missing' as const, why: gap };
  const result = run();
  return empty(result)
    ? { status: 'missing' as const, why }
    : { status: 'analyzed' as const, result };
}

/**
 * The four claims. `cells`, `comparisons` and `decayEffects` are the main analysis's (one training
 * length, `trials`); `allTrials` holds every length, for the budget claim.
 */
export function analyzeClaims(input: {
  cells: Cell[];
  comparisons: Comparison[];
  decayEffects: DecayEffect[];
  trials: Trial[];
  allTrials: Trial[];
  results: ReportRecord[];
  on: SelectionMetric;
}): ClaimsSummary {
  const { cells, trials, results, on, comparisons, decayEffects } = input;
  return {
    generalization:
      comparisons.length || decayEffects.length
        ? { status: 'analyzed', result: { comparisons, decayEffects } }
        : {
            status: 'missing',
            why: 'the sweep does not run a coupled optimizer and its decoupled twin (Adam+L2 and AdamW, or SGD+L2 and SGDW) under one schedule, so they cannot be compared at their best settings.',
          },
    separable: claim(
      separableGap(cells),
      () => analyzeSeparable(cells, trials, results, on),
      (r) => !r.slopes.length,
      'no seed has a best decay at 2 or more learning rates (every row diverged).',
    ),
    budget: claim(
      budgetGap(input.allTrials),
      () => analyzeBudget(input.allTrials, results, on),
      (r) => !r.length,
      'no decoupled optimizer has results with nonzero decay at two lengths.',
    ),
    restarts: claim(
      restartsGap(cells),
      () => analyzeRestarts(cells, { trials, results, on }),
      (r) => !r.length,
      'the warm-restart runs have no restart schedule that can be read from their config.',
    ),
  };
}

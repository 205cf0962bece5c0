/**
 * Successive halving for exploratory sweeps (`decoupled sweep --prune`): a synchronous form of
 * ASHA (Li et al., 2020) over the grid, wrapped around any trial runner whose executor honors
 * `trial.untilEpoch` (the local pool's does).
 *
 *   rungs r_k = minEpochs * eta^k, k = 0, 1, ..., while r_k < epochs
 *   at each rung: every live trial trains to r_k (resuming from its checkpoint); within each
 *   bracket (same optimizer and schedule) the best ceil(n / eta) by the rung's validation error
 *   (training loss when the trials have no validation split) go on, the others are recorded as
 *   `pruned` with their metrics at the rung; the survivors of the last rung train to the end.
 *
 * Synchronous (a rung waits for all its trials) rather than ASHA's asynchronous promotions: simpler,
 * and on a local pool of a few cores the idle time at rung boundaries is small. A trial that
 * diverges or fails at a rung is recorded as such right away.
 */
import type { EpochPoint, RunnerContext, Trial, TrialResult, TrialRunner } from './types.js';

export interface PruneOptions {
  /** Reduction factor: 1/eta of each bracket survives a rung. Default 3. */
  eta?: number;
  /** The first rung, in epochs. Default 1. */
  minEpochs?: number;
}

/** The rung epochs minEpochs * eta^k below `epochs`. */
export function rungEpochs(epochs: number, eta: number, minEpochs: number): number[] {
  if (!(Number.isInteger(eta) && eta >= 2)) {
    throw new RangeError(`prune eta must be an integer >= 2; received ${eta}`);
  }
  if (!(Number.isInteger(minEpochs) && minEpochs >= 1)) {
    throw new RangeError(`prune minEpochs must be an integer >= 1; received ${minEpochs}`);
  }
  const rungs: number[] = [];
  for (let r = minEpochs; r < epochs; r *= eta) rungs.push(r);
  return rungs;
}

/** What a rung ranks by: validation error when measured, else training loss (lower is better). */
export function rungScore(point: EpochPoint | undefined): number {
  const value = point?.valError ?? point?.trainLoss;
  return value !== undefined && Number.isFinite(value) ? value : Number.POSITIVE_INFINITY;
}

const epochsOf = (trial: Trial) => trial.epochs ?? Number(trial.config.epochs ?? 1);
const bracketOf = (trial: Trial) => `${trial.params.optimizer}/${trial.params.schedule}`;

/** The trials to continue from one rung: the best ceil(n / eta) of each bracket. */
export function survivors(
  trials: Trial[],
  results: Map<string, TrialResult>,
  rung: number,
  eta: number,
): Set<string> {
  const brackets = new Map<string, Trial[]>();
  for (const t of trials) brackets.set(bracketOf(t), [...(brackets.get(bracketOf(t)) ?? []), t]);
  const keep = new Set<string>();
  for (const group of brackets.values()) {
    const score = (t: Trial) => rungScore(results.get(t.id)?.epochs.find((p) => p.epoch === rung));
    const ranked = [...group].sort((a, b) => score(a) - score(b) || a.index - b.index);
    for (const t of ranked.slice(0, Math.ceil(group.length / eta))) keep.add(t.id);
  }
  return keep;
}

export class SuccessiveHalvingRunner implements TrialRunner {
  readonly name: string;
  private readonly eta: number;
  private readonly minEpochs: number;

  constructor(
    private readonly inner: TrialRunner,
    options: PruneOptions = {},
  ) {
    this.eta = options.eta ?? 3;
    this.minEpochs = options.minEpochs ?? 1;
    rungEpochs(2, this.eta, this.minEpochs); // validates both
    this.name = `${inner.name} + successive halving (eta ${this.eta})`;
  }

  async run(trials: Trial[], ctx: RunnerContext): Promise<void> {
    const longest = Math.max(0, ...trials.map(epochsOf));
    let live = trials;
    for (const rung of rungEpochs(longest, this.eta, this.minEpochs)) {
      const atRung = live.filter((t) => epochsOf(t) > rung);
      const reached = await this.runToRung(atRung, rung, ctx);
      if (ctx.signal?.aborted) return;
      const keep = survivors([...reached.keys()].map(byId(atRung)), reached, rung, this.eta);
      for (const [id, result] of reached) {
        if (keep.has(id)) continue;
        const pruned: TrialResult = { ...result, pruned: true };
        await ctx.onResult(pruned);
        ctx.onEvent?.({ type: 'done', trial: byId(atRung)(id), result: pruned });
      }
      live = live.filter((t) => epochsOf(t) <= rung || keep.has(t.id));
    }
    // Trials no longer than the last rung were never paused: this run finishes every live one.
    await this.inner.run(live, ctx);
  }

  /**
   * Trains `trials` to `rung`; final outcomes (diverged, failed) are recorded at once, the others
   * are returned as provisional results by trial id.
   */
  private async runToRung(
    trials: Trial[],
    rung: number,
    ctx: RunnerContext,
  ): Promise<Map<string, TrialResult>> {
    const reached = new Map<string, TrialResult>();
    const provisional = (r: TrialResult) =>
      r.status === 'ok' && !r.diverged && r.epochs.length >= rung;
    await this.inner.run(
      trials.map((t) => ({ ...t, untilEpoch: rung })),
      {
        ...ctx,
        onResult: async (result) => {
          if (provisional(result)) reached.set(result.trialId, result);
          else await ctx.onResult(result);
        },
        onEvent: (event) => {
          if (event.type === 'done' && provisional(event.result)) return;
          ctx.onEvent?.(event);
        },
      },
    );
    return reached;
  }
}

function byId(trials: Trial[]): (id: string) => Trial {
  const map = new Map(trials.map((t) => [t.id, t]));
  return (id) => map.get(id) as Trial;
}

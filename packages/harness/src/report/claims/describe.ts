/**
 * The claims' verdicts in words: one sentence per comparison, slope, transfer or restart run, each
 * with its 95% interval and n, decided from the interval (stats.ts), never from a fixed threshold.
 * These sentences are the only place a verdict is stated: the page lists them under "The paper's
 * claims" and `decoupled report` prints the same list; the claims' tables and figures show the
 * numbers behind them.
 */
import type { SweepOptimizer } from '../../sweep/types.js';
import { numLabel, OPTIMIZER_NAMES, points, signedPoints, tauNumber } from '../format.js';
import type { Comparison, DecayEffect } from '../metrics.js';
import type { PairedDifference } from '../stats.js';
import type { BudgetTransfer, QuantityShift } from './budget.js';
import type { ClaimKey, ClaimResult, ClaimsSummary, Generalization } from './index.js';
import type { RestartsClaim } from './restarts.js';
import type { BasinSlope, SeparableClaim, SlopeDifference, SlopeEstimate } from './separable.js';

/** The experiment calls for this many seeds (issue #17). */
export const SEEDS_WANTED = 5;

const name = (o: SweepOptimizer) => OPTIMIZER_NAMES[o];
const fixed = (x: number) => (Object.is(Number(x.toFixed(2)), -0) ? 0 : x).toFixed(2);
const seedsWord = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** "95% CI [0.05, 0.37]". */
const ci = (level: number, lo: string, hi: string) =>
  `${Math.round(level * 100)}% CI [${lo}, ${hi}]`;

/**
 * An estimate with its interval: "-0.98, 95% CI [-1.10, -0.85] over 5 seeds"; a slope measured on
 * one seed, "... over 5 learning rates (one seed)"; below 2 seeds, "(one seed, no interval)".
 */
export function estimateText(
  d: Pick<PairedDifference, 'mean' | 'lo' | 'hi' | 'level' | 'n'> & Partial<SlopeEstimate>,
  unit = '',
): string {
  if (d.over === 'learning rates') {
    if (!Number.isFinite(d.lo))
      return `${fixed(d.mean)}${unit} (one seed, ${d.n} learning rates, no interval)`;
    return `${fixed(d.mean)}${unit}, ${ci(d.level, fixed(d.lo), fixed(d.hi))} over ${d.n} learning rates (one seed)`;
  }
  if (d.n < 2)
    return `${fixed(d.mean)}${unit} (${d.n === 1 ? 'one seed' : 'no seed'}, no interval)`;
  return `${fixed(d.mean)}${unit}, ${ci(d.level, fixed(d.lo), fixed(d.hi))} over ${seedsWord(d.n)}`;
}

/**
 * The verdict on a paired difference of test errors d_s = error(first) - error(second), as a
 * clause: "AdamW is lower by 0.21 points, 95% CI [0.05, 0.37], lower on 5 of 5 seeds", or
 * "no difference detectable: Adam+L2 minus AdamW 0.05 points, 95% CI [-0.30, 0.40], ...".
 */
export function pairedClause(first: string, second: string, d: PairedDifference): string {
  const pts = (lo: number, hi: number) => ci(d.level, signedPoints(lo), signedPoints(hi));
  if (d.n === 0) return `${second} and ${first} share no seed, so they cannot be paired`;
  if (d.n === 1) {
    const lower = d.mean > 0 ? second : first;
    return `${lower} is lower by ${points(d.mean)} points on the one shared seed, so no interval can be computed`;
  }
  if (d.lo > 0) {
    return `${second} is lower by ${points(d.mean)} points, ${pts(d.lo, d.hi)}, lower on ${d.positive} of ${d.n} seeds`;
  }
  if (d.hi < 0) {
    return `${first} is lower by ${points(d.mean)} points, ${pts(-d.hi, -d.lo)}, lower on ${d.negative} of ${d.n} seeds`;
  }
  return `no difference detectable: ${first} minus ${second} ${signedPoints(d.mean)} points, ${pts(d.lo, d.hi)}, ${second} lower on ${d.positive} of ${d.n} seeds`;
}

export function describeComparison(c: Comparison): string {
  const [coupled, decoupled] = [name(c.coupled), name(c.decoupled)];
  const against = c.verdict === 'negative' ? ", against the paper's claim" : '';
  const n = c.paired.n;
  const few =
    n > 0 && n < SEEDS_WANTED
      ? ` (${seedsWord(n)} paired; the experiment calls for ${SEEDS_WANTED})`
      : '';
  return `${decoupled} vs ${coupled} (${c.schedule}), each at its best setting: ${pairedClause(coupled, decoupled, c.paired)}${against}${few}.`;
}

export function describeDecayEffect(e: DecayEffect): string {
  const decay = `decay ${numLabel(e.best.weightDecay)}`;
  const borrowed =
    e.noDecay.optimizer === e.optimizer
      ? ''
      : ` (${name(e.noDecay.optimizer)}'s runs without decay: the same algorithm)`;
  return `${name(e.optimizer)} (${e.schedule}), its best decay (${decay} at lr ${numLabel(e.best.lr)}) against its best without decay${borrowed}: ${pairedClause('no decay', decay, e.paired)}.`;
}

const contains = (d: { lo: number; hi: number }, x: number) => d.lo <= x && x <= d.hi;

/** What a basin slope's interval says about diagonal (-1) and axis-aligned (0) basins. */
function slopeVerdict(d: SlopeEstimate): string {
  if (!Number.isFinite(d.lo)) return 'without an interval the shape is not established';
  const diagonal = contains(d, -1);
  const aligned = contains(d, 0);
  if (diagonal && aligned)
    return 'the interval contains both 0 and -1, so this grid cannot tell a diagonal basin from an axis-aligned one';
  if (diagonal) return 'the best decay moves with the learning rate (slope 0 excluded)';
  if (aligned) return 'the best decay does not move with the learning rate (slope -1 excluded)';
  return 'the slope differs from both 0 and -1';
}

/**
 * For a decoupled optimizer, what the slope says about the EMA timescale: iso-τ lines have slope
 * -1 (decay scaled by lr·η_t) or 0 (by η_t), so the interval decides as for the basin's shape.
 */
function timescaleClause(s: BasinSlope): string {
  const t = s.timescale;
  if (!t || !Number.isFinite(s.slope.lo)) return '';
  const iso = t.decayScale === 'lr' ? -1 : 0;
  const lines =
    t.decayScale === 'lr'
      ? 'with decay scaled by lr·η_t, iso-τ lines have slope -1'
      : 'with decay scaled by η_t, iso-τ lines are vertical';
  if (!contains(s.slope, iso))
    return `; ${lines}, so the optimum does not keep a constant EMA timescale`;
  if (contains(s.slope, -1 - iso)) return '';
  const tau = t.tau === undefined ? '' : `, τ ≈ ${tauNumber(t.tau)} epochs`;
  return `; ${lines}, so the optimum keeps a constant EMA timescale${tau}`;
}

export function describeSlope(s: BasinSlope): string {
  // The paper's expectation: -1 for L2, 0 for decoupled decay; none for the schedule-free ones.
  const expected = s.optimizer === 'adam' || s.optimizer === 'sgd' ? -1 : 0;
  const paper = ['adam', 'adamw', 'sgd', 'sgdw'].includes(s.optimizer);
  const edge = s.rows.filter((r) => r.atEdge).length;
  const what = `${name(s.optimizer)} (${s.schedule}): slope of log10(best decay) on log10(lr) ${estimateText(s.slope)}`;
  if (edge === s.rows.length) {
    return `${what}: at every learning rate the best decay is the grid's smallest or largest, so the optimum lies beyond the grid and its slope is not measured.`;
  }
  const measured = Number.isFinite(s.slope.lo);
  const agrees =
    !measured || !paper
      ? ''
      : contains(s.slope, expected) && !contains(s.slope, -1 - expected)
        ? ', as the paper finds'
        : !contains(s.slope, expected)
          ? `, against the paper (which expects ${expected})`
          : '';
  const censored = edge
    ? `; at ${edge} of ${s.rows.length} learning rates the best decay is the grid's smallest or largest, so the optimum may lie beyond the grid and the slope is biased towards 0`
    : '';
  return `${what}: ${slopeVerdict(s.slope)}${agrees}${timescaleClause(s)}${censored}.`;
}

export function describeSlopeDifference(d: SlopeDifference): string {
  const what = `${name(d.coupled)} minus ${name(d.decoupled)} slope (${d.schedule}) ${estimateText(d.difference)}`;
  const p = d.difference;
  if (p.hi < 0)
    return `${what}: ${name(d.coupled)}'s optimum moves more with the learning rate than ${name(d.decoupled)}'s, as the paper claims.`;
  if (p.lo > 0)
    return `${what}: ${name(d.decoupled)}'s optimum moves more with the learning rate, against the paper's claim.`;
  return `${what}: no difference between the two basins' slopes is detectable.`;
}

function shiftWords(q: QuantityShift): string {
  switch (q.verdict) {
    case 'stays':
      return 'stays within one grid cell';
    case 'moves':
      return 'moves';
    default:
      return q.shift.n < 2 ? 'not judged' : 'may or may not move: the seeds disagree';
  }
}

export function describeBudget(b: BudgetTransfer): string {
  const shift = (q: QuantityShift) => `${estimateText(q.shift, ' cells')}: ${shiftWords(q)}`;
  const claim =
    b.norm.verdict === 'stays' && b.raw.verdict === 'moves'
      ? ', as the paper claims'
      : b.norm.verdict === 'moves'
        ? ', against the paper: the normalized value moves'
        : '';
  return `${name(b.optimizer)} (${b.schedule}), ${b.short} against ${b.long} epochs: the best λ_norm shifts by ${shift(b.norm)}, the best raw λ by ${shift(b.raw)}${claim}.`;
}

export function describeRestarts(r: RestartsClaim): string {
  const at = r.restartEpochs.map(numLabel);
  const restarts = at.length
    ? `restart${at.length > 1 ? 's' : ''} at epoch ${at.join(', ')}`
    : 'no restart';
  const points = r.points.map(
    (p) =>
      `at epoch ${p.epoch}${p.epoch === r.epochs ? ' (the end)' : ''}, ${pairedClause('cosine', 'warm restarts', p.paired)}`,
  );
  return `${name(r.optimizer)} with warm restarts against one cosine annealing over ${r.epochs} epochs, each at its best setting (${restarts}): ${points.join('; ')}.`;
}

/** Where a run's sentences come from: a claim's sweep, or apart, the decay effects' sweep. */
export type Source = ClaimKey | 'decayEffects';

const NO_PAIR =
  'the sweep does not run a coupled optimizer and its decoupled twin under one schedule, so only the effect of decay is measured.';

/**
 * The claims' sentences, grouped per claim, as the page lists them and the CLI prints them. `from`
 * names where a run of several sweeps took each claim from; a claim without data then belongs to
 * the run, not to one sweep.
 */
export function claimFindings(
  claims: ClaimsSummary,
  options: { from?: Partial<Record<Source, string>> } = {},
): string[] {
  const scope = options.from
    ? 'no sweep of this run can address it'
    : 'this sweep cannot address it';
  const tag = (source: Source) => (options.from?.[source] ? ` (${options.from[source]})` : '');
  const lines = <T>(
    key: ClaimKey,
    label: string,
    missingName: string,
    say: (t: T) => string[],
    sourceOf: (i: number) => Source = () => key,
  ): string[] => {
    const r = claims[key] as ClaimResult<T>;
    if (r.status === 'missing') return [`${missingName}: ${scope}: ${r.why}`];
    return say(r.result).map((line, i) => `${label}${tag(sourceOf(i))}: ${line}`);
  };
  const g = claims.generalization;
  const compared = g.status === 'analyzed' ? Math.max(1, g.result.comparisons.length) : 0;
  return [
    ...lines<Generalization>(
      'generalization',
      'Generalization',
      'Generalization (decoupled against coupled decay)',
      (g) => [
        ...(g.comparisons.length ? g.comparisons.map(describeComparison) : [NO_PAIR]),
        ...g.decayEffects.map(describeDecayEffect),
      ],
      (i) => (i < compared ? 'generalization' : 'decayEffects'),
    ),
    ...lines<SeparableClaim>(
      'separable',
      'Separable lr and decay',
      'Separable learning rate and decay',
      (s) => [...s.slopes.map(describeSlope), ...s.differences.map(describeSlopeDifference)],
    ),
    ...lines<BudgetTransfer[]>(
      'budget',
      'Normalized decay across budgets',
      'Normalized decay transfers across budgets',
      (b) => b.map(describeBudget),
    ),
    ...lines<RestartsClaim[]>(
      'restarts',
      'Warm restarts',
      'Warm restarts and anytime performance',
      (r) => r.map(describeRestarts),
    ),
  ];
}

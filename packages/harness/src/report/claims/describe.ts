/**
 * The claims' verdicts in words, one sentence per optimizer or comparison, each with its 95%
 * interval and n; decided from the intervals (stats.ts), never from a fixed threshold.
 */
import type { SweepOptimizer } from '../../sweep/types.js';
import { describeComparison, pairedSentence } from '../findings.js';
import { numLabel, OPTIMIZER_NAMES } from '../format.js';
import type { Comparison, SelectionMetric } from '../metrics.js';
import type { PairedDifference } from '../stats.js';
import type { BudgetTransfer, QuantityShift } from './budget.js';
import type { ClaimResult, ClaimsSummary } from './index.js';
import type { RestartsClaim } from './restarts.js';
import type { BasinSlope, SlopeDifference } from './separable.js';

/** The experiment calls for this many seeds (issue #17). */
export const SEEDS_WANTED = 5;

const name = (o: SweepOptimizer) => OPTIMIZER_NAMES[o];
const fixed = (x: number) => (Object.is(Number(x.toFixed(2)), -0) ? 0 : x).toFixed(2);

/** "-0.98, 95% CI [-1.10, -0.85], n = 5 seeds" (no interval below 2 seeds). */
export function estimateText(d: PairedDifference, unit = ''): string {
  const n = `n = ${d.n} seed${d.n === 1 ? '' : 's'}`;
  if (d.n < 2) return `${fixed(d.mean)}${unit} (${n}, no interval)`;
  return `${fixed(d.mean)}${unit}, ${Math.round(d.level * 100)}% CI [${fixed(d.lo)}, ${fixed(d.hi)}], ${n}`;
}

const contains = (d: PairedDifference, x: number) => d.lo <= x && x <= d.hi;

/** What a basin slope interval says about diagonal (-1) and axis-aligned (0) basins. */
export function slopeVerdict(d: PairedDifference): string {
  if (d.n < 2) return 'with one seed there is no interval, so the shape is not established';
  const diagonal = contains(d, -1);
  const aligned = contains(d, 0);
  if (diagonal && aligned)
    return 'the interval contains both 0 and -1, so this grid cannot tell a diagonal basin from an axis-aligned one';
  if (diagonal)
    return 'the best decay moves with the learning rate (consistent with a diagonal basin, slope -1; slope 0 excluded)';
  if (aligned)
    return 'the best decay does not move with the learning rate (consistent with an axis-aligned basin, slope 0; slope -1 excluded)';
  return 'the slope differs from both 0 and -1';
}

export function describeSlope(s: BasinSlope): string {
  // The paper's expectation: -1 for L2, 0 for decoupled decay; none for the schedule-free ones.
  const expected = s.optimizer === 'adam' || s.optimizer === 'sgd' ? -1 : 0;
  const paper = ['adam', 'adamw', 'sgd', 'sgdw'].includes(s.optimizer);
  const edge = s.rows.filter((r) => r.atEdge).length;
  const agrees =
    s.slope.n < 2 || !paper
      ? ''
      : contains(s.slope, expected) && !contains(s.slope, -1 - expected)
        ? ' This agrees with the paper.'
        : !contains(s.slope, expected)
          ? ` This does not reproduce the paper (which expects ${expected}).`
          : '';
  const censored = edge
    ? ` At ${edge} of ${s.rows.length} learning rates the best decay is the grid's smallest or largest, so the optimum may lie beyond the grid and the slope is biased towards 0.`
    : '';
  return `${name(s.optimizer)} (${s.schedule}): slope of log10(best decay) on log10(lr) ${estimateText(s.slope)}; ${slopeVerdict(s.slope)}.${agrees}${censored}`;
}

export function describeSlopeDifference(d: SlopeDifference): string {
  const what = `${name(d.coupled)} minus ${name(d.decoupled)} slope (${d.schedule}): ${estimateText(d.difference)}`;
  const p = d.difference;
  if (p.n < 2) return `${what}; with one seed there is no interval.`;
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
      return q.shift.n < 2
        ? 'cannot be judged with one seed'
        : 'may or may not move (the seeds disagree)';
  }
}

export function describeBudget(b: BudgetTransfer): string {
  const seeds = (e: number) =>
    b.best
      .filter((x) => x.epochs === e)
      .map((x) => numLabel(Number(x.decay.norm.toPrecision(3))))
      .join(', ');
  const what = `${name(b.optimizer)} (${b.schedule}), ${b.short} against ${b.long} epochs`;
  const numbers = `best λ_norm per seed ${seeds(b.short)} at ${b.short} epochs and ${seeds(b.long)} at ${b.long}; shift of the best λ_norm ${estimateText(b.norm.shift, ' cells')}; of the best raw λ ${estimateText(b.raw.shift, ' cells')}`;
  const claim =
    b.norm.verdict === 'stays' && b.raw.verdict === 'moves'
      ? ' This agrees with the paper.'
      : b.norm.verdict === 'moves'
        ? ' This does not reproduce the paper: the normalized value moves.'
        : '';
  return `${what}: ${numbers} (grid cells of the ${b.short}-epoch ${b.swept === 'norm' ? 'λ_norm' : 'raw λ'} grid, later minus earlier). The normalized value ${shiftWords(b.norm)}; the raw one ${shiftWords(b.raw)}.${claim}`;
}

export function describeRestarts(r: RestartsClaim): string[] {
  const head = `${name(r.optimizer)} with warm restarts against ${name(r.optimizer)} with one cosine annealing over ${r.epochs} epochs, each at its best setting (restarts at epoch ${r.restartEpochs.map(numLabel).join(', ') || 'none'}):`;
  return [
    head,
    ...r.points.map(
      (p) =>
        `at epoch ${p.epoch}${p.epoch === r.epochs ? ' (the end)' : ''}: ${pairedSentence('cosine', 'warm restarts', p.paired)}`,
    ),
  ];
}

export function describeGeneralization(c: Comparison, on: SelectionMetric): string {
  const few =
    c.paired.n < SEEDS_WANTED
      ? ` Only ${c.paired.n} paired seed${c.paired.n === 1 ? '' : 's'}, fewer than the ${SEEDS_WANTED} the experiment calls for.`
      : '';
  const chosen =
    on === 'validation'
      ? ' Settings chosen on the validation split, reported on test.'
      : ' Settings chosen on the test error itself (no validation split), so both best errors are optimistic.';
  return `${describeComparison(c)}${chosen}${few}`;
}

/** A missing claim's line. */
const missing = (claim: string, r: ClaimResult<unknown>) =>
  r.status === 'missing' ? [`${claim}: this sweep cannot address it: ${r.why}`] : [];

/** The claims' sentences, grouped per claim, for the page's summary list. */
export function claimFindings(claims: ClaimsSummary, on: SelectionMetric): string[] {
  const out: string[] = [];
  const { generalization: g, separable: s, budget: b, restarts: r } = claims;
  if (g.status === 'analyzed')
    out.push(...g.result.map((c) => `Generalization: ${describeGeneralization(c, on)}`));
  out.push(...missing('Generalization (Adam+L2 against AdamW)', g));
  if (s.status === 'analyzed') {
    out.push(...s.result.slopes.map((x) => `Separable lr and decay: ${describeSlope(x)}`));
    out.push(
      ...s.result.differences.map((x) => `Separable lr and decay: ${describeSlopeDifference(x)}`),
    );
  }
  out.push(...missing('Separable learning rate and decay', s));
  if (b.status === 'analyzed')
    out.push(...b.result.map((x) => `Normalized decay across budgets: ${describeBudget(x)}`));
  out.push(...missing('Normalized decay transfers across budgets', b));
  if (r.status === 'analyzed')
    out.push(...r.result.map((x) => `Warm restarts: ${describeRestarts(x).join(' ')}`));
  out.push(...missing('Warm restarts and anytime performance', r));
  return out;
}

/**
 * The report's prose: each finding is a sentence generated from the numbers (summary.ts), so the page
 * says what the data shows, including plainly when it shows nothing. Verdicts come from the paired
 * 95% intervals (stats.ts), never from a fixed threshold.
 */
import {
  cellText,
  listWords,
  numLabel,
  OPTIMIZER_NAMES,
  pct,
  points,
  signedPoints,
} from './format.js';
import type { ReportRecord } from './load.js';
import {
  type Alignment,
  type Comparison,
  type DecayEffect,
  type Noise,
  prunedEpoch,
} from './metrics.js';
import type { PairedDifference } from './stats.js';
import type { GroupSummary, ReportSummary } from './summary.js';
import type { Timescale } from './timescale.js';

const groupName = (optimizer: keyof typeof OPTIMIZER_NAMES, schedule: string) =>
  `${OPTIMIZER_NAMES[optimizer]} (${schedule})`;

/** "95% CI [0.05, 0.37]" in points. */
function interval(d: PairedDifference, sign = 1): string {
  const [a, b] = sign > 0 ? [d.lo, d.hi] : [-d.hi, -d.lo];
  return `${Math.round(d.level * 100)}% CI [${signedPoints(a)}, ${signedPoints(b)}]`;
}

/**
 * One sentence for a paired difference d = errorOf(first) - errorOf(second), per seed.
 * positive d: `second` is lower.
 */
export function pairedSentence(first: string, second: string, d: PairedDifference): string {
  if (d.n === 0) return `${second} and ${first} share no seed, so they cannot be paired.`;
  if (d.n === 1) {
    const lower = d.mean > 0 ? second : first;
    return `${lower} is lower by ${points(d.mean)} points on the one shared seed; with one seed no interval can be computed, so this is not evidence of a difference.`;
  }
  if (d.lo > 0) {
    return `${second} is lower than ${first} by ${points(d.mean)} points, ${interval(d)}, lower on ${d.positive} of ${d.n} seeds.`;
  }
  if (d.hi < 0) {
    return `${first} is lower than ${second} by ${points(d.mean)} points, ${interval(d, -1)}, lower on ${d.negative} of ${d.n} seeds.`;
  }
  return `no difference detectable between ${second} and ${first}: mean difference ${signedPoints(d.mean)} points (${first} minus ${second}), ${interval(d)}, ${second} lower on ${d.positive} of ${d.n} seeds.`;
}

export function describeComparison(c: Comparison): string {
  const coupled = OPTIMIZER_NAMES[c.coupled];
  const decoupled = OPTIMIZER_NAMES[c.decoupled];
  const best = `best settings: ${decoupled} lr ${numLabel(c.decoupledBest.lr)}, decay ${numLabel(c.decoupledBest.weightDecay)} at ${cellText(c.decoupledBest)}; ${coupled} lr ${numLabel(c.coupledBest.lr)}, decay ${numLabel(c.coupledBest.weightDecay)} at ${cellText(c.coupledBest)}`;
  const claim = c.verdict === 'negative' ? " This does not reproduce the paper's claim." : '';
  return `${decoupled} vs ${coupled} (${c.schedule}), each at its best setting: ${pairedSentence(coupled, decoupled, c.paired)}${claim} (${best}.)`;
}

export function describeDecayEffect(e: DecayEffect): string {
  const what = groupName(e.optimizer, e.schedule);
  const decay = `decay ${numLabel(e.best.weightDecay)}`;
  return `${what}, its best decay (${decay} at lr ${numLabel(e.best.lr)}, ${pct(e.best.mean)}) against its best without decay (${pct(e.noDecay.mean)}): ${pairedSentence('no decay', decay, e.paired)}`;
}

export function describeAlignment(optimizer: string, schedule: string, a: Alignment): string {
  const what = `${OPTIMIZER_NAMES[optimizer as keyof typeof OPTIMIZER_NAMES] ?? optimizer} (${schedule})`;
  if (a.status === 'too small') {
    return `${what}: the grid is too small to measure alignment (needs 3 learning rates and 2 nonzero weight decays).`;
  }
  if (a.status === 'flat') {
    const rows = a.flatRows.length + a.ridge.length;
    if (!a.ridge.length) {
      return `${what}: at all ${rows} learning rates the paired interval between the best and the worst nonzero weight decay contains 0, so the basin has no ridge to measure: the strength of weight decay made no detectable difference.`;
    }
    return `${what}: only ${a.ridge.length} of ${rows} learning rates show a detectable difference between nonzero weight decays (3 are needed to fit the ridge), so alignment is not measured.`;
  }
  const shape =
    a.alignment >= 0.75 ? 'close to axis-aligned' : a.alignment <= 0.25 ? 'diagonal' : 'in between';
  const flat = a.flatRows.length ? `; ${a.flatRows.length} flat row(s) left out` : '';
  const oneSeed = a.ridge.some((r) => r.n < 2)
    ? ' With one seed, flat rows cannot be told apart from real ones, so this ridge may be noise.'
    : '';
  return `${what}: ridge slope ${a.slope.toFixed(2)}, R² ${a.r2.toFixed(2)}, alignment ${a.alignment.toFixed(2)} (${shape}${flat}).${oneSeed}`;
}

/** τ with 2 significant digits: "12", "0.35". */
export const tauNumber = (tau: number) => numLabel(Number(tau.toPrecision(2)));

/** "τ = 12 epochs". */
export const tauText = (tau: number) => `τ = ${tauNumber(tau)} epochs`;

export function describeTimescale(optimizer: string, schedule: string, t: Timescale): string {
  const what = `${OPTIMIZER_NAMES[optimizer as keyof typeof OPTIMIZER_NAMES] ?? optimizer} (${schedule})`;
  const formula =
    t.decayScale === 'lr'
      ? `τ = 1/(lr·λ·K) epochs (decay scaled by lr)`
      : `τ = 1/(λ·K) epochs (decay scaled by η_t, so τ does not depend on lr and iso-τ lines are vertical)`;
  const base = `${what}: EMA timescale at the schedule's peak ${formula}, K = ${t.iterationsPerEpoch} iterations per epoch; the grid spans τ = ${tauNumber(t.tauRange[0])} to ${tauNumber(t.tauRange[1])} epochs.`;
  const fit = t.fit;
  if (!fit) return `${base} Fewer than 2 learning rates have a best decay, so no line is fitted.`;
  if (fit.follows) {
    const ambiguous =
      t.decayScale === 'lr' && fit.constantDecayFits
        ? ' But a constant decay (one column) also lies within one grid cell of every best decay, so this grid cannot tell a constant timescale from a constant decay.'
        : '';
    return `${base} The best decay at each of the ${fit.rows} learning rates lies within one grid cell of the iso-τ line ${tauText(fit.tau)} (farthest ${fit.maxCells.toFixed(1)} cells): the optimum follows a constant timescale.${ambiguous}`;
  }
  return `${base} No single iso-τ line passes within one grid cell of every learning rate's best decay (the closest, ${tauText(fit.tau)}, misses one by ${fit.maxCells.toFixed(1)} cells): the optimum does not follow a constant timescale on this grid.`;
}

export function noiseText(noise: Noise | null): string {
  if (!noise) return 'unknown';
  const sd = `${points(noise.sd)} points`;
  return noise.source === 'seeds'
    ? `${sd} (pooled sd over seeds within a setting)`
    : `${sd} (one seed per setting, so this is the binomial sd of an error rate measured on the test images, sqrt(p(1-p)/N); seed-to-seed noise may be larger)`;
}

/** How many trials --prune stopped, and at which epochs; undefined when none was. */
function prunedFinding(results: ReportRecord[]): string | undefined {
  const perEpoch = new Map<number, number>();
  for (const r of results) {
    const epoch = prunedEpoch(r);
    if (epoch !== undefined) perEpoch.set(epoch, (perEpoch.get(epoch) ?? 0) + 1);
  }
  const total = [...perEpoch.values()].reduce((a, b) => a + b, 0);
  if (!total) return undefined;
  const where = [...perEpoch.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([epoch, n]) => `${n} at epoch ${epoch}`);
  return `Successive halving (--prune) stopped ${total} of ${results.length} recorded trials early (${listWords(where)}). They were not trained to the budget, so they are shown as pruned and left out of every best setting, comparison and slope.`;
}

function statusFindings(summary: ReportSummary, results: ReportRecord[]): string[] {
  const out: string[] = [];
  const { warnings, trials } = summary;
  if (warnings.length) {
    const shown = warnings.slice(0, 3).join('; ');
    const more = warnings.length > 3 ? `; and ${warnings.length - 3} more` : '';
    out.push(
      `Damaged input: ${warnings.length} problem(s) found and skipped (${shown}${more}). Skipped records count as trials without a result.`,
    );
  }
  if (summary.lengths.length > 1) {
    const longest = summary.lengths.at(-1);
    out.push(
      `The sweep trains for ${listWords(summary.lengths.map(String))} epochs; the heatmaps, comparisons and learning curves use the ${longest}-epoch runs, and the shorter runs enter the budget claim only.`,
    );
  }
  if (trials.pending > 0) {
    out.push(
      `The sweep is incomplete: ${trials.pending} of ${trials.total} trials have no result yet; the numbers below use what finished.`,
    );
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const first = failed[0];
    const share =
      failed.length === results.length
        ? 'Every trial failed'
        : `${failed.length} of ${results.length} recorded trials failed`;
    out.push(
      `${share} (the first, ${first.trialId}: ${first.error ?? 'no message'}). Fix the cause, then rerun the sweep with --retry-failed.`,
    );
  }
  const pruned = prunedFinding(results);
  if (pruned) out.push(pruned);
  return out;
}

function groupFindings(g: GroupSummary): string[] {
  const out = [describeAlignment(g.optimizer, g.schedule, g.alignment)];
  if (g.timescale) out.push(describeTimescale(g.optimizer, g.schedule, g.timescale));
  return out;
}

/** The findings, in the order the page lists them. */
export function buildFindings(summary: ReportSummary, results: ReportRecord[]): string[] {
  const out = statusFindings(summary, results);
  if (summary.trials.ok > 0) {
    for (const c of summary.comparisons) out.push(describeComparison(c));
    if (!summary.comparisons.length) {
      out.push(
        'The sweep has no coupled/decoupled pair (Adam with AdamW, or SGD with SGDW) under the same schedule, so no comparison is made.',
      );
    }
    for (const e of summary.decayEffects) out.push(describeDecayEffect(e));
    for (const g of summary.groups) out.push(...groupFindings(g));
  }
  out.push(
    summary.selectedOn === 'validation'
      ? 'Best settings were chosen on the validation error and are reported on the test set.'
      : `Best settings were chosen on the test set itself, because the records carry no validation error: the best settings' test errors are optimistic (chosen and measured on the same images), and so is every best-against-best comparison${summary.groups.length > 1 ? ` (${listWords(summary.groups.map((g) => OPTIMIZER_NAMES[g.optimizer]))} alike)` : ''}.`,
  );
  return out;
}

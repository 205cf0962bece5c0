/**
 * "What the data shows": the sentences about the data that are not a verdict on one of the paper's
 * claims (those are in claims/describe.ts): damaged input, training lengths, incomplete, failed and
 * pruned trials, and what the best settings were chosen on. Each is generated from the numbers
 * (summary.ts).
 */
import { listWords, OPTIMIZER_NAMES, points } from './format.js';
import type { ReportRecord } from './load.js';
import { type Noise, prunedEpoch } from './metrics.js';
import type { ReportSummary } from './summary.js';

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

function selectionFinding(summary: ReportSummary): string {
  if (summary.selectedOn === 'validation') {
    return 'Best settings were chosen on the validation error and are reported on the test set.';
  }
  const groups =
    summary.groups.length > 1
      ? ` (${listWords(summary.groups.map((g) => OPTIMIZER_NAMES[g.optimizer]))} alike)`
      : '';
  return `Best settings were chosen on the test set itself, because the records carry no validation error: the best settings' test errors are optimistic (chosen and measured on the same images), and so is every best-against-best comparison${groups}.`;
}

/** The findings, in the order the page lists them. */
export function buildFindings(summary: ReportSummary, results: ReportRecord[]): string[] {
  return [...statusFindings(summary, results), selectionFinding(summary)];
}

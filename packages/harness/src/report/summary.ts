/**
 * The report's numbers for a sweep, in one object (written as summary.json): trial counts, noise,
 * the best setting, ridge and EMA timescale of each optimizer and schedule, the analysis of each of
 * the paper's claims (claims/), and both lists of sentences: the claims' verdicts
 * (claims/describe.ts) and the other findings (findings.ts). The definitions are in metrics.ts,
 * stats.ts and timescale.ts.
 */
import { parseTrainConfig, type TrainConfig } from '../experiments/config.js';
import type { ParsedSweepSpec } from '../sweep/spec.js';
import type { SweepOptimizer, SweepSchedule, Trial } from '../sweep/types.js';
import { claimFindings } from './claims/describe.js';
import { trialEpochs } from './claims/grouping.js';
import { analyzeClaims, type ClaimsSummary } from './claims/index.js';
import { buildFindings } from './findings.js';
import type { ReportRecord } from './load.js';
import {
  bestCell,
  buildCells,
  type Cell,
  compareOptimizers,
  decayEffects,
  estimateNoise,
  groupCells,
  type Noise,
  prunedEpoch,
  ridge,
  type SelectionMetric,
  selectionMetric,
} from './metrics.js';
import { groupTimescale, type Timescale } from './timescale.js';

export interface GroupSummary {
  optimizer: SweepOptimizer;
  schedule: SweepSchedule;
  best: Cell | undefined;
  noDecay: Cell | undefined;
  /** The best nonzero decay at each learning rate (metrics.ts `ridge`), as the heatmap marks it. */
  ridge: { lr: number; weightDecay: number }[];
  /** The EMA timescale view (decoupled optimizers only). */
  timescale?: Timescale;
  /** The group's training config (of its first trial), defaults filled in; undefined if invalid. */
  config?: TrainConfig;
}

export interface TrialCounts {
  total: number;
  ok: number;
  diverged: number;
  /** 'ok' trials stopped early by --prune (not trained to the budget). */
  pruned: number;
  failed: number;
  /** Trials without a (valid) record. */
  pending: number;
}

export interface ReportSummary {
  name: string;
  trials: TrialCounts;
  /** Noise of a cell's final test error (fraction): pooled seed sd, or binomial with one seed. */
  noise: Noise | null;
  /** What the best settings were chosen on: validation error when recorded, else test error. */
  selectedOn: SelectionMetric;
  groups: GroupSummary[];
  /** Damaged files and records, and what the report did about them. */
  warnings: string[];
  /** One analysis per claim of the paper, or why the sweep cannot address it (claims/). */
  claims: ClaimsSummary;
  /** The claims' verdicts in words (the page's "The paper's claims" list, printed by the CLI). */
  claimFindings: string[];
  /** The other findings (the page's "What the data shows" list, printed by the CLI). */
  findings: string[];
  /**
   * Training lengths (epochs) in the sweep. With more than one, everything but the budget claim is
   * computed on the longest, so runs of different lengths never share a cell.
   */
  lengths: number[];
}

function groupConfig(trials: Trial[], optimizer: string, schedule: string) {
  const trial = trials.find(
    (t) => t.params.optimizer === optimizer && t.params.schedule === schedule,
  );
  try {
    return trial ? parseTrainConfig(trial.config) : undefined;
  } catch {
    return undefined;
  }
}

function countTrials(trials: Trial[], results: ReportRecord[]): TrialCounts {
  return {
    total: trials.length,
    ok: results.filter((r) => r.status === 'ok').length,
    diverged: results.filter((r) => r.diverged).length,
    pruned: results.filter((r) => prunedEpoch(r) !== undefined).length,
    failed: results.filter((r) => r.status === 'failed').length,
    pending: trials.length - results.length,
  };
}

/** Computes the report's numbers (no rendering). */
export function summarize(
  spec: Pick<ParsedSweepSpec, 'name' | 'base'>,
  trials: Trial[],
  results: ReportRecord[],
  warnings: string[] = [],
): { summary: ReportSummary; cells: Cell[]; trials: Trial[] } {
  const allTrials = trials;
  const lengths = [...new Set(trials.map((t) => trialEpochs(t) ?? 0))].sort((a, b) => a - b);
  const longest = lengths.at(-1);
  if (lengths.length > 1) trials = trials.filter((t) => trialEpochs(t) === longest);
  const cells = buildCells(trials, results);
  // Fashion-MNIST, MNIST and CIFAR-10 all have 10,000 test images.
  const testSize = Number((spec.base as { testSubset?: number }).testSubset ?? 10000);
  const on = selectionMetric(cells);
  const effects = decayEffects(cells);
  const groups = groupCells(cells).map(
    (g): GroupSummary => ({
      optimizer: g.optimizer,
      schedule: g.schedule,
      best: bestCell(g.cells, on),
      // A decoupled grid without a 0 column shows its twin's no-decay baseline (the same algorithm).
      noDecay:
        bestCell(
          g.cells.filter((c) => c.weightDecay === 0),
          on,
        ) ?? effects.find((e) => e.optimizer === g.optimizer && e.schedule === g.schedule)?.noDecay,
      ridge: ridge(g.cells, on).map(({ lr, weightDecay }) => ({ lr, weightDecay })),
      timescale: groupTimescale(g.cells, trials, on),
      config: groupConfig(trials, g.optimizer, g.schedule),
    }),
  );
  const claims = analyzeClaims({
    cells,
    comparisons: compareOptimizers(cells),
    decayEffects: effects,
    trials,
    allTrials,
    results,
    on,
  });
  const summary: ReportSummary = {
    name: spec.name,
    trials: countTrials(allTrials, results),
    noise: estimateNoise(cells, testSize) ?? null,
    selectedOn: on,
    groups,
    warnings,
    claims,
    claimFindings: claimFindings(claims),
    findings: [],
    lengths,
  };
  summary.findings = buildFindings(summary, results);
  return { summary, cells, trials };
}

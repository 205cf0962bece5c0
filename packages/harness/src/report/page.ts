/**
 * The report page's content, from the summary: which figures it shows (as Vega-Lite specs, rendered
 * to SVG by render.ts), the Setup in words, the tables, and the section texts that define each
 * number. No I/O here; index.ts writes the files.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { TrainConfig } from '../experiments/config.js';
import type { Trial } from '../sweep/types.js';
import { claimSections } from './claims/sections.js';
import { type CurveSeries, curvesSpec, heatmapSpec, lossScatterSpec } from './figures.js';
import { describeAlignment, describeTimescale, noiseText } from './findings.js';
import {
  cellText,
  describeDecay,
  describeModel,
  listWords,
  numLabel,
  OPTIMIZER_NAMES,
  pct,
  signedPoints,
} from './format.js';
import type { HtmlFigure, HtmlSection, HtmlTable } from './html.js';
import type { ReportRecord } from './load.js';
import { type Cell, type Comparison, groupCells, prunedEpoch } from './metrics.js';
import type { ReportSummary } from './summary.js';

/** A figure before rendering: its id (file name), title, caption and Vega-Lite spec. */
export interface FigurePlan {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
  /** A small chart with a short caption (laid out several to a row). */
  compact?: boolean;
}

export interface PageInput {
  summary: ReportSummary;
  cells: Cell[];
  trials: Trial[];
  results: ReportRecord[];
  /** Settings outlined in each heatmap. */
  top: number;
  /** Every trial, of every training length (default: `trials`), for the trial table. */
  allTrials?: Trial[];
}

/**
 * One colour scale for all heatmaps: from the best cell to the 90th percentile, clamped, so a few
 * diverged cells do not wash out the basin.
 */
function sharedErrorDomain(cells: Cell[]): [number, number] | undefined {
  const means = cells
    .filter((c) => c.n > 0)
    .map((c) => c.mean * 100)
    .sort((a, b) => a - b);
  if (!means.length) return undefined;
  return [means[0], Math.max(means[0] + 0.5, means[Math.floor((means.length - 1) * 0.9)])];
}

export function heatmapPlans({ summary, cells, top }: PageInput): FigurePlan[] {
  const domain = sharedErrorDomain(cells);
  return groupCells(cells).map((g) => {
    const s = summary.groups.find((x) => x.optimizer === g.optimizer && x.schedule === g.schedule);
    const decay = s?.config ? describeDecay(s.config) : undefined;
    const name = OPTIMIZER_NAMES[g.optimizer];
    const iso = s?.timescale
      ? ` Dashed lines: iso-τ lines of the EMA timescale τ in epochs (the thick one fits the best decays best). ${describeTimescale(g.optimizer, g.schedule, s.timescale)}`
      : '';
    return {
      id: `heatmap-${g.optimizer}-${g.schedule}`,
      title: `${name} (${g.schedule}) heatmap`,
      caption: `Final test error (%) of ${name} with the ${g.schedule} schedule over learning rate x ${decay?.axis ?? 'weight decay'}, mean over seeds († = a seed diverged; ‡ = a seed was pruned by --prune and is left out of the mean; grey "pruned @k" = every seed was stopped at epoch k, not trained to the budget). Red outlines: the ${top} best settings, ranked. White dots: the ridge (best nonzero weight decay per learning rate) used for the alignment number. ${s ? describeAlignment(g.optimizer, g.schedule, s.alignment) : ''}${iso}`,
      spec: heatmapSpec(g, s?.alignment, {
        top,
        domain,
        decayAxis: decay?.axis,
        timescale: s?.timescale,
        title: `${name} (${g.schedule}): final test error (%)`,
      }),
    };
  });
}

/** The trials of each group's best setting (its seeds), for the learning curves. */
function bestSeries({
  summary,
  trials,
  results,
}: PageInput): (CurveSeries & { trialIds: string[] })[] {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  return summary.groups.flatMap((g) => {
    const best = g.best;
    if (!best) return [];
    const members = trials.filter(
      (t) =>
        t.params.optimizer === best.optimizer &&
        t.params.schedule === best.schedule &&
        t.params.lr === best.lr &&
        t.params.weightDecay === best.weightDecay,
    );
    return [
      {
        label: `${OPTIMIZER_NAMES[best.optimizer]} · ${best.schedule} · lr ${numLabel(best.lr)} · decay ${numLabel(best.weightDecay)}`,
        results: members.map((t) => byId.get(t.id)).filter((r): r is ReportRecord => !!r),
        trialIds: members.map((t) => t.id),
      },
    ];
  });
}

export function curvePlans(input: PageInput): {
  curves: FigurePlan[];
  scatter: FigurePlan[];
} {
  const series = bestSeries(input);
  const bestIds = new Set(series.flatMap((s) => s.trialIds));
  const curves = series.some((s) => s.results.length)
    ? [
        {
          id: 'curves',
          title: 'Test error over epochs',
          caption:
            'Test error per epoch of the best setting of each optimizer and schedule: line = mean over seeds, band = min to max over seeds (paper Fig. 4 style; with warm restarts, look at the end of each period).',
          spec: curvesSpec(series),
        },
      ]
    : [];
  const scatter = input.results.some((r) => r.status === 'ok')
    ? [
        {
          id: 'error-vs-loss',
          title: 'Test error against training loss',
          caption:
            'Each point is one trial at its last epoch; black rings mark the best settings. At equal training loss, a lower test error means better generalization, not better optimization (paper Fig. 3).',
          spec: lossScatterSpec(input.trials, input.results, bestIds),
        },
      ]
    : [];
  return { curves, scatter };
}

const DATASET_NAMES: Record<TrainConfig['dataset'], string> = {
  'fashion-mnist': 'Fashion-MNIST',
  mnist: 'MNIST',
  cifar10: 'CIFAR-10',
};

/** The Setup section's sentences: data, model, training, and what each decay axis holds. */
export function describeSetup(summary: ReportSummary, trials: Trial[]): string[] {
  const config = summary.groups.find((g) => g.config)?.config;
  const t = summary.trials;
  const counts = `${t.total} trials: ${t.ok} finished (${t.diverged} diverged${t.pruned ? `, ${t.pruned} stopped early by --prune` : ''}), ${t.failed} failed, ${t.pending} without a result. Noise of a setting's final test error: ${noiseText(summary.noise)}.`;
  if (!config) return [counts];
  const seeds = [...new Set(trials.map((x) => x.params.seed))].sort((a, b) => a - b);
  const schedules = [...new Set(summary.groups.map((g) => g.schedule))];
  const images = (n: number | undefined, kind: string) =>
    n === undefined ? `all ${kind} images` : `${n.toLocaleString('en-US')} ${kind} images`;
  const augment = config.augment;
  const augmentText =
    augment.cropPadding || augment.flip
      ? `, with ${listWords([...(augment.cropPadding ? [`random crops of ${augment.cropPadding}-pixel padded images`] : []), ...(augment.flip ? ['horizontal flips'] : [])])}`
      : '';
  const validation = config.validationSize
    ? ` ${config.validationSize.toLocaleString('en-US')} training images are held out for validation.`
    : '';
  const decays = new Map<string, string>();
  for (const g of summary.groups) {
    if (g.config) decays.set(g.optimizer, describeDecay(g.config).sentence);
  }
  return [
    `Data: ${DATASET_NAMES[config.dataset]}, ${images(config.subset, 'training')}, ${images(config.testSubset, 'test')}.${validation} Model: ${describeModel(config.model)}. Training: ${config.epochs} epochs at batch size ${config.batchSize}${augmentText}, ${listWords(schedules)} schedule, ${seeds.length === 1 ? `seed ${seeds[0]}` : `${seeds.length} seeds (${listWords(seeds.map(String))})`}.`,
    ...decays.values(),
    counts,
  ];
}

function summaryTable(summary: ReportSummary): HtmlTable {
  return {
    head: [
      'optimizer',
      'schedule',
      'best lr',
      'best weight decay',
      'test error (mean ± sd over seeds)',
      'train loss',
      'best without decay',
      'ridge slope',
      'alignment',
    ],
    rows: summary.groups.map((g) => [
      OPTIMIZER_NAMES[g.optimizer],
      g.schedule,
      g.best ? numLabel(g.best.lr) : '–',
      g.best ? numLabel(g.best.weightDecay) : '–',
      cellText(g.best),
      g.best && Number.isFinite(g.best.trainLoss) ? g.best.trainLoss.toFixed(3) : '–',
      cellText(g.noDecay),
      g.alignment.status === 'measured' ? g.alignment.slope.toFixed(2) : g.alignment.status,
      g.alignment.status === 'measured' ? g.alignment.alignment.toFixed(2) : '–',
    ]),
  };
}

function verdictText(c: Comparison): string {
  switch (c.verdict) {
    case 'positive':
      return `${OPTIMIZER_NAMES[c.decoupled]} lower`;
    case 'negative':
      return `${OPTIMIZER_NAMES[c.coupled]} lower`;
    case 'none':
      return 'no difference detectable';
    default:
      return c.paired.n ? 'no interval (1 seed)' : 'no shared seed';
  }
}

function comparisonTable(summary: ReportSummary): HtmlTable {
  return {
    head: [
      'comparison',
      'schedule',
      'coupled best',
      'decoupled best',
      'relative improvement',
      'mean paired difference (points)',
      '95% CI (points)',
      'decoupled lower on',
      'verdict',
    ],
    rows: summary.comparisons.map((c) => [
      `${OPTIMIZER_NAMES[c.decoupled]} vs ${OPTIMIZER_NAMES[c.coupled]}`,
      c.schedule,
      cellText(c.coupledBest),
      cellText(c.decoupledBest),
      pct(c.relativeImprovement, 1),
      Number.isFinite(c.paired.mean) ? signedPoints(c.paired.mean) : '–',
      c.paired.n >= 2
        ? `[${signedPoints(c.paired.lo)}, ${signedPoints(c.paired.hi)}]`
        : 'none (needs 2 seeds)',
      `${c.paired.positive} of ${c.paired.n} seeds`,
      verdictText(c),
    ]),
  };
}

function trialTable({ trials, allTrials, results }: PageInput): HtmlTable {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  const status = (r: ReportRecord | undefined) =>
    !r
      ? 'no result'
      : r.status === 'failed'
        ? `failed: ${r.error ?? ''}`
        : r.diverged
          ? 'diverged'
          : r.pruned
            ? `pruned @${prunedEpoch(r)}`
            : 'ok';
  return {
    head: [
      'optimizer',
      'schedule',
      'lr',
      'weight decay',
      'seed',
      'status',
      'test error',
      'train loss',
      'time',
    ],
    rows: (allTrials ?? trials).map((t) => {
      const r = byId.get(t.id);
      const loss = r?.final?.trainLoss;
      return [
        OPTIMIZER_NAMES[t.params.optimizer],
        t.params.schedule,
        numLabel(t.params.lr),
        numLabel(t.params.weightDecay),
        t.params.seed,
        status(r),
        pct(r?.final?.testError),
        loss !== undefined && Number.isFinite(loss) ? loss.toFixed(4) : '–',
        r ? `${(r.wallTimeMs / 1000).toFixed(0)} s` : '–',
      ];
    }),
  };
}

const COMPARISON_TEXT = (summary: ReportSummary) =>
  `Each optimizer at its best setting, chosen on the ${summary.selectedOn === 'validation' ? 'validation error' : 'test error (no validation error was recorded, so these numbers are optimistic)'}. The two are paired by seed (the same seed gives both the same initialization and data order): d_s = test error of the coupled optimizer minus that of the decoupled one, on each seed both ran. The table gives the mean of d_s and its 95% interval d̄ ± t(0.975, n-1) · s_d / √n (Student t with n-1 degrees of freedom, s_d the sd of the d_s). An interval above 0 means the decoupled optimizer is lower, below 0 the coupled one; an interval containing 0 means no difference is detectable. With one seed no interval can be computed. Relative improvement = (best coupled - best decoupled) / best coupled, on mean test error.`;

const ALIGNMENT_TEXT =
  "Axis alignment, defined: for each learning rate, take the nonzero weight decay with the lowest mean error (the ridge of the basin). Fit log10(wd*) = a + b log10(lr) by least squares. The ridge slope b is 0 when the best decay does not depend on the learning rate (an axis-aligned basin, the paper's claim for AdamW and SGDW) and -1 when only the product lr x wd matters (a diagonal basin, the paper's finding for L2). Alignment = 1 - min(1, |b|). R² is the share of the ridge's variance that lr explains. A row is flat when the paired 95% interval between its best and worst nonzero decay contains 0 (its best decay is noise); flat rows are left out, and with fewer than 3 rows left the basin is reported as flat. With one seed flatness cannot be judged. On a coarse grid the ridge moves in whole grid steps, so read the number together with the heatmap.";

const TIMESCALE_TEXT =
  "EMA timescale (Wang & Aitchison, 2024): with decoupled decay the weights are an exponential moving average of recent updates with timescale τ = 1/(lr·λ·K) epochs when decay is scaled by the learning rate (decayScale 'lr'), or τ = 1/(η·λ·K) when it is scaled by the schedule multiplier only ('schedule'); K is the number of iterations per epoch, λ the applied decay (λ_norm · √(b/(B·T)) under normalized decay), and τ is taken at the schedule's peak (η = 1). Dashed lines on the decoupled heatmaps join settings of equal τ; the optimum follows one when the best decay at every learning rate lies within one grid cell of a single line.";

export function buildSections(
  input: PageInput,
  figures: {
    heatmaps: HtmlFigure[];
    curves: HtmlFigure[];
    scatter: HtmlFigure[];
    claims: HtmlFigure[];
  },
): HtmlSection[] {
  const { summary, trials } = input;
  return [
    { title: 'Setup', paragraphs: describeSetup(summary, trials) },
    ...claimSections(input, figures.claims),
    { title: 'What the data shows', bullets: summary.findings },
    { title: 'Summary', table: summaryTable(summary) },
    {
      title: 'Decoupled over coupled',
      paragraphs: [COMPARISON_TEXT(summary)],
      table: comparisonTable(summary),
    },
    {
      title: 'Learning rate x weight decay',
      paragraphs: [ALIGNMENT_TEXT, TIMESCALE_TEXT],
      figures: figures.heatmaps,
    },
    { title: 'Learning curves', figures: figures.curves },
    { title: 'Generalization', figures: figures.scatter },
    { title: 'All trials', collapsed: true, table: trialTable(input) },
  ];
}

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
import { noiseText } from './findings.js';
import {
  cellText,
  describeDecay,
  describeModel,
  listWords,
  numLabel,
  OPTIMIZER_NAMES,
  pct,
} from './format.js';
import type { HtmlFigure, HtmlSection, HtmlTable } from './html.js';
import type { ReportRecord } from './load.js';
import { type Cell, cellRecords, groupCells, prunedEpoch } from './metrics.js';
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

/** One heatmap per optimizer and schedule with more than one setting (one cell shows nothing). */
export function heatmapPlans({ summary, cells, top }: PageInput): FigurePlan[] {
  const domain = sharedErrorDomain(cells);
  const shown = groupCells(cells).filter((g) => g.cells.length > 1);
  return shown.map((g) => {
    const s = summary.groups.find((x) => x.optimizer === g.optimizer && x.schedule === g.schedule);
    const decay = s?.config ? describeDecay(s.config) : undefined;
    const name = OPTIMIZER_NAMES[g.optimizer];
    const iso = s?.timescale
      ? ' Dashed lines: iso-τ lines of the EMA timescale τ in epochs; the thick one comes closest to the white dots.'
      : '';
    return {
      id: `heatmap-${g.optimizer}-${g.schedule}`,
      title: `${name} (${g.schedule}) heatmap`,
      caption: `Final test error (%) of ${name} with the ${g.schedule} schedule over learning rate x ${decay?.axis ?? 'weight decay'}, mean over seeds († = a seed diverged; ‡ = a seed was pruned by --prune and is left out of the mean; grey "pruned @k" = every seed was stopped at epoch k, not trained to the budget). Red outlines: the ${top} best settings, ranked. White dots: the ridge, the best nonzero weight decay at each learning rate.${iso}`,
      spec: heatmapSpec(g, s?.ridge ?? [], {
        top,
        domain,
        decayAxis: decay?.axis,
        timescale: s?.timescale,
        title: `${name} (${g.schedule}): final test error (%)`,
      }),
    };
  });
}

/** The records of each group's best setting (its seeds), for the learning curves. */
function bestSeries({ summary, results }: PageInput): (CurveSeries & { trialIds: string[] })[] {
  return summary.groups.flatMap((g) => {
    const best = g.best;
    if (!best) return [];
    return [
      {
        label: `${OPTIMIZER_NAMES[best.optimizer]} · ${best.schedule} · lr ${numLabel(best.lr)} · decay ${numLabel(best.weightDecay)}`,
        results: cellRecords(best, results),
        trialIds: best.trialIds,
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
    ],
    rows: summary.groups.map((g) => [
      OPTIMIZER_NAMES[g.optimizer],
      g.schedule,
      g.best ? numLabel(g.best.lr) : '–',
      g.best ? numLabel(g.best.weightDecay) : '–',
      cellText(g.best),
      g.best && Number.isFinite(g.best.trainLoss) ? g.best.trainLoss.toFixed(3) : '–',
      cellText(g.noDecay),
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

const SUMMARY_TEXT =
  "The best setting of each optimizer and schedule, and its best without weight decay (an optimizer without a decay-0 column borrows its twin's: Adam with decay 0 is AdamW with decay 0). Test error as mean ± sd over seeds.";

const TIMESCALE_TEXT =
  "EMA timescale (Wang & Aitchison, 2024): with decoupled decay the weights are an exponential moving average of recent updates with timescale τ = 1/(lr·λ·K) epochs when decay is scaled by the learning rate (decayScale 'lr'), or τ = 1/(η·λ·K) when it is scaled by the schedule multiplier only ('schedule'); K is the number of iterations per epoch, λ the applied decay (λ_norm · √(b/(B·T)) under normalized decay), and τ is taken at the schedule's peak (η = 1). Dashed lines on the decoupled heatmaps join settings of equal τ: slope -1 in log λ against log lr under 'lr', vertical under 'schedule'. Whether the optimum keeps a constant τ is a question about the ridge's slope, so the separable claim's verdict answers it; the thick line is the iso-τ line closest to the white dots.";

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
    { title: 'Summary', paragraphs: [SUMMARY_TEXT], table: summaryTable(summary) },
    ...(figures.heatmaps.length
      ? [
          {
            title: 'Learning rate x weight decay',
            paragraphs: summary.groups.some((g) => g.timescale) ? [TIMESCALE_TEXT] : [],
            figures: figures.heatmaps,
          },
        ]
      : []),
    { title: 'Learning curves', figures: figures.curves },
    { title: 'Test error against training loss', figures: figures.scatter },
    { title: 'All trials', collapsed: true, table: trialTable(input) },
  ];
}

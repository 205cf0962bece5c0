/**
 * Vega-Lite specs of the report's figures, built from the metrics (data inlined, no URLs):
 * - heatmap: lr x weight decay, colour = mean final test error on a shared clamped scale (the
 *   legend marks the clamp), top settings outlined and ranked, the ridge (best nonzero decay per lr,
 *   metrics.ts) dotted, and for decoupled optimizers dashed iso-τ lines of the EMA
 *   timescale (timescale.ts) (paper Fig. 1/2);
 * - curves: test error over epochs of each group's best setting, band = min..max over seeds
 *   (paper Fig. 4);
 * - test error against final training loss for every trial (paper Fig. 3), its loss axis fitted to
 *   the data (log only when the losses span a factor of 10 or more).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Trial, TrialResult } from '../sweep/types.js';
import { numLabel, OPTIMIZER_NAMES, tauNumber } from './format.js';
import { type Cell, type Group, mean, rankCells } from './metrics.js';
import { type Grid, gridOf, isoTauLine, niceTaus, type Timescale } from './timescale.js';

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = 'Helvetica, Arial, sans-serif';

const baseConfig = {
  font: FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 360 },
  title: { fontSize: 14, anchor: 'start' as const },
};

export interface HeatmapOptions {
  /** How many top settings to outline; default 3. */
  top?: number;
  /**
   * Shared colour domain in percent, so heatmaps of different optimizers compare. Errors above it
   * are clamped to its top colour, which the legend labels "≥".
   */
  domain?: [number, number];
  title?: string;
  /** What the weight decay axis holds (e.g. "λ_norm (normalized decoupled decay, × η_t)"). */
  decayAxis?: string;
  /** Draws iso-τ lines (decoupled optimizers). */
  timescale?: Timescale;
}

const CELL_WIDTH = 64;
const CELL_HEIGHT = 40;
/** Fill of a heatmap cell whose every seed was pruned (no error to colour). */
const PRUNED_FILL = '#c8c8c8';

/** The colour encoding; with a clamped domain, the legend's top label reads "≥ hi". */
function errorColour(domain: [number, number] | undefined) {
  const legend = domain
    ? {
        values: [domain[0], (domain[0] + domain[1]) / 2, domain[1]].map((v) =>
          Number(v.toFixed(1)),
        ),
        labelExpr: `datum.value >= ${Number(domain[1].toFixed(1))} ? '≥ ' + datum.label : datum.label`,
        title: ['test error (%)', 'clamped at the top'],
      }
    : { title: 'test error (%)' };
  return {
    field: 'error',
    type: 'quantitative' as const,
    scale: {
      scheme: 'viridis',
      reverse: true,
      ...(domain ? { domain, clamp: true } : {}),
    },
    legend,
  };
}

/** A point of an iso-τ line, in grid units, with the line it belongs to and its label. */
interface IsoTauPoint {
  x: number;
  y: number;
  order: number;
  line: string;
  label: string;
  fitted: boolean;
}

/** The points of the iso-τ lines: round τ values, less any close to the fitted one, then the fit. */
function isoTauPoints(timescale: Timescale, grid: Grid): IsoTauPoint[] {
  const fitted = timescale.fit?.tau;
  // Round τ values, less any that would sit on top of the fitted line.
  const taus = niceTaus(timescale.tauRange).filter(
    (tau) => fitted === undefined || Math.abs(Math.log(tau / fitted)) > Math.log(1.3),
  );
  const lines = [...taus.map((tau) => ({ tau, fitted: false }))];
  if (fitted !== undefined) lines.push({ tau: fitted, fitted: true });
  return lines.flatMap(({ tau, fitted: isFit }) =>
    isoTauLine(timescale, grid, tau).map((p, order) => ({
      ...p,
      order,
      line: `${tau}${isFit ? ' fit' : ''}`,
      label: `τ = ${tauNumber(tau)}${isFit ? ' (fit)' : ''}`,
      fitted: isFit,
    })),
  );
}

/**
 * The labels to draw: each line's, where it leaves the plot at the top edge, less a round line's
 * label that would run into the fitted line's (the caption gives the values).
 */
function isoTauLabels(values: IsoTauPoint[], grid: Grid, width: number): IsoTauPoint[] {
  const labels = values.filter((v) => v.y === 0 && v.x >= 0 && v.x <= grid.decays.length);
  const cellPx = width / grid.decays.length;
  const span = (v: IsoTauPoint) => [v.x * cellPx, v.x * cellPx + 6.5 * v.label.length];
  const fitLabel = labels.find((v) => v.fitted);
  return labels.filter((v) => {
    if (v.fitted || !fitLabel) return true;
    const [a0, a1] = span(v);
    const [b0, b1] = span(fitLabel);
    return a1 < b0 || a0 > b1;
  });
}

/**
 * Dashed iso-τ lines over the cells, on linear scales in grid units (one unit = one cell), which
 * is why the heatmap has a fixed size instead of a step: both scales then span the same pixels.
 */
function isoTauLayers(group: Group, timescale: Timescale | undefined, width: number) {
  if (!timescale) return [];
  const grid = gridOf(group.cells);
  const values = isoTauPoints(timescale, grid);
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    scale: { domain: [0, grid.decays.length], nice: false, zero: false },
    axis: null,
  };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    scale: { domain: [0, grid.lrs.length], nice: false, zero: false, reverse: true },
    axis: null,
  };
  const shown = isoTauLabels(values, grid, width);
  return [
    {
      data: { values },
      mark: { type: 'line', clip: true, strokeDash: [6, 4], color: '#111' },
      encoding: {
        x,
        y,
        detail: { field: 'line' },
        order: { field: 'order' },
        strokeWidth: { condition: { test: 'datum.fitted', value: 2.6 }, value: 1.2 },
        opacity: { condition: { test: 'datum.fitted', value: 0.95 }, value: 0.6 },
      },
    },
    ...[false, true].map((fit) => ({
      data: { values: shown.filter((v) => v.fitted === fit) },
      mark: {
        type: 'text',
        fontSize: 10,
        align: 'left',
        dx: 3,
        baseline: 'bottom',
        fontWeight: fit ? 'bold' : 'normal',
      },
      encoding: { x, y, text: { field: 'label' } },
    })),
  ];
}

/** Epochs as "1" or "1, 3" (distinct, ascending). */
function epochList(epochs: number[]): string {
  return [...new Set(epochs)].sort((a, b) => a - b).join(', ');
}

/**
 * A heatmap cell's text: its mean error, † when a seed diverged, ‡ when a seed was pruned (left
 * out of the mean); "pruned @k" when every seed with a result was pruned (at epoch k).
 */
function cellLabel(c: Cell): string {
  if (!c.n) return c.pruned ? `pruned @${epochList(c.prunedAt)}` : '–';
  return `${(c.mean * 100).toFixed(c.mean < 0.1 ? 2 : 1)}${c.diverged ? '†' : ''}${c.pruned ? '‡' : ''}`;
}

/** The heatmap's data: one row per cell, with its label, rank among the top ones, and ridge mark. */
function heatmapValues(
  group: Group,
  ridgeCells: { lr: number; weightDecay: number }[],
  top: number,
) {
  const ranked = rankCells(group.cells);
  const rankOf = new Map(ranked.slice(0, top).map((c, i) => [c, i + 1]));
  const ridge = new Set(ridgeCells.map((r) => `${r.lr}|${r.weightDecay}`));
  return group.cells.map((c: Cell) => ({
    lr: c.lr,
    weightDecay: c.weightDecay,
    lrLabel: numLabel(c.lr),
    wdLabel: numLabel(c.weightDecay),
    error: c.n ? Number((c.mean * 100).toFixed(3)) : null,
    sd: Number((c.sd * 100).toFixed(3)),
    n: c.n,
    label: cellLabel(c),
    pruned: c.pruned > 0 && c.n === 0,
    rank: rankOf.get(c) ?? null,
    top: rankOf.has(c),
    ridge: ridge.has(`${c.lr}|${c.weightDecay}`),
  }));
}

/** The heatmap's axes (decay columns, lr rows, largest lr on top) and their cell centres. */
function heatmapAxes(decayAxis: string | undefined) {
  const x = {
    field: 'wdLabel',
    type: 'ordinal' as const,
    sort: { field: 'weightDecay', op: 'min' as const },
    title: decayAxis ?? 'weight decay',
    axis: { labelAngle: 0 },
  };
  const y = {
    field: 'lrLabel',
    type: 'ordinal' as const,
    sort: { field: 'lr', op: 'min' as const, order: 'descending' as const },
    title: 'learning rate',
  };
  // Marks drawn inside a cell sit at the band's centre (rects fill the band by themselves).
  const centre = {
    x: { ...x, bandPosition: 0.5 },
    y: { ...y, bandPosition: 0.5 },
  };
  return { x, y, centre };
}

type CellCentre = ReturnType<typeof heatmapAxes>['centre'];

/** Pruned cells have no error to colour: grey, so they do not read as missing data. */
const prunedLayer = () => ({
  transform: [{ filter: 'datum.pruned' }],
  mark: { type: 'rect', fill: PRUNED_FILL },
});

/** The cells coloured by mean error, with a tooltip. */
const colourLayer = (domain: [number, number] | undefined) => ({
  mark: { type: 'rect' },
  encoding: {
    color: errorColour(domain),
    tooltip: [
      { field: 'lrLabel', title: 'lr' },
      { field: 'wdLabel', title: 'weight decay' },
      { field: 'error', title: 'test error (%)' },
      { field: 'sd', title: 'sd over seeds' },
      { field: 'n', title: 'seeds' },
    ],
  },
});

/** Red outlines around the top settings. */
const topOutlineLayer = () => ({
  transform: [{ filter: 'datum.top' }],
  mark: { type: 'rect', fill: null, stroke: '#d62728', strokeWidth: 3 },
});

/** Each cell's label, white on the dark half of the colour scale. */
const labelLayer = (centre: CellCentre, domain: [number, number] | undefined) => ({
  mark: { type: 'text', fontSize: 12, baseline: 'middle', yOffset: -5 },
  encoding: {
    ...centre,
    text: { field: 'label' },
    // "pruned @k" is wider than a number: smaller, to stay inside its cell.
    size: { condition: { test: 'datum.pruned', value: 10 }, value: 12 },
    color: {
      condition: {
        test: `datum.error != null && datum.error > ${domain ? (domain[0] + domain[1]) / 2 : 50}`,
        value: 'white',
      },
      value: 'black',
    },
  },
});

/** "#1", "#2", ... under the top settings' labels. */
const rankLayer = (centre: CellCentre) => ({
  transform: [{ filter: 'datum.top' }, { calculate: "'#' + datum.rank", as: 'rankLabel' }],
  mark: {
    type: 'text',
    fontSize: 10,
    fontWeight: 'bold',
    color: '#d62728',
    baseline: 'middle',
    yOffset: 10,
  },
  encoding: { ...centre, text: { field: 'rankLabel' } },
});

/** White dots on the ridge: the best nonzero decay of each learning rate. */
const ridgeLayer = (centre: CellCentre) => ({
  transform: [{ filter: 'datum.ridge' }],
  mark: {
    type: 'point',
    shape: 'circle',
    filled: true,
    size: 30,
    color: 'white',
    xOffset: -22,
    yOffset: 10,
    stroke: 'black',
    strokeWidth: 0.8,
  },
  encoding: centre,
});

/**
 * The lr x weight decay heatmap of one group: the cells' layers, then (decoupled optimizers) the
 * iso-τ lines on their own linear scales.
 */
export function heatmapSpec(
  group: Group,
  ridge: { lr: number; weightDecay: number }[],
  options: HeatmapOptions = {},
): TopLevelSpec {
  const values = heatmapValues(group, ridge, options.top ?? 3);
  const grid = gridOf(group.cells);
  const { x, y, centre } = heatmapAxes(options.decayAxis);
  // Wide enough for the decay axis's title.
  const width = Math.max(CELL_WIDTH * grid.decays.length, 6.5 * (options.decayAxis?.length ?? 0));
  const timescale = isoTauLayers(group, options.timescale, width);
  const cells = [
    prunedLayer(),
    colourLayer(options.domain),
    topOutlineLayer(),
    labelLayer(centre, options.domain),
    rankLayer(centre),
    ridgeLayer(centre),
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title ?? `${group.optimizer} (${group.schedule}): final test error (%)`,
    data: { values },
    width,
    height: CELL_HEIGHT * grid.lrs.length,
    encoding: { x, y },
    layer: [{ layer: cells }, ...(timescale.length ? [{ layer: timescale }] : [])],
    ...(timescale.length ? { resolve: { scale: { x: 'independent', y: 'independent' } } } : {}),
    config: baseConfig,
  } as TopLevelSpec;
}

export interface CurveSeries {
  label: string;
  /** Trials of one cell (its seeds). */
  results: TrialResult[];
}

/** Mean test error per epoch over a cell's seeds, with min and max. */
export function curveRows(series: CurveSeries[]) {
  const rows: { label: string; epoch: number; error: number; lo: number; hi: number; n: number }[] =
    [];
  for (const s of series) {
    const byEpoch = new Map<number, number[]>();
    for (const r of s.results) {
      for (const p of r.epochs) {
        if (!Number.isFinite(p.testError)) continue;
        byEpoch.set(p.epoch, [...(byEpoch.get(p.epoch) ?? []), p.testError * 100]);
      }
    }
    for (const [epoch, xs] of [...byEpoch.entries()].sort((a, b) => a[0] - b[0])) {
      rows.push({
        label: s.label,
        epoch,
        error: Number(mean(xs).toFixed(3)),
        lo: Number(Math.min(...xs).toFixed(3)),
        hi: Number(Math.max(...xs).toFixed(3)),
        n: xs.length,
      });
    }
  }
  return rows;
}

export function curvesSpec(
  series: CurveSeries[],
  title = 'Test error over epochs, best setting per optimizer',
  options: { zoom?: boolean } = {},
): TopLevelSpec {
  const values = curveRows(series);
  // Zoom on the interesting range: with many epochs, the first fifth (a bad start) would squash the
  // end of training, where the comparison is.
  const lastEpoch = Math.max(...values.map((v) => v.epoch));
  const zoom = (options.zoom ?? true) && lastEpoch >= 5;
  const shown = zoom ? values.filter((v) => v.epoch > lastEpoch / 5) : values;
  const lo = Math.max(0, Math.floor(Math.min(...shown.map((v) => v.lo)) - 0.5));
  const hi = Math.ceil(Math.max(...shown.map((v) => v.hi)) + 0.5);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    data: { values },
    width: 560,
    height: 300,
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      color: {
        field: 'label',
        type: 'nominal',
        title: 'setting',
        legend: { orient: 'bottom', columns: 1, labelLimit: 600 },
      },
    },
    layer: [
      {
        mark: { type: 'area', opacity: 0.18, clip: true },
        encoding: {
          y: { field: 'lo', type: 'quantitative', scale: { domain: [lo, hi], zero: false } },
          y2: { field: 'hi' },
        },
      },
      {
        mark: { type: 'line', point: true, clip: true },
        encoding: {
          y: {
            field: 'error',
            type: 'quantitative',
            title: 'test error (%)',
            scale: { domain: [lo, hi], zero: false },
          },
          tooltip: [
            { field: 'label' },
            { field: 'epoch' },
            { field: 'error', title: 'mean test error (%)' },
            { field: 'n', title: 'seeds' },
          ],
        },
      },
    ],
    config: baseConfig,
  } as TopLevelSpec;
}

/** 1-2-5 steps: the largest at most `x` (down) or the smallest at least `x` (up). */
export function round125(x: number, direction: 'down' | 'up'): number {
  const e = Math.floor(Math.log10(x));
  const steps = [1, 2, 5, 10].map((m) => m * 10 ** e);
  return direction === 'down'
    ? (steps.filter((v) => v <= x * (1 + 1e-12)).at(-1) ?? 10 ** e)
    : (steps.find((v) => v >= x * (1 - 1e-12)) ?? 10 ** (e + 1));
}

/**
 * The training-loss axis, fitted to the data: linear when the losses span less than a factor of 10
 * (log ticks would sit a decade apart, around a cluster of points), else log between 1-2-5 bounds.
 */
export function lossAxis(losses: number[]) {
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  if (!(lo > 0) || !Number.isFinite(hi) || hi / lo < 10) {
    return {
      field: 'trainLoss',
      type: 'quantitative' as const,
      scale: { zero: false, nice: true },
      title: 'final training loss',
    };
  }
  return {
    field: 'trainLoss',
    type: 'quantitative' as const,
    scale: {
      type: 'log' as const,
      domain: [round125(lo, 'down'), round125(hi, 'up')],
      nice: false,
    },
    title: 'final training loss (log scale)',
  };
}

export function lossScatterSpec(
  trials: Trial[],
  results: TrialResult[],
  bestIds: Set<string>,
): TopLevelSpec {
  const byId = new Map(results.map((r) => [r.trialId, r]));
  const values = [];
  for (const t of trials) {
    const r = byId.get(t.id);
    const loss = r?.final?.trainLoss;
    const err = r?.final?.testError;
    if (
      r?.status !== 'ok' ||
      r.diverged ||
      r.pruned ||
      !Number.isFinite(loss) ||
      !Number.isFinite(err)
    )
      continue;
    values.push({
      optimizer: OPTIMIZER_NAMES[t.params.optimizer],
      schedule: t.params.schedule,
      lr: numLabel(t.params.lr),
      wd: numLabel(t.params.weightDecay),
      seed: t.params.seed,
      trainLoss: Number((loss as number).toPrecision(4)),
      error: Number(((err as number) * 100).toFixed(3)),
      best: bestIds.has(t.id),
    });
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: 'Final test error against final training loss (every trial)',
    data: { values },
    width: 560,
    height: 320,
    layer: [
      {
        mark: { type: 'point', filled: true, opacity: 0.75, size: 50 },
        encoding: {
          x: lossAxis(values.map((v) => v.trainLoss)),
          y: {
            field: 'error',
            type: 'quantitative',
            scale: { zero: false },
            title: 'final test error (%)',
          },
          color: { field: 'optimizer', type: 'nominal', title: 'optimizer' },
          shape: { field: 'schedule', type: 'nominal', title: 'schedule' },
          tooltip: [
            { field: 'optimizer' },
            { field: 'schedule' },
            { field: 'lr' },
            { field: 'wd', title: 'weight decay' },
            { field: 'seed' },
            { field: 'trainLoss', title: 'train loss' },
            { field: 'error', title: 'test error (%)' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.best' }],
        mark: { type: 'point', filled: false, size: 160, strokeWidth: 2, color: 'black' },
        encoding: {
          x: { field: 'trainLoss', type: 'quantitative' },
          y: { field: 'error', type: 'quantitative' },
        },
      },
    ],
    config: baseConfig,
  } as TopLevelSpec;
}

/**
 * Warm restarts against one cosine annealing (paper Fig. 4): the learning curves of curvesSpec on
 * the whole run (the anytime view needs the early epochs), with a vertical dashed rule at each
 * restart epoch.
 */
export function restartsSpec(
  series: CurveSeries[],
  restartEpochs: number[],
  title: string,
): TopLevelSpec {
  const { data, encoding, layer, ...rest } = curvesSpec(series, title, { zoom: false }) as {
    data: unknown;
    encoding: unknown;
    layer: unknown[];
  };
  const rules = restartEpochs.map((epoch) => ({ epoch, label: `restart ${numLabel(epoch)}` }));
  const x = { field: 'epoch', type: 'quantitative' };
  return {
    ...rest,
    layer: [
      { data, encoding, layer },
      {
        data: { values: rules },
        layer: [
          { mark: { type: 'rule', strokeDash: [5, 4], color: '#555' }, encoding: { x } },
          {
            mark: { type: 'text', align: 'left', dx: 3, dy: 2, baseline: 'top', fontSize: 10 },
            encoding: { x, y: { value: 0 }, text: { field: 'label' } },
          },
        ],
      },
    ],
  } as TopLevelSpec;
}

/**
 * One optimizer's basin ridge (separable claim): each seed's best decay at each learning rate, on
 * log-log axes, with the line of the mean slope b̄ through the points' centroid in log space,
 *   log10 λ = ȳ + b̄ (log10 lr - x̄);
 * a diagonal basin gives a line of slope -1, an axis-aligned one a flat line.
 */
export function ridgeSpec(
  points: { lr: number; decay: number; seed: number }[],
  slope: number,
  options: { title: string; decayAxis: string },
): TopLevelSpec {
  const xs = points.map((p) => Math.log10(p.lr));
  const ys = points.map((p) => Math.log10(p.decay));
  const [mx, my] = [mean(xs), mean(ys)];
  const ends = [Math.min(...xs), Math.max(...xs)].map((x) => ({
    lr: 10 ** x,
    decay: 10 ** (my + (Number.isFinite(slope) ? slope : 0) * (x - mx)),
  }));
  const x = {
    field: 'lr',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    title: 'learning rate',
  };
  const y = {
    field: 'decay',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    title: `best ${options.decayAxis}`,
  };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title,
    width: 260,
    height: 200,
    layer: [
      {
        data: { values: ends },
        mark: { type: 'line', color: '#d62728', strokeWidth: 2 },
        encoding: { x, y },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 60, opacity: 0.6, color: '#1f77b4' },
        encoding: {
          x,
          y,
          tooltip: [{ field: 'seed' }, { field: 'lr' }, { field: 'decay', title: 'best decay' }],
        },
      },
    ],
    config: baseConfig,
  } as TopLevelSpec;
}

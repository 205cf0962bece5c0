/**
 * Vega-Lite specs of the report's figures, built from the metrics (data inlined, no URLs):
 * - heatmap: lr x weight decay, colour = mean final test error, top settings outlined and ranked,
 *   the ridge (best decay per lr, used by the alignment number) dotted (paper Fig. 1/2);
 * - curves: test error over epochs of each group's best setting, band = min..max over seeds
 *   (paper Fig. 4);
 * - test error against final training loss for every trial (paper Fig. 3).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Trial, TrialResult } from '../sweep/types.js';
import { type Alignment, type Cell, type Group, mean, rankCells } from './metrics.js';

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

/** Compact number label: 0.001 -> "1e-3", 0.05 -> "0.05", 0 -> "0". */
export function numLabel(x: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp <= -3 || exp >= 4) {
    const m = x / 10 ** exp;
    const ms = Number(m.toPrecision(3)).toString();
    return `${ms}e${exp}`;
  }
  return Number(x.toPrecision(3)).toString();
}

export interface HeatmapOptions {
  /** How many top settings to outline; default 3. */
  top?: number;
  /** Shared colour domain in percent, so heatmaps of different optimizers compare. */
  domain?: [number, number];
  title?: string;
}

export function heatmapSpec(
  group: Group,
  alignment: Alignment | undefined,
  options: HeatmapOptions = {},
): TopLevelSpec {
  const top = options.top ?? 3;
  const ranked = rankCells(group.cells);
  const rankOf = new Map(ranked.slice(0, top).map((c, i) => [c, i + 1]));
  const ridge = new Set((alignment?.ridge ?? []).map((r) => `${r.lr}|${r.weightDecay}`));
  const values = group.cells.map((c: Cell) => ({
    lr: c.lr,
    weightDecay: c.weightDecay,
    lrLabel: numLabel(c.lr),
    wdLabel: numLabel(c.weightDecay),
    error: c.n ? Number((c.mean * 100).toFixed(3)) : null,
    sd: Number((c.sd * 100).toFixed(3)),
    n: c.n,
    label: c.n ? `${(c.mean * 100).toFixed(c.mean < 0.1 ? 2 : 1)}${c.diverged ? '†' : ''}` : '–',
    rank: rankOf.get(c) ?? null,
    top: rankOf.has(c),
    ridge: ridge.has(`${c.lr}|${c.weightDecay}`),
  }));
  const x = {
    field: 'wdLabel',
    type: 'ordinal' as const,
    sort: { field: 'weightDecay', op: 'min' as const },
    title: `weight decay (${group.optimizer === 'adam' || group.optimizer === 'sgd' ? 'L2 factor' : 'decoupled'})`,
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
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title ?? `${group.optimizer} (${group.schedule}): final test error (%)`,
    data: { values },
    width: { step: 64 },
    height: { step: 40 },
    encoding: { x, y },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: {
            field: 'error',
            type: 'quantitative',
            title: 'test error (%)',
            scale: {
              scheme: 'viridis',
              reverse: true,
              ...(options.domain ? { domain: options.domain, clamp: true } : {}),
            },
          },
          tooltip: [
            { field: 'lrLabel', title: 'lr' },
            { field: 'wdLabel', title: 'weight decay' },
            { field: 'error', title: 'test error (%)' },
            { field: 'sd', title: 'sd over seeds' },
            { field: 'n', title: 'seeds' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.top' }],
        mark: { type: 'rect', fill: null, stroke: '#d62728', strokeWidth: 3 },
      },
      {
        mark: { type: 'text', fontSize: 12, baseline: 'middle', yOffset: -5 },
        encoding: {
          ...centre,
          text: { field: 'label' },
          color: {
            condition: {
              test: `datum.error != null && datum.error > ${options.domain ? (options.domain[0] + options.domain[1]) / 2 : 50}`,
              value: 'white',
            },
            value: 'black',
          },
        },
      },
      {
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
      },
      {
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
      },
    ],
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
): TopLevelSpec {
  const values = curveRows(series);
  // Zoom on the interesting range: with many epochs, the first fifth (a bad start) would squash the
  // end of training, where the comparison is.
  const lastEpoch = Math.max(...values.map((v) => v.epoch));
  const shown = lastEpoch >= 5 ? values.filter((v) => v.epoch > lastEpoch / 5) : values;
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
        legend: { orient: 'bottom', columns: 1 },
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
    if (r?.status !== 'ok' || r.diverged || !Number.isFinite(loss) || !Number.isFinite(err))
      continue;
    values.push({
      optimizer: t.params.optimizer,
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
          x: {
            field: 'trainLoss',
            type: 'quantitative',
            scale: { type: 'log' },
            title: 'final training loss (log scale)',
          },
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

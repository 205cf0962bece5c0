/**
 * `decoupled report <sweep-dir>`: reads a sweep directory (spec.json + results.jsonl), computes the
 * report's numbers (metrics.ts), renders each figure to SVG on the server (figures.ts, render.ts),
 * and writes <out>/index.html (self-contained, offline), <out>/figures/*.svg (+ their Vega-Lite
 * specs as *.vl.json) and <out>/summary.json (the numbers, for scripts and tests).
 * Only trials of the directory's current spec are reported; a partial sweep gives a partial report.
 */

import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../experiments/atomic-file.js';
import { expandGrid, type ParsedSweepSpec, parseSweepSpec } from '../sweep/spec.js';
import { JsonlResultStore, SPEC_FILE, TRIALS_FILE } from '../sweep/store.js';
import type { Trial, TrialResult } from '../sweep/types.js';
import { type CurveSeries, curvesSpec, heatmapSpec, lossScatterSpec, numLabel } from './figures.js';
import { type HtmlFigure, type HtmlSection, renderHtml } from './html.js';
import {
  type Alignment,
  axisAlignment,
  bestCell,
  buildCells,
  type Cell,
  type Comparison,
  compareOptimizers,
  type DecayEffect,
  decayEffects,
  describeAlignment,
  describeComparison,
  describeDecayEffect,
  effectThreshold,
  estimateNoise,
  groupCells,
  type Noise,
} from './metrics.js';
import { renderSvg } from './render.js';

export interface ReportOptions {
  /** Output directory; default <sweep-dir>/report. */
  out?: string;
  /** Settings outlined in each heatmap; default 3. */
  top?: number;
}

export interface GroupSummary {
  optimizer: string;
  schedule: string;
  best: Cell | undefined;
  noDecay: Cell | undefined;
  alignment: Alignment;
}

export interface ReportSummary {
  name: string;
  trials: { total: number; ok: number; diverged: number; failed: number; pending: number };
  /** Noise of a cell's final test error (fraction): pooled seed sd, or binomial with one seed. */
  noise: Noise | null;
  groups: GroupSummary[];
  comparisons: Comparison[];
  decayEffects: DecayEffect[];
  /** The sentences printed under "What the data shows". */
  findings: string[];
}

export interface ReportOutput {
  dir: string;
  html: string;
  figures: string[];
  summary: ReportSummary;
}

const pct = (x: number | undefined, digits = 2) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;

function noiseText(noise: Noise | null): string {
  if (!noise) return 'unknown';
  const sd = `${(noise.sd * 100).toFixed(2)} points`;
  return noise.source === 'seeds'
    ? `${sd} (pooled sd over seeds within a setting)`
    : `${sd} (one seed per setting, so this is the binomial sd of an error rate measured on the test images, sqrt(p(1-p)/N); seed-to-seed noise may be larger)`;
}

function cellText(c: Cell | undefined): string {
  if (!c) return '–';
  const spread = c.n > 1 ? ` ± ${(c.sd * 100).toFixed(2)}` : '';
  return `${(c.mean * 100).toFixed(2)}${spread}% (n=${c.n})`;
}

/** Reads the sweep directory's spec, trials and results. */
export async function loadSweep(dir: string): Promise<{
  spec: ReturnType<typeof parseSweepSpec>;
  trials: Trial[];
  results: TrialResult[];
}> {
  let text: string;
  try {
    text = await readFile(join(dir, SPEC_FILE), 'utf8');
  } catch {
    throw new Error(
      `${dir} is not a sweep directory: ${SPEC_FILE} is missing (run \`decoupled sweep\` first)`,
    );
  }
  const spec = parseSweepSpec(JSON.parse(text));
  // The trials as the sweep expanded them; re-expanding is the fallback for older directories.
  let trials: Trial[];
  try {
    trials = JSON.parse(await readFile(join(dir, TRIALS_FILE), 'utf8')) as Trial[];
  } catch {
    trials = expandGrid(spec);
  }
  const store = await JsonlResultStore.open(dir);
  const ids = new Set(trials.map((t) => t.id));
  const results = (await store.results()).filter((r) => ids.has(r.trialId));
  return { spec, trials, results };
}

/** Computes the report's numbers (no rendering). */
export function summarize(
  spec: Pick<ParsedSweepSpec, 'name' | 'base'>,
  trials: Trial[],
  results: TrialResult[],
): { summary: ReportSummary; cells: Cell[] } {
  const cells = buildCells(trials, results);
  // Fashion-MNIST, MNIST and CIFAR-10 all have 10,000 test images.
  const testSize = Number((spec.base as { testSubset?: number }).testSubset ?? 10000);
  const noise = estimateNoise(cells, testSize);
  const groups = groupCells(cells).map((g) => {
    const seeds = Math.max(1, Math.min(...g.cells.filter((c) => c.n > 0).map((c) => c.n)));
    return {
      optimizer: g.optimizer,
      schedule: g.schedule,
      best: bestCell(g.cells),
      noDecay: bestCell(g.cells.filter((c) => c.weightDecay === 0)) as Cell | undefined,
      alignment: axisAlignment(g.cells, effectThreshold(noise?.sd, seeds) ?? 0),
    };
  });
  const comparisons = compareOptimizers(cells, noise);
  const effects = decayEffects(cells, noise);
  for (const g of groups) {
    // A decoupled grid without a 0 column shows its twin's no-decay baseline (the same algorithm).
    g.noDecay ??= effects.find(
      (e) => e.optimizer === g.optimizer && e.schedule === g.schedule,
    )?.noDecay;
  }
  const ok = results.filter((r) => r.status === 'ok').length;
  const findings: string[] = [];
  const pending = trials.length - results.length;
  if (pending > 0) {
    findings.push(
      `The sweep is incomplete: ${pending} of ${trials.length} trials have no result yet; the numbers below use what finished.`,
    );
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const first = failed[0];
    findings.push(
      `${failed.length === results.length ? 'Every trial failed' : `${failed.length} of ${results.length} recorded trials failed`} (the first, ${first.trialId}: ${first.error ?? 'no message'}). Fix the cause, then rerun the sweep with --retry-failed.`,
    );
  }
  if (ok > 0) {
    for (const c of comparisons) findings.push(describeComparison(c));
    if (!comparisons.length) {
      findings.push(
        'The sweep has no coupled/decoupled pair (adam with adamw, or sgd with sgdw) under the same schedule, so no relative improvement is computed.',
      );
    }
    for (const e of effects) findings.push(describeDecayEffect(e));
    for (const g of groups) {
      findings.push(describeAlignment(g.optimizer, g.schedule, g.alignment));
    }
  }
  const validation = Number((spec.base as { validationSize?: number }).validationSize ?? 0);
  if (!validation) {
    findings.push(
      'Best settings are picked on the test error itself (no validation split), which flatters every optimizer alike; the ranking, not the absolute numbers, is what to read.',
    );
  }
  const summary: ReportSummary = {
    name: spec.name,
    trials: {
      total: trials.length,
      ok,
      diverged: results.filter((r) => r.diverged).length,
      failed: failed.length,
      pending,
    },
    noise: noise ?? null,
    groups,
    comparisons,
    decayEffects: effects,
    findings,
  };
  return { summary, cells };
}

function describeBase(base: Record<string, unknown>): string {
  const model = base.model as { kind?: string } | undefined;
  const parts = [
    `dataset ${base.dataset ?? 'fashion-mnist'}`,
    `model ${model ? JSON.stringify(model) : 'cnn (default)'}`,
    `${base.epochs ?? 10} epochs`,
    `batch ${base.batchSize ?? 128}`,
  ];
  if (base.subset) parts.push(`${base.subset} training images`);
  if (base.testSubset) parts.push(`${base.testSubset} test images`);
  if (base.weightDecayNorm) parts.push('normalized weight decay (wd = lambda_norm)');
  if (base.decayScale) parts.push(`decayScale ${base.decayScale}`);
  const augment = base.augment as { cropPadding?: number; flip?: boolean } | undefined;
  if (augment?.cropPadding || augment?.flip) parts.push(`augmentation ${JSON.stringify(augment)}`);
  return parts.join(', ');
}

export async function writeReport(
  sweepDir: string,
  options: ReportOptions = {},
): Promise<ReportOutput> {
  const { spec, trials, results } = await loadSweep(sweepDir);
  const out = resolve(options.out ?? join(sweepDir, 'report'));
  const figuresDir = join(out, 'figures');
  await mkdir(figuresDir, { recursive: true });
  const { summary, cells } = summarize(spec, trials, results);
  const groups = groupCells(cells);
  const figures: HtmlFigure[] = [];
  const add = async (
    id: string,
    title: string,
    caption: string,
    vl: Parameters<typeof renderSvg>[0],
  ) => {
    const svg = await renderSvg(vl);
    const file = `${id}.svg`;
    writeFileAtomic(join(figuresDir, file), svg);
    writeFileAtomic(join(figuresDir, `${id}.vl.json`), `${JSON.stringify(vl, null, 2)}\n`);
    const figure = { id, title, caption, svg, spec: vl, file };
    figures.push(figure);
    return figure;
  };

  // One colour scale for all heatmaps: from the best cell to the 90th percentile, clamped, so a
  // few diverged cells do not wash out the basin.
  const means = cells
    .filter((c) => c.n > 0)
    .map((c) => c.mean * 100)
    .sort((a, b) => a - b);
  const domain: [number, number] | undefined = means.length
    ? [means[0], Math.max(means[0] + 0.5, means[Math.floor((means.length - 1) * 0.9)])]
    : undefined;
  const heatmaps: HtmlFigure[] = [];
  for (const g of groups) {
    const summaryGroup = summary.groups.find(
      (x) => x.optimizer === g.optimizer && x.schedule === g.schedule,
    );
    const id = `heatmap-${g.optimizer}-${g.schedule}`;
    heatmaps.push(
      await add(
        id,
        `${g.optimizer} (${g.schedule}) heatmap`,
        `Final test error (%) of ${g.optimizer} with the ${g.schedule} schedule over learning rate x weight decay, mean over seeds († = a seed diverged). Red outlines: the ${options.top ?? 3} best settings, ranked. White dots: the ridge (best nonzero weight decay per learning rate) used for the alignment number. ${summaryGroup ? describeAlignment(g.optimizer, g.schedule, summaryGroup.alignment) : ''}`,
        heatmapSpec(g, summaryGroup?.alignment, { top: options.top, domain }),
      ),
    );
  }

  const byId = new Map(results.map((r) => [r.trialId, r]));
  const series: CurveSeries[] = [];
  const bestIds = new Set<string>();
  for (const g of summary.groups) {
    const best = g.best;
    if (!best) continue;
    const members = trials.filter(
      (t) =>
        t.params.optimizer === best.optimizer &&
        t.params.schedule === best.schedule &&
        t.params.lr === best.lr &&
        t.params.weightDecay === best.weightDecay,
    );
    for (const t of members) bestIds.add(t.id);
    series.push({
      label: `${best.optimizer} · ${best.schedule} · lr ${numLabel(best.lr)} · wd ${numLabel(best.weightDecay)}`,
      results: members.map((t) => byId.get(t.id)).filter((r): r is TrialResult => !!r),
    });
  }
  const curveFigures: HtmlFigure[] = [];
  if (series.some((s) => s.results.length)) {
    curveFigures.push(
      await add(
        'curves',
        'Test error over epochs',
        'Test error per epoch of the best setting of each optimizer and schedule: line = mean over seeds, band = min to max over seeds (paper Fig. 4 style; with warm restarts, look at the end of each period).',
        curvesSpec(series),
      ),
    );
  }
  const lossFigures: HtmlFigure[] = [];
  if (results.some((r) => r.status === 'ok')) {
    lossFigures.push(
      await add(
        'error-vs-loss',
        'Test error against training loss',
        'Each point is one trial at its last epoch; black rings mark the best settings. At equal training loss, a lower test error means better generalization, not better optimization (paper Fig. 3).',
        lossScatterSpec(trials, results, bestIds),
      ),
    );
  }

  const summaryTable = {
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
      g.optimizer,
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
  const comparisonTable = {
    head: [
      'comparison',
      'schedule',
      'coupled best',
      'decoupled best',
      'relative improvement',
      'paired seeds won',
      'verdict',
    ],
    rows: summary.comparisons.map((c) => [
      `${c.decoupled} over ${c.coupled}`,
      c.schedule,
      cellText(c.coupledBest),
      cellText(c.decoupledBest),
      pct(c.relativeImprovement, 1),
      c.paired ? `${c.paired.decoupledWins} of ${c.paired.n}` : '–',
      c.verdict,
    ]),
  };
  const trialRows = trials.map((t) => {
    const r = byId.get(t.id);
    return [
      t.params.optimizer,
      t.params.schedule,
      numLabel(t.params.lr),
      numLabel(t.params.weightDecay),
      t.params.seed,
      r
        ? r.status === 'failed'
          ? `failed: ${r.error ?? ''}`
          : r.diverged
            ? 'diverged'
            : 'ok'
        : 'pending',
      pct(r?.final?.testError),
      r?.final ? r.final.trainLoss.toFixed(4) : '–',
      r ? `${(r.wallTimeMs / 1000).toFixed(0)} s` : '–',
    ];
  });

  const t = summary.trials;
  const sections: HtmlSection[] = [
    {
      title: 'Setup',
      paragraphs: [
        `${describeBase(spec.base)}.`,
        `${t.total} trials: ${t.ok} finished (${t.diverged} diverged), ${t.failed} failed, ${t.pending} pending. Noise of a setting's final test error: ${noiseText(summary.noise)}.`,
      ],
    },
    { title: 'What the data shows', bullets: summary.findings },
    { title: 'Summary', table: summaryTable },
    {
      title: 'Decoupled over coupled',
      paragraphs: [
        'Relative improvement = (best coupled - best decoupled) / best coupled, on mean final test error. A difference counts as an effect only if it exceeds 2 x s x sqrt(2 / n) for n seeds, where s is the noise given under Setup; otherwise the verdict is "no measurable effect". The same threshold decides whether weight decay helped at all and which heatmap rows are flat.',
      ],
      table: comparisonTable,
    },
    {
      title: 'Learning rate x weight decay',
      paragraphs: [
        "Axis alignment, defined: for each learning rate, take the nonzero weight decay with the lowest mean test error (the ridge of the basin). Fit log10(wd*) = a + b log10(lr) by least squares. The ridge slope b is 0 when the best decay does not depend on the learning rate (an axis-aligned basin, the paper's claim for AdamW and SGDW) and -1 when only the product lr x wd matters (a diagonal basin, the paper's finding for L2). Alignment = 1 - min(1, |b|). R² is the share of the ridge's variance that lr explains. Rows where the nonzero weight decays differ by no more than the effect threshold are flat (their best decay is noise) and are left out; with fewer than 3 rows left the basin is reported as flat. On a coarse grid the ridge moves in whole grid steps, so read the number together with the heatmap.",
      ],
      figures: heatmaps,
    },
    { title: 'Learning curves', figures: curveFigures },
    { title: 'Generalization', figures: lossFigures },
    {
      title: 'All trials',
      collapsed: true,
      table: {
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
        rows: trialRows,
      },
    },
  ];
  const html = renderHtml({
    title: `decoupled: ${spec.name}`,
    subtitle: `Report of the sweep in ${resolve(sweepDir)}, generated ${new Date().toISOString()}. Decoupled weight decay (Loshchilov & Hutter, ICLR 2019): AdamW vs Adam with L2, SGDW vs SGD with L2.`,
    sections,
  });
  const htmlPath = join(out, 'index.html');
  writeFileAtomic(htmlPath, html);
  writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return {
    dir: out,
    html: htmlPath,
    figures: figures.map((f) => join(figuresDir, f.file)),
    summary,
  };
}

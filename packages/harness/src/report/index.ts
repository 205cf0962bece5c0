/**
 * `decoupled report <sweep-dir>`: a pipeline of four steps,
 *   load (load.ts: read and validate spec.json, trials.json, results.jsonl),
 *   summarize (summary.ts: the numbers and the findings in words),
 *   render (page.ts and figures.ts: the figures as Vega-Lite specs rendered to SVG, and the page),
 *   write (index.html, figures/*.svg with their *.vl.json specs, summary.json; each file atomic).
 * The page is self-contained and works offline. Only trials of the directory's current spec are
 * reported; a partial sweep gives a partial report. Damaged records are skipped with a warning
 * (printed through `warn` and listed in the report); a missing or damaged spec.json stops the report
 * with a SweepFileError.
 */

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../experiments/atomic-file.js';
import { claimPlans } from './claims/sections.js';
import { type HtmlFigure, renderHtml } from './html.js';
import { loadSweep } from './load.js';
import {
  buildSections,
  curvePlans,
  type FigurePlan,
  heatmapPlans,
  type PageInput,
} from './page.js';
import { renderSvg } from './render.js';
import { type ReportSummary, summarize } from './summary.js';

export { SweepFileError } from './errors.js';
export { type LoadedSweep, loadSweep, type ReportRecord } from './load.js';
export type { GroupSummary, ReportSummary } from './summary.js';
export { summarize };

export interface ReportOptions {
  /** Output directory; default <sweep-dir>/report. */
  out?: string;
  /** Settings outlined in each heatmap; default 3. */
  top?: number;
  /** Receives each warning about a damaged file or record; default: a line on stderr. */
  warn?: (message: string) => void;
}

export interface ReportOutput {
  dir: string;
  html: string;
  figures: string[];
  summary: ReportSummary;
}

const printWarning = (message: string) => {
  process.stderr.write(`decoupled report: warning: ${message}\n`);
};

async function renderFigures(plans: FigurePlan[]): Promise<HtmlFigure[]> {
  const figures: HtmlFigure[] = [];
  for (const plan of plans) {
    figures.push({ ...plan, svg: await renderSvg(plan.spec), file: `${plan.id}.svg` });
  }
  return figures;
}

/** Renders the page and its figures (no file is written). */
export async function renderReport(
  input: PageInput,
  sweepDir: string,
): Promise<{ html: string; figures: HtmlFigure[] }> {
  const { curves, scatter } = curvePlans(input);
  const rendered = {
    claims: await renderFigures(claimPlans(input)),
    heatmaps: await renderFigures(heatmapPlans(input)),
    curves: await renderFigures(curves),
    scatter: await renderFigures(scatter),
  };
  const html = renderHtml({
    title: `decoupled: ${input.summary.name}`,
    subtitle: `Report of the sweep in ${resolve(sweepDir)}, generated ${new Date().toISOString()}. Decoupled weight decay (Loshchilov & Hutter, ICLR 2019): AdamW vs Adam with L2, SGDW vs SGD with L2.`,
    sections: buildSections(input, rendered),
  });
  const { heatmaps, curves: lines, scatter: points, claims } = rendered;
  return { html, figures: [...claims, ...heatmaps, ...lines, ...points] };
}

/** Writes the page, each figure's SVG and spec, and summary.json into `out`. */
async function writeFiles(
  out: string,
  html: string,
  figures: HtmlFigure[],
  summary: ReportSummary,
): Promise<ReportOutput> {
  const figuresDir = join(out, 'figures');
  await mkdir(figuresDir, { recursive: true });
  for (const f of figures) {
    writeFileAtomic(join(figuresDir, f.file), f.svg);
    writeFileAtomic(join(figuresDir, `${f.id}.vl.json`), `${JSON.stringify(f.spec, null, 2)}\n`);
  }
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

export async function writeReport(
  sweepDir: string,
  options: ReportOptions = {},
): Promise<ReportOutput> {
  const { spec, trials, results, warnings } = await loadSweep(sweepDir);
  for (const w of warnings) (options.warn ?? printWarning)(w);
  const main = summarize(spec, trials, results, warnings);
  const { summary, cells } = main;
  const input = {
    summary,
    cells,
    trials: main.trials,
    allTrials: trials,
    results,
    top: options.top ?? 3,
  };
  const { html, figures } = await renderReport(input, sweepDir);
  return writeFiles(resolve(options.out ?? join(sweepDir, 'report')), html, figures, summary);
}

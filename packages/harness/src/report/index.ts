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
 * A run of several sweeps (`decoupled reproduce` with a preset of several stages) gets each sweep's
 * report and one page over the whole run that answers each claim once (run.ts): writeRunReport.
 */

import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../experiments/atomic-file.js';
import { SPEC_FILE } from '../sweep/store.js';
import { claimPlans, claimSections } from './claims/sections.js';
import { SweepFileError } from './errors.js';
import { type HtmlFigure, renderHtml } from './html.js';
import { type LoadedSweep, loadSweep } from './load.js';
import {
  buildSections,
  curvePlans,
  type FigurePlan,
  heatmapPlans,
  type PageInput,
} from './page.js';
import { renderSvg } from './render.js';
import {
  loadStages,
  type RunSummary,
  runPageInput,
  runSections,
  type Stage,
  stageDirs,
  summarizeRun,
} from './run.js';
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

export interface ReportOutput<S = ReportSummary> {
  dir: string;
  html: string;
  figures: string[];
  summary: S;
}

export interface RunReportOutput extends ReportOutput<RunSummary> {
  /** Each sweep's own report. */
  stages: ReportOutput[];
}

/** True when `dir` is not a sweep but holds sweep directories (a run of several stages). */
export const isRunDirectory = (dir: string) => stageDirs(dir).length > 0;

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
async function writeFiles<S>(
  out: string,
  html: string,
  figures: HtmlFigure[],
  summary: S,
): Promise<ReportOutput<S>> {
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

/** Renders and writes the report of one loaded sweep. */
async function writeSweepReport(
  sweepDir: string,
  loaded: LoadedSweep,
  main: ReturnType<typeof summarize>,
  options: ReportOptions,
): Promise<ReportOutput> {
  const { summary, cells } = main;
  const input = {
    summary,
    cells,
    trials: main.trials,
    allTrials: loaded.trials,
    results: loaded.results,
    top: options.top ?? 3,
  };
  const { html, figures } = await renderReport(input, sweepDir);
  return writeFiles(resolve(options.out ?? join(sweepDir, 'report')), html, figures, summary);
}

export async function writeReport(
  sweepDir: string,
  options: ReportOptions = {},
): Promise<ReportOutput> {
  const loaded = await loadSweep(sweepDir);
  for (const w of loaded.warnings) (options.warn ?? printWarning)(w);
  const main = summarize(loaded.spec, loaded.trials, loaded.results, loaded.warnings);
  return writeSweepReport(sweepDir, loaded, main, options);
}

/**
 * The report of a run of several sweeps under `root`: each sweep's own report (in
 * <root>/<stage>/report) and the run's page, which answers each claim once (run.ts).
 */
export async function writeRunReport(
  root: string,
  options: ReportOptions = {},
): Promise<RunReportOutput> {
  const stages = await loadStages(root, options.warn ?? printWarning);
  if (!stages.length) {
    throw new SweepFileError(root, `holds no sweep directory (a directory with ${SPEC_FILE})`);
  }
  const reports: ReportOutput[] = [];
  for (const s of stages) {
    reports.push(await writeSweepReport(join(root, s.dir), s.loaded, s.main, { top: options.top }));
  }
  const run = summarizeRun(basename(resolve(root)), stages);
  const out = resolve(options.out ?? join(root, 'report'));
  const { html, figures } = await renderRun(run, stages, out, root, options.top ?? 3);
  return { ...(await writeFiles(out, html, figures, run)), stages: reports };
}

/** The run's page: its sweeps, the claims' verdicts and evidence, the other findings. */
async function renderRun(
  run: RunSummary,
  stages: Stage[],
  out: string,
  root: string,
  top: number,
): Promise<{ html: string; figures: HtmlFigure[] }> {
  const input = runPageInput(run, stages, top);
  const figures = await renderFigures(claimPlans(input));
  const html = renderHtml({
    title: `decoupled: the paper's claims in ${run.name}`,
    subtitle: `Report of the ${stages.length} sweeps in ${resolve(root)}, generated ${new Date().toISOString()}. Decoupled weight decay (Loshchilov & Hutter, ICLR 2019): AdamW vs Adam with L2, SGDW vs SGD with L2.`,
    sections: runSections(run, stages, out, root, claimSections(input, figures)),
  });
  return { html, figures };
}

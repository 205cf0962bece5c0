/**
 * `decoupled report <sweep-dir>`: writes the sweep's report, a self-contained offline HTML page
 * with server-rendered SVG figures (heatmaps, learning curves, test error vs training loss), the
 * verdict on each of the paper's claims and the other findings, and prints both lists as the page
 * has them (the same sentences, from summary.json's claimFindings and findings) and where the page
 * is. Given the directory of a run of several sweeps (`decoupled reproduce` with a preset of
 * several stages), it writes each sweep's report and the run's page, and prints the run's lists.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OptionError } from 'decoupled';
import { SPEC_FILE } from '../sweep/store.js';
import { describePathError, UsageError } from './errors.js';
import { parseCount } from './parse.js';

export interface ReportFlags {
  out?: string;
  top?: string;
  quiet?: boolean;
}

/**
 * Creates the --out directory one level at a time: Node's recursive mkdir never returns on some
 * paths (under /proc, for one), and a plain mkdir says what is wrong.
 */
function makeOutputDir(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  try {
    if (missing.length === 0 && !statSync(at).isDirectory()) {
      throw new OptionError('--out', dir, 'a directory, not a file');
    }
    for (const level of missing) mkdirSync(level);
  } catch (error) {
    const why = describePathError(error);
    if (why === null) throw error;
    throw new UsageError(`--out ${dir}: ${why}`);
  }
}

/** Writes the report and prints its path and findings; returns the HTML path. */
export async function reportCommand(sweepDir: string, flags: ReportFlags = {}): Promise<string> {
  const { isRunDirectory, writeReport, writeRunReport } = await import('../report/index.js');
  const run = !existsSync(join(sweepDir, SPEC_FILE)) && isRunDirectory(sweepDir);
  if (!run && !existsSync(join(sweepDir, SPEC_FILE))) {
    throw new OptionError(
      '<sweep-dir>',
      sweepDir,
      `a directory written by \`decoupled sweep\` (with ${SPEC_FILE}), or by \`decoupled reproduce\` (sweep directories with ${SPEC_FILE} in it)`,
    );
  }
  const top = flags.top ? parseCount('--top', flags.top) : undefined;
  if (flags.out !== undefined) makeOutputDir(flags.out);
  const options = { out: flags.out, top };
  const report = run
    ? await writeRunReport(sweepDir, options)
    : await writeReport(sweepDir, options);
  if (!flags.quiet) {
    process.stdout.write("\nThe paper's claims:\n");
    for (const line of report.summary.claimFindings) process.stdout.write(`- ${line}\n`);
    process.stdout.write('\nWhat the data shows:\n');
    for (const line of report.summary.findings) process.stdout.write(`- ${line}\n`);
    process.stdout.write(
      `\nfigures: ${report.figures.length} SVG files in ${report.dir}/figures\n`,
    );
  }
  process.stdout.write(`report: ${report.html}\n`);
  return report.html;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('Write the HTML report (and one SVG per figure) of a sweep directory.')
    .argument('<sweep-dir>', 'directory written by `decoupled sweep` or `decoupled reproduce`')
    .option('-o, --out <dir>', 'output directory (default: <sweep-dir>/report)')
    .option('--top <n>', 'settings outlined in each heatmap', '3')
    .option('-q, --quiet', 'print only the report path')
    .action(async (sweepDir: string, flags: ReportFlags) => {
      await reportCommand(sweepDir, flags);
    });
}

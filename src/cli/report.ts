/**
 * `decoupled report <sweep-dir>`: writes the sweep's report, a self-contained offline HTML page
 * with server-rendered SVG figures (heatmaps, learning curves, test error vs training loss), a
 * summary table and the measured findings, and prints where it is.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from './errors.js';
import { parseCount } from './parse.js';

export interface ReportFlags {
  out?: string;
  top?: string;
  quiet?: boolean;
}

/** Writes the report and prints its path and findings; returns the HTML path. */
export async function reportCommand(sweepDir: string, flags: ReportFlags = {}): Promise<string> {
  if (!existsSync(join(sweepDir, 'spec.json'))) {
    throw new UsageError(
      `<sweep-dir> must be a directory written by \`decoupled sweep\` (with spec.json); received ${JSON.stringify(sweepDir)}`,
    );
  }
  const { writeReport } = await import('../report/index.js');
  const top = flags.top ? parseCount('--top', flags.top) : undefined;
  const report = await writeReport(sweepDir, { out: flags.out, top });
  if (!flags.quiet) {
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

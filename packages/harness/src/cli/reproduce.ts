/**
 * `decoupled reproduce --preset quick|medium|full`: the paper's comparison in one command, the
 * preset's sweeps (src/sweep/presets.ts; one directory each under --out when there are several),
 * each followed by its report, then, with several, the run's report, which answers each claim once
 * from the whole run (report/run.ts). Re-running resumes.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { PRESET_NAMES, PRESETS, type PresetStage, type StageResults } from '../sweep/presets.js';
import { expandGrid, parseSweepSpec } from '../sweep/spec.js';
import type { TrialResult, TrialRunner } from '../sweep/types.js';
import { parseCount, parseName } from './parse.js';
import { reportCommand } from './report.js';
import {
  type RedisFlags,
  redisOptions,
  redisRunner,
  reportFailedTrials,
  runSweepWithSignals,
} from './sweep.js';

interface ReproduceFlags extends RedisFlags {
  preset: string;
  out?: string;
  concurrency?: string;
  dataDir?: string;
  retryFailed?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('reproduce')
    .description('Run a preset sweep of the paper (Adam vs AdamW, ...) and write its report.')
    .requiredOption(
      '--preset <name>',
      `${PRESET_NAMES.map((n) => `${n}: ${PRESETS[n].description}`).join('; ')}`,
    )
    .option('-o, --out <dir>', 'sweep directory (default: runs/reproduce-<preset>)')
    .option('-j, --concurrency <n>', 'local worker threads (default: number of cores)')
    .option('--data-dir <dir>', 'dataset directory (default: the Debian package directory)')
    .option('--retry-failed', 'also rerun trials recorded as failed');
  redisOptions(command);
  command.action(async (flags: ReproduceFlags) => {
    const preset = parseName('--preset', flags.preset, PRESET_NAMES);
    const root = flags.out ?? `runs/reproduce-${preset}`;
    const concurrency = flags.concurrency
      ? parseCount('--concurrency', flags.concurrency)
      : undefined;
    const runner = await redisRunner(flags);
    process.stderr.write(`reproduce --preset ${preset}: ${PRESETS[preset].description}\n`);
    const earlier = new Map<string, TrialResult[]>();
    const { stages } = PRESETS[preset];
    for (const stage of stages) {
      const done = await runStage(
        stage,
        earlier,
        join(root, stage.dir),
        flags,
        runner,
        concurrency,
      );
      if (!done) break;
    }
    if (stages.length > 1) {
      process.stderr.write(`the run's report: every claim from the sweep with most evidence\n`);
      await reportCommand(root);
    }
  });
}

/** Runs one stage's sweep and report; false when interrupted (later stages must wait). */
async function runStage(
  stage: PresetStage,
  earlier: StageResults & Map<string, TrialResult[]>,
  dir: string,
  flags: ReproduceFlags,
  runner: TrialRunner | undefined,
  concurrency: number | undefined,
): Promise<boolean> {
  const input = stage.spec(earlier);
  if (flags.dataDir) input.base = { ...(input.base ?? {}), dataDir: flags.dataDir };
  const spec = parseSweepSpec(input);
  if (stage.dir) process.stderr.write(`stage ${stage.dir}: ${stage.claim}\n`);
  const summary = await runSweepWithSignals({
    dir,
    spec,
    runner,
    concurrency,
    retryFailed: flags.retryFailed,
  });
  if (summary.interrupted) {
    // runSweepWithSignals set the exit code of the signal.
    process.stderr.write(
      `interrupted: run the same command again to resume; writing a partial report\n`,
    );
  }
  await reportCommand(dir);
  await reportFailedTrials(dir);
  const { JsonlResultStore } = await import('../sweep/store.js');
  const ids = new Set(expandGrid(spec).map((t) => t.id));
  const results = await (await JsonlResultStore.open(dir)).results();
  earlier.set(
    stage.dir,
    results.filter((r) => ids.has(r.trialId)),
  );
  return !summary.interrupted;
}

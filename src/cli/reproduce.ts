/**
 * `decoupled reproduce --preset quick|medium|full`: the paper's comparison in one command, a sweep
 * of the preset (src/sweep/presets.ts) followed by its report. Re-running resumes the sweep.
 */
import type { Command } from 'commander';
import { PRESET_NAMES, PRESETS, presetSpec } from '../sweep/presets.js';
import { parseSweepSpec } from '../sweep/spec.js';
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
    const input = presetSpec(preset);
    if (flags.dataDir) input.base = { ...(input.base ?? {}), dataDir: flags.dataDir };
    const spec = parseSweepSpec(input);
    const dir = flags.out ?? `runs/reproduce-${preset}`;
    const concurrency = flags.concurrency
      ? parseCount('--concurrency', flags.concurrency)
      : undefined;
    const runner = await redisRunner(flags);
    process.stderr.write(`reproduce --preset ${preset}: ${PRESETS[preset].description}\n`);
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
  });
}

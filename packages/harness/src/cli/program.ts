/**
 * The `decoupled` command line: train | sweep | worker | report | reproduce. Each command lives in
 * its own module and registers itself here; this file only wires them and maps errors to exit codes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import {
  describePathError,
  EXIT_USAGE,
  formatUsageError,
  isOperationalError,
  isUsageError,
} from './errors.js';

type Register = (program: Command) => void;

/** Command modules, loaded lazily so `decoupled --help` does not pay for tfjs or BullMQ. */
const COMMANDS: { name: string; load: () => Promise<{ register: Register }> }[] = [
  { name: 'train', load: () => import('./train.js') },
  { name: 'sweep', load: () => import('./sweep.js') },
  { name: 'worker', load: () => import('./worker.js') },
  { name: 'report', load: () => import('./report.js') },
  { name: 'reproduce', load: () => import('./reproduce.js') },
];

/**
 * The version in the package.json nearest above this module: the one of the installed package,
 * wherever it is installed (this file is <package>/dist/cli/program.js).
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const { version } = JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown };
      if (typeof version === 'string') return version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** commander's error line ("error: unknown option '--x'") in our style: one line, exit 2. */
function writeCommanderError(text: string, write: (text: string) => void): void {
  const message = text.trim().replace(/^error: /, '');
  write(`decoupled: ${message} (run with --help for usage)\n`);
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('decoupled')
    .description('Decoupled weight decay optimization: train, sweep, report and reproduce.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .configureOutput({ outputError: writeCommanderError })
    .exitOverride();
  for (const { load } of COMMANDS) {
    const module = await load();
    module.register(program);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    const program = await buildProgram();
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed the message (or the help text).
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (isUsageError(error)) {
      process.stderr.write(`decoupled: ${formatUsageError(error)}\n`);
      return EXIT_USAGE;
    }
    const pathProblem = describePathError(error);
    if (pathProblem) {
      process.stderr.write(`decoupled: ${pathProblem}\n`);
      return EXIT_USAGE;
    }
    if (isOperationalError(error)) {
      process.stderr.write(`decoupled: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`decoupled: unexpected error\n${message}\n`);
    return 1;
  }
}

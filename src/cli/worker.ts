/**
 * `decoupled worker --redis URL [--concurrency N]`: runs sweep trials from a Redis queue on this
 * machine until interrupted. Start one on every machine that should help; they need the same
 * sweep directory path (shared storage) so an interrupted trial resumes from its checkpoint.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { parseCount } from './parse.js';

/** A commander argument parser: an integer >= min, else a UsageError naming `option`. */
function integerOption(option: string, min: number) {
  return (text: string): number => parseCount(option, text, min);
}

interface WorkerFlags {
  redis: string;
  concurrency?: number;
  queue?: string;
  executor?: string;
  name?: string;
  lockDuration?: number;
  stalledInterval?: number;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('Run sweep trials queued in Redis (by `decoupled sweep --redis`) on this machine.')
    .requiredOption('--redis <url>', 'Redis to take trials from, e.g. redis://10.0.0.5:6379')
    .option(
      '--concurrency <n>',
      'trials run at once, one thread each (default: number of cores)',
      integerOption('--concurrency', 1),
    )
    .option('--queue <name>', 'queue name shared with the sweep (default: decoupled-trials)')
    .option('--name <name>', 'worker name recorded with each result (default: host:pid)')
    .option(
      '--executor <module>',
      'module exporting executeTrial (advanced; default: the training executor)',
    )
    .option(
      '--lock-duration <ms>',
      "how long a dead worker's trial waits before another worker retries it (default 30000)",
      integerOption('--lock-duration', 100),
    )
    .option(
      '--stalled-interval <ms>',
      'how often this worker checks for trials of dead workers (default 30000)',
      integerOption('--stalled-interval', 100),
    )
    .action(async (flags: WorkerFlags) => {
      const { startWorker } = await import('../sweep/distributed/index.js');
      const executorModule = flags.executor
        ? pathToFileURL(resolve(flags.executor)).href
        : undefined;
      const worker = await startWorker({
        redis: flags.redis,
        concurrency: flags.concurrency,
        queue: flags.queue,
        executorModule,
        name: flags.name,
        lockDurationMs: flags.lockDuration,
        stalledIntervalMs: flags.stalledInterval,
      });
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        let stopping: NodeJS.Signals | undefined;
        const stop = (name: NodeJS.Signals) => {
          if (stopping) {
            // Again: quit now; the trials' last checkpoints are whole, and their jobs come back
            // to the queue when this worker's locks expire.
            process.exit(name === 'SIGINT' ? 130 : 143);
          }
          stopping = name;
          process.stderr.write(
            `worker ${worker.name}: ${name}; stopping. Running trials checkpoint and go back to ` +
              'the queue, to resume on another worker (again to quit now).\n',
          );
          worker.close(true).then(
            () => resolve(name),
            () => resolve(name),
          );
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      // The trial threads are done; exit even if a connection is still winding down.
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
}

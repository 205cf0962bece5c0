/**
 * `decoupled worker --redis URL [--concurrency N]`: runs sweep trials from a Redis queue on this
 * machine until interrupted. Start one on every machine that should help; they need the same
 * sweep directory path (shared storage) so an interrupted trial resumes from its checkpoint.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from './errors.js';

function integerOption(option: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isInteger(value) || value < min) {
      throw new UsageError(`${option} must be an integer >= ${min}; received '${text}'`);
    }
    return value;
  };
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
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(
            `worker ${worker.name}: ${signal}; stopping. Running trials go back to the queue ` +
              'and resume from their checkpoints on another worker.\n',
          );
          worker.close(true).then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

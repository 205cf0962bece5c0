/**
 * `decoupled worker --redis URL [--concurrency N]`: runs sweep trials from a Redis queue on this
 * machine until interrupted. Start one on every machine that should help; they need the same
 * sweep directory path (shared storage) so an interrupted trial resumes from its checkpoint.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { countArg } from './parse.js';
import { signalExitCode, untilStopped } from './signals.js';

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
      countArg('--concurrency', 1),
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
      countArg('--lock-duration', 100),
    )
    .option(
      '--stalled-interval <ms>',
      'how often this worker checks for trials of dead workers (default 30000)',
      countArg('--stalled-interval', 100),
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
      const { stoppedBy } = await untilStopped(
        {
          stopping: (signal) =>
            `worker ${worker.name}: ${signal}; stopping. Running trials checkpoint and go back ` +
            'to the queue, to resume on another worker (again to quit now).',
        },
        // Again: quit now; the trials' last checkpoints are whole, and their jobs come back to
        // the queue when this worker's locks expire.
        (signal) =>
          new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => worker.close(true).then(resolve, resolve));
          }),
      );
      // The trial threads are done; exit even if a connection is still winding down.
      process.exit(signalExitCode(stoppedBy ?? 'SIGINT'));
    });
}

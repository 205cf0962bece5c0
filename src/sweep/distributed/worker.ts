/**
 * A sweep worker: a BullMQ Worker on the trial queue that runs up to `concurrency` trials at once,
 * each in a sandboxed worker thread (./processor.ts). Start one per machine (`decoupled worker`);
 * they share nothing but Redis and the sweep directory (for checkpoints).
 *
 * Fault tolerance is BullMQ's: a worker holds a lock on each job it runs and renews it every
 * lockDuration/2; if the worker dies, the lock expires and the stalled-job check of any live
 * worker (every stalledInterval) moves the job back to the queue, up to maxStalledCount times.
 * The next attempt resumes from the trial's last checkpoint. A trial whose executor throws is
 * retried `attempts` times with exponential backoff (set by the coordinator on each job).
 */
import { availableParallelism, hostname } from 'node:os';
import { Worker } from 'bullmq';
import { OptionError } from '../../core/errors.js';
import { checkNumber } from '../../core/validate.js';
import type { TrialResult } from '../types.js';
import { checkQueueName, DEFAULT_QUEUE, type TrialJobData } from './jobs.js';
import type { ProcessorWorkerData } from './processor.js';
import { parseRedisUrl, RedisWatcher } from './redis-link.js';

export interface SweepWorkerOptions {
  /** redis://host:port[/db] */
  redis: string;
  /** Trials run at once, one thread each (default: the number of cores). */
  concurrency?: number;
  queue?: string;
  /** Module (path or URL) exporting `executeTrial`; default: the training executor. */
  executorModule?: string;
  /** Lock duration in ms (default 30 000): how long a dead worker's trial waits to be retried. */
  lockDurationMs?: number;
  /** Stalled-job check period in ms (default 30 000). */
  stalledIntervalMs?: number;
  /** How many times a trial may lose its worker before it is failed (default 5). */
  maxStalledCount?: number;
  /** Name recorded in results (default host:pid). */
  name?: string;
  log?: (line: string) => void;
}

export interface RunningWorker {
  readonly name: string;
  /**
   * Stops taking trials and resolves once none is running. Without `force` running trials finish;
   * with it they stop after their current batch, checkpoint, and go back to the queue at once.
   */
  close(force?: boolean): Promise<void>;
}

/** Fails fast (before taking any trial) when a custom executor module cannot serve. */
async function checkExecutorModule(specifier: string): Promise<void> {
  let module: { executeTrial?: unknown };
  try {
    module = (await import(specifier)) as { executeTrial?: unknown };
  } catch (error) {
    throw new OptionError(
      '--executor',
      specifier,
      `a module that loads (${(error as Error).message.split('\n')[0]})`,
    );
  }
  if (typeof module.executeTrial !== 'function') {
    throw new OptionError('--executor', specifier, 'a module exporting an executeTrial function');
  }
}

export async function startWorker(options: SweepWorkerOptions): Promise<RunningWorker> {
  const target = parseRedisUrl(options.redis);
  const queue = checkQueueName(options.queue ?? DEFAULT_QUEUE);
  const concurrency = checkNumber('--concurrency', options.concurrency ?? availableParallelism(), {
    integer: true,
    min: 1,
  });
  const lockDuration = checkNumber('--lock-duration', options.lockDurationMs ?? 30_000, {
    integer: true,
    min: 100,
  });
  const stalledInterval = checkNumber('--stalled-interval', options.stalledIntervalMs ?? 30_000, {
    integer: true,
    min: 100,
  });
  const maxStalledCount = checkNumber('maxStalledCount', options.maxStalledCount ?? 5, {
    integer: true,
    min: 0,
  });
  if (options.executorModule !== undefined) await checkExecutorModule(options.executorModule);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const watcher = new RedisWatcher(target, { log, role: `worker ${name}` });
  const workerData: ProcessorWorkerData = {
    executorModule: options.executorModule,
    workerName: name,
  };

  const worker = new Worker<TrialJobData, TrialResult>(
    queue,
    new URL('./processor.js', import.meta.url),
    {
      connection: watcher.connection(),
      concurrency,
      name,
      useWorkerThreads: true,
      workerThreadsOptions: { workerData },
      lockDuration,
      stalledInterval,
      maxStalledCount,
      // The coordinator removes a job once its result is in the store.
      removeOnComplete: { count: 100_000 },
      removeOnFail: { count: 100_000 },
    },
  );
  // Connection errors are reported by the watcher; other errors are worth a line.
  worker.on('error', (error: Error & { code?: string }) => {
    if (error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' || !watcher.reachable) return;
    // BullMQ's words when a job's keys are gone, as after Redis restarted without persistence.
    const vanished = /Missing (?:key|lock) for job (\S+)/.exec(error.message);
    if (vanished) {
      log(
        `worker ${name}: job ${vanished[1]} is no longer in Redis (restarted without persistence?); ` +
          'its coordinator enqueues it again and it resumes from its checkpoint',
      );
      return;
    }
    log(`worker ${name}: ${error.message}`);
  });
  // Trial ids in the log: they name the trial's directory (a job id adds a hash of it).
  worker.on('active', (job) =>
    log(`worker ${name}: running ${job.data.trial.id} (attempt ${job.attemptsStarted})`),
  );
  worker.on('completed', (job) => log(`worker ${name}: finished ${job.data.trial.id}`));
  worker.on('failed', (job, error) => {
    if (job) log(`worker ${name}: ${job.data.trial.id} failed: ${error.message}`);
  });
  log(
    `worker ${name}: waiting for trials on ${target.display} (queue ${queue}, ${concurrency} at once)`,
  );

  let closing: Promise<void> | undefined;
  return {
    name,
    close: (force = false) => {
      closing ??= (async () => {
        try {
          if (force) worker.cancelAllJobs('the worker is stopping');
          await worker.close();
        } finally {
          await watcher.close();
        }
      })();
      return closing;
    },
  };
}

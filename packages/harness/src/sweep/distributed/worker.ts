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
import { BroadcastChannel } from 'node:worker_threads';
import { Worker } from 'bullmq';
import { OptionError } from 'decoupled';
import { checkNumber } from 'decoupled/validate';
import type { TrialResult } from '../types.js';
import {
  checkQueueName,
  DEFAULT_QUEUE,
  type RunningTrialMessage,
  runningTrialsChannel,
  type TrialJobData,
} from './jobs.js';
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

/**
 * The job ids whose executor runs in a thread of this process right now, as the threads report
 * them. Unlike BullMQ's own view it needs no Redis: a worker that stops while Redis is away knows
 * when its trials have checkpointed.
 */
export class RunningTrials {
  private readonly ids = new Set<string | undefined>();
  private readonly channel: BroadcastChannel;

  constructor(workerName: string) {
    this.channel = new BroadcastChannel(runningTrialsChannel(workerName));
    this.channel.onmessage = (event) => {
      const message = (event as { data: RunningTrialMessage }).data;
      if (message.running) this.ids.add(message.jobId);
      else this.ids.delete(message.jobId);
    };
    // A channel keeps the event loop alive until closed; a worker's loop lives anyway.
    this.channel.unref();
  }

  get size(): number {
    return this.ids.size;
  }

  close(): void {
    this.channel.close();
  }
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
  const settings = checkWorkerOptions(options);
  if (options.executorModule !== undefined) await checkExecutorModule(options.executorModule);
  const { name, log, queue, concurrency } = settings;
  const watcher = new RedisWatcher(settings.target, { log, role: `worker ${name}` });
  const running = new RunningTrials(name);
  const worker = new Worker<TrialJobData, TrialResult>(
    queue,
    new URL('./processor.js', import.meta.url),
    {
      connection: watcher.connection(),
      concurrency,
      name,
      useWorkerThreads: true,
      workerThreadsOptions: {
        workerData: {
          executorModule: options.executorModule,
          workerName: name,
        } satisfies ProcessorWorkerData,
      },
      lockDuration: settings.lockDuration,
      stalledInterval: settings.stalledInterval,
      maxStalledCount: settings.maxStalledCount,
      // The coordinator removes a job once its result is in the store.
      removeOnComplete: { count: 100_000 },
      removeOnFail: { count: 100_000 },
    },
  );
  logWorkerEvents(worker, watcher, name, log);
  log(
    `worker ${name}: waiting for trials on ${settings.target.display} (queue ${queue}, ` +
      `${concurrency} at once)`,
  );
  let closing: Promise<void> | undefined;
  return {
    name,
    close: (force = false) => {
      closing ??= stopWorker(worker, watcher, running, force, log, name);
      return closing;
    },
  };
}

/** The options with their defaults, checked before anything connects. */
function checkWorkerOptions(options: SweepWorkerOptions) {
  const integer = (option: string, value: number, min: number) =>
    checkNumber(option, value, { integer: true, min });
  const name = options.name ?? `${hostname()}:${process.pid}`;
  return {
    target: parseRedisUrl(options.redis),
    queue: checkQueueName(options.queue ?? DEFAULT_QUEUE),
    concurrency: integer('--concurrency', options.concurrency ?? availableParallelism(), 1),
    lockDuration: integer('--lock-duration', options.lockDurationMs ?? 30_000, 100),
    stalledInterval: integer('--stalled-interval', options.stalledIntervalMs ?? 30_000, 100),
    maxStalledCount: integer('maxStalledCount', options.maxStalledCount ?? 5, 0),
    name,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
}

/** A line per trial started, finished or failed, and per error that is not an outage. */
function logWorkerEvents(
  worker: Worker<TrialJobData, TrialResult>,
  watcher: RedisWatcher,
  name: string,
  log: (line: string) => void,
): void {
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
}

/**
 * Closes the BullMQ worker (with `force`, cancelling running trials first). BullMQ's close waits
 * for Redis (to hand the trials back, to close its connections): while Redis is unreachable that
 * is forever, so the wait also ends once no trial executes here any more. Their checkpoints are
 * written, and their jobs go back to the queue when their locks expire after Redis returns.
 */
async function stopWorker(
  worker: Worker<TrialJobData, TrialResult>,
  watcher: RedisWatcher,
  running: RunningTrials,
  force: boolean,
  log: (line: string) => void,
  name: string,
): Promise<void> {
  let polling: ReturnType<typeof setInterval> | undefined;
  const stranded = new Promise<void>((resolve) => {
    polling = setInterval(() => {
      if (watcher.reachable || running.size > 0) return;
      log(
        `worker ${name}: Redis is unreachable; stopping without it (trials stopped here ` +
          'return to the queue when their locks expire after Redis is back)',
      );
      resolve();
    }, 100);
  });
  try {
    if (force) worker.cancelAllJobs('the worker is stopping');
    const closed = worker.close();
    // Once we stop waiting for it, its late failure does not matter.
    closed.catch(() => {});
    await Promise.race([closed, stranded]);
  } finally {
    clearInterval(polling);
    running.close();
    await watcher.close();
  }
}

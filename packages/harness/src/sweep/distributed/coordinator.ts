/**
 * The sweep coordinator on Redis: a TrialRunner (src/sweep/types.ts) that enqueues the pending
 * trials as BullMQ jobs and collects their results for the sweep driver, which records them in the
 * result store exactly as it does for the local pool.
 *
 * Exactly-once recording without a distributed transaction:
 * - job id = trial id + a hash of the trial's directory (trialJobId), so enqueueing is idempotent
 *   (a job that exists, in any state, is kept) and sweeps in other directories never share jobs;
 * - the store is the source of truth: a result is handed to ctx.onResult (an atomic, deduplicating
 *   append), and only then is the job removed from Redis;
 * - on start the queue is reconciled with the store: the jobs of trials the store already holds
 *   are removed (a coordinator that died between the append and the removal left them behind),
 *   the pending trials are enqueued (a job that exists is kept, a failed one gets fresh attempts);
 * - collection polls each pending trial's job, so a restarted coordinator first picks up
 *   everything that finished while it was away; BullMQ's completion events (QueueEvents) only
 *   make it prompt: the job an event names is collected at once, and a missed event (an outage,
 *   a Redis restart) costs at most one poll interval;
 * - a pending trial whose job is gone (Redis restarted without persistence, or another coordinator
 *   collected it) is enqueued again and resumes from its checkpoint: nothing is lost.
 */
import { resolve } from 'node:path';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { checkNumber } from 'decoupled/validate';
import type { RunnerContext, Trial, TrialResult, TrialRunner } from '../types.js';
import {
  asTrialResult,
  checkJobId,
  checkQueueName,
  DEFAULT_QUEUE,
  isTrialJobProgress,
  TRIAL_JOB,
  type TrialJobData,
  trialJobId,
} from './jobs.js';
import { parseRedisUrl, type RedisTarget, RedisWatcher } from './redis-link.js';

export interface DistributedSweepOptions {
  /** redis://[user[:password]@]host[:port][/db] (or rediss://). */
  redis: string;
  /** Queue name shared with the workers (default 'decoupled-trials'). */
  queue?: string;
  /**
   * How often every pending trial is checked, in ms (default 2000; longer when one check of every
   * pending trial takes over 1/20 of it). Finished trials are collected as soon as BullMQ reports
   * them; this poll is the safety net and the progress report.
   */
  pollIntervalMs?: number;
  /** Tries of a trial whose executor throws or whose thread dies (default 3). */
  attempts?: number;
  /** First retry delay of such a trial in ms, doubled each time (default 10 000). */
  retryBackoffMs?: number;
  /** Give up after Redis was unreachable this long, in ms (default 10 minutes). */
  redisTimeoutMs?: number;
  /** Connection and recovery lines (default: stderr). */
  log?: (line: string) => void;
  /**
   * Fault injection for tests: called once a trial's result is in the store and before its job
   * is removed from Redis, the moment a crash leaves a finished job behind.
   */
  afterRecord?: (trial: Trial) => void;
}

type TrialJob = Job<TrialJobData, TrialResult, string>;

/** A trial the coordinator waits for, keyed by its job id. */
interface Pending {
  trial: Trial;
  jobId: string;
  data: TrialJobData;
  startedOn?: number;
  lastEpoch: number;
}

/** How long a coordinator with nothing pending waits for Redis to clean up after a crash. */
const CLEANUP_WAIT_MS = 5_000;

/** Redis calls in flight at once when the coordinator looks at many jobs. */
const BATCH = 200;

/** Runs `step` on consecutive slices of `items` of at most BATCH, one slice at a time. */
async function inBatches<T>(items: T[], step: (batch: T[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await step(items.slice(i, i + BATCH));
}

/** The Redis runner, for runSweep({ runner }). */
export function createRedisRunner(options: DistributedSweepOptions): TrialRunner {
  checkOptions(options);
  return {
    name: 'redis',
    run: (trials, ctx) => runDistributedSweep(trials, ctx, options),
  };
}

/**
 * Enqueues `trials` and resolves when each has been handed to ctx.onResult, or when ctx.signal
 * aborts (the trials keep running on the workers; running the sweep again collects them). First
 * removes the jobs of ctx.recorded, the trials the store already holds.
 * Rejects with RedisUnavailableError after `redisTimeoutMs` of continuous outage.
 */
export async function runDistributedSweep(
  trials: Trial[],
  ctx: RunnerContext,
  options: DistributedSweepOptions,
): Promise<void> {
  const settings = checkOptions(options);
  for (const trial of trials) checkJobId(trial.id);
  const nothingToDo = trials.length === 0 && (ctx.recorded ?? []).length === 0;
  if (nothingToDo || ctx.signal?.aborted) return;
  await new Coordinator(trials, ctx, settings).run();
}

interface Settings {
  target: RedisTarget;
  queueName: string;
  pollMs: number;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  log: (line: string) => void;
  afterRecord?: (trial: Trial) => void;
}

/** The options with their defaults, checked before anything connects. */
function checkOptions(options: DistributedSweepOptions): Settings {
  return {
    target: parseRedisUrl(options.redis),
    queueName: checkQueueName(options.queue ?? DEFAULT_QUEUE),
    pollMs: checkNumber('pollIntervalMs', options.pollIntervalMs ?? 2000, { min: 10 }),
    attempts: checkNumber('attempts', options.attempts ?? 3, { integer: true, min: 1 }),
    backoffMs: checkNumber('retryBackoffMs', options.retryBackoffMs ?? 10_000, { min: 0 }),
    timeoutMs: checkNumber('redisTimeoutMs', options.redisTimeoutMs ?? 600_000, { min: 0 }),
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
    afterRecord: options.afterRecord,
  };
}

/** One coordinator session: its queue, the trials it waits for, and the steps that collect them. */
class Coordinator {
  private readonly log: (line: string) => void;
  private readonly signal: AbortSignal | undefined;
  private readonly watcher: RedisWatcher;
  private readonly queue: Queue<TrialJobData, TrialResult, string>;
  /**
   * Created once Redis answers: BullMQ cannot close a QueueEvents whose connection never came up,
   * and its retries would keep the process alive.
   */
  private events: QueueEvents | undefined;
  /** Keyed by job id. Absolute dirs: a worker elsewhere finds them on the shared mount. */
  private readonly pending: Map<string, Pending>;
  /** Job ids of the trials the store already holds. */
  private readonly recordedJobIds: string[];
  /** Ids of jobs BullMQ reported finished since the last look; `wake` cuts a wait short. */
  private readonly reported = new Set<string>();
  private wake: (() => void) | undefined;
  /** The result being appended to the store, if any. */
  private recording: Promise<void> | undefined;

  constructor(
    trials: Trial[],
    private readonly ctx: RunnerContext,
    private readonly settings: Settings,
  ) {
    this.log = settings.log;
    this.signal = ctx.signal;
    const dirOf = (trial: Trial) => resolve(ctx.trialDir(trial));
    this.pending = new Map(
      trials.map((trial) => {
        const jobId = trialJobId(trial.id, dirOf(trial));
        return [jobId, { trial, jobId, data: { trial, dir: dirOf(trial) }, lastEpoch: 0 }];
      }),
    );
    this.recordedJobIds = (ctx.recorded ?? []).map((trial) => trialJobId(trial.id, dirOf(trial)));
    this.watcher = new RedisWatcher(settings.target, {
      log: this.log,
      role: 'sweep',
      giveUpAfterMs: settings.timeoutMs,
    });
    this.queue = new Queue(settings.queueName, { connection: this.watcher.connection() });
    this.queue.on('error', () => {
      // Reported by the watcher; commands wait in the offline queue until Redis is back.
    });
  }

  /** Collects every pending trial, unless the signal aborts or Redis stays away too long. */
  async run(): Promise<void> {
    const working = this.work();
    // Once we stop waiting for it (abort, give-up), its late rejection is expected.
    working.catch(() => {});
    const aborted = new Promise<void>((resolve) => {
      if (this.signal?.aborted) resolve();
      this.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      await Promise.race([working, this.watcher.untilGiveUp(), aborted]);
    } catch (error) {
      if (this.signal?.aborted && !this.watcher.gaveUp) return;
      throw error;
    } finally {
      await this.close();
    }
  }

  private async work(): Promise<void> {
    if (this.pending.size === 0) {
      // Only jobs of recorded trials to remove: not worth waiting through an outage for.
      if (!(await this.reachableSoon())) {
        this.log(
          `sweep: Redis at ${this.settings.target.display} is unreachable; jobs that an earlier ` +
            'coordinator may have left there are removed by the next run',
        );
        return;
      }
    }
    await this.watcher.ready(this.signal);
    this.listen();
    await this.reconcile();
    if (this.pending.size === 0) return;
    this.log(
      `sweep: ${this.pending.size} trial(s) queued or running on ${this.watcher.target.display} ` +
        `(queue ${this.settings.queueName}); results are collected as they finish`,
    );
    while (this.pending.size > 0 && !this.signal?.aborted) {
      const pollStarted = Date.now();
      await this.poll([...this.pending.values()]);
      // A full pass costs O(pending) Redis calls: with thousands of trials pending, keep it to
      // about 5% of the time so it does not take CPU from the trials (or Redis) it waits for.
      const nextPoll = Date.now() + Math.max(this.settings.pollMs, 20 * (Date.now() - pollStarted));
      while (this.pending.size > 0 && !this.signal?.aborted && Date.now() < nextPoll) {
        await this.sleep(nextPoll - Date.now());
        const ids = [...this.reported];
        this.reported.clear();
        const items = ids.flatMap((id) => this.pending.get(id) ?? []);
        if (items.length > 0) await this.poll(items);
      }
    }
  }

  /** True once Redis answers, false if it does not within CLEANUP_WAIT_MS. */
  private async reachableSoon(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLEANUP_WAIT_MS);
    });
    try {
      return await Promise.race([this.watcher.ready(this.signal).then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes to BullMQ's completion events, so a finished trial is collected at once. */
  private listen(): void {
    this.events = new QueueEvents(this.settings.queueName, {
      connection: this.watcher.connection(),
    });
    this.events.on('error', () => {
      // Reported by the watcher; the poll does not depend on events.
    });
    const onFinished = ({ jobId }: { jobId: string }) => {
      if (!this.pending.has(jobId)) return;
      this.reported.add(jobId);
      this.wake?.();
    };
    this.events.on('completed', onFinished);
    this.events.on('failed', onFinished);
  }

  /**
   * Makes Redis agree with the store: removes the jobs of recorded trials, enqueues the pending
   * ones, and gives fresh attempts to pending trials whose job failed in an earlier run.
   */
  private async reconcile(): Promise<void> {
    let removed = 0;
    await inBatches(this.recordedJobIds, async (ids) => {
      const states = await this.states(ids);
      // Usually there is no such job. remove() says 1 for a missing job, 0 for a locked one.
      const left = ids.filter((_, k) => states[k] !== 'unknown');
      const counts = await Promise.all(left.map((id) => this.queue.remove(id)));
      removed += counts.reduce((n, c) => n + c, 0);
    });
    if (removed > 0) {
      this.log(
        `sweep: removed ${removed} finished job(s) an earlier coordinator left in Redis ` +
          '(their results were already recorded)',
      );
    }
    await this.enqueue([...this.pending.values()]);
    await this.retry();
  }

  /** Adds a job for each of `items`; a job that exists, in any state, is kept as it is. */
  private async enqueue(items: Pending[]): Promise<void> {
    await inBatches(items, async (batch) => {
      await this.queue.addBulk(
        batch.map((p) => ({
          name: TRIAL_JOB,
          data: p.data,
          opts: {
            jobId: p.jobId,
            attempts: this.settings.attempts,
            backoff: { type: 'exponential' as const, delay: this.settings.backoffMs },
          },
        })),
      );
    });
  }

  /**
   * A pending trial whose job already failed was left by an earlier run (a coordinator that died
   * before recording it, or a --retry-failed rerun): it gets a fresh set of attempts.
   */
  private async retry(): Promise<void> {
    await inBatches([...this.pending.values()], async (batch) => {
      const states = await this.states(batch.map((p) => p.jobId));
      for (let k = 0; k < batch.length; k++) {
        if (states[k] !== 'failed') continue;
        const job = (await this.queue.getJob(batch[k].jobId)) as TrialJob | undefined;
        await job?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    });
  }

  /** Collects whichever of `items` finished, failed or progressed; re-enqueues vanished jobs. */
  private async poll(items: Pending[]): Promise<void> {
    await inBatches(items, async (batch) => {
      // State first: completed and failed are final, so the job read next carries its outcome.
      const states = await this.states(batch.map((p) => p.jobId));
      const watched = batch
        .map((p, k) => ({ p, state: states[k] }))
        .filter(({ state }) => state === 'completed' || state === 'failed' || state === 'active');
      const jobs = await Promise.all(
        watched.map(({ p }) => this.queue.getJob(p.jobId) as Promise<TrialJob | undefined>),
      );
      for (let k = 0; k < watched.length; k++) {
        if (this.signal?.aborted) return;
        const job = jobs[k];
        if (job) await this.collect(watched[k].p, watched[k].state, job);
      }
      const missing = batch.filter((_, k) => states[k] === 'unknown');
      if (missing.length) {
        this.log(
          `sweep: ${missing.length} trial job(s) were missing from Redis (restarted without ` +
            'persistence, or collected elsewhere); enqueued again, they resume from checkpoints',
        );
        await this.enqueue(missing);
      }
    });
  }

  private states(jobIds: string[]): Promise<string[]> {
    return Promise.all(jobIds.map((id) => this.queue.getJobState(id)));
  }

  /** Hands over a finished job's result, or reports a running job's progress. */
  private async collect(p: Pending, state: string, job: TrialJob): Promise<void> {
    if (state === 'completed') {
      let result: TrialResult;
      try {
        result = asTrialResult(job.returnvalue, p.trial.id);
      } catch (error) {
        // E.g. a worker of another version: record the trial failed rather than stop the sweep.
        result = failedResult(p.trial, job, (error as Error).message);
      }
      await this.finish(p, result, job);
    } else if (state === 'failed') {
      const why = `gave up after ${job.attemptsStarted} attempt(s): ${job.failedReason}`;
      await this.finish(p, failedResult(p.trial, job, why), job);
    } else if (state === 'active') {
      this.reportProgress(p, job);
    }
  }

  private reportProgress(p: Pending, job: TrialJob): void {
    if (job.processedOn !== p.startedOn) {
      p.startedOn = job.processedOn;
      this.ctx.onEvent?.({ type: 'start', trial: p.trial, worker: job.processedBy ?? 'a worker' });
    }
    const progress = job.progress;
    if (isTrialJobProgress(progress) && progress.point.epoch > p.lastEpoch) {
      p.lastEpoch = progress.point.epoch;
      this.ctx.onEvent?.({
        type: 'epoch',
        trial: p.trial,
        point: progress.point,
        epochs: progress.epochs,
      });
    }
  }

  /** Stores the result, then removes the job: a crash in between leaves a job reconcile removes. */
  private async finish(p: Pending, result: TrialResult, job: TrialJob): Promise<void> {
    this.recording = this.ctx.onResult(result);
    await this.recording;
    this.recording = undefined;
    this.settings.afterRecord?.(p.trial);
    this.pending.delete(p.jobId);
    this.ctx.onEvent?.({ type: 'done', trial: p.trial, result });
    await job.remove().catch(() => {});
  }

  /** Waits `ms`, or less when a job is reported finished or the signal aborts. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.reported.size > 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Says what stays queued, waits for a result half-way into the store, and disconnects. */
  private async close(): Promise<void> {
    if (this.signal?.aborted && this.pending.size > 0) {
      this.log(
        `sweep: stopped collecting; ${this.pending.size} trial(s) stay queued in Redis and keep ` +
          'running on the workers. Run the same sweep again to collect them.',
      );
    }
    await this.recording?.catch(() => {});
    // A queue stuck on a dead Redis would never finish closing.
    await Promise.race([
      Promise.all([this.queue.close(), this.events?.close()]),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
    await this.watcher.close();
  }
}

/** The record of a trial whose job failed for good or returned something unusable. */
function failedResult(trial: Trial, job: TrialJob, error: string): TrialResult {
  return {
    trialId: trial.id,
    params: trial.params,
    status: 'failed',
    error: error.slice(0, 2000),
    epochs: [],
    wallTimeMs: job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : 0,
    attempt: Math.max(1, job.attemptsStarted),
    worker: job.processedBy,
    finishedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
  };
}

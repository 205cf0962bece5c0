/**
 * The sweep coordinator on Redis: a TrialRunner (src/sweep/types.ts) that enqueues the pending
 * trials as BullMQ jobs and collects their results for the sweep driver, which records them in the
 * result store exactly as it does for the local pool.
 *
 * Exactly-once recording without a distributed transaction:
 * - job id = trial id + a hash of the trial's directory (trialJobId), so enqueueing is idempotent
 *   (a job that exists, in any state, is kept) and sweeps in other directories never share jobs;
 * - the store is the source of truth: a result is handed to ctx.onResult (an atomic, deduplicating
 *   append), and only then is the job removed from Redis; a crash between the two leaves a
 *   finished job that the next coordinator hands over again and the store ignores;
 * - collection polls each pending trial's job, so a restarted coordinator first picks up
 *   everything that finished while it was away; BullMQ's completion events (QueueEvents) only
 *   make it prompt: the job an event names is collected at once, and a missed event (an outage,
 *   a Redis restart) costs at most one poll interval;
 * - a pending trial whose job is gone (Redis restarted without persistence, or another coordinator
 *   collected it) is enqueued again and resumes from its checkpoint: nothing is lost.
 */
import { resolve } from 'node:path';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { checkNumber } from '../../core/validate.js';
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
import { parseRedisUrl, RedisWatcher } from './redis-link.js';

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
}

type TrialJob = Job<TrialJobData, TrialResult, string>;

interface Pending {
  trial: Trial;
  jobId: string;
  data: TrialJobData;
  startedOn?: number;
  lastEpoch: number;
}

/** The Redis runner, for runSweep({ runner }). */
export function createRedisRunner(options: DistributedSweepOptions): TrialRunner {
  parseRedisUrl(options.redis);
  return {
    name: 'redis',
    run: (trials, ctx) => runDistributedSweep(trials, ctx, options),
  };
}

/**
 * Enqueues `trials` and resolves when each has been handed to ctx.onResult, or when ctx.signal
 * aborts (the trials keep running on the workers; running the sweep again collects them).
 * Rejects with RedisUnavailableError after `redisTimeoutMs` of continuous outage.
 */
export async function runDistributedSweep(
  trials: Trial[],
  ctx: RunnerContext,
  options: DistributedSweepOptions,
): Promise<void> {
  const target = parseRedisUrl(options.redis);
  const queueName = checkQueueName(options.queue ?? DEFAULT_QUEUE);
  const pollMs = checkNumber('pollIntervalMs', options.pollIntervalMs ?? 2000, { min: 10 });
  const attempts = checkNumber('attempts', options.attempts ?? 3, { integer: true, min: 1 });
  const backoffMs = checkNumber('retryBackoffMs', options.retryBackoffMs ?? 10_000, { min: 0 });
  const timeoutMs = checkNumber('redisTimeoutMs', options.redisTimeoutMs ?? 600_000, { min: 0 });
  for (const trial of trials) checkJobId(trial.id);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const signal = ctx.signal;
  if (trials.length === 0 || signal?.aborted) return;

  const watcher = new RedisWatcher(target, { log, role: 'sweep', giveUpAfterMs: timeoutMs });
  const queue = new Queue<TrialJobData, TrialResult, string>(queueName, {
    connection: watcher.connection(),
  });
  queue.on('error', () => {
    // Reported by the watcher; commands wait in the offline queue until Redis is back.
  });
  // Keyed by job id. Absolute dirs: a worker elsewhere finds them on the shared mount.
  const pending = new Map<string, Pending>(
    trials.map((trial) => {
      const dir = resolve(ctx.trialDir(trial));
      const jobId = trialJobId(trial.id, dir);
      return [jobId, { trial, jobId, data: { trial, dir }, lastEpoch: 0 }];
    }),
  );
  const jobOptions = (id: string) => ({
    jobId: id,
    attempts,
    backoff: { type: 'exponential' as const, delay: backoffMs },
  });
  const enqueue = async (items: Pending[]) => {
    for (let i = 0; i < items.length; i += 500) {
      const chunk = items.slice(i, i + 500);
      await queue.addBulk(
        chunk.map((p) => ({ name: TRIAL_JOB, data: p.data, opts: jobOptions(p.jobId) })),
      );
    }
  };

  const failedResult = (p: Pending, job: TrialJob, error: string): TrialResult => ({
    trialId: p.trial.id,
    params: p.trial.params,
    status: 'failed',
    error: error.slice(0, 2000),
    epochs: [],
    wallTimeMs: job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : 0,
    attempt: Math.max(1, job.attemptsStarted),
    worker: job.processedBy,
    finishedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
  });

  /** Hands over a finished job's result, or reports a running job's progress. */
  const collect = async (p: Pending, state: string, job: TrialJob): Promise<void> => {
    if (state === 'completed') {
      let result: TrialResult;
      try {
        result = asTrialResult(job.returnvalue, p.trial.id);
      } catch (error) {
        // E.g. a worker of another version: record the trial failed rather than stop the sweep.
        result = failedResult(p, job, (error as Error).message);
      }
      await finish(p, result, job);
    } else if (state === 'failed') {
      const why = `gave up after ${job.attemptsStarted} attempt(s): ${job.failedReason}`;
      await finish(p, failedResult(p, job, why), job);
    } else if (state === 'active') {
      if (job.processedOn !== p.startedOn) {
        p.startedOn = job.processedOn;
        ctx.onEvent?.({ type: 'start', trial: p.trial, worker: job.processedBy ?? 'a worker' });
      }
      const progress = job.progress;
      if (isTrialJobProgress(progress) && progress.point.epoch > p.lastEpoch) {
        p.lastEpoch = progress.point.epoch;
        ctx.onEvent?.({
          type: 'epoch',
          trial: p.trial,
          point: progress.point,
          epochs: progress.epochs,
        });
      }
    }
  };

  let recording: Promise<void> | undefined;
  const finish = async (p: Pending, result: TrialResult, job: TrialJob) => {
    recording = ctx.onResult(result);
    await recording;
    recording = undefined;
    pending.delete(p.jobId);
    ctx.onEvent?.({ type: 'done', trial: p.trial, result });
    // After the store has it: a crash before this line only means a second, ignored hand-over.
    await job.remove().catch(() => {});
  };

  /** Collects whichever of `items` (default: every pending trial) finished, failed or progressed. */
  const pollOnce = async (items = [...pending.values()]) => {
    for (let i = 0; i < items.length; i += 200) {
      const chunk = items.slice(i, i + 200);
      // State first: completed and failed are final, so the job read next carries its outcome.
      const states = await Promise.all(chunk.map((p) => queue.getJobState(p.jobId)));
      const watched = chunk
        .map((p, k) => ({ p, state: states[k] }))
        .filter(({ state }) => state === 'completed' || state === 'failed' || state === 'active');
      const jobs = await Promise.all(
        watched.map(({ p }) => queue.getJob(p.jobId) as Promise<TrialJob | undefined>),
      );
      for (let k = 0; k < watched.length; k++) {
        if (signal?.aborted) return;
        const job = jobs[k];
        if (job) await collect(watched[k].p, watched[k].state, job);
      }
      const missing = chunk.filter((_, k) => states[k] === 'unknown');
      if (missing.length) {
        log(
          `sweep: ${missing.length} trial job(s) were missing from Redis (restarted without ` +
            'persistence, or collected elsewhere); enqueued again, they resume from checkpoints',
        );
        await enqueue(missing);
      }
    }
  };

  // Ids of jobs BullMQ reported finished since the last look; `wake` cuts a wait short.
  const reported = new Set<string>();
  let wake: (() => void) | undefined;
  const onFinished = ({ jobId }: { jobId: string }) => {
    if (!pending.has(jobId)) return;
    reported.add(jobId);
    wake?.();
  };
  /**
   * Created once Redis answers: BullMQ cannot close a QueueEvents whose connection never came up,
   * and its retries would keep the process alive.
   */
  let events: QueueEvents | undefined;
  const listen = () => {
    events = new QueueEvents(queueName, { connection: watcher.connection() });
    events.on('error', () => {
      // Reported by the watcher; the poll below does not depend on events.
    });
    events.on('completed', onFinished);
    events.on('failed', onFinished);
  };

  /** Waits `ms`, or less when a job is reported finished or the signal aborts. */
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (reported.size > 0) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        signal?.removeEventListener('abort', done);
        resolve();
      }
      wake = done;
      signal?.addEventListener('abort', done, { once: true });
    });

  /**
   * A pending trial whose job already failed was left by an earlier run (a coordinator that died
   * before recording it, or a --retry-failed rerun): it gets a fresh set of attempts.
   */
  const retryLeftovers = async () => {
    const items = [...pending.values()];
    for (let i = 0; i < items.length; i += 200) {
      const chunk = items.slice(i, i + 200);
      const states = await Promise.all(chunk.map((p) => queue.getJobState(p.jobId)));
      for (let k = 0; k < chunk.length; k++) {
        if (states[k] !== 'failed') continue;
        const job = (await queue.getJob(chunk[k].jobId)) as TrialJob | undefined;
        await job?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    }
  };

  const work = async () => {
    await watcher.ready(signal);
    listen();
    await enqueue([...pending.values()]);
    await retryLeftovers();
    log(
      `sweep: ${pending.size} trial(s) queued or running on ${target.display} (queue ${queueName}); ` +
        'results are collected as they finish',
    );
    while (pending.size > 0 && !signal?.aborted) {
      const pollStarted = Date.now();
      await pollOnce();
      // A full pass costs O(pending) Redis calls: with thousands of trials pending, keep it to
      // about 5% of the time so it does not take CPU from the trials (or Redis) it waits for.
      const nextPoll = Date.now() + Math.max(pollMs, 20 * (Date.now() - pollStarted));
      while (pending.size > 0 && !signal?.aborted && Date.now() < nextPoll) {
        await sleep(nextPoll - Date.now());
        const ids = [...reported];
        reported.clear();
        const items = ids.flatMap((id) => pending.get(id) ?? []);
        if (items.length > 0) await pollOnce(items);
      }
    }
  };

  const working = work();
  // Once we stop waiting for it (abort, give-up), its late rejection is expected.
  working.catch(() => {});
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    await Promise.race([working, watcher.untilGiveUp(), aborted]);
  } catch (error) {
    if (signal?.aborted && !watcher.gaveUp) return;
    throw error;
  } finally {
    if (signal?.aborted && pending.size > 0) {
      log(
        `sweep: stopped collecting; ${pending.size} trial(s) stay queued in Redis and keep ` +
          'running on the workers. Run the same sweep again to collect them.',
      );
    }
    // Never return while a result is half-way into the store.
    await recording?.catch(() => {});
    // A queue stuck on a dead Redis would never finish closing.
    await Promise.race([
      Promise.all([queue.close(), events?.close()]),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
    await watcher.close();
  }
}

/**
 * Distributed sweeps on Redis with BullMQ: the coordinator enqueues trials and collects their
 * results into the sweep's result store; workers on any number of machines run them.
 *
 * Entry points (what `decoupled sweep --redis URL` and `decoupled worker` call):
 *
 *   // Coordinator: a TrialRunner for runSweep, or the runner's `run` directly.
 *   createRedisRunner(options: DistributedSweepOptions): TrialRunner
 *   runDistributedSweep(trials: Trial[], ctx: RunnerContext, options: DistributedSweepOptions)
 *     : Promise<void>
 *   //   options: { redis: 'redis://host:6379', queue?, pollIntervalMs?, attempts?,
 *   //              retryBackoffMs?, redisTimeoutMs?, log? }
 *   //   e.g. runSweep({ dir, spec, runner: createRedisRunner({ redis: url }) })
 *
 *   // Worker: runs trials until closed.
 *   startWorker(options: SweepWorkerOptions): Promise<RunningWorker>
 *   //   options: { redis, concurrency?, queue?, executorModule?, lockDurationMs?,
 *   //              stalledIntervalMs?, maxStalledCount?, name?, log? }
 *
 * Guarantees: job id = trial id + a hash of its directory (idempotent enqueue, and sweeps in
 * other directories never share jobs: trialJobId); a killed worker's trial is retried through
 * BullMQ's stalled-job check and resumes from its checkpoint; a restarted coordinator collects
 * what finished meanwhile; the store deduplicates by trial id, so no trial is lost or recorded
 * twice; Redis outages are reported and retried with backoff. See docs/distributed.md.
 */
export {
  createRedisRunner,
  type DistributedSweepOptions,
  runDistributedSweep,
} from './coordinator.js';
export {
  checkQueueName,
  DEFAULT_QUEUE,
  type TrialJobData,
  type TrialJobProgress,
  trialJobId,
} from './jobs.js';
export {
  backoffDelay,
  parseRedisUrl,
  type RedisTarget,
  RedisUnavailableError,
} from './redis-link.js';
export { type RunningWorker, type SweepWorkerOptions, startWorker } from './worker.js';

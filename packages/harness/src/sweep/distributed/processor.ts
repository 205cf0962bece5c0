/**
 * The BullMQ sandboxed processor of a trial job. BullMQ runs it in a worker thread, so a trial's
 * CPU-bound training never blocks the worker's main thread, which must keep renewing the job's
 * lock (a blocked lock renewal would look like a dead worker and get the trial run twice).
 *
 * It loads the trial executor named by workerData.executorModule (default: the training executor
 * of src/sweep/execute.ts), runs the job's trial in the job's directory (resuming from the
 * checkpoint a killed attempt left there), reports each epoch as job progress, and returns the
 * TrialResult as the job's return value. A trial cancelled because its worker is stopping
 * checkpoints, then goes straight back to the waiting list (not counted as a failed attempt), so
 * another worker resumes it at once instead of after the lock expires. It tells the worker's main
 * thread when the executor starts and stops, so a worker can exit while Redis is away.
 */
import { hostname } from 'node:os';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import type { SandboxedJob } from 'bullmq';
import type { TrialExecutor, TrialResult } from '../types.js';
import {
  type RunningTrialMessage,
  runningTrialsChannel,
  type TrialJobData,
  type TrialJobProgress,
} from './jobs.js';

export interface ProcessorWorkerData {
  /** URL or absolute path of a module exporting `executeTrial` (a TrialExecutor). */
  executorModule?: string;
  /** The worker's name, for TrialResult.worker. */
  workerName?: string;
}

const config = (workerData ?? {}) as ProcessorWorkerData;
let executor: Promise<TrialExecutor> | undefined;

async function loadExecutor(): Promise<TrialExecutor> {
  const specifier = config.executorModule ?? new URL('../execute.js', import.meta.url).href;
  const module = (await import(specifier)) as { executeTrial?: TrialExecutor };
  if (typeof module.executeTrial !== 'function') {
    throw new Error(`executor module ${specifier} does not export an executeTrial function`);
  }
  return module.executeTrial;
}

export default async function processTrialJob(
  job: SandboxedJob<TrialJobData, TrialResult>,
  token?: string,
  signal?: AbortSignal,
): Promise<TrialResult> {
  executor ??= loadExecutor();
  const executeTrial = await executor;
  const { trial, dir } = job.data;
  const worker = `${config.workerName ?? `${hostname()}:${process.pid}`}/${threadId}`;
  const stopped = announceRunning(job.id);
  try {
    return await executeTrial(trial, dir, {
      signal,
      worker,
      attempt: job.attemptsStarted,
      onEpoch: (point, epochs) => {
        const progress: TrialJobProgress = { point, epochs };
        // Progress is advisory (the coordinator's ETA); a lost update must not fail the trial.
        job.updateProgress(progress).catch(() => {});
      },
    });
  } catch (error) {
    if (!signal?.aborted || (error as Error).name !== 'AbortError') throw error;
    // Before moveToWait, which waits for Redis: the checkpoint is written, the worker may exit.
    stopped();
    await job.moveToWait(token);
    // BullMQ's signal that the job was moved back, not failed (matched by name across threads).
    const requeued = new Error(`trial ${trial.id} stopped with its worker; back in the queue`);
    requeued.name = 'WaitingError';
    throw requeued;
  } finally {
    stopped();
  }
}

/**
 * Tells the worker's main thread that a trial executes in this thread; the function returned says
 * that it stopped (the first call counts). See RunningTrials in ./jobs.ts.
 */
function announceRunning(jobId: string | undefined): () => void {
  const channel = new BroadcastChannel(runningTrialsChannel(config.workerName));
  channel.postMessage({ jobId, running: true } satisfies RunningTrialMessage);
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    channel.postMessage({ jobId, running: false } satisfies RunningTrialMessage);
    channel.close();
  };
}

/**
 * The body of one local-pool worker thread: receives trials from the pool, runs each with the
 * executor (src/sweep/execute.ts unless the pool names another module, as tests do), and posts
 * progress and the result back. One trial at a time; an 'abort' message interrupts it at the next
 * epoch boundary, after its checkpoint is written.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { Trial, TrialExecutor } from './types.js';

/** Pool -> worker. */
export type ToWorker =
  | { type: 'run'; trial: Trial; dir: string; attempt: number }
  | { type: 'abort' };

/** Worker -> pool. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'epoch'; trialId: string; point: import('./types.js').EpochPoint; epochs: number }
  | { type: 'done'; trialId: string; result: import('./types.js').TrialResult }
  | { type: 'aborted'; trialId: string };

const data = workerData as { executorModule: string; name: string };
const port = parentPort;
if (!port) throw new Error('pool-worker.js must run as a worker thread');

const { executeTrial } = (await import(data.executorModule)) as { executeTrial: TrialExecutor };
let controller: AbortController | undefined;

const post = (message: FromWorker) => port.postMessage(message);

port.on('message', async (message: ToWorker) => {
  if (message.type === 'abort') {
    controller?.abort();
    return;
  }
  controller = new AbortController();
  const { trial, dir, attempt } = message;
  try {
    const result = await executeTrial(trial, dir, {
      signal: controller.signal,
      attempt,
      worker: `${data.name}/thread${threadId}`,
      onEpoch: (point, epochs) => post({ type: 'epoch', trialId: trial.id, point, epochs }),
    });
    post({ type: 'done', trialId: trial.id, result });
  } catch (error) {
    if ((error as Error).name === 'AbortError') post({ type: 'aborted', trialId: trial.id });
    else throw error; // an executor bug: let the thread die; the pool treats it as a crash
  } finally {
    controller = undefined;
  }
});

post({ type: 'ready' });

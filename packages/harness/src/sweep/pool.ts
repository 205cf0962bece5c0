/**
 * The embedded trial runner: a pool of worker threads on this machine, one trial per thread at a
 * time (tfjs-backend-wasm runs single-threaded in Node, so one thread per core is the parallelism).
 *
 * Robustness: a trial that throws is recorded by the executor as 'failed'. A thread that dies
 * (out of memory, a native crash, an executor bug) is replaced, and its trial is retried from its
 * checkpoint up to `maxAttempts` times in all, then recorded as 'failed' with the crash reason.
 * On abort, running trials are asked to stop at their next epoch (after checkpointing) and are
 * terminated if they do not within `abortGraceMs`; they stay pending for the next run.
 */
import { availableParallelism, hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './pool-worker.js';
import type { RunnerContext, Trial, TrialResult, TrialRunner } from './types.js';

export interface LocalPoolOptions {
  /** Worker threads; default: the number of cores. */
  concurrency?: number;
  /** Tries per trial when its thread dies (1 = no retry); default 2. */
  maxAttempts?: number;
  /** Module exporting `executeTrial` that workers load; default: ./execute.js. */
  executorModule?: string;
  /** How long an aborted trial may take to checkpoint before its thread is terminated. */
  abortGraceMs?: number;
}

type Outcome =
  | { kind: 'done'; result: TrialResult }
  | { kind: 'aborted' }
  | { kind: 'crashed'; reason: string };

/** One worker thread and the trial it is running. */
class Slot {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private settle: ((outcome: Outcome) => void) | undefined;
  private onEpochMessage: ((m: Extract<FromWorker, { type: 'epoch' }>) => void) | undefined;

  constructor(
    private readonly executorModule: string,
    private readonly name: string,
  ) {}

  private spawn(): Promise<void> {
    const worker = new Worker(new URL('./pool-worker.js', import.meta.url), {
      workerData: { executorModule: this.executorModule, name: this.name },
    });
    this.worker = worker;
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady();
      else if (message.type === 'epoch') this.onEpochMessage?.(message);
      else if (message.type === 'done') this.finish({ kind: 'done', result: message.result });
      else if (message.type === 'aborted') this.finish({ kind: 'aborted' });
    });
    let lastError = '';
    worker.on('error', (error) => {
      lastError = error instanceof Error ? error.message : String(error);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const reason = lastError || `worker thread exited with code ${code}`;
      failReady(new Error(reason));
      this.finish({ kind: 'crashed', reason });
    });
    return ready;
  }

  private finish(outcome: Outcome) {
    const settle = this.settle;
    this.settle = undefined;
    settle?.(outcome);
  }

  async run(
    trial: Trial,
    dir: string,
    attempt: number,
    onEpoch: (m: Extract<FromWorker, { type: 'epoch' }>) => void,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    if (!this.worker) this.ready = this.spawn();
    try {
      await this.ready;
    } catch (error) {
      return { kind: 'crashed', reason: (error as Error).message };
    }
    // An abort while the thread was starting had no trial to stop: do not start one.
    if (signal?.aborted) return { kind: 'aborted' };
    this.onEpochMessage = onEpoch;
    const outcome = new Promise<Outcome>((resolve) => {
      this.settle = resolve;
    });
    this.worker?.postMessage({ type: 'run', trial, dir, attempt } satisfies ToWorker);
    return outcome;
  }

  abort(graceMs: number) {
    if (!this.worker || !this.settle) return;
    this.worker.postMessage({ type: 'abort' } satisfies ToWorker);
    const worker = this.worker;
    const timer = setTimeout(() => {
      if (this.settle && this.worker === worker) void worker.terminate();
    }, graceMs);
    timer.unref();
  }

  async close() {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}

export class LocalPoolRunner implements TrialRunner {
  readonly name = 'local';
  readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly executorModule: string;
  private readonly abortGraceMs: number;

  constructor(options: LocalPoolOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? availableParallelism()));
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 2));
    this.executorModule = options.executorModule ?? new URL('./execute.js', import.meta.url).href;
    this.abortGraceMs = options.abortGraceMs ?? 60_000;
  }

  async run(trials: Trial[], ctx: RunnerContext): Promise<void> {
    const queue = trials.map((trial) => ({ trial, attempt: 1 }));
    const slots = Array.from(
      { length: Math.min(this.concurrency, trials.length) },
      (_, i) => new Slot(this.executorModule, `${hostname()}:${process.pid}/w${i}`),
    );
    const onAbort = () => {
      for (const slot of slots) slot.abort(this.abortGraceMs);
    };
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    const loop = async (slot: Slot, index: number) => {
      while (!ctx.signal?.aborted) {
        const next = queue.shift();
        if (!next) return;
        const { trial, attempt } = next;
        ctx.onEvent?.({ type: 'start', trial, worker: `w${index}` });
        const outcome = await slot.run(
          trial,
          ctx.trialDir(trial),
          attempt,
          (m) => ctx.onEvent?.({ type: 'epoch', trial, point: m.point, epochs: m.epochs }),
          ctx.signal,
        );
        if (outcome.kind === 'done') {
          await ctx.onResult(outcome.result);
          ctx.onEvent?.({ type: 'done', trial, result: outcome.result });
        } else if (outcome.kind === 'crashed' && !ctx.signal?.aborted) {
          if (attempt < this.maxAttempts) {
            queue.push({ trial, attempt: attempt + 1 });
          } else {
            const result: TrialResult = {
              trialId: trial.id,
              params: trial.params,
              status: 'failed',
              error: `worker crashed on attempt ${attempt} of ${this.maxAttempts}: ${outcome.reason}`,
              epochs: [],
              wallTimeMs: 0,
              attempt,
              worker: `${hostname()}:${process.pid}/w${index}`,
              finishedAt: new Date().toISOString(),
            };
            await ctx.onResult(result);
            ctx.onEvent?.({ type: 'done', trial, result });
          }
        }
      }
    };
    try {
      await Promise.all(slots.map((slot, i) => loop(slot, i)));
    } finally {
      ctx.signal?.removeEventListener('abort', onAbort);
      await Promise.all(slots.map((slot) => slot.close()));
    }
  }
}

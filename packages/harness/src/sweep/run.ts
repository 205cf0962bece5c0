/**
 * The sweep driver: expands the spec, skips trials the store already holds, hands the rest to a
 * trial runner (the local worker-thread pool unless another is given), appends each result to the
 * store as it arrives, and reports progress across trials with an ETA (./progress.ts).
 * Running it again on the same directory resumes: finished trials are skipped, interrupted ones
 * restart from their checkpoints.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../experiments/atomic-file.js';
import { LocalPoolRunner } from './pool.js';
import { formatDuration, ProgressTracker, type SweepProgress } from './progress.js';
import { expandGrid, type ParsedSweepSpec } from './spec.js';
import { acquireSweepLock, JsonlResultStore, SPEC_FILE, TRIALS_FILE } from './store.js';
import type { SweepSpec, Trial, TrialEvent, TrialResult, TrialRunner } from './types.js';

export type { SweepProgress };

export interface RunSweepOptions {
  /** Sweep directory (created if missing). */
  dir: string;
  spec: SweepSpec & { schedules?: ParsedSweepSpec['schedules'] };
  /** Default: a LocalPoolRunner with `concurrency` threads. */
  runner?: TrialRunner;
  concurrency?: number;
  /** Also rerun trials whose latest record is 'failed'. */
  retryFailed?: boolean;
  signal?: AbortSignal;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Raw events, e.g. for a progress bar. */
  onEvent?: (event: TrialEvent, progress: SweepProgress) => void;
}

export interface SweepSummary {
  dir: string;
  /** Trials in the spec. */
  total: number;
  /** Already recorded before this run. */
  skipped: number;
  /** Recorded by this run. */
  recorded: number;
  failed: number;
  /** True if the run was interrupted (pending trials remain). */
  interrupted: boolean;
  elapsedMs: number;
}

export async function runSweep(options: RunSweepOptions): Promise<SweepSummary> {
  const started = Date.now();
  const { dir, spec } = options;
  await mkdir(dir, { recursive: true });
  const trials = expandGrid(spec);
  const release = await acquireSweepLock(dir);
  try {
    removeStaleTempFiles(dir); // left by a driver killed while writing spec.json or trials.json
    writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
    // The trials as this version expanded them: reports read these, whatever version they run.
    writeFileAtomic(join(dir, TRIALS_FILE), `${JSON.stringify(trials)}\n`);
    const store = await JsonlResultStore.open(dir);
    const before = new Map((await store.results()).map((r) => [r.trialId, r]));
    const isPending = (t: Trial) => {
      const prev = before.get(t.id);
      return !prev || (options.retryFailed === true && prev.status === 'failed');
    };
    const pending = trials.filter(isPending);
    const recorded = trials.filter((t) => !isPending(t));
    const log = options.log ?? (() => {});
    const runner = options.runner ?? new LocalPoolRunner({ concurrency: options.concurrency });
    log(
      `${spec.name}: ${trials.length} trials, ${recorded.length} already recorded, ` +
        `${pending.length} to run on runner '${runner.name}' -> ${dir}`,
    );
    const tracker = new ProgressTracker(pending, started, log);
    const counts = { recorded: 0, failed: 0 };
    if (trials.length > 0) {
      await runner.run(pending, {
        signal: options.signal,
        recorded,
        trialDir: (trial) => store.trialDir(trial.id),
        onResult: async (result: TrialResult) => {
          // Attempts count across runs: a --retry-failed rerun continues the numbering.
          const attempt = (before.get(result.trialId)?.attempt ?? 0) + result.attempt;
          const fixed = { ...result, attempt };
          if (await store.append(fixed)) {
            counts.recorded++;
            if (fixed.status === 'failed') counts.failed++;
          }
        },
        onEvent: (event) => {
          tracker.record(event);
          options.onEvent?.(event, tracker.progress);
        },
      });
    }
    const finished = await store.finishedIds();
    const summary: SweepSummary = {
      dir,
      total: trials.length,
      skipped: recorded.length,
      recorded: counts.recorded,
      failed: counts.failed,
      interrupted: trials.some((t) => !finished.has(t.id)),
      elapsedMs: Date.now() - started,
    };
    log(
      `sweep ${summary.interrupted ? 'interrupted' : 'done'}: ${summary.recorded} recorded now ` +
        `(${summary.failed} failed), ${summary.skipped} skipped, in ` +
        formatDuration(summary.elapsedMs),
    );
    return summary;
  } finally {
    await release();
  }
}

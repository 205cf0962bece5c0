/**
 * The sweep driver: expands the spec, skips trials the store already holds, hands the rest to a
 * trial runner (the local worker-thread pool unless another is given), appends each result to the
 * store as it arrives, and reports progress across trials with an ETA:
 *   ETA = elapsed / epochsDone * epochsLeft   (epochs of this session, over all pending trials)
 * Running it again on the same directory resumes: finished trials are skipped, interrupted ones
 * restart from their checkpoints.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../experiments/atomic-file.js';
import { LocalPoolRunner } from './pool.js';
import { expandGrid, type ParsedSweepSpec } from './spec.js';
import { acquireSweepLock, JsonlResultStore, SPEC_FILE, TRIALS_FILE } from './store.js';
import type { SweepSpec, Trial, TrialEvent, TrialResult, TrialRunner } from './types.js';

/** Quiet time after which an epoch line is printed between trial lines. */
const HEARTBEAT_MS = 30_000;

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

export interface SweepProgress {
  trialsTotal: number;
  trialsDone: number;
  epochsTotal: number;
  epochsDone: number;
  elapsedMs: number;
  /** Estimated remaining milliseconds; undefined until an epoch has finished. */
  etaMs: number | undefined;
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

/** "1h02m", "3m05s", "42s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function trialEpochs(trial: Trial): number {
  return trial.epochs ?? Number(trial.config.epochs ?? 1);
}

export function describeParams(trial: Pick<Trial, 'params'>): string {
  const p = trial.params;
  return `${p.optimizer} lr=${p.lr} wd=${p.weightDecay} ${p.schedule} seed=${p.seed}`;
}

export async function runSweep(options: RunSweepOptions): Promise<SweepSummary> {
  const started = Date.now();
  const { dir, spec } = options;
  await mkdir(dir, { recursive: true });
  const trials = expandGrid(spec);
  const release = await acquireSweepLock(dir);
  try {
    writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
    // The trials as this version expanded them: reports read these, whatever version they run.
    writeFileAtomic(join(dir, TRIALS_FILE), `${JSON.stringify(trials)}\n`);
    const store = await JsonlResultStore.open(dir);
    const recorded = new Map((await store.results()).map((r) => [r.trialId, r]));
    const pending = trials.filter((t) => {
      const prev = recorded.get(t.id);
      return !prev || (options.retryFailed && prev.status === 'failed');
    });
    const attemptBase = new Map(pending.map((t) => [t.id, recorded.get(t.id)?.attempt ?? 0]));
    const skipped = trials.length - pending.length;
    const log = options.log ?? (() => {});
    const runner = options.runner ?? new LocalPoolRunner({ concurrency: options.concurrency });
    const progress: SweepProgress = {
      trialsTotal: pending.length,
      trialsDone: 0,
      epochsTotal: pending.reduce((n, t) => n + trialEpochs(t), 0),
      epochsDone: 0,
      elapsedMs: 0,
      etaMs: undefined,
    };
    const update = () => {
      progress.elapsedMs = Date.now() - started;
      progress.etaMs =
        progress.epochsDone > 0
          ? (progress.elapsedMs / progress.epochsDone) *
            (progress.epochsTotal - progress.epochsDone)
          : undefined;
    };
    log(
      `sweep ${spec.name}: ${trials.length} trials, ${skipped} already recorded, ` +
        `${pending.length} to run on runner '${runner.name}' -> ${dir}`,
    );
    let recordedNow = 0;
    let lastLine = Date.now();
    let failed = 0;
    const epochsSeen = new Map<string, number>();
    if (pending.length) {
      await runner.run(pending, {
        signal: options.signal,
        trialDir: (trial) => store.trialDir(trial.id),
        onResult: async (result: TrialResult) => {
          const fixed = {
            ...result,
            attempt: (attemptBase.get(result.trialId) ?? 0) + result.attempt,
          };
          if (await store.append(fixed)) {
            recordedNow++;
            if (fixed.status === 'failed') failed++;
          }
        },
        onEvent: (event) => {
          if (event.type === 'epoch') {
            const seen = epochsSeen.get(event.trial.id) ?? 0;
            if (event.point.epoch > seen) {
              progress.epochsDone += 1;
              epochsSeen.set(event.trial.id, event.point.epoch);
            }
          } else if (event.type === 'done') {
            progress.trialsDone += 1;
            // Epochs a trial did not train (resumed, diverged, failed) count as done now.
            const epochs = trialEpochs(event.trial);
            progress.epochsDone += Math.max(0, epochs - (epochsSeen.get(event.trial.id) ?? 0));
            epochsSeen.set(event.trial.id, epochs);
          }
          update();
          const eta = progress.etaMs === undefined ? '' : `, ETA ${formatDuration(progress.etaMs)}`;
          if (event.type === 'epoch' && Date.now() - lastLine >= HEARTBEAT_MS) {
            // Long trials: a line now and then, so a slow sweep is visibly alive.
            lastLine = Date.now();
            log(
              `  ${describeParams(event.trial)}: epoch ${event.point.epoch}/${event.epochs}, ` +
                `test error ${(event.point.testError * 100).toFixed(2)}% (elapsed ` +
                `${formatDuration(progress.elapsedMs)}${eta})`,
            );
          }
          if (event.type === 'done') {
            lastLine = Date.now();
            const r = event.result;
            const what =
              r.status === 'failed'
                ? `FAILED: ${r.error}`
                : `test error ${((r.final?.testError ?? Number.NaN) * 100).toFixed(2)}%` +
                  `${r.diverged ? ' (diverged)' : ''}` +
                  `${r.pruned ? ` (pruned at epoch ${r.epochs.length})` : ''}` +
                  ` in ${formatDuration(r.wallTimeMs)}`;
            log(
              `[${progress.trialsDone}/${progress.trialsTotal}] ${describeParams(event.trial)}: ` +
                `${what} (elapsed ${formatDuration(progress.elapsedMs)}${eta})`,
            );
          }
          options.onEvent?.(event, progress);
        },
      });
    }
    const finished = await store.finishedIds();
    const interrupted = trials.some((t) => !finished.has(t.id));
    const summary: SweepSummary = {
      dir,
      total: trials.length,
      skipped,
      recorded: recordedNow,
      failed,
      interrupted,
      elapsedMs: Date.now() - started,
    };
    log(
      `sweep ${interrupted ? 'interrupted' : 'done'}: ${recordedNow} recorded now ` +
        `(${failed} failed), ${skipped} skipped, in ${formatDuration(summary.elapsedMs)}`,
    );
    return summary;
  } finally {
    await release();
  }
}

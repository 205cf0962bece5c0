/**
 * Progress of a sweep across its pending trials, from the runner's events: trials and epochs done,
 * and the ETA
 *   ETA = elapsed / epochsDone * epochsLeft   (epochs of this session, over all pending trials)
 * It also writes the sweep's progress lines: one per finished trial, and an epoch line now and
 * then (HEARTBEAT_MS) so that a slow sweep is visibly alive.
 */
import type { Trial, TrialEvent } from './types.js';

/** Quiet time after which an epoch line is printed between trial lines. */
const HEARTBEAT_MS = 30_000;

export interface SweepProgress {
  trialsTotal: number;
  trialsDone: number;
  epochsTotal: number;
  epochsDone: number;
  elapsedMs: number;
  /** Estimated remaining milliseconds; undefined until an epoch has finished. */
  etaMs: number | undefined;
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

/** Epochs a trial trains. */
export function trialEpochs(trial: Trial): number {
  return trial.epochs ?? Number(trial.config.epochs ?? 1);
}

export function describeParams(trial: Pick<Trial, 'params'>): string {
  const p = trial.params;
  const length = p.epochs === undefined ? '' : ` epochs=${p.epochs}`;
  return `${p.optimizer} lr=${p.lr} wd=${p.weightDecay} ${p.schedule} seed=${p.seed}${length}`;
}

/** Counts the events of a sweep's pending trials into a SweepProgress and logs its lines. */
export class ProgressTracker {
  readonly progress: SweepProgress;
  /** The last epoch counted per trial id. */
  private readonly epochsSeen = new Map<string, number>();
  private lastLine = Date.now();

  constructor(
    pending: Trial[],
    private readonly started: number,
    private readonly log: (line: string) => void,
  ) {
    this.progress = {
      trialsTotal: pending.length,
      trialsDone: 0,
      epochsTotal: pending.reduce((n, t) => n + trialEpochs(t), 0),
      epochsDone: 0,
      elapsedMs: 0,
      etaMs: undefined,
    };
  }

  /** Counts `event`, then logs a line when a trial finished or the log has been quiet long. */
  record(event: TrialEvent): void {
    this.count(event);
    if (event.type === 'epoch' && Date.now() - this.lastLine >= HEARTBEAT_MS) {
      this.lastLine = Date.now();
      this.log(
        `  ${describeParams(event.trial)}: epoch ${event.point.epoch}/${event.epochs}, ` +
          `test error ${(event.point.testError * 100).toFixed(2)}% (${this.timing()})`,
      );
    } else if (event.type === 'done') {
      this.lastLine = Date.now();
      const r = event.result;
      const what =
        r.status === 'failed'
          ? `FAILED: ${r.error}`
          : `test error ${((r.final?.testError ?? Number.NaN) * 100).toFixed(2)}%` +
            `${r.diverged ? ' (diverged)' : ''}` +
            `${r.pruned ? ` (pruned at epoch ${r.epochs.length})` : ''}` +
            ` in ${formatDuration(r.wallTimeMs)}`;
      this.log(
        `[${this.progress.trialsDone}/${this.progress.trialsTotal}] ` +
          `${describeParams(event.trial)}: ${what} (${this.timing()})`,
      );
    }
  }

  private count(event: TrialEvent): void {
    const p = this.progress;
    const seen = this.epochsSeen.get(event.trial.id) ?? 0;
    if (event.type === 'epoch' && event.point.epoch > seen) {
      p.epochsDone += 1;
      this.epochsSeen.set(event.trial.id, event.point.epoch);
    } else if (event.type === 'done') {
      p.trialsDone += 1;
      // Epochs a trial did not train (resumed, diverged, failed) count as done now.
      const epochs = trialEpochs(event.trial);
      p.epochsDone += Math.max(0, epochs - seen);
      this.epochsSeen.set(event.trial.id, epochs);
    }
    p.elapsedMs = Date.now() - this.started;
    p.etaMs =
      p.epochsDone > 0 ? (p.elapsedMs / p.epochsDone) * (p.epochsTotal - p.epochsDone) : undefined;
  }

  /** "elapsed 3m05s, ETA 42s" (no ETA before the first epoch). */
  private timing(): string {
    const { elapsedMs, etaMs } = this.progress;
    const eta = etaMs === undefined ? '' : `, ETA ${formatDuration(etaMs)}`;
    return `elapsed ${formatDuration(elapsedMs)}${eta}`;
  }
}

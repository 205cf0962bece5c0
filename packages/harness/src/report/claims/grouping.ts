/**
 * Small helpers the claim analyses share: grouping items by a key, and a trial's training length.
 */
import type { Trial } from '../../sweep/types.js';

/** Items grouped by a key, in first-seen order. */
export function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

/** The training length of a trial, in epochs (config.epochs, else the trial's own count). */
export function trialEpochs(trial: Trial): number | undefined {
  const e = Number(trial.config.epochs ?? trial.epochs);
  return Number.isFinite(e) && e > 0 ? e : undefined;
}

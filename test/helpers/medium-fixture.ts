/**
 * What `decoupled reproduce --preset medium` leaves under its --out, with synthetic results: the
 * preset's four stages (grid/, seeds/, budget/ with its epochs axis, restarts/), each spec built by
 * the preset itself from the earlier stages' results, as the real run builds them. The errors are
 * closed forms with known optima, plus a deterministic per-trial jitter:
 * - Adam+L2: a diagonal basin, best L2 factor 1e-5 / lr; AdamW: an axis-aligned one, best λ_norm
 *   0.1 at every lr and at both lengths; both best at lr 1e-2;
 * - AdamW lower than Adam+L2 by about 0.5 points at their best settings, on every seed;
 * - diverged trials of both kinds the trainer records: the loss above the bound after epoch 1
 *   (Adam+L2, lr 3e-2 and 1e-1, L2 0.1 and 1: measured errors near chance), a NaN loss during
 *   epoch 1 (AdamW, lr 1e-1, λ_norm 1: no epoch recorded, no final values) and during epoch 4
 *   (AdamW, lr 3e-2, λ_norm 1: the last recorded epoch is the 3rd);
 * - warm restarts lower than cosine at the restart (epoch 2) by 2 points, 0.1 point higher at the
 *   end, on every seed;
 * - with `restartsOnly`, restarts/ holds AdamWR alone on seed 1, as the first medium runs left it;
 * - with `prune`, some grid trials stopped at epoch 2 as `sweep --preset medium --prune` leaves them,
 *   with a test and validation error there (1%) far below every finished run's.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS } from '#harness/sweep/presets.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import type { EpochPoint, Trial, TrialResult } from '#harness/sweep/types.js';
import { writeSweepDir } from './report-fixture.js';

/** The known answers of the medium-like results. */
export const MEDIUM_ANSWERS = {
  bestLr: 1e-2,
  /** Adam+L2's best L2 factor at `lr` (continuous; the grid holds decades). */
  adamBestDecay: (lr: number) => 1e-5 / lr,
  adamwBestNorm: 0.1,
  /** Adam+L2 minus AdamW at their best settings, before jitter. */
  generalizationGap: 0.005,
  restartGain: 0.02,
  endGap: -0.001,
};

/** A number in [-1, 1] from a string (FNV-1a), so every trial's jitter is fixed. */
function jitter(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  return (h / 2 ** 32) * 2 - 1;
}

/** The closed-form final test error of a trial trained to its end. */
function finalError(t: Trial): number {
  const { optimizer, lr, weightDecay: wd, schedule, seed } = t.params;
  const epochs = Number(t.config.epochs);
  const lrTerm = 0.02 * (Math.log10(lr) + 2) ** 2;
  const seedTerm = 0.002 * jitter(`seed ${seed}`);
  const short = epochs < 6 ? 0.03 : 0;
  // Small enough never to swap two neighbouring decays (their closed-form errors differ by ≥ 0.9e-3).
  const own = 0.0002 * jitter(t.id);
  if (optimizer === 'adam') {
    const decay = wd === 0 ? 0.03 : 0.02 * (Math.log10(lr * wd) + 5) ** 2;
    return 0.12 + lrTerm + decay + seedTerm + short + own;
  }
  const restarts = schedule === 'warm-restarts' ? -MEDIUM_ANSWERS.endGap : 0;
  const decay = 0.02 * Math.log10(wd / MEDIUM_ANSWERS.adamwBestNorm) ** 2;
  return 0.115 + lrTerm + decay + seedTerm + short + restarts + own;
}

/** How a trial diverges, if it does. */
function divergence(t: Trial): 'bound' | 'nan-epoch-1' | 'nan-epoch-4' | undefined {
  const { optimizer, lr, weightDecay: wd } = t.params;
  if (lr < 3e-2) return undefined;
  if (optimizer === 'adam') return wd >= 0.1 ? 'bound' : undefined;
  if (wd !== 1) return undefined;
  return lr === 1e-1 ? 'nan-epoch-1' : 'nan-epoch-4';
}

function point(epoch: number, testError: number, trainLoss: number, ms: number): EpochPoint {
  return {
    epoch,
    trainLoss,
    trainError: Math.max(0, testError - 0.05),
    valError: testError + 0.004 + 0.0001 * jitter(`val ${epoch} ${testError}`),
    testError,
    wallTimeMs: ms,
  };
}

/** Per-epoch curve falling to `final`; warm restarts dip at the end of their first period. */
function curve(t: Trial, final: number): EpochPoint[] {
  const epochs = Number(t.config.epochs);
  const points: EpochPoint[] = [];
  for (let e = 1; e <= epochs; e++) {
    const cosine = final + 0.08 * (1 - e / epochs);
    const dip = t.params.schedule === 'warm-restarts' && e === 2;
    const error = dip ? cosine - MEDIUM_ANSWERS.restartGain + MEDIUM_ANSWERS.endGap : cosine;
    points.push(point(e, error, 0.25 + 2 * final - 0.02 * e, 20_000 * e));
  }
  return points;
}

/** The record the sweep writes for `t`. */
function mediumResult(t: Trial, pruneAt?: number): TrialResult {
  const how = divergence(t);
  let epochs = curve(t, finalError(t));
  if (how === 'bound') epochs = [point(1, 0.9 - 0.001 * jitter(t.id), 6.2, 20_000)];
  if (how === 'nan-epoch-1') epochs = [];
  if (how === 'nan-epoch-4') epochs = epochs.slice(0, 3);
  // A pruned run stops at its rung; its error there is set far below every finished run's, so a
  // report that let it count would pick it.
  if (pruneAt !== undefined)
    epochs = epochs.slice(0, pruneAt).map((p) => point(p.epoch, 0.01, 0.1, p.wallTimeMs));
  const last = epochs.at(-1);
  return {
    trialId: t.id,
    params: t.params,
    status: 'ok',
    epochs,
    ...(how ? { diverged: true } : {}),
    ...(pruneAt !== undefined ? { pruned: true } : {}),
    ...(last
      ? {
          final: {
            trainLoss: last.trainLoss,
            trainError: last.trainError,
            valError: last.valError as number,
            testError: last.testError,
          },
        }
      : {}),
    wallTimeMs: last?.wallTimeMs ?? 5_000,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** Grid trials recorded as pruned at epoch 2 with `prune`: the worst column of each optimizer. */
const prunedInGrid = (t: Trial) =>
  (t.params.optimizer === 'adam' && t.params.weightDecay === 1 && t.params.lr <= 3e-3) ||
  (t.params.optimizer === 'adamw' && t.params.weightDecay === 0.001 && t.params.lr === 1e-3);

/**
 * Writes the medium preset's four stage directories under a new root, in the preset's order, each
 * stage's spec made from the results before it. Returns the root and each stage's trial count.
 */
export async function writeMediumRun(
  options: { prune?: boolean; restartsOnly?: boolean } = {},
): Promise<{ root: string; trials: Record<string, number> }> {
  const root = mkdtempSync(join(tmpdir(), 'report-medium-'));
  const earlier = new Map<string, TrialResult[]>();
  const trials: Record<string, number> = {};
  for (const stage of PRESETS.medium.stages) {
    const input = stage.spec(earlier);
    // The first medium runs' layout: restarts/ held AdamWR only, one seed, paired with grid/'s cosine.
    if (options.restartsOnly && stage.dir === 'restarts') {
      input.grid = { ...input.grid, schedule: ['warm-restarts'], seed: [1] };
    }
    const spec = parseSweepSpec(input);
    const stageTrials = expandGrid(spec);
    const prune = options.prune && stage.dir === 'grid';
    const results = stageTrials.map((t) =>
      mediumResult(t, prune && prunedInGrid(t) ? 2 : undefined),
    );
    const dir = join(root, stage.dir);
    mkdirSync(dir);
    await writeSweepDir(dir, spec, stageTrials, results);
    earlier.set(stage.dir, results);
    trials[stage.dir] = stageTrials.length;
  }
  return { root, trials };
}

/**
 * Writes a synthetic, finished sweep directory as `decoupled sweep` leaves it (spec.json,
 * trials.json, results.jsonl through the real store) for report and CLI tests: Adam with a diagonal
 * basin, AdamW with an axis-aligned one, 2 seeds.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '#harness/experiments/atomic-file.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { JsonlResultStore, SPEC_FILE, TRIALS_FILE } from '#harness/sweep/store.js';
import type { EpochPoint, SweepSpec, Trial, TrialResult } from '#harness/sweep/types.js';
import { syntheticResult } from './sweep-fakes.js';

/** Writes spec.json, trials.json and results.jsonl (through the real store) into `dir`. */
export async function writeSweepDir(
  dir: string,
  spec: SweepSpec,
  trials: Trial[],
  results: TrialResult[],
): Promise<void> {
  writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileAtomic(join(dir, TRIALS_FILE), `${JSON.stringify(trials)}\n`);
  const store = await JsonlResultStore.open(dir);
  for (const r of results) await store.append(r);
}

/**
 * The trials {@link writeSyntheticSweep} records as pruned when asked (as --prune leaves them:
 * status 'ok', `pruned`, the metrics of their rung), each with a test and validation error far
 * below every finished trial's: AdamW at lr 0.1, decay 0.01 (both seeds, at epoch 1) and seed 2 of
 * AdamW at lr 0.001, decay 1e-4 (at epoch 2).
 */
export const PRUNED = [
  { lr: 1e-1, weightDecay: 1e-2, seed: 1, epoch: 1 },
  { lr: 1e-1, weightDecay: 1e-2, seed: 2, epoch: 1 },
  { lr: 1e-3, weightDecay: 1e-4, seed: 2, epoch: 2 },
];
const PRUNED_ERROR = 0.01;

/** A result stopped at epoch `epoch` of a successive-halving run. */
function prunedResult(trial: Trial, epoch: number): TrialResult {
  const full = syntheticResult(trial, PRUNED_ERROR);
  const epochs = full.epochs.slice(0, epoch).map((p) => ({ ...p, testError: PRUNED_ERROR }));
  const last = epochs[epochs.length - 1];
  return {
    ...full,
    epochs,
    pruned: true,
    final: {
      trainLoss: last.trainLoss,
      trainError: last.trainError,
      testError: PRUNED_ERROR,
      valError: PRUNED_ERROR,
    },
  };
}

export async function writeSyntheticSweep(
  options: { prune?: boolean } = {},
): Promise<{ dir: string; trials: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'report-sweep-'));
  const spec = parseSweepSpec({
    name: 'synthetic <report> & "test"',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3, testSubset: 1000 },
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-3, 1e-2, 1e-1],
      weightDecay: [0, 1e-4, 1e-3, 1e-2],
      seed: [1, 2],
    },
  });
  const trials = expandGrid(spec);
  const results = trials.map((t) => {
    const { lr, weightDecay: wd, seed, optimizer } = t.params;
    const base =
      wd === 0
        ? 0.2
        : optimizer === 'adam'
          ? 0.1 + 0.01 * (Math.log10(lr * wd) + 5) ** 2
          : 0.09 + 0.01 * (Math.log10(wd) + 3) ** 2 + 0.005 * (Math.log10(lr) + 2) ** 2;
    const loss = optimizer === 'adam' ? 0.05 : 0.08;
    const pruned = PRUNED.find(
      (p) => optimizer === 'adamw' && p.lr === lr && p.weightDecay === wd && p.seed === seed,
    );
    if (options.prune && pruned) return prunedResult(t, pruned.epoch);
    return syntheticResult(t, base + (seed === 1 ? 0.002 : -0.002), loss);
  });
  await writeSweepDir(dir, spec, trials, results);
  return { dir, trials: trials.length };
}

/** The known answers of {@link claimsSweep}. */
export const CLAIMS_ANSWERS = {
  seeds: [1, 2, 3, 4, 5],
  /** Adam+L2's best L2 factor is 1e-5 / lr (a diagonal basin): slope -1. */
  adamBestDecay: (lr: number) => 1e-5 / lr,
  /** AdamW's best λ_norm is 0.05 at every lr and length (axis-aligned): slope 0. */
  adamwBestNorm: 0.05,
  /** Cosine minus warm restarts at the restart epoch 4 (restarts lower), and at the end (12). */
  restartGain: 0.03,
  endGap: -0.002,
  /** Adam+L2 minus AdamW at their best settings, per seed s: 0.01 + 0.001 (s - 3). */
  generalizationGap: (seed: number) => 0.01 + 0.001 * (seed - 3),
};

/** A per-epoch curve ending at `final`, 5 points higher at the start; `dip` lowers one epoch. */
function curveResult(trial: Trial, final: number, dip?: { epoch: number; by: number }) {
  const epochs = Number(trial.config.epochs);
  const points: EpochPoint[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const testError = final + 0.05 * (1 - epoch / epochs) - (dip?.epoch === epoch ? dip.by : 0);
    points.push({
      epoch,
      trainLoss: 0.5 / epoch,
      trainError: 0.1 / epoch,
      testError,
      wallTimeMs: 100 * epoch,
    });
  }
  return {
    trialId: trial.id,
    params: trial.params,
    status: 'ok' as const,
    epochs: points,
    // A validation error offset from test by a constant: selection on it picks the same settings.
    final: {
      trainLoss: 0.5 / epochs,
      trainError: 0.1 / epochs,
      testError: final,
      valError: final + 0.01,
    },
    wallTimeMs: 100 * epochs,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** Final test error of the claims sweep's trials (closed forms, see CLAIMS_ANSWERS). */
function claimsError(t: Trial): number {
  const { optimizer, lr, weightDecay: wd, schedule, seed } = t.params;
  const common = 0.001 * ((seed * 7) % 5);
  if (optimizer === 'adam') {
    return 0.12 + common + 0.001 * (seed - 3) + 0.01 * (Math.log10(lr * wd) + 5) ** 2;
  }
  const shape = 0.01 * Math.log2(wd / 0.05) ** 2 + 0.005 * (Math.log10(lr) + 3) ** 2;
  return 0.11 + common + shape + (schedule === 'warm-restarts' ? -CLAIMS_ANSWERS.endGap : 0);
}

/**
 * A sweep with one experiment per claim and known answers, 5 seeds: Adam+L2 (cosine) with a
 * diagonal basin over 3 lr × 5 L2 factors; AdamW (λ_norm, decay × η_t) with an axis-aligned basin,
 * with cosine and with warm restarts (t0 = 4, tMult = 2: one restart, at epoch 4) over 12 epochs,
 * and with cosine over 3 epochs (the budget claim). Validation errors are recorded.
 */
export function claimsSweep() {
  const grid = {
    optimizer: ['adam', 'adamw'],
    lr: [1e-4, 1e-3, 1e-2],
    weightDecay: [0],
    seed: CLAIMS_ANSWERS.seeds,
  };
  const base = {
    model: { kind: 'mlp', hidden: [8] },
    subset: 4000,
    testSubset: 1000,
    validationSize: 500,
    batchSize: 125,
  };
  const perOptimizer = (schedules: string[]) => ({
    adam: { weightDecay: [1e-5, 1e-4, 1e-3, 1e-2, 1e-1], schedule: ['cosine'] },
    adamw: {
      base: { weightDecayNorm: true, decayScale: 'schedule' },
      weightDecay: [0.0125, 0.025, 0.05, 0.1, 0.2],
      schedule: schedules,
    },
  });
  const spec = parseSweepSpec({
    name: 'claims',
    base: { ...base, epochs: 12 },
    grid,
    perOptimizer: perOptimizer(['cosine', 'warm-restarts']),
  });
  const short = parseSweepSpec({
    name: 'claims, short',
    base: { ...base, epochs: 3 },
    grid: { ...grid, optimizer: ['adamw'] },
    perOptimizer: perOptimizer(['cosine']),
  });
  const trials = [...expandGrid(spec), ...expandGrid(short)];
  const results = trials.map((t) =>
    curveResult(
      t,
      claimsError(t),
      t.params.schedule === 'warm-restarts'
        ? { epoch: 4, by: CLAIMS_ANSWERS.restartGain - CLAIMS_ANSWERS.endGap }
        : undefined,
    ),
  );
  return { spec, trials, results };
}

/** {@link claimsSweep} written as a sweep directory. */
export async function writeClaimsSweep(): Promise<{ dir: string; trials: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'report-claims-'));
  const { spec, trials, results } = claimsSweep();
  await writeSweepDir(dir, spec, trials, results);
  return { dir, trials: trials.length };
}

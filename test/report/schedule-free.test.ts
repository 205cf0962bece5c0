/**
 * Sweeps with the schedule-free optimizers: a spec expands them (with the constant schedule they
 * require, refused otherwise before any training), and the report of a finished sweep holding
 * them beside AdamW groups them on their own, names them, and pairs only Adam with AdamW.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '#harness/experiments/atomic-file.js';
import { writeReport } from '#harness/report/index.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { JsonlResultStore, SPEC_FILE, TRIALS_FILE } from '#harness/sweep/store.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

const grid = {
  optimizer: ['adam', 'adamw', 'schedule-free-adamw', 'schedule-free-sgd'],
  lr: [1e-3, 1e-2, 1e-1],
  weightDecay: [0, 1e-4, 1e-3],
  seed: [1, 2],
};
const base = { model: { kind: 'mlp', hidden: [8] }, epochs: 3, testSubset: 1000 };
const constant = { schedule: ['constant'] };

test('a sweep spec takes the schedule-free optimizers with the constant schedule only', () => {
  assert.throws(
    () => expandGrid(parseSweepSpec({ base, grid })),
    /schedule-free-adamw takes no learning-rate schedule .*not cosine/,
  );
  const spec = parseSweepSpec({
    base,
    grid,
    perOptimizer: { 'schedule-free-adamw': constant, 'schedule-free-sgd': constant },
  });
  const trials = expandGrid(spec);
  assert.equal(trials.length, 4 * 9 * 2);
  const free = trials.filter((t) => t.params.optimizer === 'schedule-free-sgd');
  assert.equal(free.length, 18);
  assert.ok(free.every((t) => (t.config.schedule as { kind: string }).kind === 'constant'));
  assert.match(free[0].id, /^schedule-free-sgd_lr/);
});

test('the report of a sweep with schedule-free optimizers groups, names and pairs them right', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-sf-'));
  const spec = parseSweepSpec({
    name: 'schedule-free',
    base,
    grid,
    perOptimizer: { 'schedule-free-adamw': constant, 'schedule-free-sgd': constant },
  });
  const trials = expandGrid(spec);
  writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileAtomic(join(dir, TRIALS_FILE), `${JSON.stringify(trials)}\n`);
  const store = await JsonlResultStore.open(dir);
  const offset = { adam: 0.02, adamw: 0, 'schedule-free-adamw': -0.01, 'schedule-free-sgd': 0.01 };
  for (const t of trials) {
    const { lr, weightDecay, seed, optimizer } = t.params;
    const error =
      0.1 +
      offset[optimizer as keyof typeof offset] +
      0.01 * (Math.log10(lr) + 2) ** 2 +
      (weightDecay === 0 ? 0.02 : 0.005 * (Math.log10(weightDecay) + 3) ** 2) +
      (seed === 1 ? 0.002 : -0.002);
    await store.append(syntheticResult(t, error));
  }
  const report = await writeReport(dir);
  const summary = JSON.parse(readFileSync(join(dir, 'report', 'summary.json'), 'utf8'));
  const groups = summary.groups.map((g: { optimizer: string; schedule: string }) => [
    g.optimizer,
    g.schedule,
  ]);
  assert.deepEqual(groups.sort(), [
    ['adam', 'cosine'],
    ['adamw', 'cosine'],
    ['schedule-free-adamw', 'constant'],
    ['schedule-free-sgd', 'constant'],
  ]);
  assert.deepEqual(
    summary.claims.generalization.result.comparisons.map(
      (c: { coupled: string; decoupled: string }) => [c.coupled, c.decoupled],
    ),
    [['adam', 'adamw']],
  );
  const figures = readdirSync(join(dir, 'report', 'figures'));
  assert.ok(figures.includes('heatmap-schedule-free-adamw-constant.svg'), figures.join(', '));
  const html = readFileSync(report.html, 'utf8');
  assert.match(html, /Schedule-free AdamW/);
  assert.match(html, /Schedule-free SGD/);
  assert.match(html, /errors are measured at the average x/);
  assert.doesNotMatch(html, /Schedule-free [^<]*(This agrees with the paper|as the paper finds)/);
});

/** Grid expansion, spec validation and loading, list flags. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { parseNumberList } from '#harness/cli/parse.js';
import { canonicalJson } from '#harness/experiments/config.js';
import { bestOnValidation, PRESET_NAMES, PRESETS, presetSpec } from '#harness/sweep/presets.js';
import { expandGrid, loadSweepSpec, parseSweepSpec, scheduleConfig } from '#harness/sweep/spec.js';
import type { TrialResult } from '#harness/sweep/types.js';

const base = { model: { kind: 'mlp', hidden: [8] }, epochs: 3 };

test('the grid is the Cartesian product of its axes, with per-optimizer replacements', () => {
  const spec = parseSweepSpec({
    base,
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-3, 3e-3, 1e-2],
      weightDecay: [0, 1e-4],
      schedule: ['cosine', 'constant'],
      seed: [1, 2],
    },
    perOptimizer: { adamw: { weightDecay: [0.05, 0.1, 0.2], base: { weightDecayNorm: true } } },
  });
  const trials = expandGrid(spec);
  assert.equal(trials.length, 3 * 2 * 2 * 2 + 3 * 3 * 2 * 2);
  const adamw = trials.filter((t) => t.params.optimizer === 'adamw');
  assert.deepEqual([...new Set(adamw.map((t) => t.params.weightDecay))].sort(), [0.05, 0.1, 0.2]);
  assert.ok(adamw.every((t) => t.config.weightDecayNorm === true));
  assert.ok(
    trials.filter((t) => t.params.optimizer === 'adam').every((t) => !t.config.weightDecayNorm),
  );
  // Every coordinate combination appears exactly once, ids are unique.
  assert.equal(new Set(trials.map((t) => t.id)).size, trials.length);
  const keys = trials.map((t) => canonicalJson(t.params));
  assert.equal(new Set(keys).size, trials.length);
  // The trial config carries its coordinates and the schedule's config.
  for (const t of trials) {
    assert.equal(t.config.lr, t.params.lr);
    assert.equal(t.config.seed, t.params.seed);
    assert.equal((t.config.schedule as { kind: string }).kind, t.params.schedule);
  }
  // Run order: all of seed 1 before seed 2, optimizers interleaved.
  const firstSeed2 = trials.findIndex((t) => t.params.seed === 2);
  assert.ok(trials.slice(0, firstSeed2).every((t) => t.params.seed === 1));
  assert.deepEqual(
    trials.slice(0, 2).map((t) => t.params.optimizer),
    ['adam', 'adamw'],
  );
  assert.deepEqual(
    trials.map((t) => t.index),
    trials.map((_, i) => i),
  );
});

test('ids are deterministic, change with the training config, ignore dataDir, and dedupe repeats', () => {
  const spec = { base, grid: { optimizer: ['sgdw'], lr: [0.1, 0.1], weightDecay: [1e-4] } };
  const a = expandGrid(parseSweepSpec(spec));
  const b = expandGrid(parseSweepSpec(structuredClone(spec)));
  assert.equal(a.length, 1);
  assert.deepEqual(
    a.map((t) => t.id),
    b.map((t) => t.id),
  );
  assert.match(a[0].id, /^sgdw_lr0\.1_wd0\.0001_cosine_s1_[0-9a-f]{8}$/);
  const other = expandGrid(parseSweepSpec({ ...spec, base: { ...base, epochs: 4 } }));
  assert.notEqual(other[0].id, a[0].id);
  const moved = expandGrid(parseSweepSpec({ ...spec, base: { ...base, dataDir: '/elsewhere' } }));
  assert.equal(moved[0].id, a[0].id);
  assert.equal(moved[0].config.dataDir, '/elsewhere');
  const unset = expandGrid(parseSweepSpec({ ...spec, base: { ...base, subset: undefined } }));
  assert.equal(unset[0].id, a[0].id, 'an undefined setting is no setting');
});

test('canonicalJson sorts keys at every depth and drops undefined values, as JSON does', () => {
  const value = { b: [1, { y: 2, x: undefined }], a: { d: 'd', c: null } };
  assert.equal(canonicalJson(value), '{"a":{"c":null,"d":"d"},"b":[1,{"y":2}]}');
  assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
});

/** Each input must fail the schema with an issue `path message` matching its pattern. */
function assertSpecErrors(cases: [unknown, RegExp][]): void {
  for (const [input, pattern] of cases) {
    assert.throws(
      () => parseSweepSpec(input),
      (e: unknown) => {
        assert.ok(e instanceof z.ZodError);
        assert.match(e.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '), pattern);
        return true;
      },
    );
  }
}

test('bad specs are rejected with the path of the bad field', () => {
  const cases: [unknown, RegExp][] = [
    [{ grid: { optimizer: ['adamx'], lr: [1e-3], weightDecay: [0] } }, /optimizer/],
    [{ grid: { optimizer: ['adam'], lr: [-1], weightDecay: [0] } }, /lr/],
    [{ grid: { optimizer: ['adam'], lr: [], weightDecay: [0] } }, /lr/],
    [{ grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] }, extra: 1 }, /extra/],
    [{ base: { lr: 1 }, grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] } }, /base\.lr/],
    [
      {
        grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] },
        perOptimizer: { adam: { base: { seed: 3 } } },
      },
      /perOptimizer\.adam\.base\.seed/,
    ],
  ];
  assertSpecErrors(cases);
  // A base the training schema rejects fails at expansion, before anything runs.
  const bad = parseSweepSpec({
    base: { batchSize: 0 },
    grid: { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] },
  });
  assert.throws(() => expandGrid(bad), /batchSize/);
});

test('specs load from JSON and YAML files alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spec-'));
  const spec = {
    name: 'files',
    base,
    grid: { optimizer: ['adam', 'adamw'], lr: [1e-3], weightDecay: [0, 0.1], seed: [1, 2] },
  };
  writeFileSync(join(dir, 's.json'), JSON.stringify(spec));
  writeFileSync(
    join(dir, 's.yaml'),
    [
      'name: files',
      'base:',
      '  model: { kind: mlp, hidden: [8] }',
      '  epochs: 3',
      'grid:',
      '  optimizer: [adam, adamw]',
      '  lr: [1.0e-3]',
      '  weightDecay: [0, 0.1]',
      '  seed: [1, 2]',
    ].join('\n'),
  );
  const fromJson = expandGrid(await loadSweepSpec(join(dir, 's.json')));
  const fromYaml = expandGrid(await loadSweepSpec(join(dir, 's.yaml')));
  assert.equal(fromJson.length, 8);
  assert.deepEqual(
    fromYaml.map((t) => t.id),
    fromJson.map((t) => t.id),
  );
});

test('default schedules derive from the epoch count', () => {
  assert.deepEqual(scheduleConfig('step', 100), {
    kind: 'step',
    milestones: [50, 75],
    gamma: 0.1,
  });
  const wr = scheduleConfig('warm-restarts', 30);
  assert.equal(wr.kind, 'warm-restarts');
  // T_0 + 2 T_0 = epochs: the second period ends on the last epoch.
  if (wr.kind === 'warm-restarts') assert.equal(wr.t0 * (1 + wr.tMult), 30);
});

test('list flags: comma lists and log ranges; bad input names the option', () => {
  assert.deepEqual(parseNumberList('--lr', '1e-3, 3e-3'), [1e-3, 3e-3]);
  assert.deepEqual(parseNumberList('--lr', '1e-4:1e-2:3'), [1e-4, 1e-3, 1e-2]);
  assert.throws(() => parseNumberList('--lr', '1e-3,abc'), /--lr must be .*received "1e-3,abc"/);
  assert.throws(() => parseNumberList('--weight-decay', '0:1:3'), /--weight-decay/);
});

test('every preset expands to valid trials', () => {
  for (const name of PRESET_NAMES) {
    const trials = expandGrid(parseSweepSpec(presetSpec(name)));
    assert.ok(trials.length > 0, name);
  }
  assert.equal(expandGrid(parseSweepSpec(presetSpec('quick'))).length, 18);
});

/** A finished trial of the medium grid with the given errors. */
function gridResult(
  optimizer: TrialResult['params']['optimizer'],
  lr: number,
  weightDecay: number,
  valError: number,
  testError: number,
): TrialResult {
  return {
    trialId: `${optimizer}-${lr}-${weightDecay}`,
    params: { optimizer, lr, weightDecay, schedule: 'cosine', seed: 1 },
    status: 'ok',
    epochs: [],
    final: { trainLoss: 0.3, trainError: 0.1, valError, testError },
    wallTimeMs: 1,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00Z',
  };
}

test('every preset uses PyTorch-like models and a fixed data seed in every stage', () => {
  const grid = (['adam', 'adamw', 'sgd', 'sgdw'] as const).map((o) =>
    gridResult(o, 1e-3, 0.1, 0.2, 0.2),
  );
  for (const name of PRESET_NAMES) {
    for (const stage of PRESETS[name].stages) {
      const spec = parseSweepSpec(stage.spec(new Map([['grid', grid]])));
      for (const t of expandGrid(spec)) {
        assert.equal(t.config.init, 'torch', `${name}/${stage.dir}`);
        assert.equal(typeof t.config.dataSeed, 'number', `${name}/${stage.dir}`);
        const model = t.config.model as { kind: string; stridePadding?: string };
        if (model.kind === 'resnet') assert.equal(model.stridePadding, 'symmetric');
      }
    }
  }
});

test('medium: a 5 lr x 7 decay grid per optimizer, then seeds, budgets and restarts from validation', () => {
  const [gridStage, seedStage, budgetStage, restartStage] = PRESETS.medium.stages;
  const gridTrials = expandGrid(parseSweepSpec(gridStage.spec(new Map())));
  assert.equal(gridTrials.length, 70);
  for (const optimizer of ['adam', 'adamw'] as const) {
    const mine = gridTrials.filter((t) => t.params.optimizer === optimizer);
    assert.equal(new Set(mine.map((t) => t.params.lr)).size, 5);
    assert.equal(new Set(mine.map((t) => t.params.weightDecay)).size, 7);
    assert.ok(mine.every((t) => Number(t.config.validationSize) > 0));
  }
  // The best on test (3e-3) is not the best on validation (1e-3): selection must use validation.
  const grid = [
    gridResult('adam', 1e-3, 1e-4, 0.15, 0.2),
    gridResult('adam', 3e-3, 1e-3, 0.18, 0.1),
    { ...gridResult('adam', 1e-2, 1e-3, 0.01, 0.01), diverged: true },
    gridResult('adamw', 1e-3, 0.3, 0.19, 0.3),
    gridResult('adamw', 3e-3, 0.1, 0.12, 0.25),
    { ...gridResult('adamw', 1e-2, 1, 0.01, 0.01), pruned: true },
  ];
  assert.deepEqual(bestOnValidation(grid, 'adam'), { lr: 1e-3, weightDecay: 1e-4, valError: 0.15 });
  const earlier = new Map([['grid', grid]]);
  const seeds = expandGrid(parseSweepSpec(seedStage.spec(earlier)));
  assert.equal(seeds.length, 10);
  for (const t of seeds) {
    const expected = t.params.optimizer === 'adam' ? [1e-3, 1e-4] : [3e-3, 0.1];
    assert.deepEqual([t.params.lr, t.params.weightDecay], expected);
  }
  assert.deepEqual([...new Set(seeds.map((t) => t.params.seed))], [1, 2, 3, 4, 5]);
  // Budgets: AdamW at E/3 and E epochs in one sweep (an epochs axis), every lambda_norm of the grid,
  // 5 seeds; restarts: AdamWR (restarts at E/3 and E) and AdamW-cosine over E epochs, 5 paired
  // seeds; both at AdamW's best lr on validation, restarts at its best lambda_norm too.
  const epochs = Number(gridTrials[0].config.epochs);
  const adamwRow = gridTrials.filter((t) => t.params.optimizer === 'adamw' && t.params.lr === 3e-3);
  const adamwDecays = adamwRow.map((t) => t.params.weightDecay);
  const budget = expandGrid(parseSweepSpec(budgetStage.spec(earlier)));
  const restarts = expandGrid(parseSweepSpec(restartStage.spec(earlier)));
  const key = (...xs: unknown[]) => xs.join('/');
  assert.deepEqual(
    new Set(budget.map((t) => key(t.params.weightDecay, t.epochs, t.params.seed))),
    new Set(
      adamwDecays.flatMap((w) =>
        [epochs / 3, epochs].flatMap((e) => [1, 2, 3, 4, 5].map((s) => key(w, e, s))),
      ),
    ),
  );
  assert.equal(budget.length, 7 * 2 * 5);
  for (const t of budget) {
    assert.deepEqual(
      [t.params.lr, t.config.epochs, t.params.schedule],
      [3e-3, t.params.epochs, 'cosine'],
    );
    assert.equal(t.config.weightDecayNorm, true);
  }
  // The E-epoch seed-1 budget trials train exactly the grid's AdamW row (same config, same hash).
  assert.deepEqual(
    new Set(
      budget.filter((t) => t.epochs === epochs && t.params.seed === 1).map((t) => t.id.slice(-8)),
    ),
    new Set(adamwRow.map((t) => t.id.slice(-8))),
  );
  assert.deepEqual(
    new Set(restarts.map((t) => key(t.params.schedule, t.params.seed))),
    new Set(['cosine', 'warm-restarts'].flatMap((sc) => [1, 2, 3, 4, 5].map((s) => key(sc, s)))),
  );
  for (const t of restarts) {
    assert.deepEqual([t.params.lr, t.params.weightDecay, t.config.epochs], [3e-3, 0.1, epochs]);
    assert.equal(t.config.weightDecayNorm, true);
    if (t.params.schedule === 'warm-restarts') {
      assert.deepEqual(t.config.schedule, {
        kind: 'warm-restarts',
        t0: epochs / 3,
        tMult: 2,
        min: 0,
      });
    }
  }
  // Restarts' cosine runs are the grid's best AdamW cell, on 5 seeds: seed 1 is the grid's trial.
  const gridBest = adamwRow.find((t) => t.params.weightDecay === 0.1);
  assert.ok(
    restarts.some(
      (t) => t.params.schedule === 'cosine' && t.id.slice(-8) === gridBest?.id.slice(-8),
    ),
  );
  assert.throws(() => seedStage.spec(new Map()), /no finished adam trial with a validation error/);
});

test('ids of specs without an epochs axis are those the code gave before the axis existed', () => {
  // Pinned from the expansion before the axis was added: a re-run of an old sweep directory must
  // find its finished trials.
  const wr = expandGrid(
    parseSweepSpec({
      base,
      grid: {
        optimizer: ['adamw'],
        lr: [1e-3],
        weightDecay: [0.05],
        schedule: ['warm-restarts'],
        seed: [1],
      },
      perOptimizer: { adamw: { base: { weightDecayNorm: true } } },
    }),
  );
  assert.deepEqual(
    wr.map((t) => t.id),
    ['adamw_lr0.001_wd0.05_warm-restarts_s1_055e0a29'],
  );
  const defaults = expandGrid(
    parseSweepSpec({
      base: { model: { kind: 'mlp', hidden: [8] } },
      grid: { optimizer: ['sgd'], lr: [0.1], weightDecay: [1e-4] },
    }),
  );
  assert.deepEqual(
    defaults.map((t) => [t.id, t.epochs, 'epochs' in t.params]),
    [['sgd_lr0.1_wd0.0001_cosine_s1_1803dd30', 10, false]],
  );
  const quick = expandGrid(parseSweepSpec(presetSpec('quick')));
  assert.equal(quick.length, 18);
  assert.equal(quick[0].id, 'adam_lr0.0003_wd0_cosine_s1_0b091417');
  assert.equal(quick[17].id, 'adamw_lr0.003_wd0.2_cosine_s1_0abf53a1');
});

test('an epochs axis multiplies the trials, each with its own length, id and schedule', () => {
  const spec = {
    base,
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-3, 3e-3],
      weightDecay: [0, 0.1],
      schedule: ['warm-restarts', 'step'],
      seed: [1, 2],
      epochs: [3, 9],
    },
  };
  const trials = expandGrid(parseSweepSpec(spec));
  assert.equal(trials.length, 2 * 2 * 2 * 2 * 2 * 2);
  assert.equal(new Set(trials.map((t) => t.id)).size, trials.length);
  for (const t of trials) {
    assert.ok(t.params.epochs === 3 || t.params.epochs === 9);
    assert.equal(t.epochs, t.params.epochs);
    assert.equal(t.config.epochs, t.params.epochs, 'the axis replaces the base epochs');
    assert.match(t.id, new RegExp(`_s${t.params.seed}_e${t.params.epochs}_[0-9a-f]{8}$`));
    // Schedules that derive from the length derive from this trial's length.
    assert.deepEqual(t.config.schedule, scheduleConfig(t.params.schedule, t.epochs ?? 0));
  }
  const wr9 = trials.find((t) => t.params.schedule === 'warm-restarts' && t.params.epochs === 9);
  assert.deepEqual(wr9?.config.schedule, { kind: 'warm-restarts', t0: 3, tMult: 2, min: 0 });
  // Stable: the same spec gives the same ids; the base-length trial has the old config and hash.
  const again = expandGrid(parseSweepSpec(structuredClone(spec)));
  assert.deepEqual(
    again.map((t) => t.id),
    trials.map((t) => t.id),
  );
  const { epochs: _axis, ...oneLength } = spec.grid;
  const old = expandGrid(parseSweepSpec({ base, grid: oneLength }));
  const hash = (id: string) => id.slice(-8);
  assert.deepEqual(
    old.map((t) => hash(t.id)).sort(),
    trials
      .filter((t) => t.params.epochs === base.epochs)
      .map((t) => hash(t.id))
      .sort(),
  );
  // Run order: the seed first, as without the axis.
  const firstSeed2 = trials.findIndex((t) => t.params.seed === 2);
  assert.equal(firstSeed2, trials.length / 2);
});

test('an optimizer may have its own epochs axis; an axis value listed twice is one trial', () => {
  const trials = expandGrid(
    parseSweepSpec({
      base,
      grid: { optimizer: ['adam', 'adamw'], lr: [1e-3], weightDecay: [0] },
      perOptimizer: { adamw: { epochs: [2, 6, 6] } },
    }),
  );
  assert.deepEqual(
    trials.map((t) => [t.params.optimizer, t.epochs]),
    [
      ['adam', 3],
      ['adamw', 2],
      ['adamw', 6],
    ],
  );
  assert.equal(trials[0].params.epochs, undefined);
});

test('a bad epochs axis is rejected with a path naming epochs', () => {
  const grid = { optimizer: ['adam'], lr: [1e-3], weightDecay: [0] };
  const cases: [unknown, RegExp][] = [
    [{ base, grid: { ...grid, epochs: [0] } }, /^grid\.epochs\.0 /],
    [{ base, grid: { ...grid, epochs: [2.5] } }, /^grid\.epochs\.0 /],
    [{ base, grid: { ...grid, epochs: [] } }, /^grid\.epochs /],
    [{ base, grid: { ...grid, epochs: 3 } }, /^grid\.epochs /],
    [{ base, grid, perOptimizer: { adam: { epochs: [-1] } } }, /^perOptimizer\.adam\.epochs\.0 /],
  ];
  assertSpecErrors(cases);
});

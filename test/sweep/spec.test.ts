/** Grid expansion, spec validation and loading, list flags. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { parseNumberList } from '../../src/cli/parse.js';
import { canonicalJson } from '../../src/experiments/config.js';
import { PRESET_NAMES, presetSpec } from '../../src/sweep/presets.js';
import { expandGrid, loadSweepSpec, parseSweepSpec, scheduleConfig } from '../../src/sweep/spec.js';

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
  for (const [input, pattern] of cases) {
    assert.throws(
      () => parseSweepSpec(input),
      (e: unknown) => {
        assert.ok(e instanceof z.ZodError);
        assert.match(e.issues.map((i) => `${i.path.join('.')} ${i.message}`).join(' '), pattern);
        return true;
      },
    );
  }
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

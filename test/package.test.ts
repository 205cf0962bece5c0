/**
 * The public entry points of both packages resolve by name (the workspaces are linked into
 * node_modules, so this goes through each package.json's exports map), and a name and the root's
 * `#decoupled/*` / `#harness/*` imports reach the same module: one copy of each, as tests need.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

const ENTRY_POINTS: Record<string, string[]> = {
  decoupled: [
    'AdamW',
    'Adam',
    'SGDW',
    'SGD',
    'AdamWR',
    'SGDWR',
    'clipGradNorm',
    'groupParams',
    'warmRestarts',
    'normalizedWeightDecay',
  ],
  'decoupled/tfjs': [
    'AdamW',
    'Adam',
    'SGDW',
    'SGD',
    'AdamWR',
    'SGDWR',
    'ScheduleFreeAdamW',
    'ScheduleFreeSGD',
    'registerWasmTrainingKernels',
    'nodeFileSystem',
    'initWasmBackendThreaded',
  ],
  'decoupled/validate': ['checkNumber', 'describe'],
  'decoupled-harness/experiments': ['runTraining', 'parseTrainConfig', 'loadData', 'buildModel'],
  'decoupled-harness/sweep': ['runSweep', 'LocalPoolRunner', 'parseSweepSpec', 'presetSpec'],
  'decoupled-harness/distributed': ['createRedisRunner', 'runDistributedSweep', 'startWorker'],
  'decoupled-harness/report': ['writeReport', 'writeRunReport'],
};

for (const [specifier, names] of Object.entries(ENTRY_POINTS)) {
  test(`import … from '${specifier}' gives ${names.join(', ')}`, async () => {
    const module = (await import(specifier)) as Record<string, unknown>;
    for (const name of names) assert.equal(typeof module[name], 'function', `${specifier} ${name}`);
  });
}

test('a package name and the root imports map reach the same module', async () => {
  const core = await import('decoupled');
  assert.equal(core.AdamW, (await import('#decoupled/index.js')).AdamW);
  const tfjs = await import('decoupled/tfjs');
  assert.equal(tfjs.AdamW, (await import('#decoupled/tfjs/node.js')).AdamW);
  const experiments = await import('decoupled-harness/experiments');
  assert.equal(
    experiments.runTraining,
    (await import('#harness/experiments/index.js')).runTraining,
  );
});

/** The package's public entry points resolve by name (self-reference through the exports map). */
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
    'registerWasmTrainingKernels',
  ],
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

test('the core entry is the same module whichever way it is reached', async () => {
  const byName = await import('decoupled');
  const byPath = await import('decoupled');
  assert.equal(byName.AdamW, byPath.AdamW);
});

/**
 * Writes a synthetic, finished sweep directory as `decoupled sweep` leaves it (spec.json,
 * trials.json, results.jsonl through the real store) for report and CLI tests: Adam with a diagonal
 * basin, AdamW with an axis-aligned one, 2 seeds.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/experiments/atomic-file.js';
import { expandGrid, parseSweepSpec } from '../../src/sweep/spec.js';
import { JsonlResultStore, SPEC_FILE, TRIALS_FILE } from '../../src/sweep/store.js';
import { syntheticResult } from './sweep-fakes.js';

export async function writeSyntheticSweep(): Promise<{ dir: string; trials: number }> {
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
  writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 2)}\n`);
  writeFileAtomic(join(dir, TRIALS_FILE), `${JSON.stringify(trials)}\n`);
  const store = await JsonlResultStore.open(dir);
  for (const t of trials) {
    const { lr, weightDecay: wd, seed, optimizer } = t.params;
    const base =
      wd === 0
        ? 0.2
        : optimizer === 'adam'
          ? 0.1 + 0.01 * (Math.log10(lr * wd) + 5) ** 2
          : 0.09 + 0.01 * (Math.log10(wd) + 3) ** 2 + 0.005 * (Math.log10(lr) + 2) ** 2;
    const loss = optimizer === 'adam' ? 0.05 : 0.08;
    await store.append(syntheticResult(t, base + (seed === 1 ? 0.002 : -0.002), loss));
  }
  return { dir, trials: trials.length };
}

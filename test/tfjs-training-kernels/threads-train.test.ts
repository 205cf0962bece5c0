/**
 * `runTraining` with `threads: 2` (a child process each, since a backend is per process): it runs
 * on tfjs-backend-wasm's threaded build, the decoupled AdamW update runs on the backend's shared
 * memory through the shared-memory kernel module, and weights, optimizer state and losses are
 * bit-identical to the 1-thread run (XNNPACK splits the work but not the sums).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Checkpoint } from '#harness/experiments/checkpoint.js';
import { tempDir, writeIdxDataset } from '../experiments/fixtures.js';

interface ChildReport {
  threads: number;
  kernel: 'shared' | 'plain' | null;
  memoryIsBackends: boolean;
  records: Record<string, unknown>[];
}

const dataDir = writeIdxDataset({ train: 128, test: 32, side: 12, seed: 5 });
const child = fileURLToPath(new URL('./threads-train-child.js', import.meta.url));

function train(threads: number): { report: ChildReport; checkpoint: Checkpoint } {
  const out = join(tempDir('threads'), 'run');
  const text = execFileSync(process.execPath, [child, String(threads), dataDir, out], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const report = JSON.parse(text.trim().split('\n').pop() as string) as ChildReport;
  const checkpoint = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;
  return { report, checkpoint };
}

describe('training on the threaded wasm backend', () => {
  it('runs 2 threads, the fused AdamW on shared memory, bit-identical to 1 thread', () => {
    const one = train(1);
    const two = train(2);
    assert.equal(one.report.threads, 1);
    assert.equal(one.report.kernel, 'plain');
    assert.equal(two.report.threads, 2);
    assert.equal(two.report.kernel, 'shared');
    assert.equal(two.report.memoryIsBackends, true);
    assert.equal(one.report.memoryIsBackends, true);
    assert.equal(two.report.records.length, 2);
    assert.deepEqual(two.report.records, one.report.records);
    // Base64 of the float32 bytes: equal strings are equal bits.
    assert.deepEqual(two.checkpoint.model, one.checkpoint.model);
    assert.deepEqual(two.checkpoint.optimizer, one.checkpoint.optimizer);
  });
});

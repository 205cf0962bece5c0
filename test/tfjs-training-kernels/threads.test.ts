/**
 * tfjs-backend-wasm's threaded build in Node (initWasmBackendThreaded): a child process starts it
 * with 2 XNNPACK threads on a shared memory, and a small ResNet trains there with the same losses
 * as on the single-threaded backend of this process (the thread split changes no arithmetic).
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { resnetLosses, setup } from './helpers.js';

before(setup);

describe('threaded tfjs-backend-wasm in Node', () => {
  it('runs 2 threads on shared memory and trains like the single-threaded backend', () => {
    const child = fileURLToPath(new URL('./threads-child.js', import.meta.url));
    const out = execFileSync(process.execPath, [child, '2'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = out.trim().split('\n').pop() as string;
    const threaded = JSON.parse(line) as { threads: number; shared: boolean; losses: number[] };
    assert.equal(threaded.threads, 2);
    assert.equal(threaded.shared, true);
    tf.setBackend('wasm');
    const single = resnetLosses(4);
    assert.equal(threaded.losses.length, single.length);
    for (let i = 0; i < single.length; i++) {
      assert.ok(
        Math.abs(threaded.losses[i] - single[i]) <= 1e-5 * Math.max(1, Math.abs(single[i])),
        `step ${i}: threaded ${threaded.losses[i]} vs single ${single[i]}`,
      );
    }
  });
});

/**
 * tfjs-backend-wasm's threaded build in Node (initWasmBackendThreaded): a child process starts it
 * with 2 threads on a shared memory, and a small ResNet trains there, every training-kernel call
 * split over both threads, with the same losses, bit for bit, as on the single-threaded backend of this process (the thread split changes no arithmetic);
 * the child then ends by itself (no thread keeps it alive).
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
    const threaded = JSON.parse(line) as {
      threads: number;
      shared: boolean;
      splitCalls: number;
      losses: number[];
    };
    assert.equal(threaded.threads, 2);
    assert.equal(threaded.shared, true);
    assert.ok(threaded.splitCalls > 0, 'no training-kernel call ran on 2 threads');
    tf.setBackend('wasm');
    // The same kernels run on both backends (XNNPACK's and the SIMD loops' threads split outputs,
    // never sums): the same bits.
    assert.deepEqual(threaded.losses, resnetLosses(4));
  });
});

/**
 * The training kernels on threads (tfjs-backend-wasm's threaded build in Node, 2 threads, in a
 * child process since a backend is per process): every kernel that splits its outputs over threads
 * gives the same bits on 2 threads as on 1, and as on the worker thread alone, and both equal the cpu backend's values and gradients
 * to 1e-5 (BatchNorm: its unfused graph, 2e-5); nothing is left behind, and the worker threads let
 * the process exit.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertClose, onBackend, setup } from './helpers.js';
import { threadProblems } from './problems.js';

interface ChildReport {
  threads: number;
  problems: { name: string; one: string[]; two: string[]; worker: string[]; splits: number }[];
  tensors: number;
  dataIds: number;
}

const floats = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

let report: ChildReport;

before(async () => {
  await setup();
  const child = fileURLToPath(new URL('./threads-kernels-child.js', import.meta.url));
  // The child ends by itself: a worker that kept it alive would run into the timeout.
  const out = execFileSync(process.execPath, [child], { encoding: 'utf8', timeout: 120_000 });
  report = JSON.parse(out.trim().split('\n').pop() as string) as ChildReport;
});

describe('training kernels on 2 threads (threaded wasm backend in Node)', () => {
  it('runs on the threaded backend with 2 threads, leaves no tensor or wasm buffer behind', () => {
    assert.equal(report.threads, 2);
    assert.equal(report.tensors, 0);
    assert.equal(report.dataIds, 0);
  });
  for (const problem of threadProblems()) {
    it(`${problem.name}: 2 threads and the worker alone = 1 thread bit for bit, = cpu`, () => {
      const got = report.problems.find((p) => p.name === problem.name);
      assert.ok(got, `no result for ${problem.name}`);
      assert.ok(got.splits > 0, 'no kernel call was split over threads');
      assert.deepEqual(got.worker, got.one, 'worker thread alone vs 1 thread');
      assert.deepEqual(got.two, got.one, '2 threads vs 1 thread');
      const cpu = onBackend('cpu', problem.cpu);
      assertClose(got.one.map(floats), cpu, problem.tol, `${problem.name}, 1 thread vs cpu`);
      assertClose(got.two.map(floats), cpu, problem.tol, `${problem.name}, 2 threads vs cpu`);
    });
  }
});

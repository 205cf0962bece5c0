/**
 * The local worker-thread pool and the sweep driver, with a fake executor (test/helpers): crash
 * robustness, skipping finished trials, and a driver killed mid-sweep losing or duplicating nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalPoolRunner } from '#harness/sweep/pool.js';
import { runSweep } from '#harness/sweep/run.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { JsonlResultStore, RESULTS_FILE } from '#harness/sweep/store.js';
import { fakeError } from '../helpers/sweep-fakes.js';

const fakeModule = new URL('../helpers/sweep-fakes.js', import.meta.url).href;
const base = { model: { kind: 'mlp', hidden: [8] }, epochs: 2 };

function countRecords(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = existsSync(join(dir, RESULTS_FILE))
    ? readFileSync(join(dir, RESULTS_FILE), 'utf8')
    : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const id = (JSON.parse(line) as { trialId: string }).trialId;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

test('the pool survives trials that crash their thread or throw, and records each trial once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pool-'));
  const spec = parseSweepSpec({
    base,
    grid: { optimizer: ['adamw'], lr: [1e-3, 1e-2], weightDecay: [0.1], seed: [1, 13, 14, 15] },
  });
  const events: string[] = [];
  const summary = await runSweep({
    dir,
    spec,
    runner: new LocalPoolRunner({ concurrency: 2, maxAttempts: 2, executorModule: fakeModule }),
    onEvent: (e) => events.push(e.type),
  });
  assert.equal(summary.total, 8);
  assert.equal(summary.recorded, 8);
  assert.equal(summary.failed, 4); // seeds 14 (crash twice) and 15 (throws), at 2 learning rates
  assert.equal(summary.interrupted, false);
  const results = await (await JsonlResultStore.open(dir)).results();
  assert.equal(results.length, 8);
  for (const r of results) {
    const seed = r.params.seed;
    if (seed === 1 || seed === 13) {
      assert.equal(r.status, 'ok');
      assert.equal(r.attempt, seed === 13 ? 2 : 1);
      const expected = fakeError(r.params.lr, r.params.weightDecay) + 0.05 / 2;
      assert.ok(Math.abs((r.final?.testError ?? 0) - expected) < 1e-12);
      assert.equal(r.epochs.length, 2);
    } else if (seed === 14) {
      assert.equal(r.status, 'failed');
      assert.match(r.error ?? '', /worker crashed on attempt 2 of 2/);
    } else {
      assert.equal(r.status, 'failed');
      assert.equal(r.error, 'boom');
    }
  }
  assert.equal(events.filter((e) => e === 'done').length, 8);
  assert.ok(events.includes('epoch'));
  for (const [id, n] of countRecords(dir)) assert.equal(n, 1, id);

  // Re-running skips everything; with retryFailed the failed ones run again as new attempts.
  const again = await runSweep({
    dir,
    spec,
    runner: new LocalPoolRunner({ concurrency: 2, executorModule: fakeModule }),
  });
  assert.equal(again.skipped, 8);
  assert.equal(again.recorded, 0);
  const retried = await runSweep({
    dir,
    spec,
    retryFailed: true,
    runner: new LocalPoolRunner({ concurrency: 2, maxAttempts: 1, executorModule: fakeModule }),
  });
  assert.equal(retried.skipped, 4);
  const latest = await (await JsonlResultStore.open(dir)).results();
  const thrown = latest.find((r) => r.params.seed === 15);
  assert.equal(thrown?.attempt, 2);
});

test('a driver killed mid-sweep loses and duplicates nothing when run again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pool-kill-'));
  const specInput = {
    base: { ...base, epochs: 4 },
    grid: {
      optimizer: ['adam', 'adamw'],
      lr: [1e-3, 3e-3, 1e-2],
      weightDecay: [0.1],
      seed: [1, 2],
    },
  };
  const script = fileURLToPath(new URL('../helpers/sweep-driver.js', import.meta.url));
  const child = spawn(process.execPath, [script, dir, JSON.stringify(specInput), fakeModule], {
    env: { ...process.env, FAKE_EPOCH_MS: '60' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Kill it (no chance to clean up) once some, not all, results are recorded.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if ((countRecords(dir).size ?? 0) >= 3) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve();
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(timer);
      reject(new Error('the driver finished before it could be killed'));
    });
  });
  await new Promise((resolve) => child.on('exit', resolve));
  const before = countRecords(dir);
  assert.ok(before.size >= 3 && before.size < 12, `recorded ${before.size}`);
  const summary = await runSweep({
    dir,
    spec: parseSweepSpec(specInput),
    runner: new LocalPoolRunner({ concurrency: 2, executorModule: fakeModule }),
  });
  assert.equal(summary.skipped, before.size);
  const after = countRecords(dir);
  const ids = expandGrid(parseSweepSpec(specInput)).map((t) => t.id);
  assert.deepEqual([...after.keys()].sort(), [...ids].sort());
  for (const [id, n] of after) assert.equal(n, 1, id);
  // Finished trials were not executed again.
  for (const id of before.keys()) {
    assert.equal(readFileSync(join(dir, 'trials', `${id}.runs`), 'utf8'), 'x', id);
  }
});

test('aborting stops handing out trials; the rest stay pending', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pool-abort-'));
  const spec = parseSweepSpec({
    base: { ...base, epochs: 3 },
    grid: { optimizer: ['adamw'], lr: [1e-3, 3e-3, 1e-2], weightDecay: [0.1, 0.2], seed: [1] },
  });
  const controller = new AbortController();
  let done = 0;
  const summary = await runSweep({
    dir,
    spec,
    signal: controller.signal,
    runner: new LocalPoolRunner({ concurrency: 1, executorModule: fakeModule }),
    onEvent: (e) => {
      if (e.type === 'done' && ++done === 2) controller.abort();
    },
  });
  assert.equal(summary.interrupted, true);
  assert.ok(summary.recorded >= 2 && summary.recorded < 6);
  const rest = await runSweep({
    dir,
    spec,
    runner: new LocalPoolRunner({ concurrency: 2, executorModule: fakeModule }),
  });
  assert.equal(rest.recorded + rest.skipped, 6);
  assert.equal(rest.interrupted, false);
});

test('an abort while the threads start runs no trial and returns at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pool-abort-early-'));
  const trials = expandGrid(
    parseSweepSpec({
      base: { ...base, epochs: 3 },
      grid: { optimizer: ['adamw'], lr: [1e-3, 3e-3], weightDecay: [0.1], seed: [1] },
    }),
  );
  const controller = new AbortController();
  const events: string[] = [];
  const running = new LocalPoolRunner({ concurrency: 2, executorModule: fakeModule }).run(trials, {
    trialDir: (t) => join(dir, t.id),
    onResult: async (r) => assert.fail(`${r.trialId} ran after the abort`),
    onEvent: (e) => events.push(e.type),
    signal: controller.signal,
  });
  // The threads are still loading their executor: the abort comes before any trial started.
  controller.abort();
  await running;
  assert.deepEqual(
    events.filter((e) => e !== 'start'),
    [],
    'no epoch and no result',
  );
});

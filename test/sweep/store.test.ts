/** The append-only result store: idempotence, torn-line repair, retries, the directory lock. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  acquireSweepLock,
  JsonlResultStore,
  LOCK_FILE,
  parseResults,
  RESULTS_FILE,
} from '../../src/sweep/store.js';
import type { TrialResult } from '../../src/sweep/types.js';

function result(id: string, extra: Partial<TrialResult> = {}): TrialResult {
  return {
    trialId: id,
    params: { optimizer: 'adamw', lr: 1e-3, weightDecay: 0.1, schedule: 'cosine', seed: 1 },
    status: 'ok',
    epochs: [],
    final: { trainLoss: 0.1, trainError: 0.02, testError: 0.1 },
    wallTimeMs: 10,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

const lines = (dir: string) =>
  readFileSync(join(dir, RESULTS_FILE), 'utf8').split('\n').filter(Boolean);

test('a result is recorded once, however often it is delivered', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const store = await JsonlResultStore.open(dir);
  assert.equal(await store.append(result('a')), true);
  assert.equal(await store.append(result('a')), false);
  // Concurrent deliveries of the same result and of new ones.
  const outcomes = await Promise.all([
    store.append(result('b')),
    store.append(result('b')),
    store.append(result('c')),
    store.append(result('b')),
  ]);
  assert.deepEqual(outcomes, [true, false, true, false]);
  assert.equal(lines(dir).length, 3);
  // A second store on the same directory (a restarted driver) sees them too.
  const reopened = await JsonlResultStore.open(dir);
  assert.deepEqual([...(await reopened.finishedIds())].sort(), ['a', 'b', 'c']);
  assert.equal(await reopened.append(result('c')), false);
});

test('a torn last line is ignored on read and cut before the next append', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const store = await JsonlResultStore.open(dir);
  await store.append(result('a'));
  // A crash in the middle of writing 'b'.
  appendFileSync(join(dir, RESULTS_FILE), JSON.stringify(result('b')).slice(0, 40));
  const reopened = await JsonlResultStore.open(dir);
  assert.deepEqual(
    (await reopened.results()).map((r) => r.trialId),
    ['a'],
  );
  assert.equal(await reopened.append(result('b')), true);
  const text = readFileSync(join(dir, RESULTS_FILE), 'utf8');
  assert.equal(lines(dir).length, 2);
  assert.ok(text.endsWith('\n'));
  assert.deepEqual(
    parseResults(text).records.map((r) => r.trialId),
    ['a', 'b'],
  );
});

test("a write behind the store's back is noticed before its next append", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const store = await JsonlResultStore.open(dir);
  await store.append(result('a'));
  // Another writer (one that ignored the lock) records 'b' and then dies mid-line writing 'c'.
  appendFileSync(join(dir, RESULTS_FILE), `${JSON.stringify(result('b'))}\n`);
  appendFileSync(join(dir, RESULTS_FILE), JSON.stringify(result('c')).slice(0, 40));
  assert.equal(await store.append(result('b')), false);
  assert.equal(await store.append(result('c')), true);
  assert.deepEqual(
    parseResults(readFileSync(join(dir, RESULTS_FILE), 'utf8')).records.map((r) => r.trialId),
    ['a', 'b', 'c'],
  );
  assert.equal(lines(dir).length, 3);
  // Many appends in a row stay whole lines in order.
  for (let i = 0; i < 50; i++) assert.equal(await store.append(result(`n${i}`)), true);
  const reopened = await JsonlResultStore.open(dir);
  assert.equal((await reopened.results()).length, 53);
});

test('a failed trial can be superseded by a later attempt, an ok one never', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const store = await JsonlResultStore.open(dir);
  await store.append(result('x', { status: 'failed', error: 'boom', attempt: 1 }));
  assert.equal(await store.append(result('x', { status: 'failed', attempt: 1 })), false);
  assert.equal(await store.append(result('x', { attempt: 2 })), true);
  assert.equal(await store.append(result('x', { attempt: 3 })), false);
  const [latest] = await store.results();
  assert.equal(latest.status, 'ok');
  assert.equal(latest.attempt, 2);
  assert.deepEqual([...(await store.failedIds())], []);
});

test("one driver per directory; a dead holder's lock is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const release = await acquireSweepLock(dir);
  await assert.rejects(acquireSweepLock(dir), /in use by pid/);
  await release();
  const again = await acquireSweepLock(dir);
  await again();
  // A lock left by a process that no longer exists (pid far above pid_max).
  const { hostname } = await import('node:os');
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: 2 ** 30, host: hostname(), since: '2026-01-01T00:00:00Z' }),
  );
  const taken = await acquireSweepLock(dir);
  await taken();
});

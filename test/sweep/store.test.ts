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
} from '#harness/sweep/store.js';
import type { TrialResult } from '#harness/sweep/types.js';

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

// Issue #20, defect 5: the cut was computed from decoded text, so a non-UTF-8 byte earlier in the
// file moved it, and the next record was glued onto the torn line ('…not json\n{"trialI{"trialId"').
test('a torn line after a non-UTF-8 line is cut at the right byte; no record is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const file = join(dir, RESULTS_FILE);
  const first = await JsonlResultStore.open(dir);
  for (const id of ['a', 'b', 'c']) await first.append(result(id));
  // Drop one record, then a line of bytes ff fe fd fc, then a 40-byte torn line.
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.includes('"b"'))
      .join('\n'),
  );
  appendFileSync(file, Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x0a]));
  appendFileSync(file, JSON.stringify(result('d')).slice(0, 40));
  const store = await JsonlResultStore.open(dir);
  assert.deepEqual(
    (await store.results()).map((r) => r.trialId),
    ['a', 'c'],
  );
  assert.equal(await store.append(result('b')), true);
  const bytes = readFileSync(file);
  assert.deepEqual(
    [...bytes.subarray(bytes.indexOf(0xff), bytes.indexOf(0xff) + 5)],
    [0xff, 0xfe, 0xfd, 0xfc, 0x0a],
    'the garbled line is kept, whole',
  );
  assert.equal(
    bytes.subarray(bytes.lastIndexOf(0x0a, bytes.length - 2) + 1).toString(),
    `${JSON.stringify(result('b'))}\n`,
  );
  assert.deepEqual(
    parseResults(bytes).records.map((r) => r.trialId),
    ['a', 'c', 'b'],
  );
  assert.deepEqual(
    (await (await JsonlResultStore.open(dir)).results()).map((r) => r.trialId),
    ['a', 'c', 'b'],
  );
});

test('a re-run sweep records the dropped trial after garbage and a torn line (issue #20 repro)', async () => {
  const { runSweep } = await import('#harness/sweep/run.js');
  const { LocalPoolRunner } = await import('#harness/sweep/pool.js');
  const { parseSweepSpec } = await import('#harness/sweep/spec.js');
  const executorModule = new URL('../helpers/sweep-fakes.js', import.meta.url).href;
  const dir = mkdtempSync(join(tmpdir(), 'store-sweep-'));
  const file = join(dir, RESULTS_FILE);
  const spec = parseSweepSpec({
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 1 },
    grid: { optimizer: ['adamw'], lr: [1e-3, 1e-2, 1e-1], weightDecay: [0.1], seed: [1] },
  });
  const run = () =>
    runSweep({ dir, spec, runner: new LocalPoolRunner({ concurrency: 1, executorModule }) });
  await run();
  const [kept, dropped, last] = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, `${kept}\n${last}\n`);
  appendFileSync(file, Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x0a]));
  appendFileSync(file, dropped.slice(0, 40));
  const again = await run();
  assert.equal(again.interrupted, false);
  assert.equal(again.recorded, 1);
  const ids = parseResults(readFileSync(file)).records.map((r) => r.trialId);
  assert.deepEqual(ids.sort(), [kept, dropped, last].map((l) => JSON.parse(l).trialId).sort());
  // Every line but the garbage one is a whole record; the file ends with a newline.
  const lines = readFileSync(file).toString('latin1').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => (l.startsWith('{') ? JSON.parse(l).trialId : 'garbage')).length,
    4,
  );
  assert.equal(lines.filter((l) => !l.startsWith('{')).length, 1);
});

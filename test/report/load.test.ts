/**
 * Damaged sweep files: the report either stops with one clean line (SweepFileError; exit 2 from
 * the CLI) or skips what is damaged with a warning naming the file and line, and reports the rest
 * unchanged. A seeded fuzz over spec.json, trials.json and results.jsonl (300 corruptions) counts
 * each outcome and asserts that none is a crash.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '#harness/experiments/rng.js';
import { SweepFileError } from '#harness/report/errors.js';
import { renderReport, summarize } from '#harness/report/index.js';
import { loadSweep, RecordSchema, type ReportRecord } from '#harness/report/load.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { RESULTS_FILE, SPEC_FILE, TRIALS_FILE } from '#harness/sweep/store.js';
import { writeSweepDir, writeSyntheticSweep } from '../helpers/report-fixture.js';
import { syntheticResult } from '../helpers/sweep-fakes.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const FILES = [SPEC_FILE, TRIALS_FILE, RESULTS_FILE] as const;

/** A finished synthetic sweep, its three files kept as bytes. */
async function baseSweep() {
  const { dir } = await writeSyntheticSweep();
  const bytes = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(dir, f))]));
  const original = await loadSweep(dir);
  return { dir, bytes, original };
}

/** A copy of the base sweep directory with `file` replaced by `content`. */
function damagedCopy(base: { bytes: Record<string, Buffer> }, file: string, content: Buffer) {
  const dir = mkdtempSync(join(tmpdir(), 'report-damaged-'));
  for (const f of FILES) writeFileSync(join(dir, f), f === file ? content : base.bytes[f]);
  return dir;
}

test('a spec.json cut short stops the report with one line naming the file, exit 2', async () => {
  const base = await baseSweep();
  const spec = base.bytes[SPEC_FILE];
  const dir = damagedCopy(base, SPEC_FILE, spec.subarray(0, spec.length - 7));
  await assert.rejects(loadSweep(dir), (error: unknown) => {
    assert.ok(error instanceof SweepFileError);
    assert.match(error.message, /spec\.json: not valid JSON/);
    return true;
  });
  const r = spawnSync(process.execPath, [MAIN, 'report', dir], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^decoupled: .*spec\.json: not valid JSON \(.*\)\n$/);
  rmSync(dir, { recursive: true, force: true });
});

test('a record with a damaged final.trainLoss key is skipped with a warning naming its line', async () => {
  const base = await baseSweep();
  const lines = base.bytes[RESULTS_FILE].toString('utf8').split('\n');
  lines[4] = lines[4].replace('"final":{"trainLoss"', '"final":{"trainLoXs"');
  const dir = damagedCopy(base, RESULTS_FILE, Buffer.from(lines.join('\n')));
  const loaded = await loadSweep(dir);
  assert.equal(loaded.warnings.length, 1);
  assert.match(
    loaded.warnings[0],
    /results\.jsonl line 5: final\.trainLoss: .*expected number.*; record skipped$/,
  );
  const damagedId = JSON.parse(lines[4].replace('trainLoXs', 'trainLoss')).trialId;
  assert.deepEqual(
    loaded.results.map((r) => r.trialId),
    base.original.results.map((r) => r.trialId).filter((id) => id !== damagedId),
  );
  // The CLI prints the warning and writes the report, which lists it too.
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [MAIN, 'report', dir, '--out', out, '-q'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: .*results\.jsonl line 5: final\.trainLoss/);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /Damaged input: 1 problem/);
  rmSync(dir, { recursive: true, force: true });
});

/** One seeded corruption of `bytes`: cut, delete, overwrite, insert, rename a key, retype a value. */
function corrupt(bytes: Buffer, rng: Rng): Buffer {
  const text = bytes.toString('latin1');
  const at = rng.int(bytes.length);
  const junk = ['null', '"x"', '-1', '0', '1e999', '[]', '{}', 'true', '"', ',', '}', '\n'];
  switch (rng.int(8)) {
    case 0:
      return bytes.subarray(0, at);
    case 1:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(20))]);
    case 2: {
      const copy = Buffer.from(bytes);
      copy[at] = 32 + rng.int(95);
      return copy;
    }
    case 3:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe]), bytes.subarray(at)]);
    case 4:
      return Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from(junk[rng.int(junk.length)]),
        bytes.subarray(at),
      ]);
    case 5: {
      // Rename a key: change one character inside a "key": token.
      const keys = [...text.matchAll(/"([A-Za-z]+)":/g)];
      if (!keys.length) return bytes.subarray(0, at);
      const k = keys[rng.int(keys.length)];
      const i = (k.index ?? 0) + 1 + rng.int(k[1].length);
      return Buffer.from(`${text.slice(0, i)}${'Xq_'[rng.int(3)]}${text.slice(i + 1)}`, 'latin1');
    }
    case 6: {
      // Give a value another type.
      const values = [...text.matchAll(/:(-?[0-9.e+-]+|"[^"]*"|true|false|null)/g)];
      if (!values.length) return bytes.subarray(0, at);
      const v = values[rng.int(values.length)];
      const i = (v.index ?? 0) + 1;
      const end = i + v[1].length;
      return Buffer.from(`${text.slice(0, i)}${junk[rng.int(8)]}${text.slice(end)}`, 'latin1');
    }
    default: {
      // Drop one line.
      const lines = text.split('\n');
      lines.splice(rng.int(lines.length), 1);
      return Buffer.from(lines.join('\n'), 'latin1');
    }
  }
}

type Outcome = 'clean error' | 'skipped with warning' | 'accepted unchanged' | 'accepted changed';

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What the report made of one damaged directory; throws (a crash) on anything else. */
async function outcomeOf(
  dir: string,
  original: Awaited<ReturnType<typeof loadSweep>>,
  render: boolean,
): Promise<Outcome> {
  let loaded: Awaited<ReturnType<typeof loadSweep>>;
  try {
    loaded = await loadSweep(dir);
  } catch (error) {
    if (!(error instanceof SweepFileError)) throw error;
    assert.doesNotMatch(error.message, /\n/);
    assert.ok(error.message.startsWith(join(dir, error.file.split('/').at(-1) ?? '')));
    return 'clean error';
  }
  // The rest of the pipeline must take whatever the loader let through.
  const { summary, cells } = summarize(loaded.spec, loaded.trials, loaded.results, loaded.warnings);
  const input = { summary, cells, trials: loaded.trials, results: loaded.results, top: 3 };
  if (render) await renderReport(input, dir);
  const before = new Map(original.results.map((r) => [r.trialId, r]));
  const changed =
    !sameJson(loaded.spec, original.spec) ||
    !sameJson(loaded.trials, original.trials) ||
    loaded.results.some((r) => !sameJson(r, before.get(r.trialId)));
  if (loaded.warnings.length === 0) return changed ? 'accepted changed' : 'accepted unchanged';
  // A skip is verified: each warning names a file (and a line for results), every record that is
  // missing was named, and what was kept is unchanged or, at most, silently altered values.
  for (const w of loaded.warnings) {
    assert.match(w, new RegExp(`^${dir}/(${TRIALS_FILE}|${RESULTS_FILE} line \\d+): `));
  }
  const missing = original.results.filter(
    (r) => !loaded.results.some((x) => x.trialId === r.trialId),
  );
  if (missing.length) assert.ok(loaded.warnings.some((w) => w.includes(RESULTS_FILE)));
  return changed ? 'accepted changed' : 'skipped with warning';
}

test('300 seeded corruptions of spec.json, trials.json and results.jsonl: no crash', async (t) => {
  const base = await baseSweep();
  const counts = new Map<string, number>();
  let crashes = 0;
  for (let i = 0; i < 300; i++) {
    const file = FILES[i % 3];
    const rng = new Rng(1000 + i);
    const dir = damagedCopy(base, file, corrupt(base.bytes[file], rng));
    try {
      const outcome = await outcomeOf(dir, base.original, i % 50 === 0);
      const key = `${file}: ${outcome}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch (error) {
      crashes++;
      t.diagnostic(`case ${i} (${file}) crashed: ${(error as Error).stack}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [key, n] of [...counts].sort()) t.diagnostic(`${key}: ${n}`);
  assert.equal(crashes, 0);
  // The fuzz reaches both outcomes on purpose: stops and verified skips.
  assert.ok((counts.get(`${SPEC_FILE}: clean error`) ?? 0) > 20);
  assert.ok((counts.get(`${RESULTS_FILE}: skipped with warning`) ?? 0) > 20);
  assert.ok((counts.get(`${TRIALS_FILE}: skipped with warning`) ?? 0) > 20);
});

test('the record schema reads JSON null (a diverged loss) as NaN', () => {
  const record = RecordSchema.parse({
    trialId: 'a',
    params: { optimizer: 'adamw', lr: 0.1, weightDecay: 0, schedule: 'cosine', seed: 1 },
    status: 'ok',
    diverged: true,
    epochs: [{ epoch: 1, trainLoss: null, trainError: 0.9, testError: 0.9, wallTimeMs: 5 }],
    final: { trainLoss: null, trainError: 0.9, testError: 0.9 },
    wallTimeMs: 5,
    attempt: 1,
    finishedAt: 'now',
  }) as ReportRecord;
  assert.ok(Number.isNaN(record.final?.trainLoss));
  assert.ok(Number.isNaN(record.epochs[0].trainLoss));
});

test('a diverged record (its losses written as null) is reported, not a crash', async () => {
  const base = await baseSweep();
  const lines = base.bytes[RESULTS_FILE].toString('utf8').split('\n');
  const record = JSON.parse(lines[2]);
  record.diverged = true;
  record.final.trainLoss = null;
  record.epochs.at(-1).trainLoss = null;
  lines[2] = JSON.stringify(record);
  const dir = damagedCopy(base, RESULTS_FILE, Buffer.from(lines.join('\n')));
  const loaded = await loadSweep(dir);
  assert.deepEqual(loaded.warnings, []);
  const { summary, cells } = summarize(loaded.spec, loaded.trials, loaded.results);
  assert.equal(summary.trials.diverged, 1);
  const input = { summary, cells, trials: loaded.trials, results: loaded.results, top: 3 };
  const { html } = await renderReport(input, dir);
  assert.match(html, /<td>diverged<\/td>/);
  rmSync(dir, { recursive: true, force: true });
});

test('what the trainer writes loads without a warning: an epochs axis, a run that diverged in epoch 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-epochs-axis-'));
  const spec = parseSweepSpec({
    name: 'epochs axis',
    base: { model: { kind: 'mlp', hidden: [8] }, epochs: 3 },
    grid: { optimizer: ['adamw'], lr: [1e-3, 1], weightDecay: [0.1], seed: [1], epochs: [1, 3] },
  });
  const trials = expandGrid(spec);
  // lr 1: the loss became NaN during the first epoch, so no epoch was recorded (no final values).
  const results = trials.map((t) =>
    t.params.lr === 1
      ? { ...syntheticResult(t, 0.9), epochs: [], final: undefined, diverged: true }
      : syntheticResult(t, 0.2),
  );
  await writeSweepDir(dir, spec, trials, results);
  const loaded = await loadSweep(dir);
  assert.deepEqual(loaded.warnings, []);
  assert.deepEqual(
    loaded.trials.map((t) => t.id),
    trials.map((t) => t.id),
  );
  assert.equal(loaded.results.length, 4);
  const { summary, cells } = summarize(spec, loaded.trials, loaded.results);
  assert.equal(summary.trials.diverged, 2);
  assert.equal(summary.trials.pending, 0);
  // The diverged run counts at chance level, in the longest run's cells.
  assert.deepEqual(
    cells.map((c) => [c.lr, c.values]),
    [
      [1e-3, [0.2]],
      [1, [0.9]],
    ],
  );
  rmSync(dir, { recursive: true, force: true });
});

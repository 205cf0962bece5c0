/**
 * The integrity fuzz of issue #20: seeded, deterministic corruptions of every file kind the project
 * reads, each read in process the way the project reads it, and each outcome counted:
 *   clean     a one-line error of a known class whose message starts with the file's name
 *   unchanged accepted, and the result is verified equal to the uncorrupted file's
 *   skipped   (results.jsonl) a damaged line skipped, so its trial runs again; nothing else lost
 *   silent    accepted with a different result and no error
 *   lost      (results.jsonl) an intact record, or one appended afterwards, missing
 *   crash     any other exception          hang   a read that took over HANG_MS
 * State and checkpoint files must be 0 silent, 0 crash, 0 hang; IDX and CIFAR-10 cannot protect
 * pixel or label values (no checksum in those formats), so their silent count is printed, while a
 * changed shape must still be 0; results.jsonl has no checksum either (silent printed), but must
 * lose nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { AdamW } from '#decoupled/core/adamw.js';
import { OptionError } from '#decoupled/core/errors.js';
import { cosine } from '#decoupled/core/schedules.js';
import {
  decodeStateDict,
  encodeStateDict,
  type OptimizerStateDict,
  stateDictFromJSON,
  stateDictToJSON,
} from '#decoupled/core/state.js';
import { CheckpointError, parseCheckpoint } from '#harness/experiments/checkpoint.js';
import { loadCifar10Split } from '#harness/experiments/data/cifar.js';
import { DatasetError } from '#harness/experiments/data/errors.js';
import { encodeIdx, loadIdxSplit } from '#harness/experiments/data/idx.js';
import { Rng } from '#harness/experiments/rng.js';
import { runTraining } from '#harness/experiments/train.js';
import { JsonlResultStore, RESULTS_FILE } from '#harness/sweep/store.js';
import type { TrialResult } from '#harness/sweep/types.js';
import {
  syntheticImages,
  tempDir,
  writeCifarDataset,
  writeIdxDataset,
} from '../experiments/fixtures.js';
import { randomArray } from '../helpers/arrays.js';
import { BYTE_CORRUPTIONS, type Corruption, corruptBytes, JSON_CORRUPTIONS } from './corrupt.js';

const SEED = 20;
const HANG_MS = 2000;
const OUTCOMES = ['clean', 'unchanged', 'skipped', 'silent', 'lost', 'crash', 'hang'] as const;
type Outcome = (typeof OUTCOMES)[number];
/** What a read of a corrupted file returned, before the harness adds errors and timing. */
type Verdict = 'unchanged' | 'skipped' | 'silent' | 'silent shape' | 'lost';

interface Target {
  name: string;
  cases: number;
  corruptions: readonly Corruption[];
  original: Uint8Array;
  /** Names every clean error must start with (the file, or one of a split's files). */
  files: string[];
  errors: (abstract new (...args: never[]) => Error)[];
  corrupt?: (bytes: Uint8Array, kind: Corruption, rng: Rng) => Uint8Array;
  read: (bytes: Uint8Array) => Verdict | Promise<Verdict>;
}

interface Tally {
  counts: Record<Outcome, number>;
  silentShape: number;
  examples: string[];
}

async function fuzz(target: Target, rng: Rng): Promise<Tally> {
  const tally: Tally = {
    counts: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    silentShape: 0,
    examples: [],
  };
  for (let i = 0; i < target.cases; i++) {
    const kind = target.corruptions[i % target.corruptions.length];
    const bytes = (target.corrupt ?? corruptBytes)(target.original, kind, rng);
    const started = performance.now();
    let outcome: Outcome;
    try {
      const verdict = await withTimeout(Promise.resolve().then(() => target.read(bytes)));
      if (verdict === 'silent shape') tally.silentShape++;
      outcome = verdict === 'silent shape' ? 'silent' : verdict;
    } catch (error) {
      outcome = isClean(error, target) ? 'clean' : error === HANG ? 'hang' : 'crash';
      if (outcome !== 'clean' && tally.examples.length < 3) {
        tally.examples.push(`${kind}: ${(error as Error)?.stack ?? String(error)}`);
      }
    }
    if (performance.now() - started > HANG_MS) outcome = 'hang';
    tally.counts[outcome]++;
  }
  return tally;
}

const HANG = new Error('hang');

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(HANG), HANG_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isClean(error: unknown, target: Target): boolean {
  return (
    target.errors.some((E) => error instanceof E) &&
    !(error as Error).message.includes('\n') &&
    target.files.some((f) => (error as Error).message.startsWith(`${f}: `))
  );
}

const ALL = [...BYTE_CORRUPTIONS, ...JSON_CORRUPTIONS];

// --- optimizer state ------------------------------------------------------------------------

function optimizer(): AdamW {
  const params = [randomArray(6, 1), randomArray(4, 2), randomArray(3, 3)];
  return new AdamW(
    [
      { params: params.slice(0, 2), amsgrad: true },
      { params: params.slice(2), weightDecay: 0, lr: 0.02 },
    ],
    { lr: 0.01, schedule: cosine({ total: 20 }) },
  );
}

function savedState(): OptimizerStateDict {
  const opt = optimizer();
  for (let t = 0; t < 3; t++)
    opt.step([randomArray(6, 10 + t), randomArray(4, 20 + t), randomArray(3, 30 + t)]);
  return opt.stateDict();
}

/** Loads the decoded state into a fresh optimizer, the whole path a user takes. */
function loadedVerdict(state: OptimizerStateDict, original: Uint8Array): Verdict {
  const opt = optimizer();
  opt.loadStateDict(state);
  const same = Buffer.compare(encodeStateDict(opt.stateDict()), original) === 0;
  return same ? 'unchanged' : 'silent';
}

function stateTargets(dir: string): Target[] {
  const state = savedState();
  const binary = encodeStateDict(state);
  const binFile = join(dir, 'optimizer.bin');
  const jsonFile = join(dir, 'optimizer.json');
  return [
    {
      name: 'optimizer state (binary)',
      cases: 200,
      corruptions: BYTE_CORRUPTIONS,
      original: binary,
      files: [binFile],
      errors: [OptionError],
      read: (bytes) => loadedVerdict(decodeStateDict(bytes, binFile), binary),
    },
    {
      name: 'optimizer state (JSON)',
      cases: 200,
      corruptions: ALL,
      original: new TextEncoder().encode(stateDictToJSON(state)),
      files: [jsonFile],
      errors: [OptionError],
      read: (bytes) =>
        loadedVerdict(stateDictFromJSON(new TextDecoder().decode(bytes), jsonFile), binary),
    },
  ];
}

// --- training checkpoint --------------------------------------------------------------------

async function checkpointTarget(dir: string): Promise<Target> {
  const out = join(dir, 'run');
  const dataDir = writeIdxDataset({ train: 48, test: 8, side: 6, seed: 2 });
  await runTraining(
    { dataDir, model: { kind: 'mlp', hidden: [5] }, epochs: 2, batchSize: 16, testSubset: 8, out },
    { stopAfterSteps: 4 },
  );
  const file = join(out, 'checkpoint.json');
  const original = readFileSync(file);
  const expected = JSON.stringify(parseCheckpoint(original, file));
  return {
    name: 'training checkpoint',
    cases: 220,
    corruptions: ALL,
    original,
    files: [file],
    errors: [CheckpointError],
    read: (bytes) =>
      JSON.stringify(parseCheckpoint(bytes, file)) === expected ? 'unchanged' : 'silent',
  };
}

// --- datasets -------------------------------------------------------------------------------

const HOW = 'Pass --data-dir';

/** Both files of the IDX training split; each case damages one of them (alternately). */
function idxTarget(dir: string, gzip: boolean): Target {
  const { images, labels } = syntheticImages(40, 8, 1, 5);
  const plain = {
    'train-images-idx3-ubyte': encodeIdx([40, 8, 8], images),
    'train-labels-idx1-ubyte': encodeIdx([40], labels),
  };
  const names = Object.keys(plain).map((n) => (gzip ? `${n}.gz` : n));
  const files = names.map((n) => join(dir, n));
  const bytes = Object.values(plain).map((b) => (gzip ? new Uint8Array(gzipSync(b)) : b));
  mkdirSync(dir, { recursive: true });
  files.forEach((f, i) => {
    writeFileSync(f, bytes[i]);
  });
  const expected = loadIdxSplit(dir, 'train', HOW);
  let which = 0;
  return {
    name: `IDX (${gzip ? 'gzip' : 'raw'})`,
    cases: 90,
    corruptions: BYTE_CORRUPTIONS,
    original: new Uint8Array(0),
    files,
    errors: [DatasetError],
    corrupt: (_, kind, rng) => {
      which = 1 - which;
      return corruptBytes(bytes[which], kind, rng);
    },
    read: (damaged) => {
      writeFileSync(files[which], damaged);
      try {
        return compareImages(loadIdxSplit(dir, 'train', HOW), expected);
      } finally {
        writeFileSync(files[which], bytes[which]);
      }
    },
  };
}

function compareImages(got: ReturnType<typeof loadIdxSplit>, expected: typeof got): Verdict {
  const shape = (s: typeof got) => [s.count, s.height, s.width, s.channels].join('x');
  if (shape(got) !== shape(expected)) return 'silent shape';
  const same =
    Buffer.compare(got.images, expected.images) === 0 &&
    Buffer.compare(got.labels, expected.labels) === 0;
  return same ? 'unchanged' : 'silent';
}

/** The six CIFAR-10 batch files; each case damages one of them, in turn, and loads its split. */
function cifarTarget(): Target {
  const { dir } = writeCifarDataset(3);
  const names = [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`).concat('test_batch.bin');
  const files = names.map((n) => join(dir, n));
  const bytes = files.map((f) => readFileSync(f));
  const split = (k: number) => (k === 5 ? 'test' : 'train');
  const expected = {
    train: loadCifar10Split(dir, 'train', HOW),
    test: loadCifar10Split(dir, 'test', HOW),
  };
  let which = -1;
  return {
    name: 'CIFAR-10 batches',
    cases: 120,
    corruptions: BYTE_CORRUPTIONS,
    original: new Uint8Array(0),
    files,
    errors: [DatasetError],
    corrupt: (_, kind, rng) => {
      which = (which + 1) % files.length;
      return corruptBytes(bytes[which], kind, rng);
    },
    read: (damaged) => {
      writeFileSync(files[which], damaged);
      try {
        return compareImages(loadCifar10Split(dir, split(which), HOW), expected[split(which)]);
      } finally {
        writeFileSync(files[which], bytes[which]);
      }
    },
  };
}

// --- a sweep's results.jsonl ----------------------------------------------------------------

function record(i: number): TrialResult {
  return {
    trialId: `trial-${i}`,
    params: {
      optimizer: 'adamw',
      lr: 10 ** -(i % 4),
      weightDecay: 0.1,
      schedule: 'cosine',
      seed: i,
    },
    status: 'ok',
    epochs: [{ epoch: 1, trainLoss: 0.5 + i, trainError: 0.2, testError: 0.3, wallTimeMs: 10 }],
    final: { trainLoss: 0.5 + i, trainError: 0.2, testError: 0.3 },
    wallTimeMs: 10 + i,
    attempt: 1,
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** results.jsonl through the store: read, then append a new record and read again. */
function resultsTarget(dir: string): Target {
  const records = Array.from({ length: 8 }, (_, i) => record(i));
  const lines = records.map((r) => `${JSON.stringify(r)}\n`);
  const original = Buffer.from(lines.join(''));
  const file = join(dir, RESULTS_FILE);
  const next = record(99);
  return {
    name: 'sweep results.jsonl',
    cases: 180,
    corruptions: ALL,
    original,
    files: [file],
    errors: [],
    // JSON corruptions damage one line (the file as a whole is not one JSON document).
    corrupt: (bytes, kind, rng) => {
      if (!(JSON_CORRUPTIONS as readonly string[]).includes(kind)) {
        return corruptBytes(bytes, kind, rng);
      }
      const k = rng.int(lines.length);
      const line = corruptBytes(Buffer.from(lines[k].trimEnd()), kind, rng);
      return Buffer.concat([
        Buffer.from(lines.slice(0, k).join('')),
        line,
        Buffer.from(`\n${lines.slice(k + 1).join('')}`),
      ]);
    },
    read: async (bytes) => {
      writeFileSync(file, bytes);
      const store = await JsonlResultStore.open(dir);
      const got = await store.results();
      const intact = records.filter((_, i) => hasLine(bytes, lines[i]));
      const present = (list: TrialResult[], r: TrialResult) =>
        list.some((g) => JSON.stringify(g) === JSON.stringify(r));
      if (!intact.every((r) => present(got, r))) return 'lost';
      await store.append(next);
      const after = await (await JsonlResultStore.open(dir)).results();
      if (![...intact, next].every((r) => present(after, r))) return 'lost';
      if (!got.every((g) => present(records, g))) return 'silent';
      return got.length === records.length ? 'unchanged' : 'skipped';
    },
  };
}

/** Whether `line` (ending in a newline) is a whole line of `bytes`. */
function hasLine(bytes: Uint8Array, line: string): boolean {
  const buf = Buffer.from(bytes);
  return buf.indexOf(line) === 0 || buf.indexOf(`\n${line}`) >= 0;
}

// --- the run --------------------------------------------------------------------------------

test('integrity fuzz: 1,000+ seeded corruptions, no crash, hang or silent state/checkpoint', {
  timeout: 120_000,
}, async () => {
  const dir = tempDir('fuzz');
  const targets = [
    ...stateTargets(dir),
    await checkpointTarget(dir),
    idxTarget(join(dir, 'idx-raw'), false),
    idxTarget(join(dir, 'idx-gz'), true),
    cifarTarget(),
    resultsTarget(join(dir, 'sweep')),
  ];
  mkdirSync(join(dir, 'sweep'), { recursive: true });
  const rng = new Rng(SEED);
  const tallies: [Target, Tally][] = [];
  for (const target of targets) tallies.push([target, await fuzz(target, rng)]);

  const total = tallies.reduce((n, [t]) => n + t.cases, 0);
  const columns = [...OUTCOMES.slice(0, 4), 'of which shape', ...OUTCOMES.slice(4)];
  const rows = tallies.map(([t, { counts, silentShape }]) => {
    const cell = (c: string) => (c === 'of which shape' ? silentShape : counts[c as Outcome]);
    const cells = columns.map((c) => String(cell(c)).padStart(c.length));
    return [t.name.padEnd(26), String(t.cases).padStart(5), ...cells].join('  ');
  });
  console.log(
    [
      `integrity fuzz, seed ${SEED}, ${total} corruptions`,
      [`${'file kind'.padEnd(26)}`, 'cases', ...columns].join('  '),
      ...rows,
    ].join('\n'),
  );

  assert.ok(total >= 1000, `${total} cases`);
  for (const [t, { counts, silentShape, examples }] of tallies) {
    const shown = `${t.name}: ${JSON.stringify(counts)}\n${examples.join('\n')}`;
    assert.equal(counts.crash, 0, shown);
    assert.equal(counts.hang, 0, shown);
    assert.equal(counts.lost, 0, shown);
    assert.equal(silentShape, 0, shown);
    if (/state|checkpoint/.test(t.name)) assert.equal(counts.silent, 0, shown);
  }
});

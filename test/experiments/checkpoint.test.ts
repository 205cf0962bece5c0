/**
 * Checkpoint integrity (issue #20): a corrupt checkpoint.json is one clean error naming the file,
 * never a crash; CRC-32C over header and payload catch any changed bit; version 1 is still read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  CheckpointError,
  loadCheckpoint,
  parseCheckpoint,
} from '#harness/experiments/checkpoint.js';
import type { TrainConfigInput } from '#harness/experiments/config.js';
import { runTraining } from '#harness/experiments/train.js';
import { tempDir, writeIdxDataset } from './fixtures.js';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const dataDir = writeIdxDataset({ train: 64, test: 16, side: 8, seed: 4 });
const config: TrainConfigInput = {
  dataDir,
  model: { kind: 'mlp', hidden: [6] },
  epochs: 2,
  batchSize: 16,
  testSubset: 16,
};

/** A run stopped after 6 steps (one epoch and two batches): its directory and checkpoint text. */
async function stoppedRun(): Promise<{ out: string; file: string; text: string }> {
  const out = tempDir('ckpt');
  await runTraining({ ...config, out }, { stopAfterSteps: 6 });
  const file = join(out, 'checkpoint.json');
  return { out, file, text: readFileSync(file, 'utf8') };
}

/** A copy of the run directory whose checkpoint is `text`. */
function withCheckpoint(out: string, text: string): string {
  const copy = tempDir('ckpt-copy');
  cpSync(out, copy, { recursive: true });
  writeFileSync(join(copy, 'checkpoint.json'), text);
  return copy;
}

/** The same checkpoint as version 1 wrote it: no format, no checksums. */
function asVersion1(text: string): string {
  const { format: _f, crc32c: _c, ...rest } = JSON.parse(text);
  return JSON.stringify({ ...rest, version: 1 });
}

const isClean = (file: string) => (e: unknown) =>
  e instanceof CheckpointError && e.message.startsWith(`${file}: `) && !e.message.includes('\n');

describe('checkpoint integrity', async () => {
  const run = await stoppedRun();

  it('is version 2 with header and payload checksums, and reads back unchanged', () => {
    const parsed = JSON.parse(run.text);
    assert.equal(parsed.format, 'decoupled.checkpoint');
    assert.equal(parsed.version, 2);
    assert.match(parsed.crc32c.header, /^[0-9a-f]{8}$/);
    assert.match(parsed.crc32c.payload, /^[0-9a-f]{8}$/);
    const loaded = loadCheckpoint(run.file);
    const { format: _f, crc32c: _c, ...body } = parsed;
    assert.deepEqual(loaded, body);
  });

  // The examples, each on version 2 (checksummed) and version 1 (schema and sizes only).
  type Editable = {
    model: { data: string; shape: number[] }[];
    optimizer: { dtype: string }[];
    state?: unknown;
  };
  const edits: [string, (c: Editable) => void, RegExp, RegExp][] = [
    [
      'model[0].data shortened by 3 characters',
      (c) => {
        c.model[0].data = c.model[0].data.slice(0, -3);
      },
      /payload checksum mismatch|needs \d+ bytes/,
      /tensor .* needs \d+ bytes \(\d+ base64 characters\); its data has \d+ characters/,
    ],
    [
      'the state key deleted',
      (c) => {
        delete c.state;
      },
      /header checksum mismatch/,
      /state: /,
    ],
    [
      'an unknown dtype',
      (c) => {
        c.optimizer[1].dtype = 'float16';
      },
      /header checksum mismatch/,
      /optimizer\.1\.dtype/,
    ],
    [
      "an optimizer slot of another shape than its variable's (data to match)",
      (c) => {
        const slot = c.optimizer[1] as unknown as { shape: number[]; data: string };
        slot.shape = [slot.shape.reduce((a, b) => a * b, 1)];
      },
      /header checksum mismatch/,
      /optimizer tensor .*\/exp_avg has shape \[\d+\], model tensor \[\d+,\d+\]/,
    ],
    [
      'a shape that does not match the data',
      (c) => {
        c.model[0].shape = [c.model[0].shape[0] + 1, ...c.model[0].shape.slice(1)];
      },
      /header checksum mismatch/,
      /needs \d+ bytes/,
    ],
  ];
  for (const [name, edit, v2Pattern, v1Pattern] of edits) {
    it(`${name}: one clean line naming the file`, () => {
      for (const [text, pattern] of [
        [run.text, v2Pattern],
        [asVersion1(run.text), v1Pattern],
      ] as const) {
        const c = JSON.parse(text);
        edit(c);
        const bytes = Buffer.from(JSON.stringify(c));
        assert.throws(
          () => parseCheckpoint(bytes, 'x/checkpoint.json'),
          (e: unknown) => isClean('x/checkpoint.json')(e) && pattern.test((e as Error).message),
        );
      }
    });
  }

  it('a version 1 checkpoint is still resumed, and rewritten as version 2', async () => {
    const copy = withCheckpoint(run.out, asVersion1(run.text));
    assert.equal(loadCheckpoint(join(copy, 'checkpoint.json'))?.version, 1);
    const resumed = await runTraining({ ...config, out: copy }, { resume: true });
    const straight = await runTraining({ ...config, out: tempDir('ckpt-straight') });
    assert.deepEqual(
      resumed.epochs.map((r) => r.trainLoss),
      straight.epochs.map((r) => r.trainLoss),
    );
    assert.equal(JSON.parse(readFileSync(join(copy, 'checkpoint.json'), 'utf8')).version, 2);
  });

  it('--resume with a corrupt checkpoint exits 2 with one line naming the file', () => {
    const c = JSON.parse(run.text);
    c.model[0].data = c.model[0].data.slice(0, -3);
    const copy = withCheckpoint(run.out, JSON.stringify(c));
    const cli = spawnSync(process.execPath, [MAIN, 'train', '--out', copy, '--resume'], {
      encoding: 'utf8',
    });
    assert.equal(cli.status, 2, cli.stderr);
    const file = join(copy, 'checkpoint.json');
    assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
    assert.ok(cli.stderr.startsWith(`decoupled: ${file}: corrupt checkpoint: `), cli.stderr);
  });

  it('resuming removes the temp file a writer killed mid-write left behind', async () => {
    const copy = withCheckpoint(run.out, run.text);
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const stale = join(copy, `checkpoint.json.${host}~${2 ** 30}-0-1.tmp`);
    writeFileSync(stale, run.text.slice(0, 100));
    await runTraining({ ...config, out: copy }, { resume: true });
    assert.equal(existsSync(stale), false);
  });

  it('property: flipping any bit of a checkpoint is detected', () => {
    const bytes = Buffer.from(run.text);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length * 8 - 1 }), (bit) => {
        const flipped = Buffer.from(bytes);
        flipped[bit >> 3] ^= 1 << (bit & 7);
        assert.throws(() => parseCheckpoint(flipped, 'c.json'), isClean('c.json'));
      }),
      { numRuns: 400, seed: 20 },
    );
  });
});

/**
 * Checkpoints of a training run: one JSON file holding the config, the loop position (epoch, batch
 * within the epoch, optimizer step), the RNG state (current, and at the start of the epoch, from
 * which the epoch's data order is redrawn), the partial epoch sums, the records so far, the model
 * weights (trainable and BN statistics) and the optimizer state. Float32 data is stored as base64 of
 * its bytes, so a restore is bit-exact. Written atomically: temp file, fsync, rename, fsync dir.
 *
 * Integrity (version 2), as TensorFlow's checkpoint bundles do it: the last field, `crc32c`, holds
 *   header:  CRC-32C (decoupled's crc32c) of the UTF-8 JSON of the checkpoint without `crc32c` and
 *            without the tensors' `data` fields (everything but the payload);
 *   payload: CRC-32C of the tensors' bytes, model tensors then optimizer tensors, in file order.
 * A reader verifies the header checksum first, then that the text is exactly what was written (no
 * byte may differ, even one that would parse to the same value), then the schema, every tensor's
 * size against its shape and dtype, and the payload checksum, all before any value is used. Every
 * failure is a CheckpointError whose one-line message names the file.
 * Version 1 checkpoints (no `format`, no checksums) are still read, with every check but the
 * checksums; the next save writes version 2.
 */

import { readFileSync } from 'node:fs';
import { crc32c, crc32cHex } from 'decoupled';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { type EpochRecord, type TrainConfig, TrainConfigSchema } from './config.js';
import type { RngState } from './rng.js';

export const CHECKPOINT_VERSION = 2;
const FORMAT = 'decoupled.checkpoint';

/** A checkpoint that cannot be used: corrupt, of another version, or of a different run. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** A tensor's bytes: name, shape, dtype and base64 of the little-endian data. */
export interface SavedTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: string;
}

/** Where the loop stands, and the sums of the epoch in progress. */
export interface LoopState {
  /** 0-based epoch in progress (== epochs when done). */
  epoch: number;
  /** Batches of `epoch` already taken. */
  batch: number;
  /** Optimizer steps taken, the schedule's position (one per `accumulate` batches). */
  step: number;
  rng: RngState;
  /** RNG state when the current epoch began: its data order is the permutation drawn from it. */
  epochRng: RngState;
  lossSum: number;
  errors: number;
  images: number;
  /** Seconds of training in the current epoch so far. */
  epochSeconds: number;
  /** Seconds of training across sessions. */
  totalSeconds: number;
}

export interface Checkpoint {
  version: number;
  config: TrainConfig;
  state: LoopState;
  records: EpochRecord[];
  model: SavedTensor[];
  optimizer: SavedTensor[];
}

export function encodeTensor(
  name: string,
  shape: number[],
  values: Float32Array | Int32Array,
): SavedTensor {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const dtype = values instanceof Int32Array ? 'int32' : 'float32';
  return { name, shape, dtype, data: bytes.toString('base64') };
}

/** The values of a tensor of a checkpoint read by loadCheckpoint (which checked its size). */
export function decodeTensor(saved: SavedTensor): Float32Array | Int32Array {
  const bytes = Buffer.from(saved.data, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return saved.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
}

const utf8 = new TextEncoder();

/** The checkpoint without `crc32c` and without tensor data: what the header checksum covers. */
function headerJson(body: Record<string, unknown>): string {
  const strip = (list: unknown) =>
    Array.isArray(list) ? list.map((t) => (isRecord(t) ? { ...t, data: undefined } : t)) : list;
  return JSON.stringify({ ...body, model: strip(body.model), optimizer: strip(body.optimizer) });
}

/** CRC-32C of the tensors' bytes in order (their base64 already checked to be canonical). */
function payloadCrc(tensors: SavedTensor[]): number {
  let crc = 0;
  for (const t of tensors) crc = crc32c(Buffer.from(t.data, 'base64'), crc);
  return crc;
}

/** The text of a version 2 checkpoint (see the module doc). */
export function serializeCheckpoint(checkpoint: Checkpoint): string {
  const { config, state, records, model, optimizer } = checkpoint;
  const body = {
    format: FORMAT,
    version: CHECKPOINT_VERSION,
    config,
    state,
    records,
    model,
    optimizer,
  };
  const crc = {
    header: crc32cHex(utf8.encode(headerJson(body))),
    payload: hex(payloadCrc([...model, ...optimizer])),
  };
  return JSON.stringify({ ...body, crc32c: crc });
}

/** Writes `checkpoint` to `path` so that readers see either the old file or the new one, never a mix. */
export function saveCheckpoint(path: string, checkpoint: Checkpoint): void {
  writeFileAtomic(path, serializeCheckpoint(checkpoint));
}

/** Reads a checkpoint, or returns null when there is none; a corrupt one is a CheckpointError. */
export function loadCheckpoint(path: string): Checkpoint | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CheckpointError(`${path}: cannot read the checkpoint (${(error as Error).message})`);
  }
  return parseCheckpoint(bytes, path);
}

/** Checks and parses the bytes of a checkpoint file; `file` names it in every error message. */
export function parseCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  const fail = (problem: string) =>
    new CheckpointError(`${file}: corrupt checkpoint: ${problem}; delete it to start afresh`);
  let text: string;
  let parsed: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail(`not JSON text (${(error as Error).message})`);
  }
  if (!isRecord(parsed)) throw fail('not a JSON object');
  if (parsed.version === 2) {
    if (parsed.format !== FORMAT) throw fail(`format must be "${FORMAT}"`);
    verifyHeader(parsed, text, fail);
  } else if (parsed.version !== 1) {
    throw new CheckpointError(
      `${file}: checkpoint version ${JSON.stringify(parsed.version)} is not supported ` +
        `(this build reads versions 1 and ${CHECKPOINT_VERSION}); delete it to start afresh`,
    );
  }
  const result = CheckpointSchema(parsed.version).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw fail(`${issue.path.join('.') || 'checkpoint'}: ${issue.message}`);
  }
  // The checked object as written (zod's copy would fill in defaults of a newer config schema).
  const {
    format: _format,
    crc32c: _crc,
    ...checkpoint
  } = parsed as unknown as Checkpoint & {
    format?: string;
    crc32c?: unknown;
  };
  const tensors = [...checkpoint.model, ...checkpoint.optimizer];
  for (const t of tensors) checkTensor(t, fail);
  checkConsistent(checkpoint, fail);
  if (parsed.version === 2) {
    const stored = (parsed.crc32c as { payload: string }).payload;
    const computed = hex(payloadCrc(tensors));
    if (stored !== computed) {
      throw fail(`payload checksum mismatch (crc32c ${stored} stored, ${computed} computed)`);
    }
  }
  return checkpoint;
}

/** The header checksum, then byte-exactness: the text must be what serializeCheckpoint wrote. */
function verifyHeader(
  parsed: Record<string, unknown>,
  text: string,
  fail: (problem: string) => CheckpointError,
): void {
  const { crc32c: crc, ...body } = parsed;
  if (!isRecord(crc) || typeof crc.header !== 'string' || typeof crc.payload !== 'string') {
    throw fail('no crc32c { header, payload } field');
  }
  const computed = crc32cHex(utf8.encode(headerJson(body)));
  if (crc.header !== computed) {
    throw fail(`header checksum mismatch (crc32c ${crc.header} stored, ${computed} computed)`);
  }
  if (text !== JSON.stringify(parsed)) {
    throw fail('the text differs from what was written (edited, reformatted or corrupt)');
  }
}

const count = z.number().int().nonnegative();
/** NaN and infinities are written as null by JSON.stringify (a diverged epoch's loss). */
const real = z.number().nullable();
/** sfc32's words: uint32, or int32 where the generator keeps an XOR's signed result. */
const rngWord = z
  .number()
  .int()
  .gte(-(2 ** 31))
  .lt(2 ** 32);
const rngState = z.tuple([rngWord, rngWord, rngWord, rngWord]);
const LoopStateSchema = z.strictObject({
  epoch: count,
  batch: count,
  step: count,
  rng: rngState,
  epochRng: rngState,
  lossSum: real,
  errors: count,
  images: count,
  // Wall-clock sums: a clock stepped back can make them negative, which is no corruption.
  epochSeconds: z.number(),
  totalSeconds: z.number(),
});
const EpochRecordSchema = z.strictObject({
  epoch: count.min(1),
  step: count,
  trainLoss: real,
  trainError: real,
  valError: real,
  testError: real,
  testLoss: real,
  evaluated: z.literal('ema').optional(),
  lrMultiplier: real,
  weightDecay: real,
  seconds: real,
  imagesPerSecond: real,
});
const SavedTensorSchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(count),
  dtype: z.enum(['float32', 'int32']),
  data: z.string(),
});
const crcHex = z.string().regex(/^[0-9a-f]{8}$/);

function CheckpointSchema(version: unknown) {
  return z.strictObject({
    ...(version === 2
      ? {
          format: z.literal(FORMAT),
          crc32c: z.strictObject({ header: crcHex, payload: crcHex }),
        }
      : {}),
    version: z.literal(version === 2 ? 2 : 1),
    config: TrainConfigSchema,
    state: LoopStateSchema,
    records: z.array(EpochRecordSchema),
    model: z.array(SavedTensorSchema),
    optimizer: z.array(SavedTensorSchema),
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A tensor's data must be canonical base64 of exactly shape-product x 4 bytes. */
function checkTensor(t: SavedTensor, fail: (problem: string) => CheckpointError): void {
  const size = t.shape.reduce((a, b) => a * b, 1) * 4;
  const expected = 4 * Math.ceil(size / 3);
  if (t.data.length !== expected || !BASE64.test(t.data)) {
    throw fail(
      `tensor ${t.name} [${t.shape}] ${t.dtype} needs ${size} bytes (${expected} base64 ` +
        `characters); its data has ${t.data.length} characters${BASE64.test(t.data) ? '' : ' and is not base64'}`,
    );
  }
  if (Buffer.from(t.data, 'base64').toString('base64') !== t.data) {
    throw fail(`tensor ${t.name}: data is not canonical base64`);
  }
}

/** Cross-field rules of a checkpoint written by runTraining. */
function checkConsistent(c: Checkpoint, fail: (problem: string) => CheckpointError): void {
  const { epoch } = c.state;
  if (epoch > c.config.epochs || c.records.length !== epoch) {
    throw fail(
      `state.epoch ${epoch} with ${c.records.length} epoch records (config.epochs ${c.config.epochs})`,
    );
  }
  c.records.forEach((r, i) => {
    if (r.epoch !== i + 1) throw fail(`records.${i}.epoch is ${r.epoch}, expected ${i + 1}`);
  });
  const bad = c.model.find((t) => t.dtype !== 'float32');
  if (bad) throw fail(`model tensor ${bad.name} has dtype ${bad.dtype}, expected float32`);
  const [iter, ...slots] = c.optimizer;
  if (iter?.name !== 'iter' || iter.dtype !== 'int32' || iter.shape.length !== 0) {
    throw fail("optimizer tensors must start with the int32 scalar 'iter'");
  }
  const steps = decodeTensor(iter)[0];
  if (steps !== c.state.step)
    throw fail(`optimizer 'iter' is ${steps}, state.step ${c.state.step}`);
  // Slots are float32 '<variable>/<slot>'; optimizer-wide state (schedule-free's 'scheduleFree')
  // is an int32 tensor named without '/', whose values the optimizer's setWeights checks.
  const slot = slots.find((t) =>
    t.name.includes('/') ? t.dtype !== 'float32' : t.dtype !== 'int32',
  );
  if (slot) {
    throw fail(
      `optimizer tensor ${slot.name} is neither a float32 '<variable>/<slot>' nor int32 optimizer state (counters, schedule-free's)`,
    );
  }
  // A slot has its variable's shape (checked where the names match; tfjs may rename variables).
  const shapes = new Map(c.model.map((t) => [t.name, t.shape.join(',')]));
  for (const t of slots.filter((s) => s.name.includes('/'))) {
    const variable = t.name.slice(0, t.name.lastIndexOf('/'));
    const shape = shapes.get(variable);
    if (shape !== undefined && shape !== t.shape.join(',')) {
      throw fail(`optimizer tensor ${t.name} has shape [${t.shape}], model tensor [${shape}]`);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * Checkpoints of a training run: one JSON file holding the config, the loop position (epoch, batch
 * within the epoch, optimizer step), the RNG state (current, and at the start of the epoch, from
 * which the epoch's data order is redrawn), the partial epoch sums, the records so far, the model
 * weights (trainable and BN statistics) and the optimizer state. Float32 data is stored as base64 of
 * its bytes, so a restore is bit-exact. Written atomically: temp file, fsync, rename, fsync dir.
 */

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import type { EpochRecord, TrainConfig } from './config.js';
import type { RngState } from './rng.js';

export const CHECKPOINT_VERSION = 1;

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
  /** Optimizer steps taken, the schedule's position. */
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

export function decodeTensor(saved: SavedTensor): Float32Array | Int32Array {
  const bytes = Buffer.from(saved.data, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return saved.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
}

/** Writes `checkpoint` to `path` so that readers see either the old file or the new one. */
export function saveCheckpoint(path: string, checkpoint: Checkpoint): void {
  writeFileAtomic(path, JSON.stringify(checkpoint));
}

/** Reads a checkpoint, or returns null when there is none; a corrupt one is an error. */
export function loadCheckpoint(path: string): Checkpoint | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: Checkpoint;
  try {
    parsed = JSON.parse(text) as Checkpoint;
  } catch (error) {
    throw new CheckpointError(
      `${path}: corrupt checkpoint (${(error as Error).message}); delete it to restart`,
    );
  }
  if (parsed.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${path}: checkpoint version ${parsed.version} is not supported (expected ${CHECKPOINT_VERSION})`,
    );
  }
  return parsed;
}

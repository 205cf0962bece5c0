/**
 * Loader for the CIFAR-10 binary format (cifar-10-batches-bin): each record is 1 label byte and
 * 3072 pixel bytes, the red, green and blue 32x32 planes in turn (CHW); 10000 records per file.
 * Training = data_batch_1.bin .. data_batch_5.bin, test = test_batch.bin. Converted here to HWC.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './errors.js';
import type { ImageSet } from './images.js';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;

/** Parses the records of one batch file into `images` (HWC) and `labels` starting at `offset`. */
export function parseCifarBatch(buffer: Uint8Array, file: string, howToGet: string): ImageSet {
  if (buffer.length === 0 || buffer.length % RECORD !== 0) {
    throw new DatasetError(
      file,
      `truncated or corrupt: ${buffer.length} bytes is not a whole number of ${RECORD}-byte records`,
      howToGet,
    );
  }
  const count = buffer.length / RECORD;
  const images = new Uint8Array(count * 3 * PLANE);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const base = r * RECORD;
    const label = buffer[base];
    if (label > 9) {
      throw new DatasetError(
        file,
        `corrupt: label ${label} in record ${r} (allowed 0-9)`,
        howToGet,
      );
    }
    labels[r] = label;
    const out = r * 3 * PLANE;
    for (let p = 0; p < PLANE; p++) {
      for (let c = 0; c < 3; c++) images[out + 3 * p + c] = buffer[base + 1 + c * PLANE + p];
    }
  }
  return { images, labels, count, height: SIDE, width: SIDE, channels: 3, classes: 10 };
}

/** Concatenates image sets of the same shape. */
function concat(parts: ImageSet[]): ImageSet {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * 3 * PLANE);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const part of parts) {
    images.set(part.images, at * 3 * PLANE);
    labels.set(part.labels, at);
    at += part.count;
  }
  return { ...parts[0], images, labels, count };
}

/** Loads the training or test split from `dir` or its `cifar-10-batches-bin` subdirectory. */
export function loadCifar10Split(dir: string, split: 'train' | 'test', howToGet: string): ImageSet {
  const nested = join(dir, 'cifar-10-batches-bin');
  const root = !existsSync(join(dir, 'test_batch.bin')) && existsSync(nested) ? nested : dir;
  const names =
    split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const parts = names.map((name) => {
    const file = join(root, name);
    let buffer: Buffer;
    try {
      buffer = readFileSync(file);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new DatasetError(
        file,
        missing ? 'not found' : `cannot read (${(error as Error).message})`,
        howToGet,
      );
    }
    return { file, set: parseCifarBatch(buffer, file, howToGet) };
  });
  checkSameCount(parts, howToGet);
  return concat(parts.map((p) => p.set));
}

/**
 * The batch files all hold the same number of records (10000 in CIFAR-10), so a file cut at a
 * record boundary, which its size alone cannot reveal, is still caught (not in the test split,
 * a single file).
 */
function checkSameCount(parts: { file: string; set: ImageSet }[], howToGet: string): void {
  const [first, ...rest] = parts;
  const odd = rest.find((p) => p.set.count !== first.set.count);
  if (odd) {
    throw new DatasetError(
      odd.file,
      `truncated or corrupt: ${odd.set.count} records, ${first.file} holds ${first.set.count} (the batch files hold the same number)`,
      howToGet,
    );
  }
}

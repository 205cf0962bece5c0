/**
 * Loader for the IDX format of MNIST and Fashion-MNIST (LeCun's format), plain or gzipped.
 * Layout: magic = [0, 0, type (0x08 = uint8), ndims], then ndims big-endian uint32 sizes, then the
 * data, row-major. Images files have 3 dims (count, rows, cols), label files 1 (count).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.js';
import type { ImageSet } from './images.js';

export interface IdxArray {
  readonly dims: number[];
  readonly data: Uint8Array;
}

/** Parses an IDX buffer (already gunzipped); `file` and `howToGet` go into error messages. */
export function parseIdx(buffer: Uint8Array, file: string, howToGet: string): IdxArray {
  if (buffer.length < 4 || buffer[0] !== 0 || buffer[1] !== 0) {
    throw new DatasetError(file, 'not an IDX file (bad magic number)', howToGet);
  }
  if (buffer[2] !== 0x08) {
    throw new DatasetError(
      file,
      `IDX element type 0x${buffer[2].toString(16)} is not uint8`,
      howToGet,
    );
  }
  const ndims = buffer[3];
  const headerSize = 4 + 4 * ndims;
  if (ndims === 0 || buffer.length < headerSize) {
    throw new DatasetError(file, 'truncated IDX header', howToGet);
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const empty = dims.indexOf(0);
  if (empty >= 0) {
    throw new DatasetError(file, `corrupt IDX header: dimension ${empty + 1} is 0`, howToGet);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buffer.length - headerSize;
  if (actual < expected) {
    throw new DatasetError(
      file,
      `truncated: the header promises ${expected} bytes of data (${dims.join('x')}), the file has ${actual}`,
      howToGet,
    );
  }
  if (actual > expected) {
    throw new DatasetError(file, `corrupt: ${actual - expected} bytes after the data`, howToGet);
  }
  // A plain Uint8Array view (not a Buffer), so callers see one array type.
  const data = new Uint8Array(buffer.buffer, buffer.byteOffset + headerSize, expected);
  return { dims, data };
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes. */
export function readMaybeGzip(path: string, howToGet: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new DatasetError(path, `cannot read (${(error as Error).message})`, howToGet);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (error) {
      throw new DatasetError(path, `corrupt gzip data (${(error as Error).message})`, howToGet);
    }
  }
  return raw;
}

/** Finds `<stem>`, `<stem>.gz` or the dotted MNIST spelling (`train-images.idx3-ubyte`) in `dir`. */
export function findIdxFile(dir: string, stem: string, howToGet: string): string {
  const dotted = stem.replace(/-(idx\d)/, '.$1');
  const candidates = [stem, `${stem}.gz`, dotted, `${dotted}.gz`].map((name) => join(dir, name));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new DatasetError(join(dir, `${stem}.gz`), 'not found', howToGet);
  return found;
}

/** Loads one split ('train' or 't10k') of an IDX image dataset from `dir`. */
export function loadIdxSplit(dir: string, split: 'train' | 't10k', howToGet: string): ImageSet {
  const imagesPath = findIdxFile(dir, `${split}-images-idx3-ubyte`, howToGet);
  const labelsPath = findIdxFile(dir, `${split}-labels-idx1-ubyte`, howToGet);
  const images = parseIdx(readMaybeGzip(imagesPath, howToGet), imagesPath, howToGet);
  const labels = parseIdx(readMaybeGzip(labelsPath, howToGet), labelsPath, howToGet);
  if (images.dims.length !== 3) {
    throw new DatasetError(
      imagesPath,
      `expected 3 dimensions, found ${images.dims.length}`,
      howToGet,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DatasetError(
      labelsPath,
      `expected 1 dimension, found ${labels.dims.length}`,
      howToGet,
    );
  }
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DatasetError(
      labelsPath,
      `holds ${labels.dims[0]} labels but ${imagesPath} holds ${count} images`,
      howToGet,
    );
  }
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) {
    throw new DatasetError(
      labelsPath,
      `corrupt: label ${labels.data[bad]} at ${bad} (allowed 0-9)`,
      howToGet,
    );
  }
  return {
    images: images.data,
    labels: labels.data,
    count,
    height,
    width,
    channels: 1,
    classes: 10,
  };
}

/** Loads both splits; the test images must have the training images' size. */
export function loadIdxSplits(dir: string, howToGet: string): { train: ImageSet; test: ImageSet } {
  const train = loadIdxSplit(dir, 'train', howToGet);
  const test = loadIdxSplit(dir, 't10k', howToGet);
  if (test.height !== train.height || test.width !== train.width) {
    throw new DatasetError(
      findIdxFile(dir, 't10k-images-idx3-ubyte', howToGet),
      `images are ${test.height}x${test.width}, the training images ${train.height}x${train.width}`,
      howToGet,
    );
  }
  return { train, test };
}

/** Writes an IDX buffer (used by tests and by anyone converting data). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

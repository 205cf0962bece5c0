/**
 * Test data written by the tests themselves: small IDX (Fashion-MNIST layout) and CIFAR-10 binary
 * files with a learnable pattern (class k brightens row band k) plus seeded noise.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '#harness/experiments/data/index.js';
import { Rng } from '#harness/experiments/rng.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `decoupled-${prefix}-`));
}

/** `count` images of side x side x channels with labels; pixel bytes depend on the label. */
export function syntheticImages(
  count: number,
  side: number,
  channels: number,
  seed: number,
): { images: Uint8Array; labels: Uint8Array } {
  const rng = new Rng(seed);
  const images = new Uint8Array(count * side * side * channels);
  const labels = new Uint8Array(count);
  const band = Math.max(1, Math.floor(side / 10));
  for (let i = 0; i < count; i++) {
    const label = rng.int(10);
    labels[i] = label;
    for (let r = 0; r < side; r++) {
      const lit = Math.floor(r / band) === label;
      for (let c = 0; c < side * channels; c++) {
        const noise = rng.int(100);
        images[(i * side + r) * side * channels + c] = lit ? 120 + noise : noise;
      }
    }
  }
  return { images, labels };
}

/** Writes the four Fashion-MNIST IDX files (gzipped unless `gzip` is false) into a new dir. */
export function writeIdxDataset(options: {
  train: number;
  test: number;
  side?: number;
  seed?: number;
  gzip?: boolean;
  dir?: string;
}): string {
  const dir = options.dir ?? tempDir('idx');
  mkdirSync(dir, { recursive: true });
  const side = options.side ?? 12;
  const gz = options.gzip ?? true;
  const write = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  for (const [split, count, seed] of [
    ['train', options.train, (options.seed ?? 1) * 2],
    ['t10k', options.test, (options.seed ?? 1) * 2 + 1],
  ] as const) {
    const { images, labels } = syntheticImages(count, side, 1, seed);
    write(`${split}-images-idx3-ubyte`, encodeIdx([count, side, side], images));
    write(`${split}-labels-idx1-ubyte`, encodeIdx([count], labels));
  }
  return dir;
}

/** CIFAR-10 records (label byte, then R, G, B planes) from HWC images. */
export function encodeCifar(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const plane = 32 * 32;
  const out = new Uint8Array(labels.length * (1 + 3 * plane));
  for (let i = 0; i < labels.length; i++) {
    const base = i * (1 + 3 * plane);
    out[base] = labels[i];
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[base + 1 + c * plane + p] = images[(i * plane + p) * 3 + c];
    }
  }
  return out;
}

/** Writes data_batch_1..5.bin and test_batch.bin with `perFile` images each. */
export function writeCifarDataset(perFile: number): {
  dir: string;
  train: { images: Uint8Array; labels: Uint8Array };
} {
  const dir = tempDir('cifar');
  const all = syntheticImages(perFile * 5, 32, 3, 7);
  const size = 32 * 32 * 3;
  for (let b = 0; b < 5; b++) {
    const images = all.images.subarray(b * perFile * size, (b + 1) * perFile * size);
    const labels = all.labels.subarray(b * perFile, (b + 1) * perFile);
    writeFileSync(join(dir, `data_batch_${b + 1}.bin`), encodeCifar(images, labels));
  }
  const test = syntheticImages(perFile, 32, 3, 8);
  writeFileSync(join(dir, 'test_batch.bin'), encodeCifar(test.images, test.labels));
  return { dir, train: all };
}

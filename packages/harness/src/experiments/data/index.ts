/**
 * Datasets of the harness: loading (IDX or CIFAR-10 binary), the seeded validation split and subset,
 * per-channel normalization x' = (x/255 - mean_c) / std_c with statistics of the training split, and
 * batches with seeded augmentation (random crop of the zero-padded image, horizontal flip).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AugmentConfig, DatasetName } from '../config.js';
import { deriveSeed, Rng } from '../rng.js';
import { loadCifar10Split } from './cifar.js';
import { DatasetError } from './errors.js';
import { loadIdxSplits } from './idx.js';
import { type ImageSet, selectImages } from './images.js';

export { loadCifar10Split, parseCifarBatch } from './cifar.js';
export { DatasetError } from './errors.js';
export { encodeIdx, loadIdxSplit, parseIdx } from './idx.js';
export type { ImageSet } from './images.js';

export const DEFAULT_DATA_DIRS: Record<DatasetName, string> = {
  'fashion-mnist': '/usr/share/datasets/fashion-mnist',
  mnist: '/usr/share/datasets/mnist',
  cifar10: '/usr/share/datasets/cifar10',
};

/** How to get each dataset, appended to every data error. */
export function howToGet(dataset: DatasetName): string {
  switch (dataset) {
    case 'fashion-mnist':
      return (
        'Install it with `apt-get install dataset-fashion-mnist` (files go to ' +
        '/usr/share/datasets/fashion-mnist), or pass --data-dir pointing at the four ' +
        'Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ' +
        't10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)'
      );
    case 'mnist':
      return (
        'Pass --data-dir pointing at the four MNIST IDX files (train-images-idx3-ubyte[.gz], ' +
        'train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) ' +
        'from http://yann.lecun.com/exdb/mnist/'
      );
    case 'cifar10':
      return (
        'Pass --data-dir pointing at the extracted "CIFAR-10 binary version" ' +
        '(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html: ' +
        'data_batch_1.bin ... data_batch_5.bin, test_batch.bin)'
      );
  }
}

export interface Normalization {
  readonly mean: number[];
  readonly std: number[];
}

export interface LoadedData {
  readonly train: ImageSet;
  /** Held-out images from the training file, or null when validationSize is 0. */
  readonly validation: ImageSet | null;
  readonly test: ImageSet;
  readonly normalization: Normalization;
}

export interface DataOptions {
  dataset: DatasetName;
  dataDir?: string;
  seed: number;
  /** Seed of the subset and validation split; absent: `seed`. */
  dataSeed?: number;
  validationSize: number;
  subset?: number;
  testSubset?: number;
}

interface RawSplits {
  readonly train: ImageSet;
  readonly test: ImageSet;
}

/**
 * Decoded datasets of this process by directory. A sweep worker runs trial after trial on the same
 * files; decoding them every time (gunzip of 26 MB, ~0.4 s, plus the garbage) was a third of a
 * short trial. An entry is reused only while the directory's names, sizes and mtimes are unchanged.
 */
const rawCache = new Map<string, { signature: string; raw: RawSplits }>();

/**
 * Names, sizes and mtimes of a directory's files, and of its subdirectories' files one level down
 * (CIFAR-10 may sit in cifar-10-batches-bin/); '' when it cannot be read (then nothing is cached).
 */
function directorySignature(dir: string, depth = 1): string {
  try {
    return readdirSync(dir)
      .sort()
      .map((name) => {
        const path = join(dir, name);
        const st = statSync(path);
        if (st.isDirectory()) return depth > 0 ? `${name}/[${directorySignature(path, 0)}]` : '';
        return `${name}:${st.size}:${st.mtimeMs}`;
      })
      .join('|');
  } catch {
    return '';
  }
}

/** Drops the decoded datasets this process holds (they are reloaded on next use). */
export function clearDatasetCache(): void {
  rawCache.clear();
}

/**
 * Loads the raw train and test splits of a dataset, decoding each directory once per process.
 * The returned sets are shared between callers: treat them as read-only.
 */
export function loadRaw(dataset: DatasetName, dataDir?: string): RawSplits {
  const dir = dataDir ?? DEFAULT_DATA_DIRS[dataset];
  const key = `${dataset}\0${resolve(dir)}`;
  const signature = directorySignature(dir);
  const cached = rawCache.get(key);
  if (cached && signature !== '' && cached.signature === signature) return cached.raw;
  const raw = decodeRaw(dataset, dir);
  if (signature !== '') rawCache.set(key, { signature, raw });
  return raw;
}

function decodeRaw(dataset: DatasetName, dir: string): RawSplits {
  const help = howToGet(dataset);
  if (dataset === 'cifar10') {
    return {
      train: loadCifar10Split(dir, 'train', help),
      test: loadCifar10Split(dir, 'test', help),
    };
  }
  return loadIdxSplits(dir, help);
}

/** Per-channel mean and standard deviation of pixel/255 over a set. */
export function channelStats(set: ImageSet): Normalization {
  const c = set.channels;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  // Same summation order as a plain loop over i with channel i % c (so the same bits), without
  // the modulo, which dominated this loop.
  const images = set.images;
  if (c === 1) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < images.length; i++) {
      const v = images[i] / 255;
      s += v;
      s2 += v * v;
    }
    sum[0] = s;
    sumSq[0] = s2;
  } else {
    for (let i = 0, k = 0; i < images.length; i++) {
      const v = images[i] / 255;
      sum[k] += v;
      sumSq[k] += v * v;
      if (++k === c) k = 0;
    }
  }
  const n = set.images.length / c;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, k) => Math.sqrt(Math.max(s / n - mean[k] ** 2, 1e-12)));
  return { mean, std };
}

/**
 * Splits the training file by a permutation drawn from the seed: the first `validationSize`
 * images form the validation set, the next `subset` (or all the rest) the training set.
 */
export function splitTraining(
  full: ImageSet,
  seed: number,
  validationSize: number,
  subset?: number,
): { train: ImageSet; validation: ImageSet | null } {
  const need = validationSize + (subset ?? 1);
  if (need > full.count) {
    throw new DatasetError(
      'training set',
      `has ${full.count} images, fewer than validationSize ${validationSize} + subset ${subset ?? 1}`,
      'Lower --subset or --validation-size',
    );
  }
  const order = new Rng(deriveSeed(seed, 'split')).permutation(full.count);
  const validation =
    validationSize > 0 ? selectImages(full, order.subarray(0, validationSize)) : null;
  const rest = order.subarray(
    validationSize,
    subset === undefined ? full.count : validationSize + subset,
  );
  return { train: selectImages(full, rest), validation };
}

export function loadData(options: DataOptions): LoadedData {
  const raw = loadRaw(options.dataset, options.dataDir);
  const { train, validation } = splitTraining(
    raw.train,
    options.dataSeed ?? options.seed,
    options.validationSize,
    options.subset,
  );
  const test =
    options.testSubset !== undefined && options.testSubset < raw.test.count
      ? selectImages(
          raw.test,
          Array.from({ length: options.testSubset }, (_, i) => i),
        )
      : raw.test;
  return { train, validation, test, normalization: channelStats(train) };
}

/** A batch ready for tf.tensor4d (NHWC) and the integer labels. */
export interface Batch {
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly size: number;
}

/**
 * Memory that a run's batches are built into, instead of two new arrays per batch: a training run
 * otherwise allocates its data set's size in garbage every epoch, and the collections it sets off
 * keep a second core busy (which is what a second sweep worker needs). A tensor made from a batch
 * must be disposed of before the next batch is built into the same buffers (tfjs's cpu backend
 * keeps the array it was given).
 */
export interface BatchBuffers {
  readonly x: Float32Array;
  readonly labels: Int32Array;
}

/** Buffers for batches of up to `capacity` images of `set`'s shape. */
export function batchBuffers(set: ImageSet, capacity: number): BatchBuffers {
  return {
    x: new Float32Array(capacity * set.height * set.width * set.channels),
    labels: new Int32Array(capacity),
  };
}

/**
 * Builds the batch of images `indices`, normalized; with `augment` and `rng`, each image is cropped
 * at an offset (dy, dx) drawn uniformly from [0, 2p]^2 of its zero-padded copy, then flipped with
 * probability 1/2. Random draws per image, in order: dy, dx (if p > 0), flip (if enabled).
 * With `into`, the batch is views of those buffers; else it is newly allocated.
 */
export function makeBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  norm: Normalization,
  augment?: AugmentConfig,
  rng?: Rng,
  into?: BatchBuffers,
): Batch {
  const { height: h, width: w, channels: c } = set;
  const size = h * w * c;
  if (into && (into.labels.length < indices.length || into.x.length < indices.length * size)) {
    throw new RangeError(
      `makeBatch: a batch of ${indices.length} images does not fit buffers for ${into.labels.length}`,
    );
  }
  const lut = norm.mean.map((m, k) =>
    Float32Array.from({ length: 256 }, (_, v) => (v / 255 - m) / norm.std[k]),
  );
  const zero = lut.map((table) => table[0]);
  const x = into
    ? into.x.subarray(0, indices.length * size)
    : new Float32Array(indices.length * size);
  const labels = into ? into.labels.subarray(0, indices.length) : new Int32Array(indices.length);
  const pad = augment && rng ? augment.cropPadding : 0;
  const flipEnabled = Boolean(augment?.flip && rng);
  const images = set.images;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    labels[k] = set.labels[i];
    const src = i * size;
    const dst = k * size;
    if (pad === 0 && !flipEnabled) {
      // No augmentation: a straight table lookup per value (the common case, and evaluation).
      if (c === 1) {
        const table = lut[0];
        for (let j = 0; j < size; j++) x[dst + j] = table[images[src + j]];
      } else {
        for (let j = 0, ch = 0; j < size; j++) {
          x[dst + j] = lut[ch][images[src + j]];
          if (++ch === c) ch = 0;
        }
      }
      continue;
    }
    const dy = pad > 0 && rng ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 && rng ? rng.int(2 * pad + 1) - pad : 0;
    const flip = flipEnabled && rng ? rng.next() < 0.5 : false;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      for (let col = 0; col < w; col++) {
        const sc = (flip ? w - 1 - col : col) + dx;
        const out = dst + (r * w + col) * c;
        if (sr < 0 || sr >= h || sc < 0 || sc >= w) {
          for (let ch = 0; ch < c; ch++) x[out + ch] = zero[ch];
        } else {
          const from = src + (sr * w + sc) * c;
          for (let ch = 0; ch < c; ch++) x[out + ch] = lut[ch][images[from + ch]];
        }
      }
    }
  }
  return { x, labels, size: indices.length };
}

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  batchBuffers,
  channelStats,
  clearDatasetCache,
  DatasetError,
  encodeIdx,
  type ImageSet,
  loadCifar10Split,
  loadData,
  loadIdxSplit,
  loadRaw,
  makeBatch,
  splitTraining,
} from '#harness/experiments/data/index.js';
import { Rng } from '#harness/experiments/rng.js';
import { syntheticImages, tempDir, writeCifarDataset, writeIdxDataset } from './fixtures.js';

const HOW = 'HOW-TO-GET';

function imageSet(count: number, side: number, channels = 1): ImageSet {
  const { images, labels } = syntheticImages(count, side, channels, 5);
  return { images, labels, count, height: side, width: side, channels, classes: 10 };
}

describe('IDX loader', () => {
  for (const gzip of [true, false]) {
    it(`reads ${gzip ? 'gzipped' : 'raw'} files byte for byte`, () => {
      const dir = writeIdxDataset({ train: 30, test: 10, side: 8, gzip });
      const train = loadIdxSplit(dir, 'train', HOW);
      const expected = syntheticImages(30, 8, 1, 2);
      assert.equal(train.count, 30);
      assert.deepEqual([train.height, train.width, train.channels], [8, 8, 1]);
      assert.deepEqual(train.images, expected.images);
      assert.deepEqual(train.labels, expected.labels);
      assert.equal(loadIdxSplit(dir, 't10k', HOW).count, 10);
    });
  }

  it('says a file is missing and how to get the data', () => {
    const dir = tempDir('empty');
    assert.throws(
      () => loadData({ dataset: 'fashion-mnist', dataDir: dir, seed: 1, validationSize: 0 }),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message.includes('train-images-idx3-ubyte') &&
        e.message.includes('not found') &&
        e.message.includes('apt-get install dataset-fashion-mnist'),
    );
  });

  it('rejects truncated, corrupt and mismatched files', () => {
    const dir = writeIdxDataset({ train: 20, test: 5, side: 8, gzip: false });
    const images = join(dir, 'train-images-idx3-ubyte');
    const good = readFileSync(images);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 7), /truncated.*promises 1280 bytes.*has 1273/],
      [good.subarray(0, 10), /truncated IDX header/],
      [Buffer.concat([good, Buffer.from([1, 2])]), /2 bytes after the data/],
      [Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), /bad magic/],
      [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 9, 9]), /corrupt gzip/],
      [encodeIdx([21, 8, 8], new Uint8Array(21 * 64)), /holds 20 labels but .* holds 21 images/],
      [encodeIdx([20, 0, 8], new Uint8Array(0)), /corrupt IDX header: dimension 2 is 0/],
    ];
    for (const [bytes, pattern] of cases) {
      writeFileSync(images, bytes);
      assert.throws(
        () => loadIdxSplit(dir, 'train', HOW),
        (e: Error) =>
          e instanceof DatasetError && pattern.test(e.message) && e.message.includes(HOW),
        String(pattern),
      );
    }
    writeFileSync(images, good);
    writeFileSync(
      join(dir, 'train-labels-idx1-ubyte'),
      encodeIdx([20], new Uint8Array(20).fill(10)),
    );
    assert.throws(() => loadIdxSplit(dir, 'train', HOW), /label 10 at 0/);
  });

  it('refuses test images of another size than the training images', () => {
    const dir = writeIdxDataset({ train: 20, test: 5, side: 8, gzip: false });
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx([5, 8, 9], new Uint8Array(360)));
    assert.throws(
      () => loadRaw('fashion-mnist', dir),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message.startsWith(
          `${join(dir, 't10k-images-idx3-ubyte')}: images are 8x9, the training images 8x8`,
        ),
    );
  });

  const real = '/usr/share/datasets/fashion-mnist';
  it('loads the real Fashion-MNIST when installed', { skip: !existsSync(real) }, () => {
    const test = loadIdxSplit(real, 't10k', HOW);
    assert.deepEqual([test.count, test.height, test.width, test.channels], [10000, 28, 28, 1]);
    const perClass = new Array(10).fill(0);
    for (const l of test.labels) perClass[l]++;
    assert.deepEqual(perClass, new Array(10).fill(1000));
    assert.equal(loadIdxSplit(real, 'train', HOW).count, 60000);
  });
});

describe('CIFAR-10 loader', () => {
  it('reads the five training batches and converts CHW planes to HWC', () => {
    const { dir, train } = writeCifarDataset(3);
    const set = loadCifar10Split(dir, 'train', HOW);
    assert.deepEqual([set.count, set.height, set.width, set.channels], [15, 32, 32, 3]);
    assert.deepEqual(set.images, train.images);
    assert.deepEqual(set.labels, train.labels);
    assert.equal(loadCifar10Split(dir, 'test', HOW).count, 3);
  });

  it('rejects missing, truncated and corrupt batches', () => {
    const { dir } = writeCifarDataset(2);
    const file = join(dir, 'data_batch_3.bin');
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, good.length - 1));
    assert.throws(
      () => loadCifar10Split(dir, 'train', HOW),
      /data_batch_3\.bin: truncated.*HOW-TO-GET/,
    );
    writeFileSync(file, good.subarray(0, good.length / 2)); // one whole record of two
    assert.throws(
      () => loadCifar10Split(dir, 'train', HOW),
      /data_batch_3\.bin: truncated or corrupt: 1 records, .*data_batch_1\.bin holds 2/,
    );
    const bad = Buffer.from(good);
    bad[0] = 200;
    writeFileSync(file, bad);
    assert.throws(() => loadCifar10Split(dir, 'train', HOW), /label 200 in record 0/);
    assert.throws(
      () => loadCifar10Split(tempDir('none'), 'test', HOW),
      /test_batch\.bin: not found/,
    );
  });
});

describe('split, normalization and augmentation', () => {
  // Image i holds the value i % 251 everywhere, so an image identifies its source index.
  const ids: ImageSet = (() => {
    const count = 200;
    const images = new Uint8Array(count * 4);
    for (let i = 0; i < count; i++) images.fill(i % 251, i * 4, i * 4 + 4);
    return {
      images,
      labels: new Uint8Array(count),
      count,
      height: 2,
      width: 2,
      channels: 1,
      classes: 10,
    };
  })();
  const idsOf = (s: ImageSet) => Array.from({ length: s.count }, (_, i) => s.images[i * 4]);

  it('draws the validation split and subset from the seed, disjoint', () => {
    const a = splitTraining(ids, 1, 50, 100);
    const b = splitTraining(ids, 1, 50, 100);
    const c = splitTraining(ids, 2, 50, 100);
    assert.deepEqual(idsOf(a.train), idsOf(b.train));
    assert.notDeepEqual(idsOf(a.train), idsOf(c.train));
    assert.equal(a.validation?.count, 50);
    const val = new Set(idsOf(a.validation as ImageSet));
    assert.ok(idsOf(a.train).every((id) => !val.has(id)));
    assert.equal(new Set([...idsOf(a.train), ...val]).size, 150);
    assert.throws(
      () => splitTraining(ids, 1, 150, 51),
      /fewer than validationSize 150 \+ subset 51/,
    );
  });

  it('normalizes each channel to mean 0 and std 1 over the training set', () => {
    const set = imageSet(40, 8, 3);
    const norm = channelStats(set);
    const batch = makeBatch(
      set,
      Array.from({ length: 40 }, (_, i) => i),
      norm,
    );
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      let n = 0;
      for (let i = c; i < batch.x.length; i += 3) {
        s += batch.x[i];
        s2 += batch.x[i] ** 2;
        n++;
      }
      assert.ok(Math.abs(s / n) < 1e-5, `mean ${s / n}`);
      assert.ok(Math.abs(s2 / n - 1) < 1e-4, `var ${s2 / n}`);
    }
  });

  it('statistics and unaugmented batches are exactly the textbook formulas (1 and 3 channels)', () => {
    for (const channels of [1, 3]) {
      const set = imageSet(12, 7, channels);
      // The textbook loop: sums over i with channel i % c, in index order.
      const sum = new Float64Array(channels);
      const sumSq = new Float64Array(channels);
      for (let i = 0; i < set.images.length; i++) {
        const v = set.images[i] / 255;
        sum[i % channels] += v;
        sumSq[i % channels] += v * v;
      }
      const n = set.images.length / channels;
      const norm = channelStats(set);
      for (let k = 0; k < channels; k++) {
        assert.equal(norm.mean[k], sum[k] / n);
        assert.equal(norm.std[k], Math.sqrt(Math.max(sumSq[k] / n - (sum[k] / n) ** 2, 1e-12)));
      }
      const indices = [5, 0, 11, 3];
      const batch = makeBatch(set, indices, norm);
      const size = 7 * 7 * channels;
      indices.forEach((i, k) => {
        for (let j = 0; j < size; j++) {
          const ch = j % channels;
          const want = Math.fround((set.images[i * size + j] / 255 - norm.mean[ch]) / norm.std[ch]);
          if (batch.x[k * size + j] !== want) {
            assert.fail(`c=${channels} image ${i} value ${j}: ${batch.x[k * size + j]} vs ${want}`);
          }
        }
      });
    }
  });

  it('augments deterministically from the RNG state', () => {
    const set = imageSet(16, 8, 3);
    const norm = { mean: [0, 0, 0], std: [1, 1, 1] };
    const augment = { cropPadding: 2, flip: true };
    const indices = Array.from({ length: 16 }, (_, i) => i);
    const a = makeBatch(set, indices, norm, augment, new Rng(9));
    const b = makeBatch(set, indices, norm, augment, new Rng(9));
    const c = makeBatch(set, indices, norm, augment, new Rng(10));
    assert.deepEqual(a.x, b.x);
    assert.notDeepEqual(a.x, c.x);
  });

  it('builds into reused buffers exactly what it allocates, and refuses too small ones', () => {
    const set = imageSet(16, 8, 3);
    const norm = { mean: [0.1, 0.2, 0.3], std: [1, 2, 3] };
    const augment = { cropPadding: 2, flip: true };
    const buffers = batchBuffers(set, 10);
    for (const [from, to] of [
      [0, 10],
      [10, 16], // a last, shorter batch
    ]) {
      const indices = Array.from({ length: to - from }, (_, i) => from + i);
      const fresh = makeBatch(set, indices, norm, augment, new Rng(from));
      const reused = makeBatch(set, indices, norm, augment, new Rng(from), buffers);
      assert.equal(reused.x.buffer, buffers.x.buffer);
      assert.equal(reused.size, to - from);
      assert.deepEqual(reused.x, fresh.x);
      assert.deepEqual(reused.labels, fresh.labels);
    }
    const tooMany = Array.from({ length: 11 }, (_, i) => i);
    assert.throws(
      () => makeBatch(set, tooMany, norm, undefined, undefined, buffers),
      /a batch of 11 images does not fit buffers for 10/,
    );
  });

  it('crops a shifted window of the zero-padded image, maybe mirrored', () => {
    const side = 6;
    const set = imageSet(24, side, 2);
    const norm = { mean: [0, 0], std: [1, 1] };
    const pad = 2;
    const batch = makeBatch(
      set,
      Array.from({ length: 24 }, (_, i) => i),
      norm,
      { cropPadding: pad, flip: true },
      new Rng(3),
    );
    const px = (i: number, r: number, c: number, ch: number) =>
      r < 0 || r >= side || c < 0 || c >= side
        ? 0
        : set.images[((i * side + r) * side + c) * 2 + ch] / 255;
    let flipped = 0;
    for (let i = 0; i < 24; i++) {
      const out = batch.x.subarray(i * side * side * 2, (i + 1) * side * side * 2);
      const matches: boolean[] = [];
      for (const flip of [false, true]) {
        for (let dy = -pad; dy <= pad; dy++) {
          for (let dx = -pad; dx <= pad; dx++) {
            let same = true;
            for (let r = 0; r < side && same; r++) {
              for (let c = 0; c < side && same; c++) {
                const sc = (flip ? side - 1 - c : c) + dx;
                for (let ch = 0; ch < 2; ch++) {
                  if (Math.fround(px(i, r + dy, sc, ch)) !== out[(r * side + c) * 2 + ch])
                    same = false;
                }
              }
            }
            if (same) matches.push(flip);
          }
        }
      }
      assert.ok(matches.length > 0, `image ${i} is no crop of its source`);
      if (matches.every((f) => f)) flipped++;
    }
    assert.ok(flipped > 3 && flipped < 21, `flipped ${flipped} of 24`);
  });
});

describe('Rng', () => {
  it('draws permutations and resumes its stream from a saved state', () => {
    const rng = new Rng(4);
    const p = rng.permutation(50);
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
    const state = rng.getState();
    const next = [rng.nextUint32(), rng.nextUint32()];
    assert.deepEqual(
      [Rng.fromState(state).nextUint32(), Rng.fromState(state).nextUint32()][0],
      next[0],
    );
    const r2 = Rng.fromState(JSON.parse(JSON.stringify(state)));
    assert.deepEqual([r2.nextUint32(), r2.nextUint32()], next);
    // int(n) is uniform: counts of 20000 draws in 5 bins stay within 5 sd of 4000.
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 20000; i++) counts[rng.int(5)]++;
    for (const n of counts)
      assert.ok(Math.abs(n - 4000) < 5 * Math.sqrt(20000 * 0.2 * 0.8), String(n));
  });
});

describe('decoded datasets are cached per process', () => {
  it('decodes a directory once, and again when its files change', () => {
    clearDatasetCache();
    const dir = writeIdxDataset({ train: 30, test: 10, side: 8, gzip: true });
    const first = loadRaw('fashion-mnist', dir);
    assert.equal(loadRaw('fashion-mnist', dir), first, 'same files: the decoded sets are reused');
    // Same name, new contents (and size): the cache must notice and decode the new files.
    const replaced = writeIdxDataset({ train: 40, test: 10, side: 8, gzip: true });
    for (const name of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']) {
      writeFileSync(join(dir, name), readFileSync(join(replaced, name)));
    }
    const second = loadRaw('fashion-mnist', dir);
    assert.notEqual(second, first);
    assert.equal(second.train.count, 40);
    clearDatasetCache();
    assert.notEqual(loadRaw('fashion-mnist', dir), second, 'clearDatasetCache drops the entries');
  });

  it('loadData on a cached directory gives the same splits as a fresh decode', () => {
    clearDatasetCache();
    const dir = writeIdxDataset({ train: 50, test: 12, side: 8, gzip: false });
    const options = {
      dataset: 'fashion-mnist' as const,
      dataDir: dir,
      seed: 3,
      validationSize: 10,
    };
    const fresh = loadData({ ...options, subset: 20 });
    const cached = loadData({ ...options, subset: 20 });
    assert.deepEqual(cached.train.images, fresh.train.images);
    assert.deepEqual(cached.validation?.labels, fresh.validation?.labels);
    assert.deepEqual(cached.normalization, fresh.normalization);
  });

  it('a missing directory is an error every time, never a cached result', () => {
    clearDatasetCache();
    const dir = join(tempDir('gone'), 'nothing-here');
    for (let i = 0; i < 2; i++) {
      assert.throws(() => loadRaw('fashion-mnist', dir), DatasetError);
    }
  });
});

/**
 * The Fashion-MNIST sample of the browser example, made from the real data when served (nothing
 * binary is committed): the first `count` training images of the IDX files (the harness's loader,
 * experiments/data/idx.ts), as raw uint8 pixels and labels plus a small JSON header.
 */

import { loadIdxSplit } from '#harness/experiments/data/idx.js';
import { selectImages } from '#harness/experiments/data/images.js';
import { DEFAULT_DATA_DIRS, howToGet } from '#harness/experiments/data/index.js';

/** What the page fetches: /sample.json, /images.bin (count x 28 x 28 bytes), /labels.bin. */
export interface SampleFiles {
  '/sample.json': { type: string; body: string };
  '/images.bin': { type: string; body: Buffer };
  '/labels.bin': { type: string; body: Buffer };
}

export const DEFAULT_SAMPLE_SIZE = 512;

/** The first `count` Fashion-MNIST training images from `dir`, as the files the page reads. */
export function fashionSample(
  dir = DEFAULT_DATA_DIRS['fashion-mnist'],
  count = DEFAULT_SAMPLE_SIZE,
): SampleFiles {
  const train = loadIdxSplit(dir, 'train', howToGet('fashion-mnist'));
  const n = Math.min(count, train.count);
  const sample = selectImages(
    train,
    Array.from({ length: n }, (_, i) => i),
  );
  const header = { count: n, height: sample.height, width: sample.width, classes: sample.classes };
  return {
    '/sample.json': { type: 'application/json', body: JSON.stringify(header) },
    '/images.bin': { type: 'application/octet-stream', body: Buffer.from(sample.images) },
    '/labels.bin': { type: 'application/octet-stream', body: Buffer.from(sample.labels) },
  };
}

/** The in-memory form of an image classification split: raw uint8 pixels, HWC order, and labels. */

export interface ImageSet {
  /** count * height * width * channels bytes, image after image, each in HWC order. */
  readonly images: Uint8Array;
  /** One class index per image. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
}

/** The images at `indices`, copied into a new set (used for subsets and validation splits). */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = set.height * set.width * set.channels;
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = set.labels[i];
  }
  return { ...set, images, labels, count: indices.length };
}

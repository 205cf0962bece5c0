/**
 * The harness's own seeded PRNG, so data order, splits and augmentation are reproducible and their
 * state can be saved in a checkpoint (Math.random can do neither).
 *
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state a, b, c, counter):
 *   t = a + b + counter;  counter += 1;  a = b ^ (b >>> 9);  b = c + (c << 3);
 *   c = rotl(c, 21) + t;  output t                                   (all mod 2^32)
 * Seeds are expanded to the four state words by splitmix32, so nearby seeds give unrelated streams.
 */

/** The full generator state: four uint32 words, JSON-serializable. */
export type RngState = [number, number, number, number];

/** splitmix32 step: a well-mixed uint32 from a uint32 counter. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Mixes a seed with a stream name, so each use (split, order, augmentation) has its own stream. */
export function deriveSeed(seed: number, stream: string): number {
  let h = splitmix32(seed >>> 0) ^ Math.floor(seed / 2 ** 32);
  for (let i = 0; i < stream.length; i++) h = splitmix32((h ^ stream.charCodeAt(i)) >>> 0);
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = splitmix32(seed >>> 0);
    this.b = splitmix32(this.a ^ 0x6a09e667);
    this.c = splitmix32(this.b ^ 0xbb67ae85);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  getState(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: RngState): void {
    [this.a, this.b, this.c, this.d] = state.map((w) => w >>> 0) as RngState;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (((this.c << 21) | (this.c >>> 11)) + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias. */
  int(n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

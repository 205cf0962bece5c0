/** Small array helpers shared by tests. */
import assert from 'node:assert/strict';

/** A deterministic pseudo-random Float32Array in [-scale, scale) (mulberry32). */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-6, atol = 1e-7, message = '' } = {},
): void {
  assert.equal(actual.length, expected.length, `${message} length`);
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= atol + rtol * Math.abs(expected[i]))) {
      assert.fail(`${message} [${i}]: ${actual[i]} vs expected ${expected[i]} (diff ${diff})`);
    }
  }
}

/** Asserts two arrays are identical bit for bit. */
export function assertBitEqual(actual: Float32Array, expected: Float32Array, message = ''): void {
  assert.equal(actual.length, expected.length, `${message} length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${message} [${i}]: ${actual[i]} !== ${expected[i]}`);
  }
}

/**
 * Inputs and checks shared by the kernel tests: deterministic float32 data with the awkward values
 * (zeros, -0, subnormals, large, optionally NaN and Infinity), bit-pattern equality, and the places
 * an array can live (plain, unaligned, kernel state memory, an arena).
 */
import assert from 'node:assert/strict';
import { createArena, wasmKernels } from '#decoupled/kernels/index.js';

/** Deterministic pseudo-random floats with a sprinkling of zeros, -0, tiny and large values. */
export function values(n: number, seed: number, positive = false, nonFinite = false): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    let x = (u - 0.5) * 2;
    if (nonFinite && s % 61 === 0) x = [Number.NaN, Number.POSITIVE_INFINITY, -Infinity][s % 3];
    else if (s % 97 === 0) x = 0;
    else if (s % 89 === 0) x = -0;
    else if (s % 83 === 0)
      x *= 1e-39; // subnormal
    else if (s % 79 === 0) x *= 1e6;
    out[i] = positive ? Math.abs(x) * 1e-3 : x;
  }
  return out;
}

/** Equal bit patterns, with any NaN equal to any NaN. */
export function assertSameFloats(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, reference ${expected[i]}`);
    }
  }
}

export type Alloc = (src: Float32Array) => Float32Array;
export const plain: Alloc = (src) => src.slice();
/** A view at an odd element offset, so nothing is 16-byte aligned. */
export const unaligned: Alloc = (src) => {
  const backing = new Float32Array(src.length + 1);
  backing.set(src, 1);
  return backing.subarray(1);
};
/** Where an optimizer puts its state: kernel memory for a plain param of >= 64 elements. */
export const stateAlloc: Alloc = (src) => {
  const a = wasmKernels.allocateState(src);
  a.set(src);
  return a;
};
/** The state (the arrays that start at zero) where an optimizer puts it, p and g plain. */
export const ownState: Alloc = (src) => (src.every((x) => x === 0) ? stateAlloc(src) : plain(src));
/** In place: every array from one arena of `capacity` floats (misalign: at odd offsets). */
export function arenaAlloc(capacity: number, misalign = false): Alloc {
  const arena = createArena(capacity + 64, { prefault: false });
  return (src) => {
    if (!misalign) return arena.from(src);
    const a = arena.alloc(src.length + 1);
    a.set(src, 1);
    return a.subarray(1);
  };
}

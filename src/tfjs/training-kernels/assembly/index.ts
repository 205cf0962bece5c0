/**
 * SIMD loops for the fused training kernels (AssemblyScript, v128), compiled by
 * scripts/build-kernels.mjs into src/tfjs/training-kernels/generated/wasm.ts and instantiated on
 * tfjs-backend-wasm's own memory, so pointers are the backend's tensor offsets (bytes).
 *
 * Layout: [m, c] row-major float32 (channels last). Per-channel sums go to float64 accumulators
 * (2c doubles at `acc`) so that a million-element reduction loses nothing to float32 rounding:
 *   channelSums:   acc[k] = sum_r a[r,k],  acc[c + k] = sum_r a[r,k] (b[r,k] - shift[k])
 *   centredAffine: out[r,k] = (x[r,k] - mean[k]) u[k] + dy[r,k] v[k] + w[k]   (dy = 0: no middle term)
 */

@inline
function accumulate(at: usize, lo: v128, hi: v128): void {
  v128.store(at, f64x2.add(v128.load(at), lo));
  v128.store(at, f64x2.add(v128.load(at, 16), hi), 16);
}

export function channelSums(a: usize, b: usize, shift: usize, m: i32, c: i32, acc: usize): void {
  memory.fill(acc, 0, <usize>c << 4);
  const acc2 = acc + (<usize>c << 3);
  const c4 = c & ~3;
  const rowBytes = <usize>c << 2;
  for (let r = 0; r < m; r++) {
    const ra = a + <usize>r * rowBytes;
    const rb = b + <usize>r * rowBytes;
    let k = 0;
    for (; k < c4; k += 4) {
      const o = <usize>k << 2;
      const va = v128.load(ra + o);
      const vb = f32x4.sub(v128.load(rb + o), v128.load(shift + o));
      const p = f32x4.mul(va, vb);
      const d = <usize>k << 3;
      accumulate(
        acc + d,
        f64x2.promote_low_f32x4(va),
        f64x2.promote_low_f32x4(v128.shuffle<f32>(va, va, 2, 3, 2, 3)),
      );
      accumulate(
        acc2 + d,
        f64x2.promote_low_f32x4(p),
        f64x2.promote_low_f32x4(v128.shuffle<f32>(p, p, 2, 3, 2, 3)),
      );
    }
    for (; k < c; k++) {
      const o = <usize>k << 2;
      const va = load<f32>(ra + o);
      const d = <usize>k << 3;
      store<f64>(acc + d, load<f64>(acc + d) + <f64>va);
      store<f64>(acc2 + d, load<f64>(acc2 + d) + <f64>(va * (load<f32>(rb + o) - load<f32>(shift + o))));
    }
  }
}

@inline
function affineLoop(
  out: usize,
  x: usize,
  mean: usize,
  u: usize,
  dy: usize,
  v: usize,
  w: usize,
  m: i32,
  c: i32,
  withDy: bool,
): void {
  const c4 = c & ~3;
  const rowBytes = <usize>c << 2;
  for (let r = 0; r < m; r++) {
    const row = <usize>r * rowBytes;
    let k = 0;
    for (; k < c4; k += 4) {
      const o = <usize>k << 2;
      let y = f32x4.add(
        f32x4.mul(f32x4.sub(v128.load(x + row + o), v128.load(mean + o)), v128.load(u + o)),
        v128.load(w + o),
      );
      if (withDy) y = f32x4.add(y, f32x4.mul(v128.load(dy + row + o), v128.load(v + o)));
      v128.store(out + row + o, y);
    }
    for (; k < c; k++) {
      const o = <usize>k << 2;
      let y = (load<f32>(x + row + o) - load<f32>(mean + o)) * load<f32>(u + o) + load<f32>(w + o);
      if (withDy) y += load<f32>(dy + row + o) * load<f32>(v + o);
      store<f32>(out + row + o, y);
    }
  }
}

export function centredAffine(
  out: usize,
  x: usize,
  mean: usize,
  u: usize,
  dy: usize,
  v: usize,
  w: usize,
  m: i32,
  c: i32,
): void {
  if (dy === 0) affineLoop(out, x, mean, u, 0, 0, w, m, c, false);
  else affineLoop(out, x, mean, u, dy, v, w, m, c, true);
}

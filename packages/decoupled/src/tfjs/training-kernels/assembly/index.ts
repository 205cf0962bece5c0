/**
 * SIMD loops for the fused training kernels (AssemblyScript, v128), compiled by
 * scripts/build-kernels.mjs into src/tfjs/training-kernels/generated/wasm.ts and instantiated on
 * tfjs-backend-wasm's own memory, so pointers are the backend's tensor offsets (bytes).
 *
 * Layout: [m, c] row-major float32 (channels last). Per-channel sums go to float64 accumulators
 * (2c doubles at `acc`) so that a million-element reduction loses nothing to float32 rounding:
 *   channelSums:   acc[k] = sum_r a[r,k],  acc[c + k] = sum_r a[r,k] (b[r,k] - shift[k])
 *   centredAffine: out[r,k] = (x[r,k] - mean[k]) u[k] + dy[r,k] v[k] + w[k]   (dy = 0: no middle term)
 *
 * Threads (../simd.ts): the exports that take a range [start, end) of independent outputs (output
 * channels, output rows) compute exactly those outputs, each by the same float operations in the
 * same order as a call over the whole range, so any split gives the bits of one thread. The module
 * keeps nothing in linear memory (no data segments, no shadow stack; globals are per instance), so
 * worker threads instantiate it on tfjs-backend-wasm's shared memory without touching its heap.
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

// ---------------------------------------------------------------------------------------------
// Conv2D filter gradient, NHWC, no transposes and no im2col:
//   dw[i, j, a, c] = sum_{b, o, q} x[b, o*sh - top + i, q*sw - left + j, a] dy[b, o, q, c]
// Output row by output row (b, o), so the few input rows a row touches stay in L1; for each tap
// (i, j) a register tile of 4 input channels x 8 output channels accumulates over the row's
// in-bounds pixels q and is added to dw (float32, as XNNPACK). Requires co % 4 == 0; a ci or co
// remainder runs 1 x 4 tiles, whose lanes do the same operations as the 4 x 8 tile's. Only taps
// [t0, t1) (t = i*kw + j) and input channels [a0, a1) are computed (a0 a multiple of 4): blocks of
// input channels are whole rows of dw, which threads do not share (output channels would share
// cache lines).

@inline
function splatAt(p: usize): v128 {
  return f32x4.splat(load<f32>(p));
}

/** dw[a0..a0+4, c0..c0+8] += sum over q of x[q, a0..a0+4]^T dy[q, c0..c0+8]. */
@inline
function tile4x8(xp: usize, dp: usize, xStep: usize, dStep: usize, count: i32, out: usize, outRow: usize): void {
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
  let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
  for (let q = 0; q < count; q++) {
    const d0 = v128.load(dp);
    const d1 = v128.load(dp, 16);
    const x0 = splatAt(xp);
    const x1 = splatAt(xp + 4);
    const x2 = splatAt(xp + 8);
    const x3 = splatAt(xp + 12);
    s00 = f32x4.add(s00, f32x4.mul(x0, d0));
    s01 = f32x4.add(s01, f32x4.mul(x0, d1));
    s10 = f32x4.add(s10, f32x4.mul(x1, d0));
    s11 = f32x4.add(s11, f32x4.mul(x1, d1));
    s20 = f32x4.add(s20, f32x4.mul(x2, d0));
    s21 = f32x4.add(s21, f32x4.mul(x2, d1));
    s30 = f32x4.add(s30, f32x4.mul(x3, d0));
    s31 = f32x4.add(s31, f32x4.mul(x3, d1));
    xp += xStep;
    dp += dStep;
  }
  v128.store(out, f32x4.add(v128.load(out), s00));
  v128.store(out, f32x4.add(v128.load(out, 16), s01), 16);
  out += outRow;
  v128.store(out, f32x4.add(v128.load(out), s10));
  v128.store(out, f32x4.add(v128.load(out, 16), s11), 16);
  out += outRow;
  v128.store(out, f32x4.add(v128.load(out), s20));
  v128.store(out, f32x4.add(v128.load(out, 16), s21), 16);
  out += outRow;
  v128.store(out, f32x4.add(v128.load(out), s30));
  v128.store(out, f32x4.add(v128.load(out, 16), s31), 16);
}

/** dw[a, c0..c0+4] += sum over q of x[q, a] dy[q, c0..c0+4]. */
@inline
function tile1x4(xp: usize, dp: usize, xStep: usize, dStep: usize, count: i32, out: usize): void {
  let s = f32x4.splat(0);
  for (let q = 0; q < count; q++) {
    s = f32x4.add(s, f32x4.mul(splatAt(xp), v128.load(dp)));
    xp += xStep;
    dp += dStep;
  }
  v128.store(out, f32x4.add(v128.load(out), s));
}

export function convFilterGrad(
  x: usize,
  dy: usize,
  dw: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  ho: i32,
  wo: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  top: i32,
  left: i32,
  t0: i32,
  t1: i32,
  a0: i32,
  a1: i32,
): void {
  for (let t = t0; t < t1; t++) {
    memory.fill(dw + (<usize>((t * ci + a0) * co) << 2), 0, <usize>((a1 - a0) * co) << 2);
  }
  const co8 = co & ~7;
  const xStep = <usize>(sw * ci) << 2;
  const dStep = <usize>co << 2;
  const outRow = <usize>co << 2;
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      const dRow = dy + (<usize>((b * ho + o) * wo * co) << 2);
      for (let i = 0; i < kh; i++) {
        const r = o * sh - top + i;
        if (r < 0 || r >= h) continue;
        const xRow = x + (<usize>((b * h + r) * w * ci) << 2);
        for (let j = 0; j < kw; j++) {
          if (i * kw + j < t0 || i * kw + j >= t1) continue;
          // In-bounds q: 0 <= q*sw - left + j < w.
          const lo = j >= left ? 0 : (left - j + sw - 1) / sw;
          let hi = (w - 1 + left - j) / sw + 1;
          if (w - 1 + left - j < 0) hi = 0;
          if (hi > wo) hi = wo;
          const count = hi - lo;
          if (count <= 0) continue;
          const xp0 = xRow + (<usize>((lo * sw - left + j) * ci) << 2);
          const dp0 = dRow + (<usize>(lo * co) << 2);
          const tap = dw + (<usize>((i * kw + j) * ci * co) << 2);
          let a = a0;
          for (; a + 4 <= a1; a += 4) {
            const out = tap + (<usize>(a * co) << 2);
            let c = 0;
            for (; c < co8; c += 8) {
              tile4x8(xp0 + (<usize>a << 2), dp0 + (<usize>c << 2), xStep, dStep, count, out + (<usize>c << 2), outRow);
            }
            for (; c < co; c += 4) {
              for (let k = 0; k < 4; k++) {
                tile1x4(xp0 + (<usize>(a + k) << 2), dp0 + (<usize>c << 2), xStep, dStep, count, out + (<usize>(k * co + c) << 2));
              }
            }
          }
          for (; a < a1; a++) {
            const out = tap + (<usize>(a * co) << 2);
            for (let c = 0; c < co; c += 4) {
              tile1x4(xp0 + (<usize>a << 2), dp0 + (<usize>c << 2), xStep, dStep, count, out + (<usize>c << 2));
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conv2D forward, NHWC, dilation 1 (also the stride-1 input gradient: a conv of dy with the
// flipped filter):
//   y[b, o, q, c] = sum_{i, j, a} x[b, o*sh - top + i, q*sw - left + j, a] w[i, j, a, c]
// Register tiles of 4 output pixels x 8 output channels over every tap and input channel; pixels
// whose window crosses the left or right border run one at a time with per-tap bounds checks.
// Requires co % 4 == 0. Only output rows [rowStart, rowEnd) of the N*Ho rows (b, o) are computed.

let gH: i32 = 0;
let gW: i32 = 0;
let gCi: i32 = 0;
let gCo: i32 = 0;
let gKh: i32 = 0;
let gKw: i32 = 0;
let gSw: i32 = 0;
let gLeft: i32 = 0;

/** Four adjacent output pixels (all taps in bounds horizontally), channels c0..c0+4*(1|2). */
@inline
function convTile4(xRow: usize, wTap: usize, iLo: i32, iHi: i32, out: usize, two: bool): void {
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
  let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
  const pix = <usize>(gSw * gCi) << 2;
  const wStep = <usize>gCo << 2;
  const xRowBytes = <usize>(gW * gCi) << 2;
  const wRowBytes = <usize>(gKw * gCi * gCo) << 2;
  for (let i = iLo; i < iHi; i++) {
    let xp = xRow + <usize>i * xRowBytes;
    let wp = wTap + <usize>i * wRowBytes;
    const n = gKw * gCi; // taps j and channels a are contiguous in both x (one row) and w
    for (let k = 0; k < n; k++) {
      const d0 = v128.load(wp);
      const x0 = splatAt(xp);
      const x1 = splatAt(xp + pix);
      const x2 = splatAt(xp + 2 * pix);
      const x3 = splatAt(xp + 3 * pix);
      s00 = f32x4.add(s00, f32x4.mul(x0, d0));
      s10 = f32x4.add(s10, f32x4.mul(x1, d0));
      s20 = f32x4.add(s20, f32x4.mul(x2, d0));
      s30 = f32x4.add(s30, f32x4.mul(x3, d0));
      if (two) {
        const d1 = v128.load(wp, 16);
        s01 = f32x4.add(s01, f32x4.mul(x0, d1));
        s11 = f32x4.add(s11, f32x4.mul(x1, d1));
        s21 = f32x4.add(s21, f32x4.mul(x2, d1));
        s31 = f32x4.add(s31, f32x4.mul(x3, d1));
      }
      xp += 4;
      wp += wStep;
    }
  }
  const outPix = <usize>gCo << 2;
  v128.store(out, s00);
  v128.store(out + outPix, s10);
  v128.store(out + 2 * outPix, s20);
  v128.store(out + 3 * outPix, s30);
  if (two) {
    v128.store(out, s01, 16);
    v128.store(out + outPix, s11, 16);
    v128.store(out + 2 * outPix, s21, 16);
    v128.store(out + 3 * outPix, s31, 16);
  }
}

/** One output pixel whose first tap column is col0 (may be out of bounds), bounds-checked. */
@inline
function convTile1(xRow: usize, wTap: usize, iLo: i32, iHi: i32, col0: i32, out: usize, two: bool): void {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  const wStep = <usize>gCo << 2;
  const xRowBytes = <usize>(gW * gCi) << 2;
  const wRowBytes = <usize>(gKw * gCi * gCo) << 2;
  const jLo = col0 < 0 ? -col0 : 0;
  const jHi = gW - col0 < gKw ? gW - col0 : gKw;
  for (let i = iLo; i < iHi; i++) {
    for (let j = jLo; j < jHi; j++) {
      let xp = xRow + <usize>i * xRowBytes + (<usize>((col0 + gLeft + j) * gCi) << 2);
      let wp = wTap + <usize>i * wRowBytes + (<usize>(j * gCi * gCo) << 2);
      for (let a = 0; a < gCi; a++) {
        const xv = splatAt(xp);
        s0 = f32x4.add(s0, f32x4.mul(xv, v128.load(wp)));
        if (two) s1 = f32x4.add(s1, f32x4.mul(xv, v128.load(wp, 16)));
        xp += 4;
        wp += wStep;
      }
    }
  }
  v128.store(out, s0);
  if (two) v128.store(out, s1, 16);
}

@inline
function convRow(y: usize, x: usize, w: usize, b: i32, o: i32, ho: i32, wo: i32, sh: i32, top: i32, c: i32, two: bool): void {
  const r0 = o * sh - top;
  const iLo = r0 < 0 ? -r0 : 0;
  const iHi = gH - r0 < gKh ? gH - r0 : gKh;
  // x row r0 (possibly out of bounds: only rows iLo..iHi are read), first tap column -left.
  const xRow = x + (<usize>(((b * gH + r0) * gW - gLeft) * gCi) << 2);
  const wTap = w + (<usize>c << 2);
  const yRow = y + (<usize>(((b * ho + o) * wo) * gCo + c) << 2);
  // Pixels q with all taps in bounds: q*sw >= left and q*sw - left + kw <= w.
  let qIn = (gLeft + gSw - 1) / gSw;
  let qEnd = gW - gKw + gLeft < 0 ? 0 : (gW - gKw + gLeft) / gSw + 1;
  if (qEnd > wo) qEnd = wo;
  if (qIn > qEnd) qIn = qEnd;
  const outPix = <usize>gCo << 2;
  const pix = <usize>(gSw * gCi) << 2;
  let q = 0;
  for (; q < qIn; q++) {
    convTile1(xRow, wTap, iLo, iHi, q * gSw - gLeft, yRow + <usize>q * outPix, two);
  }
  for (; q + 4 <= qEnd; q += 4) {
    convTile4(xRow + <usize>q * pix, wTap, iLo, iHi, yRow + <usize>q * outPix, two);
  }
  for (; q < wo; q++) {
    convTile1(xRow, wTap, iLo, iHi, q * gSw - gLeft, yRow + <usize>q * outPix, two);
  }
}

export function conv2d(
  x: usize,
  w: usize,
  y: usize,
  n: i32,
  h: i32,
  wIn: i32,
  ci: i32,
  ho: i32,
  wo: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  top: i32,
  left: i32,
  rowStart: i32,
  rowEnd: i32,
): void {
  gH = h;
  gW = wIn;
  gCi = ci;
  gCo = co;
  gKh = kh;
  gKw = kw;
  gSw = sw;
  gLeft = left;
  const co8 = co & ~7;
  for (let row = rowStart; row < rowEnd; row++) {
    const b = row / ho;
    const o = row % ho;
    let c = 0;
    for (; c < co8; c += 8) convRow(y, x, w, b, o, ho, wo, sh, top, c, true);
    for (; c < co; c += 4) convRow(y, x, w, b, o, ho, wo, sh, top, c, false);
  }
}

// ---------------------------------------------------------------------------------------------
// col2im for the input gradient (NHWC): dx[b, o*sh - top + i, q*sw - left + j, a] +=
// cols[(b, o, q), (i*kw + j)*ci + a], summed over every pixel and in-bounds tap; dx is overwritten.
// Only dx rows [rowStart, rowEnd) of the N*H rows (b, r) are written: the pixels (o, q) whose taps
// reach them are visited in the same order as for all rows, so each sum runs in the same order.

export function col2im(
  cols: usize,
  dx: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  ho: i32,
  wo: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  top: i32,
  left: i32,
  rowStart: i32,
  rowEnd: i32,
): void {
  memory.fill(dx + (<usize>(rowStart * w * ci) << 2), 0, <usize>((rowEnd - rowStart) * w * ci) << 2);
  const ci4 = ci & ~3;
  const k = kh * kw * ci;
  for (let b = rowStart / h; b < n && b * h < rowEnd; b++) {
    // This image's rows in the range, and the output rows o whose taps o*sh - top + i reach them.
    const rLo = rowStart > b * h ? rowStart - b * h : 0;
    const rHi = rowEnd - b * h < h ? rowEnd - b * h : h;
    const first = rLo + top - kh + 1;
    const oLo = first <= 0 ? 0 : (first + sh - 1) / sh;
    let oHi = (rHi - 1 + top) / sh + 1;
    if (oHi > ho) oHi = ho;
    for (let o = oLo; o < oHi; o++) {
      for (let q = 0; q < wo; q++) {
        const src = cols + (<usize>(((b * ho + o) * wo + q) * k) << 2);
        for (let i = 0; i < kh; i++) {
          const r = o * sh - top + i;
          if (r < rLo || r >= rHi) continue;
          for (let j = 0; j < kw; j++) {
            const col = q * sw - left + j;
            if (col < 0 || col >= w) continue;
            const dst = dx + (<usize>(((b * h + r) * w + col) * ci) << 2);
            const from = src + (<usize>((i * kw + j) * ci) << 2);
            let a = 0;
            for (; a < ci4; a += 4) {
              const o4 = <usize>a << 2;
              v128.store(dst + o4, f32x4.add(v128.load(dst + o4), v128.load(from + o4)));
            }
            for (; a < ci; a++) {
              const o1 = <usize>a << 2;
              store<f32>(dst + o1, load<f32>(dst + o1) + load<f32>(from + o1));
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ReLU gradient in one pass: dx = x > 0 ? dy : 0 (tfjs: dy * step(x)).

export function reluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  const end4 = <usize>(n & ~3) << 2;
  const zero = f32x4.splat(0);
  let o: usize = 0;
  for (; o < end4; o += 16) {
    v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(x + o), zero)));
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) store<f32>(dx + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0);
}

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad for the unpadded 2x2 stride-2 pool, NHWC: each window's first maximum in row-major
// order gets dy, the others 0; as in tfjs's cpu backend the running maximum starts at -Infinity and
// an element wins only if strictly greater, so NaN never wins (an all-NaN window gets nothing). Windows are disjoint; dx rows and columns outside every window (odd h or w) are zeroed.

export function maxPoolGrad2x2(x: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32): void {
  memory.fill(dx, 0, <usize>(n * h * w * c) << 2);
  const c4 = c & ~3;
  const colStep = <usize>c << 2;
  const rowStep = <usize>(w * c) << 2;
  const negInf = f32x4.splat(-Infinity);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < ho; o++) {
      for (let q = 0; q < wo; q++) {
        const p00 = <usize>(((b * h + 2 * o) * w + 2 * q) * c) << 2;
        const g = dy + (<usize>(((b * ho + o) * wo + q) * c) << 2);
        let k = 0;
        for (; k < c4; k += 4) {
          const off = p00 + (<usize>k << 2);
          const v00 = v128.load(x + off);
          const v01 = v128.load(x + off + colStep);
          const v10 = v128.load(x + off + rowStep);
          const v11 = v128.load(x + off + rowStep + colStep);
          const s00 = f32x4.gt(v00, negInf);
          let best = v128.bitselect(v00, negInf, s00);
          const s01 = f32x4.gt(v01, best);
          best = v128.bitselect(v01, best, s01);
          const s10 = f32x4.gt(v10, best);
          best = v128.bitselect(v10, best, s10);
          const s11 = f32x4.gt(v11, best);
          const gv = v128.load(g + (<usize>k << 2));
          const w11 = s11;
          const w10 = v128.andnot(s10, s11);
          const w01 = v128.andnot(v128.andnot(s01, s10), s11);
          const w00 = v128.andnot(s00, v128.or(v128.or(s01, s10), s11));
          v128.store(dx + off, v128.and(gv, w00));
          v128.store(dx + off + colStep, v128.and(gv, w01));
          v128.store(dx + off + rowStep, v128.and(gv, w10));
          v128.store(dx + off + rowStep + colStep, v128.and(gv, w11));
        }
        for (; k < c; k++) {
          const off = p00 + (<usize>k << 2);
          let at: usize = -1;
          let best = -Infinity;
          if (load<f32>(x + off) > best) {
            at = off;
            best = load<f32>(x + at);
          }
          if (load<f32>(x + off + colStep) > best) {
            at = off + colStep;
            best = load<f32>(x + at);
          }
          if (load<f32>(x + off + rowStep) > best) {
            at = off + rowStep;
            best = load<f32>(x + at);
          }
          if (load<f32>(x + off + rowStep + colStep) > best) at = off + rowStep + colStep;
          if (at !== <usize>-1) store<f32>(dx + at, load<f32>(g + (<usize>k << 2)));
        }
      }
    }
  }
}

/**
 * Fused one-pass optimizer kernels in AssemblyScript (v128 SIMD), compiled by
 * scripts/build-kernels.mjs. Each kernel reads and writes every tensor once. The math and the order
 * of float32 operations are those of src/core/kernels.ts (PyTorch's single-tensor loops), with no
 * fused multiply-add, so the results agree bit for bit:
 *   Adam:  theta *= decay; g = (+-g) + l2 theta; m = b1 m + (1-b1) g; v = b2 v + ((1-b2) g) g;
 *          vmax = max(vmax, v); theta += (-stepSize m) / (sqrt(v or vmax) / bc2Sqrt + eps)
 *   SGD:   theta *= decay; g = (+-g) + l2 theta; b = first ? g : mu b + (1-damp) g;
 *          d = nesterov ? g + mu b : b; theta += -lr d
 *   Schedule-free (y = the param): g = +-g; [v = b2 v + ((1-b2) g) g; g = g / (sqrt(v / bc2) + eps)];
 *          g = g + wd y; y = lerp(y, z, c) + yStep g; z = z + (-lr) g
 * One exception to "same operations": the SIMD loops compute sqrt(v) / bc2Sqrt (Adam) and v / bc2
 * (schedule-free) as f32(f64(x) * f64(1 / y)), which frees the divider (the loop's bottleneck,
 * about 10% here) and gives the same float32 as the division for every float32 x when the scalar
 * y is in [2^-126, 1] (reciprocalExact, src/kernels/abi.ts; callers run the reference loop
 * otherwise). Why, for x = X 2^a and y = Y 2^b with integers X < 2^24 (x subnormal included) and
 * Y in [2^23, 2^24), so b <= -23:
 * - normal quotient: a float32 rounding midpoint is m = M 2^c with M odd in (2^24, 2^25) (the
 *   overflow threshold included); x / y = m would need odd(X) = M odd(Y) > 2^24, so the numerator
 *   of x / y - m = (X 2^a - M Y 2^(b+c)) / (Y 2^b) is a nonzero multiple of 2^(b+c) (b + c < a),
 *   and |x / y - m| >= 2^-49 m;
 * - subnormal quotient (below 2^-126, possible for a subnormal x): m = M 2^-150 with M odd; x / y = m
 *   would need y = 2X / M, a float32 <= 1, which is impossible (M divides X, so y >= 2), and
 *   |x / y - m| = 2^-150 |2X 2^-b - M Y| / Y >= 2^-174 > 2^-48 x / y.
 * The two f64 roundings (1 / y, then the product) move the quotient by less than 2^-51 relative, so
 * it stays on the same side of every midpoint. test/kernels/kernels.test.ts checks it
 * property-based, subnormal quotients and near-midpoint cases included.
 * CAUTIOUS (cautious weight decay, arXiv 2510.12402): the decay factor applies only where the step
 * direction u (Adam: m; SGD: d) and the old theta agree in sign, u theta >= 0; elsewhere theta keeps
 * its undecayed value. Same test as the reference: u == 0 or theta == 0 or equal sign bits.
 * Weight averaging and gradient accumulation (src/core/ema.ts, src/core/accumulate.ts), in place:
 *   emaUpdate:        e = d e + c theta          accumulateAdd:  s = s + g
 *   accumulateMean:   out = (s + g) / k
 * each operation a float32 one, as the core's loops round them.
 * Pointers are byte offsets into the (imported) memory; a kernel touches [ptr, ptr + 4n) only, so
 * threads may run disjoint ranges of the same tensors at once.
 */

// Flag bits shared with src/kernels/wasm.ts.
const MAXIMIZE: i32 = 1;
const AMSGRAD: i32 = 2;
const L2: i32 = 4;
const MOMENTUM: i32 = 8;
const NESTEROV: i32 = 16;
const FIRST_STEP: i32 = 32;
const CAUTIOUS: i32 = 64;
const SECOND_MOMENT: i32 = 128;
const DECAY: i32 = 256;
const LERP_HIGH: i32 = 512;

/** Lanes where u theta >= 0 (u or theta zero, or the same sign bit): cautious decay applies. */
@inline
function cautiousMask(u: v128, theta: v128): v128 {
  const zero = f32x4.splat(0);
  const sameSign = i32x4.ge_s(v128.xor(u, theta), i32x4.splat(0));
  return v128.or(sameSign, v128.or(f32x4.eq(u, zero), f32x4.eq(theta, zero)));
}

/** The scalar form of cautiousMask. */
@inline
function cautiousLane(u: f32, theta: f32): bool {
  return u == 0 || theta == 0 || (u < 0) == (theta < 0);
}

// @inline + constant flags: Binaryen folds the branches, giving one straight loop per variant.
@inline
function adamLoop(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vmax: usize,
  n: i32,
  decay: f32,
  l2: f32,
  beta1: f32,
  omb1: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  negStep: f32,
  sign: u32,
  useL2: bool,
  ams: bool,
  cautious: bool,
): void {
  const vDecay = f32x4.splat(decay);
  const vL2 = f32x4.splat(l2);
  const vB1 = f32x4.splat(beta1);
  const vOmb1 = f32x4.splat(omb1);
  const vB2 = f32x4.splat(beta2);
  const vOmb2 = f32x4.splat(omb2);
  const vInvBc2 = f64x2.splat(1.0 / <f64>bc2); // see the module comment
  const vEps = f32x4.splat(eps);
  const vNeg = f32x4.splat(negStep);
  const vSign = i32x4.splat(sign);
  // Two v128 blocks (8 elements) per iteration, the second a copy of the first at o2 = o + 16: V8
  // keeps only 16 xmm registers, reloads spilled constants and checks for interrupts once per
  // iteration, and this amortizes that (1.10-1.15x on Zen 4, docs/kernels.md). Binaryen did not
  // keep the variants specialized with the block in an @inline helper, hence the copy.
  // The scalar loop below takes the last n % 8 elements.
  const end8 = <usize>(n & ~7) << 2;
  let o: usize = 0;
  for (; o < end8; o += 32) {
    {
      const raw = v128.load(p + o);
      let theta = f32x4.mul(raw, vDecay);
      let grad = v128.xor(v128.load(g + o), vSign);
      if (useL2) grad = f32x4.add(grad, f32x4.mul(vL2, theta));
      const mi = f32x4.add(f32x4.mul(v128.load(m + o), vB1), f32x4.mul(vOmb1, grad));
      if (cautious) theta = v128.bitselect(theta, raw, cautiousMask(mi, raw));
      const vi = f32x4.add(f32x4.mul(v128.load(v + o), vB2), f32x4.mul(f32x4.mul(vOmb2, grad), grad));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      let second = vi;
      if (ams) {
        // pmax(a, b) = a < b ? b : a, i.e. the reference's `vmax > v ? vmax : v` (NaN keeps v).
        second = f32x4.pmax(vi, v128.load(vmax + o));
        v128.store(vmax + o, second);
      }
      const denom = f32x4.add(divByReciprocal(f32x4.sqrt(second), vInvBc2), vEps);
      theta = f32x4.add(theta, f32x4.div(f32x4.mul(vNeg, mi), denom));
      v128.store(p + o, theta);
    }
    {
      const o2 = o + 16;
      const raw = v128.load(p + o2);
      let theta = f32x4.mul(raw, vDecay);
      let grad = v128.xor(v128.load(g + o2), vSign);
      if (useL2) grad = f32x4.add(grad, f32x4.mul(vL2, theta));
      const mi = f32x4.add(f32x4.mul(v128.load(m + o2), vB1), f32x4.mul(vOmb1, grad));
      if (cautious) theta = v128.bitselect(theta, raw, cautiousMask(mi, raw));
      const vi = f32x4.add(f32x4.mul(v128.load(v + o2), vB2), f32x4.mul(f32x4.mul(vOmb2, grad), grad));
      v128.store(m + o2, mi);
      v128.store(v + o2, vi);
      let second = vi;
      if (ams) {
        second = f32x4.pmax(vi, v128.load(vmax + o2));
        v128.store(vmax + o2, second);
      }
      const denom = f32x4.add(divByReciprocal(f32x4.sqrt(second), vInvBc2), vEps);
      theta = f32x4.add(theta, f32x4.div(f32x4.mul(vNeg, mi), denom));
      v128.store(p + o2, theta);
    }
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) {
    const raw = load<f32>(p + o);
    let theta = raw * decay;
    let grad = reinterpret<f32>(load<u32>(g + o) ^ sign);
    if (useL2) grad = grad + l2 * theta;
    const mi = load<f32>(m + o) * beta1 + omb1 * grad;
    if (cautious && !cautiousLane(mi, raw)) theta = raw;
    const vi = load<f32>(v + o) * beta2 + omb2 * grad * grad;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    let second = vi;
    if (ams) {
      const old = load<f32>(vmax + o);
      second = old > vi ? old : vi;
      store<f32>(vmax + o, second);
    }
    const denom = Mathf.sqrt(second) / bc2 + eps;
    store<f32>(p + o, theta + (negStep * mi) / denom);
  }
}

@inline
function adamVariants(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vmax: usize,
  n: i32,
  decay: f32,
  l2: f32,
  beta1: f32,
  omb1: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  negStep: f32,
  sign: u32,
  flags: i32,
  cautious: bool,
): void {
  const useL2 = (flags & L2) != 0;
  const ams = (flags & AMSGRAD) != 0;
  if (useL2) {
    if (ams) adamLoop(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, true, true, cautious);
    else adamLoop(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, true, false, cautious);
  } else {
    if (ams) adamLoop(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, false, true, cautious);
    else adamLoop(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, false, false, cautious);
  }
}

/** One Adam-family step over n elements; flags: MAXIMIZE | AMSGRAD | L2 | CAUTIOUS. */
export function adam(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vmax: usize,
  n: i32,
  decay: f32,
  l2: f32,
  beta1: f32,
  omb1: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  negStep: f32,
  flags: i32,
): void {
  const sign: u32 = flags & MAXIMIZE ? 0x80000000 : 0;
  if (flags & CAUTIOUS) adamVariants(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, flags, true);
  else adamVariants(p, g, m, v, vmax, n, decay, l2, beta1, omb1, beta2, omb2, bc2, eps, negStep, sign, flags, false);
}

@inline
function sgdLoop(
  p: usize,
  g: usize,
  buf: usize,
  n: i32,
  decay: f32,
  l2: f32,
  momentum: f32,
  omd: f32,
  negLr: f32,
  sign: u32,
  useL2: bool,
  useMomentum: bool,
  first: bool,
  nesterov: bool,
  cautious: bool,
): void {
  const vDecay = f32x4.splat(decay);
  const vL2 = f32x4.splat(l2);
  const vMu = f32x4.splat(momentum);
  const vOmd = f32x4.splat(omd);
  const vNeg = f32x4.splat(negLr);
  const vSign = i32x4.splat(sign);
  const end4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) {
    const raw = v128.load(p + o);
    let theta = f32x4.mul(raw, vDecay);
    let grad = v128.xor(v128.load(g + o), vSign);
    if (useL2) grad = f32x4.add(grad, f32x4.mul(vL2, theta));
    let d = grad;
    if (useMomentum) {
      const b = first
        ? grad
        : f32x4.add(f32x4.mul(v128.load(buf + o), vMu), f32x4.mul(vOmd, grad));
      v128.store(buf + o, b);
      d = nesterov ? f32x4.add(grad, f32x4.mul(vMu, b)) : b;
    }
    if (cautious) theta = v128.bitselect(theta, raw, cautiousMask(d, raw));
    v128.store(p + o, f32x4.add(theta, f32x4.mul(vNeg, d)));
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) {
    const raw = load<f32>(p + o);
    let theta = raw * decay;
    let grad = reinterpret<f32>(load<u32>(g + o) ^ sign);
    if (useL2) grad = grad + l2 * theta;
    let d = grad;
    if (useMomentum) {
      const b = first ? grad : load<f32>(buf + o) * momentum + omd * grad;
      store<f32>(buf + o, b);
      d = nesterov ? grad + momentum * b : b;
    }
    if (cautious && !cautiousLane(d, raw)) theta = raw;
    store<f32>(p + o, theta + negLr * d);
  }
}

@inline
function sgdMomentum(
  p: usize,
  g: usize,
  buf: usize,
  n: i32,
  decay: f32,
  l2: f32,
  momentum: f32,
  omd: f32,
  negLr: f32,
  sign: u32,
  useL2: bool,
  flags: i32,
  cautious: bool,
): void {
  const first = (flags & FIRST_STEP) != 0;
  const nesterov = (flags & NESTEROV) != 0;
  if (first) {
    if (nesterov) sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, useL2, true, true, true, cautious);
    else sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, useL2, true, true, false, cautious);
  } else {
    if (nesterov) sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, useL2, true, false, true, cautious);
    else sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, useL2, true, false, false, cautious);
  }
}

@inline
function sgdVariants(
  p: usize,
  g: usize,
  buf: usize,
  n: i32,
  decay: f32,
  l2: f32,
  momentum: f32,
  omd: f32,
  negLr: f32,
  sign: u32,
  flags: i32,
  cautious: bool,
): void {
  const useL2 = (flags & L2) != 0;
  if (flags & MOMENTUM) {
    if (useL2) sgdMomentum(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, true, flags, cautious);
    else sgdMomentum(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, false, flags, cautious);
  } else {
    if (useL2) sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, true, false, false, false, cautious);
    else sgdLoop(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, false, false, false, false, cautious);
  }
}

/**
 * One SGD-family step over n elements; flags: MAXIMIZE | L2 | MOMENTUM | NESTEROV | FIRST_STEP |
 * CAUTIOUS.
 */
export function sgd(
  p: usize,
  g: usize,
  buf: usize,
  n: i32,
  decay: f32,
  l2: f32,
  momentum: f32,
  omd: f32,
  negLr: f32,
  flags: i32,
): void {
  const sign: u32 = flags & MAXIMIZE ? 0x80000000 : 0;
  if (flags & CAUTIOUS) sgdVariants(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, flags, true);
  else sgdVariants(p, g, buf, n, decay, l2, momentum, omd, negLr, sign, flags, false);
}

/** f32(f64(x) * invY) lane by lane: x / y for y in [2^-126, 1] (see the module comment). */
@inline
function divByReciprocal(x: v128, invY: v128): v128 {
  const lo = f64x2.mul(f64x2.promote_low_f32x4(x), invY);
  const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3)), invY);
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/**
 * PyTorch 1.13's lerp(a, b, c), the form chosen by the flag: a + c (b - a) when c < 0.5, else
 * b - (b - a) (1 - c).
 */
@inline
function lerp4(a: v128, b: v128, vC: v128, vOmc: v128, high: bool): v128 {
  const diff = f32x4.sub(b, a);
  return high ? f32x4.sub(b, f32x4.mul(diff, vOmc)) : f32x4.add(a, f32x4.mul(vC, diff));
}

@inline
function scheduleFreeLoop(
  y: usize,
  g: usize,
  z: usize,
  v: usize,
  n: i32,
  wd: f32,
  c: f32,
  omc: f32,
  yStep: f32,
  negLr: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  sign: u32,
  adam: bool,
  decay: bool,
  high: bool,
): void {
  const vWd = f32x4.splat(wd);
  const vC = f32x4.splat(c);
  const vOmc = f32x4.splat(omc);
  const vYStep = f32x4.splat(yStep);
  const vNeg = f32x4.splat(negLr);
  const vB2 = f32x4.splat(beta2);
  const vOmb2 = f32x4.splat(omb2);
  const vInvBc2 = f64x2.splat(1.0 / <f64>bc2);
  const vEps = f32x4.splat(eps);
  const vSign = i32x4.splat(sign);
  // Two v128 blocks per iteration, written out as in adamLoop (and for the same reason).
  const end8 = <usize>(n & ~7) << 2;
  let o: usize = 0;
  for (; o < end8; o += 32) {
    {
      let grad = v128.xor(v128.load(g + o), vSign);
      if (adam) {
        const vi = f32x4.add(f32x4.mul(v128.load(v + o), vB2), f32x4.mul(f32x4.mul(vOmb2, grad), grad));
        v128.store(v + o, vi);
        grad = f32x4.div(grad, f32x4.add(f32x4.sqrt(divByReciprocal(vi, vInvBc2)), vEps));
      }
      const yi = v128.load(y + o);
      if (decay) grad = f32x4.add(grad, f32x4.mul(vWd, yi));
      const zi = v128.load(z + o);
      v128.store(y + o, f32x4.add(lerp4(yi, zi, vC, vOmc, high), f32x4.mul(vYStep, grad)));
      v128.store(z + o, f32x4.add(zi, f32x4.mul(vNeg, grad)));
    }
    {
      const o2 = o + 16;
      let grad = v128.xor(v128.load(g + o2), vSign);
      if (adam) {
        const vi = f32x4.add(f32x4.mul(v128.load(v + o2), vB2), f32x4.mul(f32x4.mul(vOmb2, grad), grad));
        v128.store(v + o2, vi);
        grad = f32x4.div(grad, f32x4.add(f32x4.sqrt(divByReciprocal(vi, vInvBc2)), vEps));
      }
      const yi = v128.load(y + o2);
      if (decay) grad = f32x4.add(grad, f32x4.mul(vWd, yi));
      const zi = v128.load(z + o2);
      v128.store(y + o2, f32x4.add(lerp4(yi, zi, vC, vOmc, high), f32x4.mul(vYStep, grad)));
      v128.store(z + o2, f32x4.add(zi, f32x4.mul(vNeg, grad)));
    }
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) {
    let grad = reinterpret<f32>(load<u32>(g + o) ^ sign);
    if (adam) {
      const vi = load<f32>(v + o) * beta2 + omb2 * grad * grad;
      store<f32>(v + o, vi);
      grad = grad / (Mathf.sqrt(vi / bc2) + eps);
    }
    const yi = load<f32>(y + o);
    if (decay) grad = grad + wd * yi;
    const zi = load<f32>(z + o);
    const l = high ? zi - (zi - yi) * omc : yi + c * (zi - yi);
    store<f32>(y + o, l + yStep * grad);
    store<f32>(z + o, zi + negLr * grad);
  }
}

// The flags become constants through these @inline levels (as in adamVariants): passing them to
// one loop as runtime values measured 0.70-0.81x (docs/kernels.md, "Schedule-free").
@inline
function scheduleFreeLerp(
  y: usize,
  g: usize,
  z: usize,
  v: usize,
  n: i32,
  wd: f32,
  c: f32,
  omc: f32,
  yStep: f32,
  negLr: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  sign: u32,
  adam: bool,
  decay: bool,
  flags: i32,
): void {
  if (flags & LERP_HIGH) scheduleFreeLoop(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, adam, decay, true);
  else scheduleFreeLoop(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, adam, decay, false);
}

@inline
function scheduleFreeDecay(
  y: usize,
  g: usize,
  z: usize,
  v: usize,
  n: i32,
  wd: f32,
  c: f32,
  omc: f32,
  yStep: f32,
  negLr: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  sign: u32,
  adam: bool,
  flags: i32,
): void {
  if (flags & DECAY) scheduleFreeLerp(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, adam, true, flags);
  else scheduleFreeLerp(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, adam, false, flags);
}

/**
 * One schedule-free step over n elements (y the param, z its base sequence, v Adam's second
 * moment); flags: MAXIMIZE | SECOND_MOMENT | DECAY | LERP_HIGH.
 */
export function scheduleFree(
  y: usize,
  g: usize,
  z: usize,
  v: usize,
  n: i32,
  wd: f32,
  c: f32,
  omc: f32,
  yStep: f32,
  negLr: f32,
  beta2: f32,
  omb2: f32,
  bc2: f32,
  eps: f32,
  flags: i32,
): void {
  const sign: u32 = flags & MAXIMIZE ? 0x80000000 : 0;
  if (flags & SECOND_MOMENT) scheduleFreeDecay(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, true, flags);
  else scheduleFreeDecay(y, g, z, v, n, wd, c, omc, yStep, negLr, beta2, omb2, bc2, eps, sign, false, flags);
}

/** 1 if all n floats at ptr are finite, else 0: a SIMD scan of the exponent bits. */
export function allFinite(ptr: usize, n: i32): i32 {
  const expMask = i32x4.splat(0x7f800000);
  let bad = i32x4.splat(0);
  const end4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) {
    bad = v128.or(bad, i32x4.eq(v128.and(v128.load(ptr + o), expMask), expMask));
  }
  if (v128.any_true(bad)) return 0;
  const end = <usize>n << 2;
  for (; o < end; o += 4) {
    if ((load<u32>(ptr + o) & 0x7f800000) == 0x7f800000) return 0;
  }
  return 1;
}

/** Weight averaging: e = d e + c theta over n elements (each product and the sum in float32). */
export function emaUpdate(e: usize, theta: usize, n: i32, d: f32, c: f32): void {
  const dv = f32x4.splat(d);
  const cv = f32x4.splat(c);
  const end4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) {
    const sum = f32x4.add(f32x4.mul(dv, v128.load(e + o)), f32x4.mul(cv, v128.load(theta + o)));
    v128.store(e + o, sum);
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) store<f32>(e + o, d * load<f32>(e + o) + c * load<f32>(theta + o));
}

/** Gradient accumulation: s = s + g over n elements. */
export function accumulateAdd(s: usize, g: usize, n: i32): void {
  const end4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(s + o, f32x4.add(v128.load(s + o), v128.load(g + o)));
  const end = <usize>n << 2;
  for (; o < end; o += 4) store<f32>(s + o, load<f32>(s + o) + load<f32>(g + o));
}

/** The window's mean gradient: out = (s + g) / k over n elements. */
export function accumulateMean(out: usize, s: usize, g: usize, n: i32, k: f32): void {
  const kv = f32x4.splat(k);
  const end4 = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) {
    v128.store(out + o, f32x4.div(f32x4.add(v128.load(s + o), v128.load(g + o)), kv));
  }
  const end = <usize>n << 2;
  for (; o < end; o += 4) store<f32>(out + o, (load<f32>(s + o) + load<f32>(g + o)) / k);
}

/**
 * The report's intervals, all Student t at 95%:
 * - a paired comparison of two settings by seed (pairedDifference);
 * - a least-squares slope with its regression interval over the points (regressionSlope).
 *
 * Both optimizers ran with the same seeds (same initialization, same data order), so the unit of
 * comparison is the seed: d_s = a_s - b_s for each shared seed s, n = number of shared seeds.
 *   mean       d̄ = (1/n) Σ d_s
 *   sd         s_d = sqrt( Σ (d_s - d̄)² / (n - 1) )
 *   interval   d̄ ± t_{1-α/2, n-1} · s_d / √n        (95%: α = 0.05)
 * The interval assumes the d_s are independent draws from a normal distribution; it needs n ≥ 2.
 *
 * Least-squares slope of y on x over m points, with its regression interval:
 *   b = Sxy / Sxx,   Sxx = Σ (x - x̄)²,   Sxy = Σ (x - x̄)(y - ȳ),
 *   s² = Σ (y - ȳ - b (x - x̄))² / (m - 2),   interval b ± t_{1-α/2, m-2} · s / √Sxx;
 * it needs m ≥ 3 points and assumes independent normal residuals about the line.
 *
 * The t quantile inverts the Student t CDF with ν degrees of freedom,
 *   F(t) = 1 - ½ I_{ν/(ν+t²)}(ν/2, ½)   for t ≥ 0,   F(-t) = 1 - F(t),
 * where I_x(a, b) is the regularized incomplete beta function, evaluated by its continued fraction
 * (modified Lentz; Press et al., Numerical Recipes §6.4) with ln Γ from the Lanczos approximation
 * (g = 7, 9 terms). The CDF is monotone, so the quantile is found by bracketing and bisection to
 * full double precision. Closed forms for checks: ν = 1 (Cauchy) t = tan(π(p - ½)); ν = 2:
 * t = u √(2 / (1 - u²)) with u = 2p - 1.
 */

const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
  12.507343278686905, -0.13857109526572012, 0.000009984369578019572, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of I_x(a, b), valid (fast) for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    let coef = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + coef * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + coef / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    coef = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + coef * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + coef / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) return Number.NaN;
  if (x === 0 || x === 1) return x;
  const logFront =
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1, df > 0). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return Number.NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Number.POSITIVE_INFINITY;
  }
  // Bisection until the bracket stops shrinking in floating point.
  for (let i = 0; i < 2000; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

export interface PairedDifference {
  /** Number of paired seeds. */
  n: number;
  /** Mean of the paired differences d̄. */
  mean: number;
  /** Sample sd of the differences (NaN when n < 2). */
  sd: number;
  /** The interval's confidence level, e.g. 0.95. */
  level: number;
  /** Interval bounds d̄ ∓ t · s_d / √n (NaN when n < 2: no interval can be computed). */
  lo: number;
  hi: number;
  /** Seeds with d_s > 0 and d_s < 0. */
  positive: number;
  negative: number;
}

/** Mean paired difference with its Student t interval (see the module comment). */
export function pairedDifference(differences: number[], level = 0.95): PairedDifference {
  const n = differences.length;
  const mean = n ? differences.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const positive = differences.filter((d) => d > 0).length;
  const negative = differences.filter((d) => d < 0).length;
  if (n < 2) {
    return { n, mean, sd: Number.NaN, level, lo: Number.NaN, hi: Number.NaN, positive, negative };
  }
  const sd = Math.sqrt(differences.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1));
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { n, mean, sd, level, lo: mean - half, hi: mean + half, positive, negative };
}

/**
 * What the interval says: 'positive' (the whole interval above 0), 'negative' (below 0), 'none'
 * (it contains 0: no difference detectable), or 'no interval' (fewer than 2 seeds).
 */
export type PairedVerdict = 'positive' | 'negative' | 'none' | 'no interval';

export function pairedVerdict(d: PairedDifference): PairedVerdict {
  if (d.n < 2 || !Number.isFinite(d.lo) || !Number.isFinite(d.hi)) return 'no interval';
  if (d.lo > 0) return 'positive';
  if (d.hi < 0) return 'negative';
  return 'none';
}

/** Least-squares slope of y on x: Sxy / Sxx; NaN when x does not vary. */
export function lsSlope(xs: number[], ys: number[]): number {
  return leastSquares(xs, ys).slope;
}

function leastSquares(xs: number[], ys: number[]) {
  const m = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / m;
  const my = ys.reduce((a, b) => a + b, 0) / m;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < m; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const slope = sxx > 0 ? sxy / sxx : Number.NaN;
  let sse = 0;
  for (let i = 0; i < m; i++) sse += (ys[i] - my - slope * (xs[i] - mx)) ** 2;
  return { m, slope, sxx, sse };
}

export interface SlopeInterval {
  /** Number of points. */
  m: number;
  slope: number;
  level: number;
  /** b ∓ t · s / √Sxx (NaN with fewer than 3 points or when x does not vary). */
  lo: number;
  hi: number;
}

/** The least-squares slope with its regression interval (see the module comment). */
export function regressionSlope(xs: number[], ys: number[], level = 0.95): SlopeInterval {
  const { m, slope, sxx, sse } = leastSquares(xs, ys);
  if (m < 3 || !(sxx > 0)) return { m, slope, level, lo: Number.NaN, hi: Number.NaN };
  const half = studentTQuantile(1 - (1 - level) / 2, m - 2) * Math.sqrt(sse / (m - 2) / sxx);
  return { m, slope, level, lo: slope - half, hi: slope + half };
}

/**
 * The report's statistics against closed forms, printed t tables, and an independent reference
 * (mpmath 1.2.1 at 40 digits: findroot on 1 - ½ betainc(ν/2, ½, 0, ν/(ν+t²), regularized=True);
 * the script is in this file's comment below, run with /usr/bin/python3).
 *
 *   import mpmath as mp; mp.mp.dps = 40
 *   cdf = lambda t, v: 1 - mp.betainc(v/2, 0.5, 0, v/(v+t*t), regularized=True)/2
 *   q = lambda p, v: mp.findroot(lambda t: cdf(t, v) - p, 2)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  logGamma,
  pairedDifference,
  pairedVerdict,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
} from '#harness/report/stats.js';

const close = (actual: number, expected: number, rtol: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= rtol * Math.abs(expected),
    `${what}: ${actual} vs ${expected}`,
  );

test('t quantiles match the printed table (3 decimals) and the closed forms for df 1 and 2', () => {
  // Student t table, two-sided 95%.
  assert.equal(studentTQuantile(0.975, 1).toFixed(3), '12.706');
  assert.equal(studentTQuantile(0.975, 4).toFixed(3), '2.776');
  assert.equal(studentTQuantile(0.975, 29).toFixed(3), '2.045');
  assert.equal(studentTQuantile(0.975, 9).toFixed(3), '2.262');
  for (const p of [0.6, 0.9, 0.975, 0.995, 0.9995]) {
    close(studentTQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-12, `df 1, p ${p}`);
    const u = 2 * p - 1;
    close(studentTQuantile(p, 2), u * Math.sqrt(2 / (1 - u * u)), 1e-12, `df 2, p ${p}`);
  }
  // Symmetry and the median.
  assert.equal(studentTQuantile(0.5, 7), 0);
  close(studentTQuantile(0.025, 7), -studentTQuantile(0.975, 7), 1e-15, 'symmetry');
});

test('t quantiles match an independent 40-digit reference (mpmath)', () => {
  const reference: [number, number, number][] = [
    [3, 0.9, 1.6377443536962104],
    [3, 0.975, 3.182446305283708],
    [4, 0.995, 4.604094871349992],
    [7, 0.975, 2.364624251592785],
    [29, 0.975, 2.045229642132704],
    [29, 0.995, 2.7563859036706053],
    [100, 0.9, 1.290074761346516],
    [100, 0.975, 1.9839715185235518],
  ];
  for (const [df, p, t] of reference) close(studentTQuantile(p, df), t, 1e-12, `df ${df} p ${p}`);
  // The CDF inverts the quantile; far in the tail, and towards the normal for large df.
  close(studentTCdf(studentTQuantile(0.999, 5), 5), 0.999, 1e-13, 'cdf(quantile)');
  close(studentTQuantile(0.975, 1e7), 1.959963984540054, 1e-6, 'normal limit');
});

test('the incomplete beta and ln Γ match their reference values', () => {
  close(regularizedIncompleteBeta(0.3, 2.5, 0.5), 0.01892712407194565, 1e-12, 'I(0.3; 2.5, .5)');
  close(regularizedIncompleteBeta(0.9, 10, 3), 0.889130022255, 1e-12, 'I(0.9; 10, 3)');
  // I_x(1, 1) = x and I_x(a, 1) = x^a in closed form.
  close(regularizedIncompleteBeta(0.37, 1, 1), 0.37, 1e-14, 'I(x; 1, 1)');
  close(regularizedIncompleteBeta(0.6, 3.5, 1), 0.6 ** 3.5, 1e-13, 'I(x; a, 1)');
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, 'ln Γ(½)');
  close(logGamma(14.5), 23.862765841689086, 1e-14, 'ln Γ(14.5)');
  close(logGamma(6), Math.log(120), 1e-14, 'ln Γ(6) = ln 5!');
});

test('the paired interval is d̄ ± t(0.975, n-1) s/√n, by hand', () => {
  const d = [0.3, 0.1, 0.2, 0.25, 0.15];
  const mean = 0.2;
  const sd = Math.sqrt((0.01 + 0.01 + 0 + 0.0025 + 0.0025) / 4);
  const half = 2.7764451051977934 * (sd / Math.sqrt(5));
  const r = pairedDifference(d);
  assert.equal(r.n, 5);
  close(r.mean, mean, 1e-14, 'mean');
  close(r.sd, sd, 1e-12, 'sd');
  close(r.lo, mean - half, 1e-12, 'lo');
  close(r.hi, mean + half, 1e-12, 'hi');
  assert.equal(r.positive, 5);
  assert.equal(pairedVerdict(r), 'positive');
  assert.equal(pairedVerdict(pairedDifference(d.map((x) => -x))), 'negative');
  // An interval that contains 0: no difference detectable.
  assert.equal(pairedVerdict(pairedDifference([0.3, -0.2, 0.1])), 'none');
  // One seed: no interval.
  const one = pairedDifference([0.4]);
  assert.equal(pairedVerdict(one), 'no interval');
  assert.ok(Number.isNaN(one.lo) && Number.isNaN(one.hi));
  assert.equal(one.mean, 0.4);
});

/** The optimizers against closed forms: first Adam step, pure decay, constant gradients. */
import { describe, test } from 'node:test';
import { Adam, AdamW, SGD, SGDW } from 'decoupled';
import { assertClose, randomArray } from '../helpers/arrays.js';

const f = Math.fround;

describe('Adam family closed forms', () => {
  test('the first Adam step is lr * g / (|g| + eps) for any betas', () => {
    for (const [beta1, beta2] of [
      [0.9, 0.999],
      [0.5, 0.9],
      [0, 0.99],
    ] as const) {
      const p0 = randomArray(101, 1);
      const g = randomArray(101, 2, 3);
      const p = p0.slice();
      new Adam([p], { lr: 0.01, betas: [beta1, beta2], eps: 1e-3 }).step([g]);
      const expected = p0.map((x, i) => x - (0.01 * g[i]) / (Math.abs(g[i]) + 1e-3));
      assertClose(p, expected, { rtol: 1e-6, atol: 1e-8, message: `betas ${beta1},${beta2}` });
    }
  });

  test('with a zero gradient, AdamW decays exactly as theta_0 (1 - lr lambda)^t', () => {
    const p0 = randomArray(33, 3);
    const p = p0.slice();
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.2 });
    const zero = new Float32Array(33);
    let expected = Float64Array.from(p0);
    for (let t = 1; t <= 50; t++) {
      opt.step([zero]);
      expected = expected.map((x) => x * (1 - 0.1 * 0.2));
    }
    assertClose(p, expected, { rtol: 2e-6 });
  });

  test("decayScale 'schedule' decays by the product of (1 - eta_t lambda), whatever lr is", () => {
    const p0 = randomArray(17, 4);
    const p = p0.slice();
    const schedule = (t: number) => 0.5 + 0.5 * Math.cos((Math.PI * t) / 20);
    const opt = new AdamW([p], { lr: 3e-4, weightDecay: 0.05, decayScale: 'schedule', schedule });
    let factor = 1;
    for (let t = 0; t < 20; t++) {
      opt.step([new Float32Array(17)]);
      factor *= 1 - schedule(t) * 0.05;
    }
    assertClose(
      p,
      p0.map((x) => x * factor),
      { rtol: 2e-6 },
    );
  });

  test('a constant gradient moves Adam by lr * g / (|g| + eps) every step', () => {
    const p0 = randomArray(9, 5);
    const g = randomArray(9, 6, 0.01);
    const p = p0.slice();
    const opt = new Adam([p], { lr: 1e-3, betas: [0.8, 0.95] });
    for (let t = 0; t < 40; t++) opt.step([g]);
    const move = (gi: number) => (1e-3 * gi) / (Math.abs(gi) + 1e-8);
    assertClose(
      p,
      p0.map((x, i) => x - 40 * move(g[i])),
      { rtol: 1e-5, atol: 1e-6 },
    );
  });

  test('maximize ascends: it equals minimizing the negated gradient', () => {
    const g = randomArray(21, 7);
    const a = randomArray(21, 8);
    const b = a.slice();
    const up = new AdamW([a], { maximize: true, amsgrad: true });
    const down = new AdamW([b], { amsgrad: true });
    for (let t = 0; t < 5; t++) {
      up.step([g]);
      down.step([g.map((x) => -x)]);
    }
    assertClose(a, b, { rtol: 0, atol: 0 });
  });
});

describe('SGD family closed forms', () => {
  test('a constant gradient with momentum mu moves by lr g sum_k (1 - mu^k) / (1 - mu)', () => {
    const p0 = randomArray(13, 9);
    const g = randomArray(13, 10);
    const p = p0.slice();
    const mu = 0.9;
    const opt = new SGD([p], { lr: 0.01, momentum: mu });
    let total = 0;
    for (let k = 1; k <= 30; k++) {
      opt.step([g]);
      total += (1 - mu ** k) / (1 - mu);
    }
    assertClose(
      p,
      p0.map((x, i) => x - 0.01 * g[i] * total),
      { rtol: 1e-5, atol: 1e-6 },
    );
  });

  test('nesterov with a constant gradient: d_k = g + mu * b_k', () => {
    const p0 = randomArray(5, 11);
    const g = randomArray(5, 12);
    const p = p0.slice();
    const mu = 0.5;
    const opt = new SGD([p], { lr: 0.1, momentum: mu, nesterov: true });
    let total = 0;
    for (let k = 1; k <= 10; k++) {
      opt.step([g]);
      total += 1 + (mu * (1 - mu ** k)) / (1 - mu);
    }
    assertClose(
      p,
      p0.map((x, i) => x - 0.1 * g[i] * total),
      { rtol: 1e-5, atol: 1e-6 },
    );
  });

  test('nesterov options, groups overriding them as in PyTorch: momentum 0 is plain SGD', () => {
    const p0 = randomArray(5, 21);
    const g = randomArray(5, 22);
    const [plain, damped] = [p0.slice(), p0.slice()];
    const opt = new SGD(
      [
        { params: [plain], momentum: 0 },
        { params: [damped], dampening: 0.5 },
      ],
      { lr: 0.1, momentum: 0.5, nesterov: true },
    );
    // Damped nesterov: b_1 = g, b_k = mu b + (1 - d) g; d_k = g + mu b_k.
    let plainTotal = 0;
    let dampedTotal = 0;
    let b = 0;
    for (let k = 1; k <= 6; k++) {
      opt.step([g, g]);
      b = k === 1 ? 1 : 0.5 * b + 0.5;
      plainTotal += 1;
      dampedTotal += 1 + 0.5 * b;
    }
    const rel = { rtol: 1e-5, atol: 1e-6 };
    assertClose(
      plain,
      p0.map((x, i) => x - 0.1 * g[i] * plainTotal),
      rel,
    );
    assertClose(
      damped,
      p0.map((x, i) => x - 0.1 * g[i] * dampedTotal),
      rel,
    );
  });

  test('SGDW without momentum: theta_1 = theta_0 (1 - lr lambda) - lr g', () => {
    const p0 = randomArray(64, 13);
    const g = randomArray(64, 14);
    const p = p0.slice();
    new SGDW([p], { lr: 0.05, weightDecay: 0.3 }).step([g]);
    assertClose(
      p,
      p0.map((x, i) => f(f(x * f(1 - 0.05 * 0.3)) - f(f(0.05) * g[i]))),
      { rtol: 0, atol: 0 },
    );
  });

  test('SGD with L2 and no momentum equals SGDW with lr-scaled decay to rounding', () => {
    // For plain SGD the two are the same algorithm: theta - lr (g + lambda theta).
    const g = randomArray(40, 15);
    const a = randomArray(40, 16);
    const b = a.slice();
    const coupled = new SGD([a], { lr: 0.1, weightDecay: 0.01 });
    const decoupled = new SGDW([b], { lr: 0.1, weightDecay: 0.01 });
    for (let t = 0; t < 10; t++) {
      coupled.step([g]);
      decoupled.step([g]);
    }
    assertClose(a, b, { rtol: 1e-5, atol: 1e-6 });
  });
});

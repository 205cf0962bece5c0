#!/usr/bin/python3
"""Golden values of weight averaging (the `ema` option, core/ema.ts), in NumPy float32.

Each case runs plain SGD (theta <- theta + (-lr) * g, float32, no momentum or decay) on fixed
random float32 gradients and keeps, after every step, the average of the weights by one of two
published rules, written out step by step:

  Keras 3 (`use_ema=True`, `ema_momentum=d`, `ema_overwrite_frequency=n`), keras/src/optimizers/
  base_optimizer.py `_update_model_variables_moving_average`: after the update of iteration i
  (0-based, `iterations` before its increment), momentum = d if i != 0 else 0 and
      average = momentum * average + (1 - momentum) * theta
  so the first average is theta_1. When n is set and (i + 1) % n == 0, i.e. after updates
  n, 2n, ..., the weights are overwritten with the averages.

  optax `ema(decay=d, debias=True)` (optax/_src/transform.py): the state starts at zeros and
  count 0; each update: ema = (1 - d) * theta + d * ema; count += 1; the value used is
  ema / (1 - d ** count). (optax evaluates d ** count in float32; here it is float64 then rounded,
  as the core does: the two can differ in the last bit of the correction.)

Float32 throughout: products and sums are rounded as NumPy float32 operations round them, d and
1 - d are rounded to float32 once. Writes test/fixtures/ema.json.
Run: /usr/bin/python3 scripts/make_golden_ema.py
"""

import numpy as np
from golden_io import f32_list as floats, write_fixture

F = np.float32


def run(seed, steps, lr, decay, debias, every):
    rng = np.random.default_rng(seed)
    params = [rng.uniform(-1, 1, n).astype(F) for n in (5, 11)]
    params0 = [floats(p) for p in params]
    d, one_minus_d, neg_lr = F(decay), F(1 - decay), F(-lr)
    state = [np.zeros_like(p) for p in params]
    grads, weights, averages = [], [], []
    for i in range(steps):
        g = [rng.uniform(-1, 1, p.shape).astype(F) for p in params]
        grads.append([floats(x) for x in g])
        params = [p + neg_lr * x for p, x in zip(params, g)]
        count = i + 1
        if debias:  # optax ema, debias=True
            state = [one_minus_d * p + d * e for p, e in zip(params, state)]
            correction = F(1 - decay ** count)
            avg = [e / correction for e in state]
        else:  # Keras
            momentum = d if i != 0 else F(0)  # float32, so 1 - momentum is a float32 subtraction
            state = [momentum * e + (F(1) - momentum) * p for p, e in zip(params, state)]
            avg = state
        if every is not None and count % every == 0:
            params = [a.copy() for a in avg]
        weights.append([floats(p) for p in params])
        averages.append([floats(a) for a in avg])
    return {'seed': seed, 'lr': lr, 'ema': {'decay': decay, 'debias': debias,
                                            **({'every': every} if every else {})},
            'params0': params0, 'grads': grads, 'weights': weights, 'averages': averages}


def main():
    cases = [
        run(1, 15, 0.1, 0.9, False, None),
        run(2, 15, 0.1, 0.9, True, None),
        run(3, 20, 0.05, 0.99, True, None),
        run(4, 20, 0.05, 0.75, False, 4),
        run(5, 20, 0.05, 0.8, True, 6),
        run(6, 10, 0.3, 0.0, False, None),
    ]
    write_fixture('ema.json', {'numpy': np.__version__, 'cases': cases})


if __name__ == '__main__':
    main()

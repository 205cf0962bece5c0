#!/usr/bin/python3
"""Golden trajectories of cautious weight decay (arXiv 2510.12402) for AdamW and SGDW, in NumPy.

A direct transcription of the paper's update, in float64, with no float32 rounding emulated:
    theta <- theta - eta_t * (u_t + lambda * 1[u_t * theta >= 0] * theta)
where u_t is the direction the step subtracts:
    AdamW: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
           u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    SGDW:  b = g on the first step, else mu b + (1 - dampening) g;  u = nesterov ? g + mu b : b
and eta_t = lr * s_t (s_t the schedule multiplier). The decay term is scaled by eta_t = lr_t with
decayScale 'lr' and by the multiplier s_t alone with decayScale 'schedule' (Loshchilov & Hutter's
eta_t), so the update is theta - lr_t u - c_t lambda 1[.] theta with c_t = lr_t or s_t.

The core computes the same update in float32 in PyTorch's decayed form (theta * (1 - c_t lambda),
then the step), so it agrees to float32 rounding, not bit for bit. Inputs (initial params,
gradients, schedule values) are float32 numbers so both sides start from the same values.
Writes test/fixtures/cautious.json. Run: /usr/bin/python3 scripts/make_golden_cautious.py
"""

import math

import numpy as np
from golden_io import write_fixture


def floats(a):
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def direction_adamw(state, g, t, o):
    b1, b2 = o['betas']
    state['m'] = b1 * state['m'] + (1 - b1) * g
    state['v'] = b2 * state['v'] + (1 - b2) * g * g
    m_hat = state['m'] / (1 - b1 ** t)
    v_hat = state['v'] / (1 - b2 ** t)
    return m_hat / (np.sqrt(v_hat) + o['eps'])


def direction_sgdw(state, g, t, o):
    mu = o['momentum']
    if mu == 0:
        return g
    state['b'] = g.copy() if t == 1 else mu * state['b'] + (1 - o['dampening']) * g
    return g + mu * state['b'] if o['nesterov'] else state['b']


def run(name, optimizer, options, seed, steps=20, cosine=False):
    rng = np.random.default_rng(seed)
    shapes = (9, 4)
    params = [rng.uniform(-1, 1, n).astype(np.float32).astype(np.float64) for n in shapes]
    params0 = [floats(p) for p in params]
    etas = [float(np.float32(0.5 * (1 + math.cos(math.pi * t / steps)))) if cosine else 1.0
            for t in range(steps)]
    direction = direction_adamw if optimizer == 'AdamW' else direction_sgdw
    states = [{'m': np.zeros(n), 'v': np.zeros(n), 'b': None} for n in shapes]
    lam, lr = options['weightDecay'], options['lr']
    grads, expected = [], []
    for t in range(1, steps + 1):
        g = [rng.uniform(-1, 1, n).astype(np.float32).astype(np.float64) for n in shapes]
        grads.append([floats(x) for x in g])
        lr_t = lr * etas[t - 1]
        c_t = lr_t if options.get('decayScale', 'lr') == 'lr' else etas[t - 1]
        for i, theta in enumerate(params):
            u = direction(states[i], g[i], t, options)
            mask = (u * theta >= 0).astype(np.float64)
            params[i] = theta - lr_t * u - c_t * lam * mask * theta
        expected.append([floats(p) for p in params])
    return {'name': name, 'optimizer': optimizer, 'options': options, 'etas': etas if cosine else None,
            'params0': params0, 'grads': grads, 'expected': expected}


def main():
    adam = {'betas': [0.9, 0.999], 'eps': 1e-8}
    cases = [
        run('AdamW lr 0.01 wd 0.5', 'AdamW', {**adam, 'lr': 0.01, 'weightDecay': 0.5}, 1),
        run('AdamW cosine, decayScale lr', 'AdamW',
            {**adam, 'lr': 0.02, 'weightDecay': 0.3}, 2, cosine=True),
        run('AdamW cosine, decayScale schedule', 'AdamW',
            {**adam, 'lr': 0.02, 'weightDecay': 0.01, 'decayScale': 'schedule'}, 3, cosine=True),
        run('AdamW betas 0.5 0.9', 'AdamW',
            {'betas': [0.5, 0.9], 'eps': 1e-6, 'lr': 0.05, 'weightDecay': 0.2}, 4),
        run('SGDW momentum 0.9', 'SGDW',
            {'lr': 0.05, 'momentum': 0.9, 'dampening': 0, 'nesterov': False, 'weightDecay': 0.5}, 5),
        run('SGDW nesterov, cosine', 'SGDW',
            {'lr': 0.05, 'momentum': 0.9, 'dampening': 0, 'nesterov': True, 'weightDecay': 0.4}, 6,
            cosine=True),
        run('SGDW dampening, decayScale schedule, cosine', 'SGDW',
            {'lr': 0.1, 'momentum': 0.5, 'dampening': 0.2, 'nesterov': False,
             'weightDecay': 0.02, 'decayScale': 'schedule'}, 7, cosine=True),
        run('SGDW no momentum', 'SGDW',
            {'lr': 0.1, 'momentum': 0, 'dampening': 0, 'nesterov': False, 'weightDecay': 0.5}, 8),
    ]
    write_fixture('cautious.json', {'numpy': np.__version__, 'cases': cases})


if __name__ == '__main__':
    main()

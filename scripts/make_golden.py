#!/usr/bin/python3
"""Golden fixtures from PyTorch 1.13 (Debian python3-torch) for the optimizer core and schedules.

Writes, under test/fixtures/ (committed, so CI needs no PyTorch):
  schedules.json   eta_t of PyTorch's LR schedulers (base lr 1, or lr_t / base_lr), step by step,
                   with the config of the equivalent `decoupled` schedule.
  optimizers.json  trajectories of Adam, AdamW, SGD and SGD+decoupled decay (SGDW): fixed random
                   float32 initial params and per-step grads, and the params after every step,
                   computed with ATEN_CPU_CAPABILITY=default: PyTorch's portable kernels, which
                   round every float32 operation (no fused multiply-add), so the file does not
                   depend on the machine and the core's reference loops must match it bit for bit.
  optimizers-avx2.json  the params after every step of the same cases with PyTorch's AVX2 kernels
                   (what PyTorch runs on a modern x86 CPU), which fuse a*b+c into one rounding;
                   the core must agree with them to float32 rounding.

Conventions that tie the two libraries together (see DESIGN.md):
  - the value recorded for step t (0-based) is the lr PyTorch's optimizer uses in its t-th step,
    i.e. the loop `opt.step(); sched.step()`;
  - SGDW, and AdamW with decayScale 'schedule' or a step-dependent lambda, are PyTorch's SGD/AdamW
    with weight_decay=0 plus `param.mul_(1 - s_t * lambda_t)` BEFORE the step, where
    s_t = lr_t (decayScale 'lr') or eta_t (decayScale 'schedule');
  - the single-tensor (foreach=False) loops are used, on one thread.

Run: npm run golden   (or /usr/bin/python3 scripts/make_golden.py)
"""

import math
import os
import subprocess
import sys

if __name__ == '__main__' and 'ATEN_CPU_CAPABILITY' not in os.environ:
    # PyTorch picks its CPU kernels when it is imported: run once per kernel set.
    for capability in ('default', 'avx2'):
        env = {**os.environ, 'ATEN_CPU_CAPABILITY': capability}
        subprocess.run([sys.executable, os.path.abspath(__file__)], env=env, check=True)
    sys.exit(0)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402
from golden_io import write_fixture as write  # noqa: E402

torch.set_num_threads(1)


def f32(values):
    """Float32 values as the shortest decimal that round-trips through float32 (Math.fround)."""
    return [float(np.format_float_positional(np.float32(v), unique=True, trim='0'))
            if np.isfinite(v) else float(v) for v in np.asarray(values, dtype=np.float32).ravel()]


def dummy_optimizer(lr=1.0):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def record(make_scheduler, steps, base_lr=1.0):
    """eta_t = lr used by step t / base_lr, for t in [0, steps)."""
    opt = dummy_optimizer(base_lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]['lr'] / base_lr)
        opt.step()
        sched.step()
    return out


def warm_restarts(opt, t0, t_mult, eta_min):
    """CosineAnnealingWarmRestarts; non-integer T_0/T_mult (which its constructor rejects) are set
    after construction, where its per-step rule (T_cur += 1; if T_cur >= T_i: T_cur -= T_i,
    T_i *= T_mult) handles them as the SGDR paper does."""
    s = S.CosineAnnealingWarmRestarts(opt, T_0=max(1, int(t0)), T_mult=max(1, int(t_mult)),
                                      eta_min=eta_min)
    s.T_0 = t0
    s.T_i = t0
    s.T_mult = t_mult
    return s


# ----------------------------------------------------------------------------------------------
# Schedules


def schedule_cases():
    cases = []

    def add(name, config, make, steps, base_lr=1.0, patched=False):
        cases.append({'name': name, 'config': config, 'baseLr': base_lr, 'patched': patched,
                      'values': record(make, steps, base_lr)})

    for t0, t_mult, eta_min, steps in [(10, 2, 0.0, 160), (5, 1, 0.1, 60), (3, 3, 0.01, 130),
                                       (7, 2, 0.0, 120), (1, 2, 0.0, 40), (2, 1, 0.0, 20)]:
        add(f'CosineAnnealingWarmRestarts T_0={t0} T_mult={t_mult} eta_min={eta_min}',
            {'type': 'warmRestarts', 't0': t0, 'tMult': t_mult, 'min': eta_min},
            lambda o, a=t0, b=t_mult, c=eta_min: S.CosineAnnealingWarmRestarts(o, a, b, c), steps)
    add('CosineAnnealingWarmRestarts T_0=8 T_mult=2 eta_min=0.001 (base lr 0.1)',
        {'type': 'warmRestarts', 't0': 8, 'tMult': 2, 'min': 0.01},
        lambda o: S.CosineAnnealingWarmRestarts(o, 8, 2, 0.001), 100, base_lr=0.1)
    for t0, t_mult, eta_min, steps in [(4, 1.5, 0.0, 100), (2.5, 1, 0.05, 30),
                                       (6, 1.25, 0.0, 120), (3.5, 2.5, 0.1, 150)]:
        add(f'CosineAnnealingWarmRestarts T_0={t0} T_mult={t_mult} eta_min={eta_min} (patched)',
            {'type': 'warmRestarts', 't0': t0, 'tMult': t_mult, 'min': eta_min},
            lambda o, a=t0, b=t_mult, c=eta_min: warm_restarts(o, a, b, c), steps, patched=True)

    # PyTorch's documented per-batch use: step(epoch + i / iters), T_0 in epochs. In steps that is
    # warmRestarts({ t0: T_0 * iters }).
    for t0, t_mult, iters in [(2, 2, 5), (3, 1, 4), (1, 3, 8)]:
        def per_batch(o, a=t0, b=t_mult, n=iters):
            s = S.CosineAnnealingWarmRestarts(o, a, b)
            step = s.step
            counter = iter(range(1, 10 ** 6))
            s.step = lambda: step(next(counter) / n)
            return s
        add(f'CosineAnnealingWarmRestarts T_0={t0} T_mult={t_mult} stepped with step(epoch + i/{iters})',
            {'type': 'warmRestarts', 't0': t0 * iters, 'tMult': t_mult, 'min': 0.0},
            per_batch, 100)
    add('StepLR step_size=7 gamma=0.5', {'type': 'stepDecay', 'stepSize': 7, 'gamma': 0.5},
        lambda o: S.StepLR(o, step_size=7, gamma=0.5), 40)
    add('StepLR step_size=1 gamma=0.9', {'type': 'stepDecay', 'stepSize': 1, 'gamma': 0.9},
        lambda o: S.StepLR(o, step_size=1, gamma=0.9), 30)
    add('MultiStepLR milestones=[30,60,80] gamma=0.1 (the paper step-drop)',
        {'type': 'stepDecay', 'milestones': [30, 60, 80], 'gamma': 0.1},
        lambda o: S.MultiStepLR(o, milestones=[30, 60, 80], gamma=0.1), 100)
    add('MultiStepLR milestones=[1,2,10] gamma=0.5',
        {'type': 'stepDecay', 'milestones': [1, 2, 10], 'gamma': 0.5},
        lambda o: S.MultiStepLR(o, milestones=[1, 2, 10], gamma=0.5), 15)
    # CosineAnnealingLR is periodic past T_max; `cosine` stays at min, so compare up to T_max.
    add('CosineAnnealingLR T_max=50 eta_min=0.05', {'type': 'cosine', 'total': 50, 'min': 0.05},
        lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=0.05), 51)
    add('CosineAnnealingLR T_max=100 eta_min=0', {'type': 'cosine', 'total': 100, 'min': 0.0},
        lambda o: S.CosineAnnealingLR(o, T_max=100), 101)
    add('CosineAnnealingLR T_max=20 eta_min=0.001 (base lr 0.1)',
        {'type': 'cosine', 'total': 20, 'min': 0.01},
        lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001), 21, base_lr=0.1)
    add('LinearLR start_factor=0.25 total_iters=8',
        {'type': 'linear', 'from': 0.25, 'to': 1, 'steps': 8},
        lambda o: S.LinearLR(o, start_factor=0.25, total_iters=8), 15)
    add('ConstantLR via LambdaLR(0.3)', {'type': 'constant', 'value': 0.3},
        lambda o: S.LambdaLR(o, lambda t: 0.3), 5)

    # LambdaLR pins the index convention: step t sees lambda(t), t = 0, 1, ...
    def warmup_cosine(t, steps=5, frm=0.1, total=20, mn=0.0):
        if t < steps:
            return frm + (1 - frm) * t / steps
        x = min(t - steps, total)
        return mn + (1 - mn) * (1 + math.cos(math.pi * x / total)) / 2
    add('LambdaLR linear warmup 5 from 0.1 then cosine 20',
        {'type': 'linearWarmup', 'steps': 5, 'from': 0.1,
         'after': {'type': 'cosine', 'total': 20, 'min': 0.0}},
        lambda o: S.LambdaLR(o, warmup_cosine), 30)
    add('SequentialLR [LinearLR(0.5, 4), CosineAnnealingWarmRestarts(6, 2)] milestones=[4]',
        {'type': 'sequence', 'boundaries': [4],
         'schedules': [{'type': 'linear', 'from': 0.5, 'to': 1, 'steps': 4},
                       {'type': 'warmRestarts', 't0': 6, 'tMult': 2, 'min': 0.0}]},
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=4),
                                     S.CosineAnnealingWarmRestarts(o, 6, 2)], milestones=[4]), 40)
    return cases


# ----------------------------------------------------------------------------------------------
# Optimizers

def period_index(t, t0_steps, t_mult):
    i, start, length = 0, 0.0, float(t0_steps)
    while t >= start + length:
        start += length
        length *= t_mult
        i += 1
    return i


def normalized_restart_decay(steps, lambda_norm, batch, dataset, t0, t_mult, spe):
    """lambda_t = lambdaNorm sqrt(b / (B T_i)), T_i = t0 tMult^i epochs (paper, appendix B.1)."""
    return [lambda_norm * math.sqrt(batch / (dataset * t0 * t_mult ** period_index(t, t0 * spe, t_mult)))
            for t in range(steps)]


STEPS = 30
SIZES = [13, 6, 1]              # three params; a scalar one too
GRAD_SCALES = [1.0, 1e-3, 10.0]  # exercises the eps regime and large gradients


def torch_options(kind, o):
    if kind in ('Adam', 'AdamW'):
        t = {'lr': o['lr'], 'betas': tuple(o['betas']), 'eps': o['eps'],
             'amsgrad': o['amsgrad'], 'maximize': o['maximize']}
    else:
        t = {'lr': o['lr'], 'momentum': o['momentum'], 'dampening': o['dampening'],
             'nesterov': o['nesterov'], 'maximize': o['maximize']}
    return t


DEFAULTS = {
    'Adam': {'lr': 1e-3, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weightDecay': 0.0,
             'amsgrad': False, 'maximize': False},
    'AdamW': {'lr': 1e-3, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weightDecay': 1e-2,
              'decayScale': 'lr', 'amsgrad': False, 'maximize': False},
    'SGD': {'lr': 1e-3, 'momentum': 0.0, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.0,
            'maximize': False},
    'SGDW': {'lr': 1e-3, 'momentum': 0.0, 'dampening': 0.0, 'nesterov': False, 'weightDecay': 0.0,
             'decayScale': 'lr', 'maximize': False},
}
HYPER_KEYS = ('lr', 'betas', 'eps', 'amsgrad', 'maximize', 'momentum', 'dampening', 'nesterov')


def run_case(name, kind, options, seed, groups=None, schedule=None, decay_values=None, extra=None,
             shrink=0.0, sizes=SIZES, steps=STEPS):
    """options: the `decoupled` options (JS names); groups: list of (param indices, overrides).
    shrink > 0 makes gradients decay as exp(-shrink t), so that amsgrad's max(v) matters."""
    rng = np.random.default_rng(seed)
    params0 = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    grads = [[(rng.standard_normal(n) * s * math.exp(-shrink * t)).astype(np.float32)
              for n, s in zip(sizes, GRAD_SCALES)] for t in range(steps)]
    if groups is None:
        groups = [(list(range(len(sizes))), {})]
    hyper = [{**DEFAULTS[kind], **options, **ov} for _, ov in groups]

    tensors = [torch.tensor(p.copy()) for p in params0]
    torch_groups = []
    for (idx, _), h in zip(groups, hyper):
        g = {'params': [tensors[i] for i in idx], **torch_options(kind, h)}
        native_l2 = kind in ('Adam', 'SGD')
        native_decoupled = (kind == 'AdamW' and h['decayScale'] == 'lr' and decay_values is None)
        g['weight_decay'] = h['weightDecay'] if (native_l2 or native_decoupled) else 0.0
        torch_groups.append(g)
    if kind in ('Adam', 'AdamW'):
        opt = (torch.optim.Adam if kind == 'Adam' else torch.optim.AdamW)(torch_groups, foreach=False)
    else:
        opt = torch.optim.SGD(torch_groups, lr=hyper[0]['lr'], foreach=False)
    etas = schedule['values'][:steps] if schedule else [1.0] * steps
    sched = S.LambdaLR(opt, lambda t: etas[min(t, steps - 1)]) if schedule else None

    expected = []
    for t in range(steps):
        for (idx, _), h, g in zip(groups, hyper, opt.param_groups):
            manual = kind == 'SGDW' or (kind == 'AdamW' and g['weight_decay'] == 0.0)
            lam = decay_values[t] if decay_values is not None else h['weightDecay']
            if manual and lam != 0:
                scale = g['lr'] if h.get('decayScale', 'lr') == 'lr' else etas[t]
                with torch.no_grad():
                    for p in g['params']:
                        p.mul_(1 - scale * lam)
        for i, p in enumerate(tensors):
            p.grad = torch.tensor(grads[t][i])
        opt.step()
        if sched:
            sched.step()
        expected.append([f32(p.detach().numpy()) for p in tensors])

    case = {
        'name': name, 'optimizer': kind, 'seed': seed, 'options': options,
        'groups': None if len(groups) == 1 and not groups[0][1] else
        [{'params': idx, 'overrides': ov} for idx, ov in groups],
        'schedule': schedule and {'config': schedule['config'], 'values': etas},
        'weightDecaySchedule': decay_values and {'config': extra.get('decayConfig'),
                                                 'values': decay_values},
        'params0': [f32(p) for p in params0],
        'grads': [[f32(g) for g in step] for step in grads],
        'expected': expected,
    }
    if extra and 'constructor' in extra:
        case['paperConstructor'] = extra['constructor']
    return case


def optimizer_cases(schedules):
    by_name = {s['name']: s for s in schedules}
    wr = by_name['CosineAnnealingWarmRestarts T_0=7 T_mult=2 eta_min=0.0']
    cos = {'config': {'type': 'cosine', 'total': STEPS, 'min': 0.1},
           'values': record(lambda o: S.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.1), STEPS)}
    warm = by_name['LambdaLR linear warmup 5 from 0.1 then cosine 20']
    step_drop = {'config': {'type': 'stepDecay', 'milestones': [10, 20], 'gamma': 0.1},
                 'values': record(lambda o: S.MultiStepLR(o, [10, 20], 0.1), STEPS)}
    cases = []

    def add(name, kind, options, seeds=(0,), **kw):
        for seed in seeds:
            cases.append(run_case(f'{name} (seed {seed})', kind, options, seed, **kw))

    both = (0, 1)
    # Adam (coupled L2)
    add('Adam defaults', 'Adam', {}, both)
    add('Adam lr 1e-2 betas 0.8/0.99 eps 1e-6', 'Adam',
        {'lr': 1e-2, 'betas': [0.8, 0.99], 'eps': 1e-6})
    add('Adam amsgrad', 'Adam', {'lr': 1e-2, 'amsgrad': True}, both)
    add('Adam amsgrad beta2 0.9 shrinking grads', 'Adam',
        {'lr': 1e-2, 'amsgrad': True, 'betas': [0.9, 0.9]}, shrink=0.15)
    add('Adam maximize', 'Adam', {'lr': 1e-2, 'maximize': True})
    add('Adam L2 0.1', 'Adam', {'lr': 1e-2, 'weightDecay': 0.1}, both)
    add('Adam L2 amsgrad maximize cosine', 'Adam',
        {'lr': 1e-2, 'weightDecay': 0.05, 'amsgrad': True, 'maximize': True,
         'betas': [0.8, 0.9]}, schedule=cos, shrink=0.1)
    add('Adam warm restarts', 'Adam', {'lr': 3e-2}, schedule=wr)
    add('Adam two groups', 'Adam', {'lr': 1e-2, 'weightDecay': 0.1},
        groups=[([0, 1], {}), ([2], {'lr': 3e-2, 'weightDecay': 0.0, 'betas': [0.5, 0.9],
                                     'amsgrad': True})])
    # AdamW (decoupled)
    add('AdamW defaults', 'AdamW', {}, both)
    add('AdamW lr 1e-2 wd 0.1', 'AdamW', {'lr': 1e-2, 'weightDecay': 0.1}, both)
    add('AdamW amsgrad eps 1e-4', 'AdamW', {'lr': 1e-2, 'weightDecay': 0.1, 'amsgrad': True,
                                            'eps': 1e-4})
    add('AdamW amsgrad beta2 0.9 shrinking grads', 'AdamW',
        {'lr': 1e-2, 'weightDecay': 0.1, 'amsgrad': True, 'betas': [0.9, 0.9]}, both, shrink=0.15)
    add('AdamW maximize betas 0.5/0.9', 'AdamW',
        {'lr': 1e-2, 'weightDecay': 0.2, 'maximize': True, 'betas': [0.5, 0.9]})
    add('AdamW decayScale lr warm restarts', 'AdamW', {'lr': 3e-2, 'weightDecay': 0.5},
        both, schedule=wr)
    add('AdamW decayScale schedule warm restarts', 'AdamW',
        {'lr': 3e-2, 'weightDecay': 0.05, 'decayScale': 'schedule'}, both, schedule=wr)
    add('AdamW decayScale schedule no schedule', 'AdamW',
        {'lr': 1e-2, 'weightDecay': 0.05, 'decayScale': 'schedule'})
    add('AdamW decayScale schedule warmup cosine amsgrad', 'AdamW',
        {'lr': 1e-2, 'weightDecay': 0.05, 'decayScale': 'schedule', 'amsgrad': True,
         'betas': [0.9, 0.95]}, schedule=warm, shrink=0.1)
    add('AdamW two groups', 'AdamW', {'lr': 1e-2, 'weightDecay': 0.1},
        groups=[([0], {}), ([1, 2], {'lr': 2e-2, 'weightDecay': 0.0, 'eps': 1e-3})],
        schedule=cos)
    add('AdamW decayScale schedule two groups', 'AdamW',
        {'lr': 1e-2, 'weightDecay': 0.1, 'decayScale': 'schedule'},
        groups=[([0, 2], {'weightDecay': 0.3}), ([1], {'lr': 5e-2, 'maximize': True})],
        schedule=wr)
    # SGD (coupled L2)
    add('SGD plain', 'SGD', {'lr': 0.05}, both)
    add('SGD momentum 0.9', 'SGD', {'lr': 0.05, 'momentum': 0.9}, both)
    add('SGD momentum dampening 0.5', 'SGD', {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.5})
    add('SGD nesterov', 'SGD', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True}, both)
    add('SGD maximize', 'SGD', {'lr': 0.05, 'momentum': 0.5, 'maximize': True})
    add('SGD L2 momentum', 'SGD', {'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.1}, both)
    add('SGD L2 step drop', 'SGD', {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 0.05},
        schedule=step_drop)
    add('SGD two groups', 'SGD', {'lr': 0.05, 'momentum': 0.9},
        groups=[([0, 1], {'weightDecay': 0.1}), ([2], {'momentum': 0.0, 'lr': 0.01})])
    # SGDW (decoupled)
    add('SGDW momentum wd', 'SGDW', {'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.1}, both)
    add('SGDW plain wd', 'SGDW', {'lr': 0.05, 'weightDecay': 0.2})
    add('SGDW nesterov wd', 'SGDW', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True,
                                     'weightDecay': 0.1})
    add('SGDW dampening maximize wd', 'SGDW',
        {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.3, 'maximize': True, 'weightDecay': 0.1})
    add('SGDW decayScale lr cosine', 'SGDW', {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 0.3},
        schedule=cos)
    add('SGDW decayScale schedule warm restarts', 'SGDW',
        {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 0.05, 'decayScale': 'schedule'}, both,
        schedule=wr)
    add('SGDW two groups', 'SGDW', {'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.1,
                                    'decayScale': 'schedule'},
        groups=[([0], {'weightDecay': 0.0}), ([1, 2], {'lr': 0.02, 'nesterov': True})],
        schedule=step_drop)

    # Tensors long enough for the fused SIMD kernels (64 elements and up; 131 and 67 leave a
    # remainder after the 4-lane loop), so those are checked against PyTorch directly too.
    simd = {'sizes': [131, 67], 'steps': 15}
    add('Adam L2 amsgrad maximize, SIMD-sized', 'Adam',
        {'lr': 1e-2, 'weightDecay': 0.05, 'amsgrad': True, 'maximize': True, 'betas': [0.8, 0.9]},
        schedule=cos, shrink=0.1, **simd)
    add('AdamW decayScale schedule amsgrad, SIMD-sized', 'AdamW',
        {'lr': 3e-2, 'weightDecay': 0.1, 'decayScale': 'schedule', 'amsgrad': True,
         'eps': 1e-4}, schedule=wr, **simd)
    add('SGD nesterov L2, SIMD-sized', 'SGD',
        {'lr': 0.05, 'momentum': 0.8, 'nesterov': True, 'weightDecay': 0.1}, **simd)
    add('SGDW dampening maximize, SIMD-sized', 'SGDW',
        {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.3, 'maximize': True, 'weightDecay': 0.1},
        schedule=step_drop, **simd)

    # AdamWR / SGDWR: warm restarts in epochs, normalized decay per period, decayScale 'schedule'.
    wr_settings = {'lambdaNorm': 0.05, 'batchSize': 32, 'datasetSize': 100, 't0': 1, 'tMult': 2}
    spe = math.ceil(100 / 32)  # 4 steps per epoch: restarts at steps 4, 12, 28
    wr_eta = {'config': {'type': 'warmRestarts', 't0': 1 * spe, 'tMult': 2, 'min': 0.0},
              'values': record(lambda o: S.CosineAnnealingWarmRestarts(o, 1 * spe, 2), STEPS)}
    decay = normalized_restart_decay(STEPS, 0.05, 32, 100, 1, 2, spe)
    decay_config = {'type': 'normalizedDecayRestarts', **wr_settings, 'stepsPerEpoch': spe}
    for kind, wr_kind, lr, extra_opts in [('AdamW', 'AdamWR', 1e-2, {}),
                                          ('SGDW', 'SGDWR', 0.1, {'momentum': 0.9})]:
        add(f'{wr_kind} normalized decay', kind,
            {'lr': lr, 'decayScale': 'schedule', **extra_opts}, both, schedule=wr_eta,
            decay_values=decay,
            extra={'decayConfig': decay_config,
                   'constructor': {'name': wr_kind,
                                   'options': {'lr': lr, **wr_settings, **extra_opts}}})
    return cases


def cpu_capability():
    return torch.__config__.show().split('CPU capability usage: ')[1].split()[0]


def main():
    capability = cpu_capability()
    meta = {'generator': 'scripts/make_golden.py', 'torch': torch.__version__,
            'numpy': np.__version__, 'cpuCapability': capability}
    schedules = schedule_cases()
    cases = optimizer_cases(schedules)
    if os.environ['ATEN_CPU_CAPABILITY'] == 'default':
        assert capability == 'NO', capability
        write('schedules.json', {**meta, 'cases': schedules})
        write('optimizers.json', {**meta, 'steps': STEPS, 'sizes': SIZES, 'cases': cases})
    elif capability == 'AVX2':
        # Inputs are those of optimizers.json (same seeds); only the results differ.
        write('optimizers-avx2.json', {**meta, 'cases': [
            {'name': c['name'], 'expected': c['expected']} for c in cases]})
    else:
        print(f'optimizers-avx2.json not written: this CPU runs PyTorch with {capability}')


if __name__ == '__main__':
    main()

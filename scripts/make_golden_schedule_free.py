#!/usr/bin/python3
"""Golden trajectories of schedule-free AdamW and SGD (Defazio et al. 2024) from PyTorch 1.13.

The algorithm is transcribed here from the reference implementation's math, read at
facebookresearch/schedule_free commit b3be06f3df5670edfa9af00b8d52413b1f00b7ec
(schedulefree/adamw_schedulefree.py) and 59ed9b662d5ec5799aded7390b2482758423653c
(schedulefree/sgd_schedulefree.py), the versions with train()/eval(), single-tensor (not
foreach) branch. The reference's code is not in this repository; this is an independent
transcription of the same sequence of tensor operations:

  per step (k = steps taken so far):
    lr_k  = lr * ((k + 1) / warmup if k < warmup else 1)
    lrmax = max(lrmax, lr_k)                  (lrmax starts at -1)
    w     = (k + 1) ** r * lrmax ** weight_lr_power;   W += w;   c = w / W  (0 if W == 0)
    per tensor (z starts as a copy of the param y on its first step):
      AdamW: v = v * b2 + (1 - b2) * g * g;  g = g / (sqrt(v / (1 - b2 ** (k + 1))) + eps)
      g = g + wd * y                          (decay at y)
      y = lerp(y, z, c);  y = y + lr_k * (beta * (1 - c) - 1) * g;  z = z - lr_k * g
  eval():  y = lerp(y, z, 1 - 1 / beta)       (the params now hold x)
  train(): y = lerp(y, z, 1 - beta)

Run with ATEN_CPU_CAPABILITY=default (set below): PyTorch's portable CPU kernels round every
float32 operation (no fused multiply-add), so the file does not depend on the machine and the core's
loop (packages/decoupled/src/core/schedule-free.ts) must match it bit for bit.

Writes test/fixtures/schedule-free.json. Run: /usr/bin/python3 scripts/make_golden_schedule_free.py
"""

import os
import subprocess
import sys

if __name__ == '__main__' and os.environ.get('ATEN_CPU_CAPABILITY') != 'default':
    env = {**os.environ, 'ATEN_CPU_CAPABILITY': 'default'}
    sys.exit(subprocess.run([sys.executable, os.path.abspath(__file__)], env=env).returncode)

import torch  # noqa: E402
from golden_io import f32_list, write_fixture  # noqa: E402

torch.set_num_threads(1)
REFERENCE = ('facebookresearch/schedule_free b3be06f3df5670edfa9af00b8d52413b1f00b7ec (adamw), '
             '59ed9b662d5ec5799aded7390b2482758423653c (sgd)')


def f32(t):
    return f32_list(t.detach().numpy())


class ScheduleFree:
    """Schedule-free SGD (adam=None) or AdamW (adam=(beta2, eps)) on a list of float32 tensors."""

    def __init__(self, params, lr, beta, weight_decay, warmup, r, weight_lr_power, adam):
        self.params, self.lr, self.beta, self.wd = params, lr, beta, weight_decay
        self.warmup, self.r, self.power, self.adam = warmup, r, weight_lr_power, adam
        self.k, self.lrmax, self.wsum = 0, -1.0, 0.0
        self.z = [None] * len(params)
        self.v = [torch.zeros_like(p) for p in params]
        self.training = True

    def step(self, grads):
        k = self.k
        lr = self.lr * ((k + 1) / self.warmup if k < self.warmup else 1.0)
        self.lrmax = max(self.lrmax, lr)
        w = (k + 1) ** self.r * self.lrmax ** self.power
        self.wsum += w
        c = w / self.wsum if self.wsum != 0 else 0.0
        for i, (y, g) in enumerate(zip(self.params, grads)):
            if self.z[i] is None:
                self.z[i] = y.clone()
            g = g.clone()
            if self.adam is not None:
                b2, eps = self.adam
                self.v[i].mul_(b2).addcmul_(g, g, value=1 - b2)
                g.div_(self.v[i].div(1 - b2 ** (k + 1)).sqrt_().add_(eps))
            if self.wd != 0:
                g.add_(y, alpha=self.wd)
            y.lerp_(self.z[i], c)
            y.add_(g, alpha=lr * (self.beta * (1 - c) - 1))
            self.z[i].sub_(g, alpha=lr)
        self.k += 1

    def move(self, weight):
        for y, z in zip(self.params, self.z):
            if z is not None:
                y.lerp_(z, weight)

    def eval(self):
        if self.training:
            self.move(1 - 1 / self.beta)
        self.training = False

    def train(self):
        if not self.training:
            self.move(1 - self.beta)
        self.training = True


def make_case(name, optimizer, options, seed, steps=12, events=None, shapes=(7, 19)):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.rand(n, generator=gen) * 2 - 1 for n in shapes]
    params0 = [f32(p) for p in params]
    adam = None
    if optimizer == 'ScheduleFreeAdamW':
        betas = options.get('betas', [0.9, 0.999])
        beta, adam = betas[0], (betas[1], options.get('eps', 1e-8))
    else:
        beta = options.get('momentum', 0.9)
    default_lr = 0.0025 if adam else 1.0
    opt = ScheduleFree(params, options.get('lr', default_lr), beta, options.get('weightDecay', 0),
                       options.get('warmupSteps', 0), options.get('r', 0.0),
                       options.get('weightLrPower', 2.0), adam)
    events = events or ['step'] * steps
    grads, expected = [], []
    for event in events:
        if event == 'step':
            g = [(torch.rand(p.shape, generator=gen) * 2 - 1) * 0.5 for p in params]
            grads.append([f32(x) for x in g])
            opt.step(g)
        else:
            grads.append(None)
            getattr(opt, event)()
        expected.append([f32(p) for p in params])
    return {'name': name, 'optimizer': optimizer, 'options': options, 'events': events,
            'params0': params0, 'grads': grads, 'expected': expected}


def main():
    switch = ['step'] * 5 + ['eval', 'train'] + ['step'] * 4 + ['eval', 'eval', 'train', 'step',
                                                                'eval']
    cases = []
    for seed in (1, 2, 3):
        cases.append(make_case(f'adamw default seed {seed}', 'ScheduleFreeAdamW', {'lr': 0.01},
                               seed))
        cases.append(make_case(f'sgd default seed {seed}', 'ScheduleFreeSGD', {'lr': 0.1}, seed))
    cases += [
        make_case('adamw warmup 4 wd 0.05 power 2', 'ScheduleFreeAdamW',
                  {'lr': 0.02, 'warmupSteps': 4, 'weightDecay': 0.05, 'weightLrPower': 2}, 4),
        make_case('adamw warmup 3 power 0 r 1', 'ScheduleFreeAdamW',
                  {'lr': 0.02, 'warmupSteps': 3, 'weightLrPower': 0, 'r': 1}, 5),
        make_case('adamw r 0.5 betas 0.5 0.9 eps 1e-3', 'ScheduleFreeAdamW',
                  {'lr': 0.05, 'r': 0.5, 'betas': [0.5, 0.9], 'eps': 1e-3, 'warmupSteps': 2}, 6),
        make_case('adamw beta1 0.3 (lerp weight >= 0.5) train/eval', 'ScheduleFreeAdamW',
                  {'lr': 0.03, 'betas': [0.3, 0.99], 'weightDecay': 0.1}, 7, events=switch),
        make_case('adamw train/eval switching', 'ScheduleFreeAdamW',
                  {'lr': 0.01, 'warmupSteps': 3, 'weightDecay': 0.01, 'r': 2}, 8, events=switch),
        make_case('sgd warmup 5 wd 0.01 momentum 0.8', 'ScheduleFreeSGD',
                  {'lr': 0.2, 'warmupSteps': 5, 'weightDecay': 0.01, 'momentum': 0.8}, 9),
        make_case('sgd power 0 r 1.5', 'ScheduleFreeSGD',
                  {'lr': 0.1, 'weightLrPower': 0, 'r': 1.5}, 10),
        make_case('sgd momentum 0.4 train/eval switching', 'ScheduleFreeSGD',
                  {'lr': 0.1, 'momentum': 0.4, 'warmupSteps': 2, 'weightDecay': 0.02}, 11,
                  events=switch),
    ]
    # Tensors long enough for the fused SIMD kernel (64 elements and up; 67 and 77 leave 3 and 5
    # elements after its 8-wide loop), so the kernel is checked against PyTorch directly too.
    simd = {'shapes': (67, 77)}
    cases += [
        make_case('adamw warmup 3 wd 0.05 r 1 train/eval, SIMD-sized', 'ScheduleFreeAdamW',
                  {'lr': 0.02, 'warmupSteps': 3, 'weightDecay': 0.05, 'r': 1}, 12, events=switch,
                  **simd),
        make_case('adamw betas 0.5 0.9 eps 1e-3 power 0 r 0.5, SIMD-sized', 'ScheduleFreeAdamW',
                  {'lr': 0.05, 'betas': [0.5, 0.9], 'eps': 1e-3, 'weightLrPower': 0, 'r': 0.5}, 13,
                  **simd),
        make_case('sgd warmup 2 wd 0.01 momentum 0.8 train/eval, SIMD-sized', 'ScheduleFreeSGD',
                  {'lr': 0.2, 'warmupSteps': 2, 'weightDecay': 0.01, 'momentum': 0.8}, 14,
                  events=switch, **simd),
        make_case('sgd power 0 r 1.5 momentum 0.3, SIMD-sized', 'ScheduleFreeSGD',
                  {'lr': 0.1, 'weightLrPower': 0, 'r': 1.5, 'momentum': 0.3}, 15, **simd),
    ]
    out = {'torch': torch.__version__, 'cpuCapability': 'default', 'reference': REFERENCE,
           'cases': cases}
    write_fixture('schedule-free.json', out)


if __name__ == '__main__':
    main()

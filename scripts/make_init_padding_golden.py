"""Golden fixtures from PyTorch 1.13 (Debian python3-torch) for the harness's models.

Writes test/fixtures/torch-init-padding.json (committed, so CI needs no PyTorch):
  init:    for conv and linear shapes, the weight and bias bounds that nn.Conv2d / nn.Linear
           reset_parameters use (kaiming_uniform_(a=sqrt(5)): bound = gain * sqrt(3 / fan_in),
           gain = calculate_gain('leaky_relu', sqrt(5)); bias bound 1 / sqrt(fan_in)), computed with
           torch.nn.init's own functions, and the max |w| and sd of one freshly built module.
  padding: conv2d(stride 2, padding 1, no bias) of a seeded input and weight, for an even and an
           odd image side, in the harness's layouts (input NHWC, weight HWIO, output NHWC).

Run: /usr/bin/python3 scripts/make_init_padding_golden.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'torch-init-padding.json')


def bounds(weight):
    fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
    gain = init.calculate_gain('leaky_relu', math.sqrt(5))
    return fan_in, gain * math.sqrt(3.0 / fan_in), 1 / math.sqrt(fan_in)


def init_case(kind, shape):
    torch.manual_seed(0)
    if kind == 'conv':
        cin, cout, k = shape
        module = nn.Conv2d(cin, cout, k, bias=True)
    else:
        cin, cout = shape
        module = nn.Linear(cin, cout)
    fan_in, weight_bound, bias_bound = bounds(module.weight)
    w = module.weight.detach().double()
    b = module.bias.detach().double()
    assert w.abs().max().item() <= weight_bound and b.abs().max().item() <= bias_bound
    return {'kind': kind, 'shape': list(shape), 'fanIn': fan_in, 'weightBound': weight_bound,
            'biasBound': bias_bound, 'torchMaxAbsWeight': w.abs().max().item(),
            'torchWeightStd': w.std().item(), 'count': w.numel()}


def padding_case(side, cin=3, cout=4, batch=2):
    g = torch.Generator().manual_seed(side)
    x = torch.randn(batch, cin, side, side, generator=g)
    w = torch.randn(cout, cin, 3, 3, generator=g) / 3
    y = F.conv2d(x, w, stride=2, padding=1)
    flat = lambda t: [float(v) for v in t.reshape(-1).tolist()]
    return {'side': side, 'inChannels': cin, 'outChannels': cout, 'batch': batch,
            'outSide': y.shape[2],
            'inputNHWC': flat(x.permute(0, 2, 3, 1)), 'weightHWIO': flat(w.permute(2, 3, 1, 0)),
            'outputNHWC': flat(y.permute(0, 2, 3, 1))}


def main():
    data = {
        'generator': 'scripts/make_init_padding_golden.py', 'torch': torch.__version__,
        'init': [init_case('conv', s) for s in [(1, 16, 3), (16, 32, 3), (64, 64, 3), (16, 32, 1)]]
        + [init_case('linear', s) for s in [(64, 10), (784, 128)]],
        'padding': [padding_case(8), padding_case(7)],
    }
    tmp = OUT + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(data, fh, indent=1)
        fh.write('\n')
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, OUT)
    print(f'{OUT}: {os.path.getsize(OUT)} bytes')


if __name__ == '__main__':
    main()

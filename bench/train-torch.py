"""PyTorch peer for bench/train.ts: training throughput of the small CNN and ResNet-8 on 1 thread.

Usage: python3 bench/train-torch.py MODEL BATCH WARMUP STEPS
Prints one JSON line: {"model", "batch", "stepMs": [...], "stepCpuMs": [...], "imagesPerSec",
"imagesPerCpuSec"} (from the median wall and CPU time per step; CPU time is robust to other load).
Same architectures as packages/harness/src/experiments/models.ts (convs without bias, BN after each): Fashion-MNIST-sized input [N, 1, 28, 28], 10 classes,
Adam (lr 1e-3, foreach off), cross-entropy loss, synthetic data.
"""

import json
import statistics
import sys
import time

import torch
from torch import nn


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x if self.short is None else self.short(x)
        return torch.relu(y + s)


def resnet8():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def main():
    model_name, batch, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = small_cnn() if model_name == 'cnn' else resnet8()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    times, cpu_times = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        dt, dc = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        if i >= warmup:
            times.append(dt)
            cpu_times.append(dc)
    print(json.dumps({'model': model_name, 'batch': batch, 'stepMs': times, 'stepCpuMs': cpu_times,
                      'imagesPerSec': batch / (statistics.median(times) / 1000),
                      'imagesPerCpuSec': batch / (statistics.median(cpu_times) / 1000),
                      'torch': torch.__version__}))


if __name__ == '__main__':
    main()

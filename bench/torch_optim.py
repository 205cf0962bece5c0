"""PyTorch peer of bench/optim.ts: torch.optim.AdamW (weight_decay 1e-2) on one float32 tensor of
N params, foreach on and off, 1 thread. Run with Debian's python3-torch:
  /usr/bin/python3 bench/torch_optim.py N
then one command per stdin line, "<reps> <foreach|single>", answered with one line of <reps>
space-separated "wall,cpu" step times in seconds (cpu: process CPU time), so the benchmark can interleave samples with other
implementations'. The first line printed is the torch version."""
import sys
import time

import torch


def make(n: int, foreach: bool):
    p = torch.nn.Parameter(torch.full((n,), 0.01, dtype=torch.float32))
    p.grad = (torch.arange(n, dtype=torch.float32) % 1000 - 500) * 1e-6
    opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-2, foreach=foreach)
    opt.step()  # allocates and first-touches the state outside the timing
    return opt


def main() -> None:
    n = int(sys.argv[1])
    torch.set_num_threads(1)
    opts = {"foreach": make(n, True), "single": make(n, False)}
    print(torch.__version__, flush=True)
    for line in sys.stdin:
        reps, kind = line.split()
        opt = opts[kind]
        times = []
        for _ in range(int(reps)):
            t0, c0 = time.perf_counter(), time.process_time()
            opt.step()
            times.append((time.perf_counter() - t0, time.process_time() - c0))
        print(" ".join(f"{w:.9f},{c:.9f}" for w, c in times), flush=True)


if __name__ == "__main__":
    main()

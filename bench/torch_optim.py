"""PyTorch peer of bench/optim.ts: one AdamW step (torch.optim.AdamW, weight_decay 1e-2) over a
single float32 tensor of N params, with foreach on and off, on 1 thread. Run with Debian's
python3-torch: /usr/bin/python3 bench/torch_optim.py N REPS. Prints one JSON line:
{"torch": version, "foreach": [seconds...], "single": [seconds...]} (one time per rep)."""
import json
import sys
import time

import torch


def main() -> None:
    n, reps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    out = {"torch": torch.__version__}
    for key, foreach in (("foreach", True), ("single", False)):
        p = torch.nn.Parameter(torch.full((n,), 0.01, dtype=torch.float32))
        p.grad = torch.rand(n, dtype=torch.float32) * 1e-3
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-2, foreach=foreach)
        opt.step()  # allocates and first-touches the state outside the timing
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t0)
        out[key] = times
        del opt, p
    print(json.dumps(out))


if __name__ == "__main__":
    main()

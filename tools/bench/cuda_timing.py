"""The mean time of a GPU call in a loop, for the torch-only probes beside it (lt_algo_sweep.py,
joined_gemm_probe.py): warm-up calls, then `iters` calls between two CUDA events."""
import torch


def mean_ms(fn, iters, warmup=3):
    for _ in range(warmup):
        fn()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / iters

"""The single block's linear2 on the fast path, three ways, timed with torch alone (H100/H200):
one GEMM per input part added into one output with the parts' weights as column slices of the
[h, 5h] weight (what flux4j's Functional.linearJoined runs: lda = 5h), the same with each part's
weight contiguous (lda = its own width), and one GEMM over the 5h-wide concatenation.

  python3 tools/bench/joined_gemm_probe.py
"""
import torch
from cuda_timing import mean_ms  # tools/bench/cuda_timing.py (the script's own folder)

h, m, iters = 3072, 4608, 50
dt = torch.bfloat16
a = torch.randn(m, h, device="cuda", dtype=dt)
g = torch.randn(m, 4 * h, device="cuda", dtype=dt)
w = torch.randn(h, 5 * h, device="cuda", dtype=dt) * (5 * h) ** -0.5
b = torch.randn(h, device="cuda", dtype=dt)
wa, wg = w[:, :h].contiguous(), w[:, h:].contiguous()
cat = torch.cat([a, g], 1)


def t(fn):
    return mean_ms(fn, iters, warmup=5)


def joined_slices():
    acc = torch.addmm(b, a, w[:, :h].t())
    acc.addmm_(g, w[:, h:].t())
    return acc


def joined_contiguous():
    acc = torch.addmm(b, a, wa.t())
    acc.addmm_(g, wg.t())
    return acc


def joined_contiguous_big_first():
    acc = torch.addmm(b, g, wg.t())
    acc.addmm_(a, wa.t())
    return acc


print(torch.cuda.get_device_name(), torch.__version__)
for name, fn in [("joined, weight slices (lda 5h)", joined_slices), ("joined, contiguous weights", joined_contiguous),
                 ("joined, contiguous, 4h part first", joined_contiguous_big_first),
                 ("one GEMM over the concatenation", lambda: torch.nn.functional.linear(cat, w, b)),
                 ("cat + one GEMM", lambda: torch.nn.functional.linear(torch.cat([a, g], 1), w, b)),
                 ("addmm_ only, slice (lda 5h)", lambda: torch.empty(m, h, device="cuda", dtype=dt).addmm_(g, w[:, h:].t(), beta=0)),
                 ("addmm_ only, contiguous", lambda: torch.empty(m, h, device="cuda", dtype=dt).addmm_(g, wg.t(), beta=0))]:
    print(f"{name:40s} {t(fn):.4f} ms")
r1, r2 = joined_slices().float(), torch.nn.functional.linear(cat, w, b).float()
print("joined vs one GEMM rel diff", ((r1 - r2).norm() / r2.norm()).item())

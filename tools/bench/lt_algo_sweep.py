"""How much faster than cuBLASLt's first heuristic choice can FLUX.1-dev's GEMMs run on this card?

LibTorch's bf16 linear with a bias (at::cuda::blas::gemm_and_bias) asks cuBLASLt for ONE algorithm
(the first heuristic result) and runs it. This script asks for up to --algos results per FLUX GEMM
shape (the double blocks' image and text linears, the single blocks' linear1 parts and linear2,
bias and GELU-bias epilogues as flux4j runs them), times each (CUDA events, --iters runs after
warm-up) and prints, per shape, the first result's time, the best one's, and torch.nn.functional.linear's
(to check that the first result is what LibTorch runs). Torch only (ctypes to libcublasLt).

  python3 tools/bench/lt_algo_sweep.py [--algos 16] [--iters 20] [--json out.json]
"""
import argparse, json, os
import torch
import cublaslt  # tools/bench/cublaslt.py (the script's own folder)
from cublaslt import EPI_DEFAULT, EPI_BIAS, EPI_GELU_BIAS
from cuda_timing import mean_ms  # tools/bench/cuda_timing.py

p = argparse.ArgumentParser()
p.add_argument("--algos", type=int, default=16)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--workspace-mib", type=int, default=32)
p.add_argument("--json", default=None)
args = p.parse_args()

lt = cublaslt.Lt(args.workspace_mib)
lt_path = lt.path


def sweep(name, m, n, k, gelu, beta, count):
    """y[m, n] = x[m, k] W[n, k]^T + b (+ beta * y), as cuBLASLt column-major: C[n, m] = W^T' x'."""
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * (k ** -0.5)
    b = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    y = torch.zeros(m, n, device="cuda", dtype=torch.bfloat16)
    # the accumulating GEMM (beta 1, the joined linear2's second part) adds no bias, as flux4j's addmm_
    epilogue = EPI_DEFAULT if beta else (EPI_GELU_BIAS if gelu else EPI_BIAS)
    plan = lt.plan(m, n, k, epilogue, count=count)
    bias = None if epilogue == EPI_DEFAULT else b
    times = []
    for i, h in enumerate(plan.heuristics):
        try:
            times.append((i, mean_ms(lambda i=i: plan.run(w, x, y, 1.0, beta, bias=bias, index=i), args.iters),
                          h.wavesCount))
        except RuntimeError:
            times.append((i, float("nan"), h.wavesCount))
    if gelu:
        ref = lambda: torch._addmm_activation(b, x, w.t(), use_gelu=True)
    elif beta:
        ref = lambda: torch.addmm(y, x, w.t(), out=y)  # accumulate into y (the joined linear2's second part)
    else:
        ref = lambda: torch.nn.functional.linear(x, w, b)
    t_torch = mean_ms(ref, args.iters)
    plan.close()
    flop = 2.0 * m * n * k
    valid = [t for t in times if t[1] == t[1]]
    first = valid[0][1] if valid else float("nan")
    best = min(valid, key=lambda t: t[1]) if valid else (None, float("nan"), 0)
    print(f"{name:34s} m={m:5d} n={n:5d} k={k:5d}: torch {t_torch:.4f} ms, heuristic #0 {first:.4f} ms, "
          f"best #{best[0]} {best[1]:.4f} ms ({flop / best[1] / 1e9:.0f} TFLOP/s), {len(valid)} algos, "
          f"best vs #0 {100 * (1 - best[1] / first):.1f} %, best vs torch {100 * (1 - best[1] / t_torch):.1f} %",
          flush=True)
    num = lambda v: None if v != v else v  # NaN (an algorithm that failed) is not JSON
    return {"name": name, "m": m, "n": n, "k": k, "gelu": gelu, "beta": beta, "torch_ms": t_torch,
            "first_ms": num(first), "best_index": best[0], "best_ms": num(best[1]),
            "all": [{"index": i, "ms": num(t), "waves": wv} for i, t, wv in times]}


h = 3072
shapes = [  # per 1024x1024 step: (name, m, n, k, gelu, beta, count per step)
    ("double img qkv", 4096, 3 * h, h, False, 0.0, 19), ("double img proj", 4096, h, h, False, 0.0, 19),
    ("double img mlp.0 + GELU", 4096, 4 * h, h, True, 0.0, 19), ("double img mlp.2", 4096, h, 4 * h, False, 0.0, 19),
    ("double txt qkv", 512, 3 * h, h, False, 0.0, 19), ("double txt proj", 512, h, h, False, 0.0, 19),
    ("double txt mlp.0 + GELU", 512, 4 * h, h, True, 0.0, 19), ("double txt mlp.2", 512, h, 4 * h, False, 0.0, 19),
    ("single linear1 qkv", 4608, 3 * h, h, False, 0.0, 38), ("single linear1 mlp + GELU", 4608, 4 * h, h, True, 0.0, 38),
    ("single linear2 attention part", 4608, h, h, False, 0.0, 38),
    ("single linear2 mlp part (+= C)", 4608, h, 4 * h, False, 1.0, 38),
    ("single linear2 5h (one GEMM)", 4608, h, 5 * h, False, 0.0, 0),
]
print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {lt_path}")
out = []
tot_first = tot_best = tot_torch = 0.0
for name, m, n, k, gelu, beta, per_step in shapes:
    r = sweep(name, m, n, k, gelu, beta, args.algos)
    r["per_step"] = per_step
    out.append(r)
    tot_torch += per_step * r["torch_ms"]
    tot_first += per_step * (r["first_ms"] if r["first_ms"] is not None else float("nan"))
    tot_best += per_step * (r["best_ms"] if r["best_ms"] is not None else float("nan"))
print(f"per 1024x1024 step: torch {tot_torch:.1f} ms, heuristic #0 {tot_first:.1f} ms, best {tot_best:.1f} ms")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cublaslt": lt_path,
                   "algos_requested": args.algos, "iters": args.iters, "workspace_mib": args.workspace_mib,
                   "cublaslt_workspace_size_env": os.environ.get("CUBLASLT_WORKSPACE_SIZE"), "shapes": out,
                   "per_step_ms": {"torch": tot_torch, "first": tot_first, "best": tot_best}}, f, indent=1)

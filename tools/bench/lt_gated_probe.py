"""Can cuBLASLt fold FLUX's gated residual into the GEMM, and is it faster?

Every FLUX block ends its attention and feed-forward branches with `x + gate * (h W^T + b)`
(the double blocks' `proj` and `mlp.2`, the single block's `linear2`); flux4j's fast path runs the
GEMM with the bias epilogue, then its `gated_residual` kernel (one pass: read x and y, write x).
cuBLASLt can take the gate as a per-row alpha vector (pointer mode ALPHA_DEVICE_VECTOR_BETA_HOST,
float32) and the residual as C with beta 1: D = gate * (h W^T) + x + gate * b, the bias scaled by
the gate beforehand. This probe times, per FLUX.1-dev shape at 1024x1024, the two-kernel path
(GEMM + bias, then `torch.addcmul`, a one-pass stand-in for the gated_residual kernel) against the
one fused GEMM (cuBLASLt's first heuristic choice for each), and reports both outputs' relative
difference from float64. Torch only (ctypes to libcublasLt, `cublaslt.py`).

  python3 tools/bench/lt_gated_probe.py [--iters 20] [--json out.json]
"""
import argparse, json
import torch
import cublaslt  # tools/bench/cublaslt.py (the script's own folder)
from cublaslt import EPI_DEFAULT, EPI_BIAS, R_16BF, R_32F, POINTER_ALPHA_VECTOR_BETA_HOST
from cuda_timing import mean_ms

p = argparse.ArgumentParser()
p.add_argument("--iters", type=int, default=20)
p.add_argument("--json", default=None)
args = p.parse_args()
lt = cublaslt.Lt(32)


def rel(a, ref):
    return ((a.double() - ref).norm() / ref.norm()).item()


def probe(name, m, n, k, accumulate):
    """accumulate: the joined linear2's second part (D += gate * h W^T, no bias) after a first part."""
    g = torch.Generator(device="cuda").manual_seed(m * 7 + n * 3 + k)
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16, generator=g)
    w = (torch.randn(n, k, device="cuda", generator=g) * k ** -0.5).to(torch.bfloat16)
    b = torch.randn(n, device="cuda", dtype=torch.bfloat16, generator=g)
    res = torch.randn(m, n, device="cuda", dtype=torch.bfloat16, generator=g)
    gate = (torch.randn(n, device="cuda", generator=g) * 0.5).to(torch.bfloat16)
    gate32 = gate.float()
    out = torch.empty_like(res)
    ref = res.double() + gate.double() * (x.double() @ w.double().t() + (0 if accumulate else b.double()))
    row = {"name": name, "m": m, "n": n, "k": k, "accumulate": accumulate}
    if accumulate:
        two = lambda: torch.addcmul(res, gate, torch.mm(x, w.t()))
    else:
        two = lambda: torch.addcmul(res, gate, torch.nn.functional.linear(x, w, b))
    row["two_kernel_ms"] = mean_ms(two, args.iters)
    row["two_kernel_rel"] = rel(two(), ref)
    row["gemm_only_ms"] = mean_ms(lambda: torch.nn.functional.linear(x, w, None if accumulate else b), args.iters)
    variants = [("bias32", R_32F), ("bias16", R_16BF)] if not accumulate else [("nobias", None)]
    for tag, bias_type in variants:
        try:
            if accumulate:
                plan = lt.plan(m, n, k, EPI_DEFAULT, pointer_mode=POINTER_ALPHA_VECTOR_BETA_HOST)
                bias = None
            else:
                plan = lt.plan(m, n, k, EPI_BIAS, bias_type=bias_type, pointer_mode=POINTER_ALPHA_VECTOR_BETA_HOST)
                bias = (gate32 * b.float()) if bias_type == R_32F else (gate32 * b.float()).to(torch.bfloat16)
            if not plan.heuristics:
                row[tag] = "no algorithm"
                continue
            run = lambda: plan.run(w, x, out, gate32, 1.0, c=res, bias=bias)
            row[tag + "_ms"] = mean_ms(run, args.iters)
            run()
            torch.cuda.synchronize()
            row[tag + "_rel"] = rel(out, ref)
            plan.close()
        except RuntimeError as e:
            row[tag] = str(e)
    # the plain bias GEMM through cuBLASLt, for scale
    plan = lt.plan(m, n, k, EPI_DEFAULT if accumulate else EPI_BIAS)
    row["lt_plain_ms"] = mean_ms(lambda: plan.run(w, x, out, 1.0, bias=None if accumulate else b), args.iters)
    plan.close()
    print(json.dumps(row), flush=True)
    return row


h = 3072
shapes = [  # per 1024x1024 step: (name, m, n, k, accumulate, count per step)
    ("double img proj", 4096, h, h, False, 19), ("double img mlp.2", 4096, h, 4 * h, False, 19),
    ("double txt proj", 512, h, h, False, 19), ("double txt mlp.2", 512, h, 4 * h, False, 19),
    ("single linear2 attention part", 4608, h, h, False, 38),
    ("single linear2 mlp part (+= C)", 4608, h, 4 * h, True, 38),
]
print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {lt.path}")
rows = []
tot = {"two_kernel": 0.0, "fused": 0.0}
for name, m, n, k, acc, per_step in shapes:
    r = probe(name, m, n, k, acc)
    r["per_step"] = per_step
    rows.append(r)
    fused = r.get("nobias_ms") if acc else r.get("bias32_ms", r.get("bias16_ms"))
    # the joined linear2: its first part's two-kernel time already holds the gate pass
    tot["two_kernel"] += per_step * (r["gemm_only_ms"] if acc else r["two_kernel_ms"])
    tot["fused"] += per_step * (fused if fused is not None else float("nan"))
print(f"per 1024x1024 step: GEMM + gate pass {tot['two_kernel']:.1f} ms, fused {tot['fused']:.1f} ms")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "iters": args.iters,
                   "shapes": rows, "per_step_ms": tot}, f, indent=1)

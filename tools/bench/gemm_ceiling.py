"""What the GEMMs of one FLUX.1-dev step could cost below today's bf16 path: a measurement to decide
on the next CUDA work (docs/cuda-kernels.md, "The floor of a step"), not a flux4j benchmark.

For each many-row linear of a FLUX.1-dev step (the double blocks' qkv / proj / mlp per stream, the
single blocks' linear1 / linear2, with their token counts at the given image sizes and 512 text
tokens) it times, on random data of the real shapes:

  bf16       F.linear(x, w, b) in bf16: what flux4j and diffusers run today (cuBLAS / cuBLASLt)
  gelu       for the mlp.0 shapes: F.gelu(F.linear(...), approximate="tanh") against
             torch._addmm_activation(b, x, w.t(), use_gelu=True) (cuBLASLt's GELU-bias epilogue on
             CUDA): time saved, and the relative difference of the two outputs
  fp8        torch._scaled_mm on e4m3 operands with row-wise float32 scales (activations per token,
             weights per output feature), bias in the epilogue, bf16 out; the activations'
             quantization is timed separately; relative difference against bf16
  int8       torch._int_mm (int8 x int8 -> int32, cuBLASLt's integer tensor cores) with per-token and
             per-feature scales applied after it (timed separately): the ceiling of a W8A8 path for
             the integer GGUF types (Q8_0's per-32 block scales would need a custom main loop)

and SDPA at the joint sequence length (24 heads of 128). It prints one row per shape and variant,
then per-step totals (sum of count x time), and writes everything to --json.

  python3 tools/bench/gemm_ceiling.py --sizes 1024x1024,672x496 --json out.json
  python3 tools/bench/gemm_ceiling.py --device cpu --smoke     # checks the script on a CPU

Relative difference = ||a - b|| / ||b|| (Frobenius), on inputs ~ N(0, 1) and weights ~ N(0, 1/K);
bf16_rel_diff_vs_fp32 gives the scale: the bf16 product against the same product in float32.
(A CPU smoke run gave, per linear: bf16 vs float32 ~2e-3, fp8 row-wise ~3.7e-2, int8 per-channel
~1.0e-2; the GPU run says what the GPU kernels give.)
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--sizes", default="1024x1024,672x496")
p.add_argument("--txt-tokens", type=int, default=512)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--smoke", action="store_true", help="shapes / 16, two iterations: a CPU check of the script")
p.add_argument("--variants", default="bf16,gelu,fp8,int8,sdpa")
p.add_argument("--json", default=None)
args = p.parse_args()

dev = torch.device(args.device)
cuda = dev.type == "cuda"
variants = set(args.variants.split(","))
if args.smoke:
    args.warmup, args.iters = 1, 2
DIV = 16 if args.smoke else 1
H = 3072 // DIV  # hidden
MLP = 4 * H
HEADS, HEAD_DIM = 24 // (4 if args.smoke else 1), 128 // (4 if args.smoke else 1)


def sync():
    if cuda:
        torch.cuda.synchronize()


def timed(fn):
    """Median and p90 milliseconds of fn() (CUDA events on a GPU, wall clock on a CPU)."""
    for _ in range(args.warmup):
        fn()
    sync()
    ms = []
    for _ in range(args.iters):
        if cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            ms.append(a.elapsed_time(b))
        else:
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1e3)
    ms.sort()
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.9 * len(ms)))]


def rel(a, b):
    a, b = a.float(), b.float()
    return ((a - b).norm() / b.norm()).item()


def shapes(img, txt):
    """(name, tokens M, in K, out N, calls per step, is mlp.0) of every many-row linear."""
    joint = img + txt
    out = []
    for stream, m in (("img", img), ("txt", txt)):
        out += [(f"double {stream} qkv", m, H, 3 * H, 19, False),
                (f"double {stream} proj", m, H, H, 19, False),
                (f"double {stream} mlp.0", m, H, MLP, 19, True),
                (f"double {stream} mlp.2", m, MLP, H, 19, False)]
    out += [("single linear1", joint, H, 3 * H + MLP, 38, False),
            ("single linear2", joint, H + MLP, H, 38, False)]
    return out


def row_scales(t):
    """Per-row float32 scales so that every row's largest magnitude maps to `top`."""
    return t.abs().amax(dim=1, keepdim=True).float().clamp(min=1e-12)


def bench_shape(name, m, k, n, is_mlp0):
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(m, k, generator=g).to(dev, torch.bfloat16)
    w = (torch.randn(n, k, generator=g) / k ** 0.5).to(dev, torch.bfloat16)
    b = (torch.randn(n, generator=g) * 0.1).to(dev, torch.bfloat16)
    flop = 2.0 * m * k * n
    res = {"shape": name, "M": m, "K": k, "N": n}
    ref = F.linear(x, w, b)
    # what bf16 itself costs in accuracy, for scale: the same product in float32
    res["bf16_rel_diff_vs_fp32"] = rel(ref, F.linear(x.float(), w.float(), b.float()))

    def put(key, fn):
        try:
            med, p90 = timed(fn)
            res[key] = {"ms": med, "p90": p90, "tflops": flop / med / 1e9}
        except Exception as e:  # not every variant exists on every device / build
            res[key] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}

    if "bf16" in variants:
        put("bf16", lambda: F.linear(x, w, b))
    if "gelu" in variants and is_mlp0:
        put("bf16_then_gelu", lambda: F.gelu(F.linear(x, w, b), approximate="tanh"))
        put("addmm_gelu_epilogue", lambda: torch._addmm_activation(b, x, w.t(), use_gelu=True))
        try:
            res["gelu_epilogue_rel_diff"] = rel(torch._addmm_activation(b, x, w.t(), use_gelu=True),
                                                F.gelu(ref, approximate="tanh"))
        except Exception as e:
            res["gelu_epilogue_rel_diff"] = f"{type(e).__name__}"
    if "fp8" in variants:
        try:
            e4m3 = torch.float8_e4m3fn
            top = torch.finfo(e4m3).max
            sx, sw = row_scales(x) / top, row_scales(w) / top
            x8 = (x.float() / sx).to(e4m3)
            w8 = (w.float() / sw).to(e4m3)
            swt = sw.t().contiguous()

            def fp8():
                return torch._scaled_mm(x8, w8.t(), scale_a=sx, scale_b=swt, bias=b, out_dtype=torch.bfloat16)

            put("fp8_gemm", fp8)
            put("fp8_quantize_activations", lambda: (x.float() / row_scales(x) * top).to(e4m3))
            res["fp8_rel_diff"] = rel(fp8(), ref)
        except Exception as e:
            res["fp8_gemm"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    if "int8" in variants:
        try:
            sx, sw = row_scales(x) / 127, row_scales(w) / 127
            x8 = torch.round(x.float() / sx).clamp(-127, 127).to(torch.int8)
            w8 = torch.round(w.float() / sw).clamp(-127, 127).to(torch.int8)
            w8t = w8.t()
            swt = sw.t().contiguous()

            def int8():
                return torch._int_mm(x8, w8t)

            put("int8_gemm", int8)
            acc = int8()
            put("int8_rescale", lambda: (acc.float() * sx * swt + b.float()).to(torch.bfloat16))
            res["int8_rel_diff"] = rel((acc.float() * sx * swt + b.float()).to(torch.bfloat16), ref)
        except Exception as e:
            res["int8_gemm"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    del x, w, b, ref
    if cuda:
        torch.cuda.empty_cache()
    return res


def fmt(v):
    return "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


report = {"device": torch.cuda.get_device_name(dev) if cuda else "cpu", "torch": torch.__version__,
          "cuda": torch.version.cuda, "smoke": args.smoke, "sizes": []}
if cuda:
    report["driver_note"] = "see nvidia-smi in the run's log"
for size in args.sizes.split(","):
    wpx, hpx = (int(v) for v in size.lower().split("x"))
    img = (wpx // 16) * (hpx // 16) // (DIV if args.smoke else 1)
    txt = args.txt_tokens // (DIV if args.smoke else 1)
    rows = []
    totals = {}
    print(f"== {size}: {img} image + {txt} text tokens, hidden {H}")
    print("| shape | M x K x N | calls | variant | ms median (p90) | TFLOP/s |")
    print("|---|---|---|---|---|---|")
    for name, m, k, n, calls, is_mlp0 in shapes(img, txt):
        r = bench_shape(name, m, k, n, is_mlp0)
        r["calls"] = calls
        rows.append(r)
        for key, v in r.items():
            if isinstance(v, dict) and "ms" in v:
                print(f"| {name} | {m}x{k}x{n} | {calls} | {key} | {v['ms']:.3f} ({v['p90']:.3f}) | {v['tflops']:.0f} |")
                totals[key] = totals.get(key, 0.0) + calls * v["ms"]
            elif isinstance(v, dict) and "error" in v:
                print(f"| {name} | {m}x{k}x{n} | {calls} | {key} | {v['error']} | |")
        for key in ("bf16_rel_diff_vs_fp32", "gelu_epilogue_rel_diff", "fp8_rel_diff", "int8_rel_diff"):
            if key in r:
                print(f"|  |  |  | {key} | {fmt(r[key])} | |")
    entry = {"size": size, "img_tokens": img, "txt_tokens": txt, "shapes": rows}
    if "sdpa" in variants:
        joint = img + txt
        g = torch.Generator(device="cpu").manual_seed(1)
        q, k_, v_ = (torch.randn(1, HEADS, joint, HEAD_DIM, generator=g).to(dev, torch.bfloat16) for _ in range(3))
        med, p90 = timed(lambda: F.scaled_dot_product_attention(q, k_, v_))
        flop = 4.0 * joint * joint * HEADS * HEAD_DIM
        entry["sdpa"] = {"ms": med, "p90": p90, "tflops": flop / med / 1e9, "calls": 57}
        totals["sdpa"] = 57 * med
        print(f"| sdpa | {HEADS}x{joint}x{HEAD_DIM} | 57 | bf16 | {med:.3f} ({p90:.3f}) | {flop / med / 1e9:.0f} |")
        del q, k_, v_
    # Per step: every linear through one variant (mlp.0 through the GELU variants where timed; the
    # shapes a variant could not run are left out of its total, so compare only complete totals).
    entry["step_totals_ms"] = totals
    print("per step (calls x median), ms: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(totals.items())))
    report["sizes"].append(entry)
if args.json:
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)

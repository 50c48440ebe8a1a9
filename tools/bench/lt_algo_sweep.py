"""How much faster than cuBLASLt's first heuristic choice can FLUX.1-dev's GEMMs run on this card?

LibTorch's bf16 linear with a bias (at::cuda::blas::gemm_and_bias) asks cuBLASLt for ONE algorithm
(the first heuristic result) and runs it. This script asks for up to --algos results per FLUX GEMM
shape (the double blocks' image and text linears, the single blocks' linear1 parts and linear2,
bias and GELU-bias epilogues as flux4j runs them), times each (CUDA events, --iters runs after
warm-up) and prints, per shape, the first result's time, the best one's, and torch.nn.functional.linear's
(to check that the first result is what LibTorch runs). Torch only (ctypes to libcublasLt).

  python3 tools/bench/lt_algo_sweep.py [--algos 16] [--iters 20] [--json out.json]
"""
import argparse, ctypes, ctypes.util, glob, json, os, sys
import torch
from cuda_timing import mean_ms  # tools/bench/cuda_timing.py (the script's own folder)

p = argparse.ArgumentParser()
p.add_argument("--algos", type=int, default=16)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--workspace-mib", type=int, default=32)
p.add_argument("--json", default=None)
args = p.parse_args()

# enum values (cublasLt.h, CUDA 13; the same as org.bytedeco.cuda.global.cublas)
COMPUTE_32F, R_32F, R_16BF = 68, 0, 14
OP_N, OP_T = 0, 1
DESC_TRANSA, DESC_TRANSB, DESC_EPILOGUE, DESC_BIAS_POINTER, DESC_BIAS_DATA_TYPE = 3, 4, 7, 8, 26
EPI_DEFAULT, EPI_BIAS, EPI_GELU_BIAS = 1, 4, 36
PREF_MAX_WORKSPACE = 1


def load_lt():
    cands = []
    for d in sys.path:
        cands += glob.glob(os.path.join(d, "nvidia", "cu13", "lib", "libcublasLt.so*"))
        cands += glob.glob(os.path.join(d, "nvidia", "cublas", "lib", "libcublasLt.so*"))
    found = ctypes.util.find_library("cublasLt")
    if found:
        cands.append(found)
    torch.zeros(1, device="cuda") @ torch.zeros(1, 1, device="cuda")  # loads torch's own cuBLAS first
    for c in cands:
        try:
            return ctypes.CDLL(c), c
        except OSError:
            pass
    raise SystemExit("no libcublasLt found")


lt, lt_path = load_lt()
vp = ctypes.c_void_p


def ok(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what} failed: cublasStatus {rc}")


handle = vp()
ok(lt.cublasLtCreate(ctypes.byref(handle)), "cublasLtCreate")


class Heuristic(ctypes.Structure):
    _fields_ = [("algo", ctypes.c_uint64 * 8), ("workspaceSize", ctypes.c_size_t), ("state", ctypes.c_int),
                ("wavesCount", ctypes.c_float), ("reserved", ctypes.c_int * 4)]


def set_attr(fn, obj, attr, value, ctype):
    v = ctype(value)
    ok(fn(obj, attr, ctypes.byref(v), ctypes.sizeof(v)), f"set attribute {attr}")


def layout(rows, cols, ld):
    l = vp()
    ok(lt.cublasLtMatrixLayoutCreate(ctypes.byref(l), R_16BF, ctypes.c_uint64(rows), ctypes.c_uint64(cols),
                                     ctypes.c_int64(ld)), "cublasLtMatrixLayoutCreate")
    return l


def sweep(name, m, n, k, gelu, beta, count):
    """y[m, n] = x[m, k] W[n, k]^T + b (+ beta * y), as cuBLASLt column-major: C[n, m] = W^T' x'."""
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * (k ** -0.5)
    b = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    y = torch.zeros(m, n, device="cuda", dtype=torch.bfloat16)
    ws = torch.empty(args.workspace_mib << 20, device="cuda", dtype=torch.uint8)
    desc = vp()
    ok(lt.cublasLtMatmulDescCreate(ctypes.byref(desc), COMPUTE_32F, R_32F), "cublasLtMatmulDescCreate")
    set_attr(lt.cublasLtMatmulDescSetAttribute, desc, DESC_TRANSA, OP_T, ctypes.c_int32)
    set_attr(lt.cublasLtMatmulDescSetAttribute, desc, DESC_TRANSB, OP_N, ctypes.c_int32)
    # the accumulating GEMM (beta 1, the joined linear2's second part) adds no bias, as flux4j's addmm_
    epilogue = EPI_DEFAULT if beta else (EPI_GELU_BIAS if gelu else EPI_BIAS)
    set_attr(lt.cublasLtMatmulDescSetAttribute, desc, DESC_EPILOGUE, epilogue, ctypes.c_int32)
    if epilogue != EPI_DEFAULT:
        set_attr(lt.cublasLtMatmulDescSetAttribute, desc, DESC_BIAS_POINTER, b.data_ptr(), ctypes.c_void_p)
        set_attr(lt.cublasLtMatmulDescSetAttribute, desc, DESC_BIAS_DATA_TYPE, R_16BF, ctypes.c_int32)
    a_l, b_l, c_l = layout(k, n, k), layout(k, m, k), layout(n, m, n)
    pref = vp()
    ok(lt.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)), "cublasLtMatmulPreferenceCreate")
    set_attr(lt.cublasLtMatmulPreferenceSetAttribute, pref, PREF_MAX_WORKSPACE, ws.numel(), ctypes.c_uint64)
    res = (Heuristic * count)()
    got = ctypes.c_int(0)
    ok(lt.cublasLtMatmulAlgoGetHeuristic(handle, desc, a_l, b_l, c_l, c_l, pref, count, res, ctypes.byref(got)),
       "cublasLtMatmulAlgoGetHeuristic")
    alpha, betav = ctypes.c_float(1.0), ctypes.c_float(beta)
    stream = vp(torch.cuda.current_stream().cuda_stream)
    times = []
    for i in range(got.value):
        h = res[i]
        if h.state != 0:
            continue

        def run(h=h):
            ok(lt.cublasLtMatmul(handle, desc, ctypes.byref(alpha), vp(w.data_ptr()), a_l, vp(x.data_ptr()), b_l,
                                 ctypes.byref(betav), vp(y.data_ptr()), c_l, vp(y.data_ptr()), c_l,
                                 ctypes.byref(h.algo), vp(ws.data_ptr()), ctypes.c_size_t(ws.numel()), stream),
               "cublasLtMatmul")
        try:
            times.append((i, mean_ms(run, args.iters), h.wavesCount))
        except RuntimeError as e:
            times.append((i, float("nan"), h.wavesCount))
    if gelu:
        ref = lambda: torch._addmm_activation(b, x, w.t(), use_gelu=True)
    elif beta:
        ref = lambda: torch.addmm(y, x, w.t(), out=y)  # accumulate into y (the joined linear2's second part)
    else:
        ref = lambda: torch.nn.functional.linear(x, w, b)
    t_torch = mean_ms(ref, args.iters)
    for l in (a_l, b_l, c_l):
        lt.cublasLtMatrixLayoutDestroy(l)
    lt.cublasLtMatmulPreferenceDestroy(pref)
    lt.cublasLtMatmulDescDestroy(desc)
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

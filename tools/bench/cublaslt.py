"""cuBLASLt through ctypes, for the torch-only GEMM probes beside it (lt_algo_sweep.py,
lt_gated_probe.py): the library torch loaded, a handle, descriptors, heuristic queries and a call
on torch's current stream. Enum values are cublasLt.h's (CUDA 13; the same as
org.bytedeco.cuda.global.cublas)."""
import ctypes, ctypes.util, glob, os, sys
import torch

COMPUTE_32F, R_32F, R_16BF = 68, 0, 14
OP_N, OP_T = 0, 1
DESC_POINTER_MODE, DESC_TRANSA, DESC_TRANSB, DESC_EPILOGUE, DESC_BIAS_POINTER = 2, 3, 4, 7, 8
DESC_BIAS_DATA_TYPE = 26
EPI_DEFAULT, EPI_BIAS, EPI_GELU_BIAS = 1, 4, 36
POINTER_HOST, POINTER_ALPHA_VECTOR_BETA_HOST = 0, 4
PREF_MAX_WORKSPACE = 1

vp = ctypes.c_void_p


def ok(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what} failed: cublasStatus {rc}")


def load():
    """(library, path): the libcublasLt torch itself uses where it can be found."""
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


class Heuristic(ctypes.Structure):
    _fields_ = [("algo", ctypes.c_uint64 * 8), ("workspaceSize", ctypes.c_size_t), ("state", ctypes.c_int),
                ("wavesCount", ctypes.c_float), ("reserved", ctypes.c_int * 4)]


class Lt:
    """One handle and a workspace of `workspace_mib` on the current device."""

    def __init__(self, workspace_mib=32):
        self.lib, self.path = load()
        self.handle = vp()
        ok(self.lib.cublasLtCreate(ctypes.byref(self.handle)), "cublasLtCreate")
        self.ws = torch.empty(workspace_mib << 20, device="cuda", dtype=torch.uint8)

    def desc_attr(self, desc, attr, value, ctype):
        v = ctype(value)
        ok(self.lib.cublasLtMatmulDescSetAttribute(desc, attr, ctypes.byref(v), ctypes.sizeof(v)),
           f"set descriptor attribute {attr}")

    def layout(self, rows, cols, ld):
        l = vp()
        ok(self.lib.cublasLtMatrixLayoutCreate(ctypes.byref(l), R_16BF, ctypes.c_uint64(rows),
                                               ctypes.c_uint64(cols), ctypes.c_int64(ld)), "cublasLtMatrixLayoutCreate")
        return l

    def plan(self, m, n, k, epilogue, bias_type=R_16BF, pointer_mode=POINTER_HOST, count=1):
        """A GEMM y[m, n] = x[m, k] W[n, k]^T as cuBLASLt's column-major D[n, m] = op(W) x', with
        `count` heuristic results (the first is what one call would run)."""
        desc = vp()
        ok(self.lib.cublasLtMatmulDescCreate(ctypes.byref(desc), COMPUTE_32F, R_32F), "cublasLtMatmulDescCreate")
        self.desc_attr(desc, DESC_TRANSA, OP_T, ctypes.c_int32)
        self.desc_attr(desc, DESC_TRANSB, OP_N, ctypes.c_int32)
        self.desc_attr(desc, DESC_EPILOGUE, epilogue, ctypes.c_int32)
        self.desc_attr(desc, DESC_POINTER_MODE, pointer_mode, ctypes.c_int32)
        if epilogue != EPI_DEFAULT:
            self.desc_attr(desc, DESC_BIAS_DATA_TYPE, bias_type, ctypes.c_int32)
        layouts = (self.layout(k, n, k), self.layout(k, m, k), self.layout(n, m, n))
        pref = vp()
        ok(self.lib.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)), "cublasLtMatmulPreferenceCreate")
        v = ctypes.c_uint64(self.ws.numel())
        ok(self.lib.cublasLtMatmulPreferenceSetAttribute(pref, PREF_MAX_WORKSPACE, ctypes.byref(v), ctypes.sizeof(v)),
           "cublasLtMatmulPreferenceSetAttribute")
        res = (Heuristic * count)()
        got = ctypes.c_int(0)
        a_l, b_l, c_l = layouts
        ok(self.lib.cublasLtMatmulAlgoGetHeuristic(self.handle, desc, a_l, b_l, c_l, c_l, pref, count, res,
                                                   ctypes.byref(got)), "cublasLtMatmulAlgoGetHeuristic")
        self.lib.cublasLtMatmulPreferenceDestroy(pref)
        return Plan(self, desc, layouts, [res[i] for i in range(got.value) if res[i].state == 0])


class Plan:
    def __init__(self, lt, desc, layouts, heuristics):
        self.lt, self.desc, self.layouts, self.heuristics = lt, desc, layouts, heuristics

    def run(self, w, x, d, alpha, beta=0.0, c=None, bias=None, index=0):
        """D = alpha * (x W^T) + beta * C (+ bias): alpha a float, or a float32 device vector of n
        values (the plan's pointer mode must say so)."""
        lt = self.lt
        if bias is not None:
            lt.desc_attr(self.desc, DESC_BIAS_POINTER, bias.data_ptr(), ctypes.c_void_p)
        a_ref = vp(alpha.data_ptr()) if isinstance(alpha, torch.Tensor) else ctypes.byref(ctypes.c_float(alpha))
        betav = ctypes.c_float(beta)
        c = d if c is None else c
        a_l, b_l, c_l = self.layouts
        ok(lt.lib.cublasLtMatmul(lt.handle, self.desc, a_ref, vp(w.data_ptr()), a_l, vp(x.data_ptr()), b_l,
                                 ctypes.byref(betav), vp(c.data_ptr()), c_l, vp(d.data_ptr()), c_l,
                                 ctypes.byref(self.heuristics[index].algo), vp(lt.ws.data_ptr()),
                                 ctypes.c_size_t(lt.ws.numel()), vp(torch.cuda.current_stream().cuda_stream)),
           "cublasLtMatmul")

    def close(self):
        for l in self.layouts:
            self.lt.lib.cublasLtMatrixLayoutDestroy(l)
        self.lt.lib.cublasLtMatmulDescDestroy(self.desc)

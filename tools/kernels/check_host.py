"""Checks flux_kernels.cu's block decoders, fused matvec and QK RMSNorm + RoPE on the host (check_host.cpp)
against gguf-py and torch.

float32 arithmetic: bit-identical to gguf.quants.dequantize; bf16/f16 outputs: that result rounded
by torch. Run: g++ -O1 -std=c++17 -o /tmp/check_host check_host.cpp && /tmp/ref/bin/python check_host.py
"""
import subprocess, sys, tempfile, os
import numpy as np
import torch
from gguf import GGMLQuantizationType as T, quants, GGML_QUANT_SIZES

rng = np.random.default_rng(7)
types = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]
# byte offsets of the float16 scales in each block, kept finite so comparisons are not NaN vs NaN
HALVES = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q2_K": [80, 82],
          "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "IQ4_NL": [0], "IQ4_XS": [0]}
EDGE = np.array([0.0, -0.0, 1.0, -1.0, 6.1e-5, 5.96e-8, -5.96e-8, 65504.0, -2.5e-3, 0.0137], dtype=np.float16)
bad = 0
for name in types:
    qt = T[name]
    bs, ts = GGML_QUANT_SIZES[qt]
    nblocks = 4096 + 13  # a last CTA that is only partly filled, ending off a 16-byte boundary
    raw = rng.integers(0, 256, size=(nblocks, ts), dtype=np.uint8)
    raw[:64] = 0xFF  # all-ones nibbles and bit planes (scales replaced below)
    for off in HALVES[name]:
        d = (rng.standard_normal(nblocks) * 0.01).astype(np.float16)
        d[:len(EDGE)] = EDGE
        raw[:, off:off + 2] = d.view(np.uint8).reshape(nblocks, 2)
    ref = quants.dequantize(raw.reshape(-1), qt).astype(np.float32).reshape(-1)
    n = ref.size
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        raw.tofile(fin)
        # every output dtype with one tile per CTA; bf16 also with 2, 3 and 4 (same bits expected)
        for out, tiles in [(0, 1), (1, 1), (2, 1), (2, 2), (2, 3), (2, 4)]:
            subprocess.run(["/tmp/check_host", name, "0", str(out), fin, fout, str(n), str(tiles)], check=True)
            if out == 0:
                got = np.fromfile(fout, dtype=np.float32)
                ok = np.array_equal(got.view(np.uint32), ref.view(np.uint32))
            elif out == 1:
                got = np.fromfile(fout, dtype=np.uint16)
                want = torch.from_numpy(ref).to(torch.float16).view(torch.int16).numpy().view(np.uint16)
                ok = np.array_equal(got, want)
            else:
                got = np.fromfile(fout, dtype=np.uint16)
                want = torch.from_numpy(ref).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
                ok = np.array_equal(got, want)
            if not ok:
                bad += 1
                g = got if out == 0 else got
                idx = np.nonzero((got.view(np.uint32) if out == 0 else got) != (ref.view(np.uint32) if out == 0 else want))[0]
                print(f"{name} out{out} tiles {tiles}: {idx.size} mismatches, first at {idx[:5]}: got {got[idx[:3]]} want {(ref if out == 0 else want)[idx[:3]]}")
        print(f"{name}: checked {n} weights")
print("FAILURES" if bad else "all bit-identical")

# Fused dequantization + matvec (matvec_* kernels): y = x @ W^T with W the bf16-rounded expansion;
# checked against float64 (only the float32 summation differs, plus y's one bf16 rounding), at
# every staging depth (chunks per round, 1..4), which must give the same bits.
for name in types:
    qt = T[name]
    bs, ts = GGML_QUANT_SIZES[qt]
    N, B = 37, 3
    K = 256 * 7 + (32 if bs == 32 else 0)  # rounds of 1-4 chunks, the last one short; 32-blocks: a short chunk
    raw = rng.integers(0, 256, size=(N * K // bs, ts), dtype=np.uint8)
    for off in HALVES[name]:
        d = (rng.standard_normal(raw.shape[0]) * 0.01).astype(np.float16)
        raw[:, off:off + 2] = d.view(np.uint8).reshape(-1, 2)
    w = torch.from_numpy(quants.dequantize(raw.reshape(-1), qt).astype(np.float32).reshape(N, K)).to(torch.bfloat16)
    x = torch.randn(B, K).to(torch.bfloat16)
    want = (x.double() @ w.double().T)
    first = None
    for depth in (1, 2, 3, 4):
        with tempfile.TemporaryDirectory() as tmp:
            fw, fx, fy = (os.path.join(tmp, n) for n in ("w", "x", "y"))
            raw.tofile(fw)
            x.view(torch.int16).numpy().tofile(fx)
            subprocess.run(["/tmp/check_host", "matvec", name, "0", "2", fw, fx, fy, str(N), str(K), str(B),
                            str(depth)], check=True)
            bits = np.fromfile(fy, dtype=np.int16)
        got = torch.from_numpy(bits).view(torch.bfloat16).reshape(B, N).double()
        rel = ((got - want).norm() / want.norm()).item()
        same = first is None or np.array_equal(bits, first)
        first = bits if first is None else first
        ok = rel < 4e-3 and same
        bad += 0 if ok else 1
        print(f"matvec {name}: N={N} K={K} B={B} depth {depth} rel {rel:.2e}"
              f"{'' if same else ' (differs from depth 1)'} {'ok' if ok else 'FAIL'}")
# QK RMSNorm + RoPE (rms_rope kernels), bf16: against torch's float32 arithmetic of the same steps
# (x * rsqrt(mean(x^2) + eps) * w rounded once to bf16, then the rotation in float32, rounded);
# only the sum of squares' order and rsqrt's last bits may differ. Rows aligned (head dim 128,
# a fused-qkv token stride) and half of them off a 4-byte boundary (head dim 66, odd stride).
torch.manual_seed(11)
# The vectorised kernel (rms_rope_vec: G = D / 8 lanes per row, 16-byte rows) on the aligned
# cases: head dims 64, 128 (FLUX) and 256, row counts that leave a warp partly idle.
CASES = [("rmsrope", 2, 5, 3, 128, 0), ("rmsrope", 1, 7, 2, 66, 1), ("rmsropevec", 2, 5, 3, 128, 0),
         ("rmsropevec", 1, 7, 24, 128, 0), ("rmsropevec", 2, 3, 5, 64, 8), ("rmsropevec", 1, 9, 3, 256, 0)]
for kernel, B, S, H, D, stride_extra in CASES:
    Sout, off, eps = S + 4, 4, 1e-6
    stride = 3 * H * D + stride_extra
    xs = torch.randn(B * S * stride).to(torch.bfloat16)
    w = (torch.rand(D) + 0.5).to(torch.bfloat16)
    ang = torch.randn(Sout, D)
    cos, sin = ang.cos().float(), ang.sin().float()
    with tempfile.TemporaryDirectory() as tmp:
        fx, fw, fc, fs, fo = (os.path.join(tmp, n) for n in ("x", "w", "c", "s", "o"))
        xs.view(torch.int16).numpy().tofile(fx)
        w.view(torch.int16).numpy().tofile(fw)
        cos.numpy().tofile(fc)
        sin.numpy().tofile(fs)
        subprocess.run(["/tmp/check_host", kernel, fx, fw, fc, fs, fo, str(B), str(S), str(H), str(D), str(Sout),
                        str(off), str(stride), str(eps)], check=True)
        got = torch.from_numpy(np.fromfile(fo, dtype=np.int16)).view(torch.bfloat16).reshape(B, Sout, H, D)
    x = xs.reshape(B, S, stride)[:, :, :H * D].reshape(B, S, H, D).float()
    rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    y = ((x * rstd) * w.float()).to(torch.bfloat16).float()
    c, sn = cos[off:off + S].view(1, S, 1, D), sin[off:off + S].view(1, S, 1, D)
    ye, yo = y[..., 0::2], y[..., 1::2]
    re = ye * c[..., 0::2] + (-yo) * sn[..., 0::2]
    im = yo * c[..., 1::2] + ye * sn[..., 1::2]
    want = torch.stack([re, im], -1).flatten(-2).to(torch.bfloat16)
    region = got[:, off:off + S]
    rel = ((region.float() - want.float()).norm() / want.float().norm()).item()
    same = (region == want).float().mean().item()
    untouched = bool((got[:, :off] == 0).all())
    ok = rel < 2e-3 and same > 0.99 and untouched
    bad += 0 if ok else 1
    print(f"{kernel} B={B} S={S} H={H} D={D} stride {stride}: rel {rel:.2e}, {same:.4f} identical"
          f"{'' if untouched else ', rows outside the slot written'} {'ok' if ok else 'FAIL'}")
print("FAILURES" if bad else "all checks passed")
sys.exit(1 if bad else 0)

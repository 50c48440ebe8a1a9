#!/usr/bin/env python3
"""Reference data for flux-gguf's Quantizer: fixed float32 inputs and the reference quantizers' bytes.

Writes raw little-endian files into flux-gguf/src/test/resources/reference/quant/:

  <TYPE>.f32    the float32 input
  <TYPE>.bytes  the quantized output

Legacy types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and the plain F16 / BF16 conversions come from
gguf-py's ``gguf.quants.quantize``. K-quants (Q2_K..Q6_K) cannot be quantized by gguf-py; their
bytes come from ggml's scalar C reference (``quantize_row_qX_K_ref``) through the small CLI that
build_ggml_kquant_ref.sh compiles from a ggml checkout. Pass its path with ``--ggml-ref``;
without it the K-quant files are left as they are. For the K-quants the script also writes

  <TYPE>.dequant.f32  gguf-py's dequantization of the reference bytes (block layout cross-check)

Inputs are fixed-seed normals at many scales plus edge-case blocks: all zeros, all -0, constant
blocks, huge and tiny magnitudes (including float16 overflow / underflow of the scale), a single
outlier of either sign, negative and positive maximum, exact rounding ties, and for the legacy
types a few non-finite blocks (numpy's x86 float->int cast behaviour decides those bytes).

Run from the repository root with the reference environment:
    tools/reference/build_ggml_kquant_ref.sh <ggml checkout or mirror git dir> /tmp/ggml_kquant_ref
    /tmp/ref/bin/python tools/reference/gguf_quant_refs.py --ggml-ref /tmp/ggml_kquant_ref
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SEED = 20261126
OUT = Path(__file__).resolve().parents[2] / "flux-gguf/src/test/resources/reference/quant"

LEGACY = (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1)
KQUANTS = (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K)


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def legacy_input(rng: np.random.Generator) -> np.ndarray:
    """Blocks of 32: edge cases first, then random normals at scales 1e-3..1e2, some shifted."""
    n = 32
    normal = lambda scale: f32(rng.standard_normal(n) * scale)
    blocks = [
        np.zeros(n, np.float32),                        # all zero: d = 0, id = 0
        np.full(n, -0.0, np.float32),                   # all negative zero (sign of min survives)
        np.full(n, 0.75, np.float32),                   # constant positive
        np.full(n, -3.0, np.float32),                   # constant negative
        normal(3e4),                                    # large, scale still fits float16
        normal(1e6),                                    # scale overflows float16 to inf
        normal(1e30),                                   # far beyond float16
        f32(rng.choice([-3e38, 3e38], n)),              # max - min overflows float32
        normal(1e-3),
        normal(1e-6),                                   # scale becomes a float16 subnormal
        normal(1e-30),                                  # scale underflows float16 to 0
        normal(1e-39),                                  # float32 subnormals: 1/d overflows to inf
        np.concatenate([normal(0.01)[:31], f32([50.0])]),     # single positive outlier
        np.concatenate([f32([-50.0]), normal(0.01)[1:]]),     # single negative outlier
        np.concatenate([normal(1.0)[:-1], f32([-4.0])]),      # negative maximum (|x|)
        np.concatenate([normal(1.0)[:-1], f32([4.0])]),       # positive maximum
        np.concatenate([f32([127.0]), f32(np.arange(31) - 15.5)]),  # Q8_0 d = 1: exact .5 ties
        f32(np.arange(32) - 16.0),                      # Q4_0 / Q5_0 exact grid with ties
        f32(np.arange(32) * 0.5),                       # Q4_1 / Q5_1 exact grid
        f32(np.abs(rng.standard_normal(n))) + 5.0,      # all positive (min > 0)
        -f32(np.abs(rng.standard_normal(n))) - 5.0,     # all negative
        np.concatenate([normal(1.0)[:8], f32([np.inf]), normal(1.0)[9:]]),   # non-finite inputs
        np.concatenate([normal(1.0)[:3], f32([-np.inf]), normal(1.0)[4:]]),
        np.concatenate([normal(1.0)[:20], f32([np.nan]), normal(1.0)[21:]]),
    ]
    scales = 10.0 ** rng.uniform(-3, 2, 72)
    for i, s in enumerate(scales):
        b = normal(s)
        if i % 3 == 1:
            b = f32(b + s * rng.uniform(-3, 3))         # shifted: min far from 0
        blocks.append(b)
    return np.concatenate(blocks).astype(np.float32)


def plain_input(rng: np.random.Generator) -> np.ndarray:
    """Values for F16 / BF16: normals at many scales plus specials and rounding ties."""
    specials = f32([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 65504.0, 65519.0, 65520.0, 1e5,
                    -1e5, 2.0**-14, 2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-26, 1e-8, -1e-8,
                    1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 3.0e38, -3.4e38, 1e-40, -1e-45])
    payload_nans = np.array([0x7FC00001, 0xFFA00000, 0x7F800001, 0x7F80FFFF, 0xFFFFFFFF],
                            dtype=np.uint32).view(np.float32)
    bf16_ties = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7F8000, 0xBF808001],
                         dtype=np.uint32).view(np.float32)
    scales = 10.0 ** rng.uniform(-9, 6, 1024 - specials.size - payload_nans.size - bf16_ties.size)
    randoms = f32(rng.standard_normal(scales.size) * scales)
    return np.concatenate([specials, payload_nans, bf16_ties, randoms]).astype(np.float32)


def kquant_input(rng: np.random.Generator) -> np.ndarray:
    """Super-blocks of 256: ggml's test-quantize-fns data, then edge cases and random normals."""
    n = 256
    # test-quantize-fns.cpp: dst[i] = 0.1 + 2*cosf(i + offset), offset 0, 32*128 values
    i = np.arange(32 * 128, dtype=np.float32)
    synthetic = (0.1 + 2.0 * np.cos(i).astype(np.float32).astype(np.float64)).astype(np.float32)
    normal = lambda scale, size=n: f32(rng.standard_normal(size) * scale)
    mixed = normal(1.0)
    mixed[32:64] = 0.0                                  # one all-zero sub-block
    mixed[160:176] = 0.0
    tiny_and_huge = normal(1e-4)
    tiny_and_huge[0:32] = normal(100.0, 32)             # sub-block scales of the rest round to 0
    outlier = normal(0.01)
    outlier[77] = 40.0
    neg_outlier = normal(0.01)
    neg_outlier[200] = -40.0
    blocks = [
        synthetic,
        np.zeros(n, np.float32),
        np.full(n, 1.5, np.float32),
        np.full(n, -2.0, np.float32),
        normal(3e4),
        normal(1e-3),
        normal(1e-7),                                   # super-block scale underflows float16
        mixed,
        tiny_and_huge,
        outlier,
        neg_outlier,
        f32(np.abs(rng.standard_normal(n))) + 3.0,      # all positive: min clamps to 0
        -f32(np.abs(rng.standard_normal(n))) - 3.0,     # all negative
        f32(np.round(rng.standard_normal(n) * 8) / 8),  # coarse grid: many exact ties
    ]
    for s in 10.0 ** rng.uniform(-2, 2, 14):
        blocks.append(normal(s) + f32(s * rng.uniform(-1, 1)))
    return np.concatenate(blocks).astype(np.float32)


def c_name(t: T) -> str:
    """ggml's spelling of a type name, e.g. q4_K."""
    return "q" + t.name[1:]


def write(name: str, data: np.ndarray) -> None:
    path = OUT / name
    raw = np.ascontiguousarray(data).tobytes()
    path.write_bytes(raw)
    print(f"{name:22s} {len(raw):7d} bytes  sha256 {hashlib.sha256(raw).hexdigest()[:16]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ggml-ref", type=Path, help="ggml_kquant_ref binary (build_ggml_kquant_ref.sh)")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    legacy = legacy_input(rng)
    for t in LEGACY:
        write(f"{t.name}.f32", legacy)
        write(f"{t.name}.bytes", gguf.quants.quantize(legacy.reshape(-1, 32), t))

    plain = plain_input(rng)
    write("F16.f32", plain)
    write("F16.bytes", gguf.quants.quantize(plain, T.F16).view(np.uint8))
    write("BF16.f32", plain)
    write("BF16.bytes", gguf.quants.quantize(plain, T.BF16))

    kin = kquant_input(rng)
    if args.ggml_ref is None:
        print("no --ggml-ref: K-quant reference files not regenerated")
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.f32"
        dst = Path(tmp) / "out.bytes"
        src.write_bytes(kin.tobytes())
        for t in KQUANTS:
            subprocess.run([str(args.ggml_ref), c_name(t), str(src), str(dst)], check=True)
            q = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
            write(f"{t.name}.f32", kin)
            write(f"{t.name}.bytes", q)
            write(f"{t.name}.dequant.f32", gguf.quants.dequantize(q, t))
        # Cross-check: ggml's C reference agrees with gguf-py on the legacy types' ordinary blocks.
        finite = legacy[:32 * 21].copy()
        src.write_bytes(finite.tobytes())
        for t in LEGACY:
            subprocess.run([str(args.ggml_ref), c_name(t), str(src), str(dst)], check=True)
            c = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
            py = gguf.quants.quantize(finite.reshape(-1, 32), t).reshape(-1)
            diff = np.count_nonzero(c.reshape(-1, c.size // 21) != py.reshape(-1, py.size // 21), axis=1)
            print(f"{t.name}: ggml C ref vs gguf-py on edge blocks, differing bytes per block: {diff.tolist()}")


if __name__ == "__main__":
    # Overflow / invalid casts are part of the edge cases on purpose; keep the log readable.
    with np.errstate(all="ignore"):
        main()

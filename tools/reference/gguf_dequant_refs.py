#!/usr/bin/env python3
"""Reference data for flux-gguf's Dequantizer: random GGML blocks and gguf-py's float32 output.

For every type the Java dequantizer supports, this writes two raw little-endian files into
flux-gguf/src/test/resources/reference/dequant/:

  <TYPE>.blocks  the raw block bytes, exactly as they would sit in a GGUF tensor
  <TYPE>.f32     gguf.quants.dequantize(blocks, TYPE) as float32

The block bytes are random (fixed seed), except that every float16 scale field (d, and
m / dmin where the format has one) is overwritten with a chosen finite value: mostly moderate
normals of both signs, plus +0, -0, half subnormals and a few large values, so that outputs are
finite while the rounding of every multiply/subtract is exercised. The plain types get random
finite bit patterns (all exponents but the Inf/NaN one, so subnormals and signed zeros occur),
with explicit +-0 and subnormals mixed in.

Run with the reference environment from the repository root:
    /tmp/ref/bin/python tools/reference/gguf_dequant_refs.py
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20261125
OUT = Path(__file__).resolve().parents[2] / "flux-gguf/src/test/resources/reference/dequant"

# Byte offsets of the float16 scale fields inside one block of each quantized type.
# (Read off the block layouts; the Java decoders document the same layouts.)
HALF_FIELDS: dict[T, tuple[int, ...]] = {
    T.Q4_0: (0,),
    T.Q4_1: (0, 2),
    T.Q5_0: (0,),
    T.Q5_1: (0, 2),
    T.Q8_0: (0,),
    T.Q2_K: (80, 82),      # scales[16] qs[64] d dmin
    T.Q3_K: (108,),        # hmask[32] qs[64] scales[12] d
    T.Q4_K: (0, 2),        # d dmin scales[12] qs[128]
    T.Q5_K: (0, 2),        # d dmin scales[12] qh[32] qs[128]
    T.Q6_K: (208,),        # ql[128] qh[64] scales[16] d
    T.IQ4_NL: (0,),
    T.IQ4_XS: (0,),        # d scales_h(u16) scales_l[4] qs[128]
}

# Blocks per quantized type: 32-element formats get more blocks, 256-element formats fewer, so
# that the committed data stays small (each K-quant block already holds 8 or 16 sub-scales).
BLOCKS_SMALL = 256
BLOCKS_K = 64
PLAIN_ELEMENTS = 4096


def random_halves(rng: np.random.Generator, n: int) -> np.ndarray:
    """n float16 scale values: a mix of moderate normals, zeros, subnormals and large values."""
    kind = rng.choice(5, size=n, p=[0.80, 0.05, 0.05, 0.05, 0.05])
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    # moderate: log-uniform magnitude between 2^-14 (smallest normal half) and 2^4
    moderate = sign * np.exp2(rng.uniform(-14.0, 4.0, n))
    large = sign * rng.uniform(1000.0, 60000.0, n)
    vals = np.where(kind == 0, moderate, np.where(kind == 4, large, 0.0)).astype(np.float16)
    bits = vals.view(np.uint16).copy()
    bits[kind == 1] = 0x0000                                          # +0
    bits[kind == 2] = 0x8000                                          # -0
    sub = kind == 3
    bits[sub] = rng.integers(1, 0x400, size=int(sub.sum()), dtype=np.uint16)  # subnormal
    bits[sub] |= np.where(rng.random(int(sub.sum())) < 0.5, 0x8000, 0).astype(np.uint16)
    assert np.all(np.isfinite(bits.view(np.float16)))
    return bits


def quantized_blocks(rng: np.random.Generator, qtype: T, n_blocks: int) -> np.ndarray:
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        blocks[:, off:off + 2] = random_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def plain_values(rng: np.random.Generator, qtype: T, n: int) -> np.ndarray:
    """Random finite bit patterns of a plain type, as raw bytes."""
    if qtype == T.F32:
        bits = rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32)
        exp_mask, mant_bits, dt = 0x7F800000, 23, np.uint32
    elif qtype == T.F16:
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
        exp_mask, mant_bits, dt = 0x7C00, 10, np.uint16
    elif qtype == T.BF16:
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
        exp_mask, mant_bits, dt = 0x7F80, 7, np.uint16
    else:
        raise ValueError(qtype)
    sign_bit = dt(1 << (bits.dtype.itemsize * 8 - 1))
    # Inf/NaN exponent -> replace the exponent by a random finite one (keeps sign and mantissa)
    special = (bits & dt(exp_mask)) == dt(exp_mask)
    bits[special] &= dt(~exp_mask & ((1 << (bits.dtype.itemsize * 8)) - 1))
    # Every 16th value a subnormal, every 64th a signed zero, so these certainly occur.
    idx = np.arange(n)
    mant_mask = dt((1 << mant_bits) - 1)
    sub = idx % 16 == 5
    bits[sub] = (bits[sub] & (sign_bit | mant_mask)) | dt(1)
    zero = idx % 64 == 7
    bits[zero] = bits[zero] & sign_bit
    bits[idx % 128 == 7] = 0
    bits[idx % 128 == 71] = sign_bit
    return bits.astype(bits.dtype.newbyteorder("<")).view(np.uint8)


def reference(raw: np.ndarray, qtype: T) -> np.ndarray:
    out = gguf.quants.dequantize(raw.reshape(-1), qtype)
    out = np.asarray(out, dtype=np.float32).reshape(-1)
    assert out.dtype == np.float32
    return out


def main() -> int:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = []
    for qtype in (T.F32, T.F16, T.BF16):
        raw = plain_values(rng, qtype, PLAIN_ELEMENTS)
        manifest.append(write(qtype, raw, PLAIN_ELEMENTS))
    for qtype in HALF_FIELDS:
        block_size, _ = GGML_QUANT_SIZES[qtype]
        n_blocks = BLOCKS_K if block_size == 256 else BLOCKS_SMALL
        raw = quantized_blocks(rng, qtype, n_blocks)
        manifest.append(write(qtype, raw, n_blocks * block_size))
    (OUT / "MANIFEST.txt").write_text(
        "# Made by tools/reference/gguf_dequant_refs.py (seed %d) with gguf-py %s, numpy %s.\n"
        "# <TYPE>.blocks: raw little-endian blocks; <TYPE>.f32: gguf.quants.dequantize output,\n"
        "# float32 little-endian. Columns: type, elements, sha256(blocks), sha256(f32).\n"
        % (SEED, gguf_version(), np.__version__)
        + "".join(manifest))
    return 0


def write(qtype: T, raw: np.ndarray, elements: int) -> str:
    out = reference(raw, qtype)
    assert out.size == elements, (qtype, out.size, elements)
    assert np.all(np.isfinite(out)), qtype
    blocks_bytes = raw.tobytes()
    f32_bytes = out.astype("<f4").tobytes()
    (OUT / f"{qtype.name}.blocks").write_bytes(blocks_bytes)
    (OUT / f"{qtype.name}.f32").write_bytes(f32_bytes)
    return "%s %d %s %s\n" % (qtype.name, elements, hashlib.sha256(blocks_bytes).hexdigest(),
                               hashlib.sha256(f32_bytes).hexdigest())


def gguf_version() -> str:
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

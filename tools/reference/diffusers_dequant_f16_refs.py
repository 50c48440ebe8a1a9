#!/usr/bin/env python3
"""Reference data for flux-core's TorchDequantizer in FLOAT16_LIKE_DIFFUSERS mode.

Runs diffusers' own GGUF dequantize functions (diffusers.quantizers.gguf.utils, called the way
dequantize_gguf_tensor calls them: dtype=None, so float16 scales keep the arithmetic in float16)
on the random blocks that tools/reference/gguf_dequant_refs.py wrote for flux-gguf, and writes,
into flux-core/src/test/resources/io/github/flux4j/core/quant/diffusers-f16/:

  <TYPE>.out    the dequantized values in the dtype diffusers returns (float16 for the legacy and
                K-quants, float32 for IQ4_NL / IQ4_XS / BF16), raw little-endian
  <TYPE>.bf16   that result cast to bfloat16, as GGUFLinear.forward_native does before F.linear
  MANIFEST.txt  type, output dtype, elements, sha256 of both files

Needs the diffusers sources (no install):
    git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/diffusers_dequant_f16_refs.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import torch
from diffusers.quantizers.gguf import utils as dq

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = ROOT / "flux-gguf/src/test/resources/reference/dequant"
OUT = ROOT / "flux-core/src/test/resources/io/github/flux4j/core/quant/diffusers-f16"
TYPES = ["BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "IQ4_XS"]
SUFFIX = {torch.float16: "f16", torch.float32: "f32"}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in TYPES:
        qtype = gguf.GGMLQuantizationType[name]
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        raw = np.fromfile(BLOCKS / f"{name}.blocks", dtype=np.uint8)
        blocks = torch.from_numpy(raw.copy()).reshape(-1, type_size)
        # Exactly what dequantize_gguf_tensor does for one row of blocks.
        out = dq.dequantize_functions[qtype](blocks, block_size, type_size).reshape(-1)
        if out.dtype not in SUFFIX:
            raise SystemExit(f"{name}: unexpected dtype {out.dtype}")
        out_bytes = out.numpy().astype(out.numpy().dtype.newbyteorder("<")).tobytes()
        bf16_bytes = out.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        (OUT / f"{name}.out").write_bytes(out_bytes)
        (OUT / f"{name}.bf16").write_bytes(bf16_bytes)
        lines.append("%s %s %d %s %s\n" % (name, SUFFIX[out.dtype], out.numel(),
                                           hashlib.sha256(out_bytes).hexdigest(),
                                           hashlib.sha256(bf16_bytes).hexdigest()))
    (OUT / "MANIFEST.txt").write_text(
        "# Made by tools/reference/diffusers_dequant_f16_refs.py from flux-gguf's reference blocks with\n"
        "# diffusers %s (commit %s), torch %s. Columns: type, dtype of <TYPE>.out, elements,\n"
        "# sha256(<TYPE>.out), sha256(<TYPE>.bf16). All raw little-endian.\n"
        % (diffusers_version(), diffusers_commit(), torch.__version__) + "".join(lines))
    return 0


def diffusers_version() -> str:
    import diffusers
    return getattr(diffusers, "__version__", "unknown")


def diffusers_commit() -> str:
    try:
        return subprocess.run(["git", "-C", "/work/.mirror/huggingface+diffusers/repo", "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reference latents of diffusers' FluxPipeline: noise, packing, unpacking and position ids.

Writes flux-pipeline/src/test/resources/reference/latents/torch-<major.minor>/ (the noise depends on the
PyTorch version: from 2.12/2.13 on, CPU randn in bfloat16/float16 draws float32 normals and rounds them; up to 2.11
it ran its own reduced-precision kernel, which LibTorch 2.10 still has):
    cases.json           one entry per case: pixel size, seed(s), dtype, batch, and what diffusers derived
                         (latent and packed shapes; the sha256 of the raw little-endian bytes, the float64 sum and
                         the first values of "noise" (the unpacked randn draw), "latents" (prepare_latents' packed
                         output), "image_ids", "unpacked" (_unpack_latents of the packed latents) and "text_ids").
    latents.safetensors  the full tensors of the cases marked "stored" (two small ones), for diagnosis.

Everything goes through FluxPipeline's own methods: prepare_latents (bound to a bare instance whose
vae_scale_factor is 8, with real torch.Generator("cpu") objects, one per image for the list cases),
_pack_latents, _unpack_latents, _prepare_latent_image_ids. The noise is captured by wrapping randn_tensor.

Run from the repository root:
    mkdir -p /tmp/diffusers && git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers \
        | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/latents_refs.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

import diffusers
from diffusers.pipelines.flux import pipeline_flux
from diffusers.pipelines.flux.pipeline_flux import FluxPipeline

OUT_ROOT = Path("flux-pipeline/src/test/resources/reference/latents")
DTYPES = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}

# name, height, width, seed (int) or seeds (list: one generator per image), dtype, batch, keep full tensors
CASES = [
    ("s42-256x256-bf16", 256, 256, 42, "bf16", 1, False),
    ("s0-200x328-f32", 200, 328, 0, "f32", 1, False),           # both sides rounded down: 24 x 40 latent
    ("s1234-128x192-bf16-b2", 128, 192, 1234, "bf16", 2, False),  # num_images_per_prompt=2, one generator
    ("list-7-8-9-128x128-bf16", 128, 128, [7, 8, 9], "bf16", 3, False),
    ("list-5-144x96-f32", 144, 96, [5], "f32", 1, False),        # a list of one generator
    ("s-1-64x80-bf16", 64, 80, -1, "bf16", 1, True),             # manual_seed(-1) is seed 2**64 - 1
    ("s18446744073709551615-64x80-bf16", 64, 80, 2**64 - 1, "bf16", 1, False),
    ("s31337-112x176-f16", 112, 176, 31337, "f16", 1, False),
    ("s99-64x64-f32", 64, 64, 99, "f32", 1, True),
    ("s42-1024x1024-bf16", 1024, 1024, 42, "bf16", 1, False),
    ("s42-1024x1024-f32", 1024, 1024, 42, "f32", 1, False),
    ("s42-680x496-bf16", 680, 496, 42, "bf16", 1, False),
    ("s2024-768x1360-bf16-b2", 768, 1360, 2024, "bf16", 2, False),
]
TEXT_IDS_LEN = 512


def bare_pipeline() -> FluxPipeline:
    pipe = FluxPipeline.__new__(FluxPipeline)  # no components; prepare_latents only reads vae_scale_factor
    object.__setattr__(pipe, "vae_scale_factor", 8)
    return pipe


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    return t.view(torch.uint8).numpy().tobytes() if t.element_size() > 0 else b""


def summary(t: torch.Tensor) -> dict:
    return {
        "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
        "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest(),
        "sum": float(t.double().sum()),
        "first": [float(x) for x in t.reshape(-1)[:8].double()],
    }


def run_case(name, height, width, seed, dtype_name, batch, keep):
    dtype = DTYPES[dtype_name]
    if isinstance(seed, list):
        generator = [torch.Generator("cpu").manual_seed(s) for s in seed]
        assert len(seed) == batch
    else:
        generator = torch.Generator("cpu").manual_seed(seed)
    captured = {}
    original = pipeline_flux.randn_tensor

    def capture(*args, **kwargs):
        out = original(*args, **kwargs)
        captured["noise"] = out.clone()
        return out

    pipeline_flux.randn_tensor = capture
    try:
        latents, image_ids = bare_pipeline().prepare_latents(batch, 16, height, width, dtype, torch.device("cpu"),
                                                             generator)
    finally:
        pipeline_flux.randn_tensor = original
    noise = captured["noise"]
    unpacked = FluxPipeline._unpack_latents(latents, height, width, 8)
    assert torch.equal(unpacked, noise)
    text_ids = torch.zeros(TEXT_IDS_LEN, 3).to(device="cpu", dtype=dtype)  # encode_prompt's text_ids
    tensors = {"noise": noise, "latents": latents, "image_ids": image_ids, "unpacked": unpacked,
               "text_ids": text_ids}
    entry = {
        "name": name, "height": height, "width": width, "dtype": dtype_name, "batch": batch,
        "seed": seed if not isinstance(seed, list) else None,
        "seeds": seed if isinstance(seed, list) else None,
        "latent_height": noise.shape[2], "latent_width": noise.shape[3], "image_seq_len": latents.shape[1],
        "stored": keep,
        "tensors": {k: summary(v) for k, v in tensors.items()},
    }
    stored = {f"{name}.{k}": v.contiguous() for k, v in tensors.items() if k in ("noise", "latents")} if keep else {}
    return entry, stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="output folder (default: the torch-<major.minor> folder above)")
    args = ap.parse_args()
    version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    OUT = args.out or OUT_ROOT / f"torch-{version}"
    OUT.mkdir(parents=True, exist_ok=True)
    entries, stored = [], {}
    for case in CASES:
        e, s = run_case(*case)
        entries.append(e)
        stored.update(s)
    meta = {"generator": "tools/reference/latents_refs.py", "diffusers": diffusers.__version__,
            "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    lines = ",\n".join("  " + json.dumps(e) for e in entries)
    (OUT / "cases.json").write_text('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n' + lines + "\n]}\n")
    save_file(dict(sorted(stored.items())), str(OUT / "latents.safetensors"),
              metadata={k: str(v) for k, v in meta.items()})
    print(f"{len(entries)} cases, {len(stored)} tensors -> {OUT}")


if __name__ == "__main__":
    main()

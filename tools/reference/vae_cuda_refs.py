#!/usr/bin/env python3
"""diffusers' VAE decode on a CUDA GPU, for VaeCudaTest: what the CPU references of vae_refs.py cannot
tell (GPU kernels round differently from CPU ones), and FLUX-sized timing and memory.

Run on the GPU host, from the repository root, with diffusers' source unpacked somewhere on PYTHONPATH:
    PYTHONPATH=/tmp/dsrc python3 tools/reference/vae_cuda_refs.py OUT_DIR

Writes OUT_DIR/vae-cuda-reference.safetensors: for the tiny VAE of vae_refs.py (loaded with
from_pretrained from flux-core/src/test/resources/reference/vae/tiny-vae) and each case and dtype,
"<f32|bf16>.<case>.decoded" (float32 / bfloat16) and "<f32|bf16>.<case>.image" (uint8), computed on
cuda:0 exactly as vae_refs.py computes them on the CPU. Prints the FLUX-sized (random weights, bf16)
decode times and peak memory, whole and tiled, for 1024 and 2048 px.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from diffusers import AutoencoderKL
from diffusers.image_processor import VaeImageProcessor

REF = Path("flux-core/src/test/resources/reference/vae")
CASES = ("square", "wide", "tiled")
DEVICE = os.environ.get("VAE_DEVICE", "cuda")  # "cpu" to try the script out without a GPU


def decode(vae, latents, dtype, tiled):
    if tiled:
        vae.enable_tiling()
    try:
        with torch.no_grad():
            z = (latents.to(DEVICE, dtype) / vae.config.scaling_factor) + vae.config.shift_factor
            decoded = vae.decode(z, return_dict=False)[0]
            pil = VaeImageProcessor(vae_scale_factor=16).postprocess(decoded, output_type="pil")[0]
    finally:
        vae.disable_tiling()
    return decoded, np.asarray(pil, dtype=np.uint8).copy()


def main(out: Path) -> None:
    inputs = load_file(REF / "vae-reference.safetensors")
    result = {}
    for tag, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        vae = AutoencoderKL.from_pretrained(REF / "tiny-vae", torch_dtype=dtype).to(DEVICE).eval()
        for case in CASES:
            decoded, image = decode(vae, inputs[f"input.{case}"], dtype, case == "tiled")
            result[f"{tag}.{case}.decoded"] = decoded.cpu().contiguous()
            result[f"{tag}.{case}.image"] = torch.from_numpy(image)
            cpu = inputs[f"{tag}.{case}.decoded"].double()
            rel = ((decoded.cpu().double() - cpu).norm() / cpu.norm()).item()
            print(f"diffusers cuda {tag} {case}: rel vs CPU reference {rel:.3e}")
    out.mkdir(parents=True, exist_ok=True)
    save_file(result, out / "vae-cuda-reference.safetensors",
              metadata={"torch": torch.__version__, "cudnn": str(torch.backends.cudnn.version()),
                        "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else DEVICE})

    if DEVICE != "cuda":
        return
    # FLUX-sized, random weights: time and memory only.
    torch.manual_seed(0)
    vae = AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=16,
                        norm_num_groups=32, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
                        use_quant_conv=False, use_post_quant_conv=False).to("cuda", torch.bfloat16).eval()
    for side in (128, 256):
        latents = torch.randn((1, 16, side, side), generator=torch.Generator().manual_seed(7), dtype=torch.bfloat16)
        latents = latents.to("cuda")
        for tiled in (False, True):
            if tiled:
                vae.enable_tiling()
            with torch.no_grad():
                vae.decode(latents / 0.3611 + 0.1159).sample  # warm-up
                torch.cuda.synchronize()
                before = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                for _ in range(3):
                    img = vae.decode(latents / 0.3611 + 0.1159).sample
                    del img
                torch.cuda.synchronize()
                ms = (time.perf_counter() - t0) / 3 * 1000
                peak = torch.cuda.max_memory_allocated() - before
            vae.disable_tiling()
            print(f"diffusers cuda FLUX-size bf16 {side * 8}x{side * 8} {'tiled' if tiled else 'whole'}: "
                  f"{ms:.1f} ms, peak above weights+latents {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

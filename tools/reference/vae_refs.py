#!/usr/bin/env python3
"""Reference decodes of a tiny random AutoencoderKL with FLUX's VAE structure, for flux-core's VAE tests.

Writes under flux-core/src/test/resources/reference/vae/:
    tiny-vae/config.json, tiny-vae/diffusion_pytorch_model.safetensors
        diffusers' save_pretrained of the whole model (encoder included), in BF16 like FLUX.1-dev's
        own vae/ folder.
    tiny-ae.safetensors
        the same decoder under BFL's ae.safetensors names (decoder.up.3.block.0.conv1,
        decoder.mid.attn_1.q as a 1x1 conv, ...), plus a few encoder tensors, checked by converting
        it back with diffusers' own convert_ldm_vae_checkpoint.
    vae-reference.safetensors
        inputs ("input.*": FLUX-space latents, i.e. what the transformer produces) and, per compute
        dtype ("f32.*", "bf16.*"), the pipeline's decode of them: z = latents / scaling_factor +
        shift_factor (also stored for f32), a few decoder intermediates (f32, square case), the decoded
        tensor in [-1, 1] and the uint8 HxWx3 image of VaeImageProcessor.postprocess(output_type="pil").
        Cases: "square" (latent 8x8 -> 64x64), "wide" (6x10 -> 48x80) and "tiled" (9x11 -> 72x88,
        decoded with vae.enable_tiling(): sample_size 32 gives 4x4 latent tiles with overlap).

Structure as FLUX (latent_channels 16, 4 UpDecoderBlock2D of layers_per_block + 1 = 3 resnets, mid
attention, scaling 0.3611 / shift 0.1159, no quant convs), widths small: block_out_channels
(16, 16, 24, 24), norm_num_groups 8 (2-3 channels per group). Every parameter is random and rounded to
bfloat16, so the BF16 files hold the float32 model exactly and the bf16-vs-f32 gap is activation
rounding only. Inputs are bf16-exact too.

Run from the repository root (diffusers is not installed; its source mirror is used):
    mkdir -p /tmp/diffusers && git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers \
        | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/vae_refs.py
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import diffusers
from diffusers import AutoencoderKL
from diffusers.image_processor import VaeImageProcessor
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

OUT = Path("flux-core/src/test/resources/reference/vae")
SEED = 20251125

CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=(16, 16, 24, 24),
    layers_per_block=2,
    act_fn="silu",
    latent_channels=16,
    norm_num_groups=8,
    sample_size=32,  # tiling: 32 px tiles = 4x4 latent tiles
    scaling_factor=0.3611,
    shift_factor=0.1159,
    force_upcast=True,
    use_quant_conv=False,
    use_post_quant_conv=False,
    mid_block_add_attention=True,
)

CASES = {"square": (8, 8), "wide": (6, 10), "tiled": (9, 11)}
# Decoder intermediates recorded for the f32 square case (small tensors only).
TRACED = ["conv_in", "mid_block.resnets.0", "mid_block.attentions.0", "mid_block", "up_blocks.0"]


def bf16_exact(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.bfloat16).to(torch.float32)


def make_model() -> AutoencoderKL:
    torch.manual_seed(SEED)
    vae = AutoencoderKL(**CONFIG)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if re.search(r"norm[^.]*\.weight$", name):
                # GroupNorm affine: away from the default 1 / 0 so that a skipped affine shows.
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif re.search(r"norm[^.]*\.bias$", name):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            # conv / linear weights keep PyTorch's default (Kaiming-uniform) init
        # Spread the output over [-1, 1] with some clamping at both ends.
        vae.decoder.conv_out.weight.mul_(2.0)
        for p in vae.parameters():
            p.copy_(bf16_exact(p))
    return vae.eval()


def to_bfl(decoder_sd: dict[str, torch.Tensor], n_up: int) -> dict[str, torch.Tensor]:
    """diffusers decoder names -> BFL ae.safetensors names (the inverse of convert_ldm_vae_checkpoint)."""
    out = {}
    for k, v in decoder_sd.items():
        b = k.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        b = re.sub(r"mid_block\.resnets\.(\d+)", lambda m: f"mid.block_{int(m.group(1)) + 1}", b)
        b = b.replace("mid_block.attentions.0.", "mid.attn_1.")
        b = re.sub(r"up_blocks\.(\d+)\.resnets\.", lambda m: f"up.{n_up - 1 - int(m.group(1))}.block.", b)
        b = re.sub(r"up_blocks\.(\d+)\.upsamplers\.0\.", lambda m: f"up.{n_up - 1 - int(m.group(1))}.upsample.", b)
        if ".attn_1." in b:
            b = (b.replace("group_norm.", "norm.").replace("to_q.", "q.").replace("to_k.", "k.")
                 .replace("to_v.", "v.").replace("to_out.0.", "proj_out."))
            if b.endswith(".weight") and v.dim() == 2:
                v = v[:, :, None, None]  # BFL's attention projections are 1x1 convs
        out[b] = v
    return out


def image_of(decoded: torch.Tensor) -> np.ndarray:
    pil = VaeImageProcessor(vae_scale_factor=16).postprocess(decoded, output_type="pil")[0]
    return np.asarray(pil, dtype=np.uint8).copy()


def run_case(vae: AutoencoderKL, latents: torch.Tensor, dtype: torch.dtype, tiled: bool,
             trace: dict[str, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """What FluxPipeline.__call__ does after unpacking (pipeline_flux.py, output_type="pil")."""
    hooks = []
    if trace is not None:
        modules = dict(vae.decoder.named_modules())
        for name in TRACED:
            hooks.append(modules[name].register_forward_hook(
                lambda m, i, o, name=name: trace.__setitem__(name, o.detach().clone())))
    try:
        if tiled:
            vae.enable_tiling()
        with torch.no_grad():
            lat = latents.to(dtype)
            z = (lat / vae.config.scaling_factor) + vae.config.shift_factor
            decoded = vae.decode(z, return_dict=False)[0]
            image = image_of(decoded)
    finally:
        vae.disable_tiling()
        for h in hooks:
            h.remove()
    return z, decoded, image


def main() -> None:
    torch.set_num_threads(1)  # deterministic CPU reductions
    vae = make_model()
    OUT.mkdir(parents=True, exist_ok=True)

    # diffusers folder, BF16 (FLUX.1-dev's vae/diffusion_pytorch_model.safetensors is BF16 too).
    folder = OUT / "tiny-vae"
    if folder.exists():
        shutil.rmtree(folder)
    vae.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    vae.to(torch.float32)
    reloaded = load_file(folder / "diffusion_pytorch_model.safetensors")
    for k, v in vae.state_dict().items():
        assert torch.equal(reloaded[k].float(), v), k

    # BFL ae.safetensors naming: the decoder plus a handful of encoder tensors (all a loader must
    # do with the encoder is skip it).
    n_up = len(CONFIG["up_block_types"])
    sd = vae.state_dict()
    decoder_sd = {k: v for k, v in sd.items() if k.startswith("decoder.")}
    bfl = to_bfl(decoder_sd, n_up)
    bfl["encoder.conv_in.weight"] = sd["encoder.conv_in.weight"]
    bfl["encoder.conv_in.bias"] = sd["encoder.conv_in.bias"]
    bfl["encoder.mid.attn_1.q.weight"] = sd["encoder.mid_block.attentions.0.to_q.weight"][:, :, None, None]
    bfl["encoder.norm_out.weight"] = sd["encoder.conv_norm_out.weight"]
    bfl["encoder.conv_out.weight"] = sd["encoder.conv_out.weight"]
    back = convert_ldm_vae_checkpoint(bfl, dict(CONFIG))
    for k, v in decoder_sd.items():
        assert torch.equal(back[k], v), k
    assert len([k for k in back if k.startswith("decoder.")]) == len(decoder_sd)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in bfl.items()}, OUT / "tiny-ae.safetensors",
              metadata={"format": "pt"})

    g = torch.Generator().manual_seed(SEED + 2)
    ref: dict[str, torch.Tensor] = {}
    for case, (h, w) in CASES.items():
        latents = bf16_exact(torch.randn((1, 16, h, w), generator=g))
        ref[f"input.{case}"] = latents
        tiled = case == "tiled"
        for tag, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
            vae.to(dtype)
            trace = {} if (tag == "f32" and case == "square") else None
            z, decoded, image = run_case(vae, latents, dtype, tiled, trace)
            assert decoded.shape == (1, 3, 8 * h, 8 * w), decoded.shape
            if tag == "f32":
                ref[f"f32.{case}.z"] = z
            ref[f"{tag}.{case}.decoded"] = decoded.contiguous()
            ref[f"{tag}.{case}.image"] = torch.from_numpy(image)
            for name, t in (trace or {}).items():
                ref[f"f32.{case}.{name}"] = t.contiguous()
            d = decoded.float()
            print(f"{tag:4} {case:6} decoded {tuple(decoded.shape)} mean {d.mean():+.4f} std {d.std():.4f} "
                  f"clamped {((d < -1) | (d > 1)).float().mean():.3f}")
        vae.to(torch.float32)
        f = ref[f"f32.{case}.decoded"].double()
        b = ref[f"bf16.{case}.decoded"].double()
        rel = ((b - f).norm() / f.norm()).item()
        diff = np.abs(ref[f"f32.{case}.image"].numpy().astype(int) - ref[f"bf16.{case}.image"].numpy().astype(int))
        print(f"     {case:6} bf16 vs f32: rel {rel:.3e}, image max diff {diff.max()}, "
              f"pixels differing {(diff > 0).mean():.3f}")
    # Untiled decode of the tiled case's latents: how much the tiling itself changes.
    z, decoded, _ = run_case(vae, ref["input.tiled"], torch.float32, False, None)
    t = ref["f32.tiled.decoded"].double()
    print(f"     tiled vs untiled f32: rel {((t - decoded.double()).norm() / decoded.double().norm()).item():.3e}")

    save_file(ref, OUT / "vae-reference.safetensors", metadata={
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "config": json.dumps(CONFIG),
    })
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size:9d} {p}")


if __name__ == "__main__":
    sys.exit(main())

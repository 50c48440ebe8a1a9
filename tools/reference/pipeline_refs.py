#!/usr/bin/env python3
"""A tiny FLUX.1-dev pipeline and diffusers' FluxPipeline outputs on it, for flux-pipeline's tests.

Writes flux-pipeline/src/test/resources/reference/pipeline/ (see README.md there):

  tiny-flux/            a FLUX base-model folder in diffusers' layout, every model tiny and random:
      model_index.json              FLUX.1-dev's, image_encoder / feature_extractor [null, null]
      scheduler/                    FLUX.1-dev's scheduler_config.json
      text_encoder/                 CLIPTextModel: vocab 1851 (the tiny CLIP tokenizer's), hidden 96
                                    (= the tiny transformer's pooled_projection_dim), 1 layer, 4 heads,
                                    legacy eos_token_id 2; bf16 weights
      text_encoder_2/               T5EncoderModel: vocab 1100 (the tiny T5 tokenizer's), d_model 128
                                    (= joint_attention_dim), 2 layers, 2 heads x 32, d_ff 96, gated-gelu;
                                    bf16, sharded like FLUX.1-dev's
      vae/                          AutoencoderKL with FLUX's structure (16 latent channels, 4 levels,
                                    scale factor 8, scaling 0.3611, shift 0.1159), widths 8/8/16/16; bf16
      transformer/config.json       the tiny FLUX transformer's config (weights come from GGUF)
    tokenizer/ and tokenizer_2/ are NOT stored here: they are the tiny tokenizers of
    flux-tokenizers/src/test/resources/tokenizers/{clip,t5} (730 KB), copied in when the folder is assembled
    (here into a temporary folder, in the Java tests into a @TempDir).
  refs/<case>.json                the call: prompts, size, steps, guidance, seed, max_sequence_length...
  refs/<case>.text.safetensors    token ids and the text embeddings the transformer received
  refs/<case>.<Q8_0|Q4_K>.safetensors   sigmas, timesteps, initial latents, latents after each step,
                                  the VAE output and the uint8 image
  refs/<case>.Q8_0-bf16.safetensors     cases a and b in bfloat16: the VAE output (bf16) and the uint8 image

The transformer is the tiny FLUX of tools/reference/tiny_flux.py (hidden 256 = 2 x 128, 2 + 2 blocks),
files tiny-flux-dev-Q8_0.gguf and tiny-flux-dev-Q4_K.gguf, loaded by diffusers through
FluxTransformer2DModel.from_single_file with GGUFQuantizationConfig(compute_dtype=float32) (with
flux_transformer_refs.py's work-around for the hard-coded inner_dim = 3072 of the linear1 split:
TINY_FLUX.md section 6). The pipeline runs in float32 on the CPU with torch.Generator("cpu").

Run from the repository root:
    mkdir -p /tmp/diffusers && git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers \
        | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/pipeline_refs.py
Options: --gguf-dir DIR (tiny_flux.py's GGUF files; written there if missing, default /tmp/tiny-flux).
Deterministic: fixed seeds, one CPU thread.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_flux as tf  # noqa: E402
import flux_transformer_refs  # noqa: E402,F401  (registers the any-width linear1 conversion)

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import (AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline,  # noqa: E402
                       FluxTransformer2DModel, GGUFQuantizationConfig)
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RES = ROOT / "flux-pipeline/src/test/resources"
OUT = RES / "reference/pipeline"
FOLDER = OUT / "tiny-flux"
TOK = ROOT / "flux-tokenizers/src/test/resources/tokenizers"
TOKENIZERS = {"tokenizer": TOK / "clip", "tokenizer_2": TOK / "t5"}
VARIANTS = ["Q8_0", "Q4_K"]

MODEL_INDEX = {
    "_class_name": "FluxPipeline",
    "_diffusers_version": "0.30.0.dev0",
    "feature_extractor": [None, None],
    "image_encoder": [None, None],
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "FluxTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}

# FLUX.1-dev's scheduler/scheduler_config.json.
SCHEDULER = dict(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                 base_image_seq_len=256, max_image_seq_len=4096)

VAE = dict(
    in_channels=3, out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=(8, 8, 16, 16), layers_per_block=2, act_fn="silu", latent_channels=16,
    norm_num_groups=4, sample_size=64, scaling_factor=0.3611, shift_factor=0.1159, force_upcast=True,
    use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=True,
)

P_FOX = "a tiny red fox sitting in the snow, watercolor"
P_LONG = ("A lighthouse on a rocky cliff at dusk, waves crashing below, seagulls circling in the orange sky, "
          "a small fishing boat returning to the harbour with its lantern lit, the keeper standing at the door "
          "with a cup of tea, moss on the old stones, rain clouds gathering over the distant hills, a narrow path "
          "winding down to the beach, detailed oil painting in the style of the nineteenth century masters")
P_CITY = "Neon city street at night, rain, reflections"

# name -> call. "a": defaults except size and steps (max_sequence_length 512); "b": a prompt over 77
# CLIP tokens and over max_sequence_length 64 T5 tokens, 48 x 80 (height x width, non-square);
# "c": two prompts x two images from one generator, 40 x 36 requested (rounded down to 32 x 32 with
# diffusers' warning), another guidance and step count.
CASES = {
    "a": dict(prompt=P_FOX, height=64, width=64, num_inference_steps=4, guidance_scale=3.5, seed=42,
              max_sequence_length=512, num_images_per_prompt=1, variants=VARIANTS),
    "b": dict(prompt=P_LONG, height=48, width=80, num_inference_steps=4, guidance_scale=3.5, seed=1234,
              max_sequence_length=64, num_images_per_prompt=1, variants=VARIANTS),
    "c": dict(prompt=[P_FOX, P_CITY], height=40, width=36, num_inference_steps=3, guidance_scale=5.0, seed=7,
              max_sequence_length=16, num_images_per_prompt=2, variants=["Q8_0"]),
}


@torch.no_grad()
def perturb(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Norm weights/biases and linear biases away from their inits (1 and 0)."""
    for name, p in model.named_parameters():
        if "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
        elif name.endswith("bias") and "relative_attention_bias" not in name:
            p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def make_clip(out: Path) -> None:
    cfg = CLIPTextConfig(vocab_size=1851, hidden_size=96, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1, projection_dim=96)
    torch.manual_seed(101)
    m = CLIPTextModel(cfg).eval()
    perturb(m, torch.Generator().manual_seed(102))
    m.to(torch.bfloat16).save_pretrained(out)


def make_t5(out: Path) -> None:
    cfg = T5Config(vocab_size=1100, d_model=128, d_kv=32, d_ff=96, num_layers=2, num_heads=2,
                   relative_attention_num_buckets=32, relative_attention_max_distance=128,
                   feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, is_encoder_decoder=False,
                   use_cache=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    torch.manual_seed(201)
    m = T5EncoderModel(cfg).eval()
    perturb(m, torch.Generator().manual_seed(202))
    m.to(torch.bfloat16).save_pretrained(out, max_shard_size="300KB")
    assert (out / "model.safetensors.index.json").exists(), "expected a sharded checkpoint, as FLUX.1-dev's"


def make_vae(out: Path) -> None:
    torch.manual_seed(301)
    vae = AutoencoderKL(**VAE)
    g = torch.Generator().manual_seed(302)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        vae.decoder.conv_out.weight.mul_(2.0)  # spread the output over [-1, 1], some of it clamped
    vae.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)


def write_folder() -> None:
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
    FOLDER.mkdir(parents=True)
    (FOLDER / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2) + "\n")
    FlowMatchEulerDiscreteScheduler(**SCHEDULER).save_pretrained(FOLDER / "scheduler")
    make_clip(FOLDER / "text_encoder")
    make_t5(FOLDER / "text_encoder_2")
    make_vae(FOLDER / "vae")
    (FOLDER / "transformer").mkdir()
    shutil.copy(tf.REF_DIR / "config/dev/config.json", FOLDER / "transformer/config.json")


def assemble(dst: Path) -> Path:
    """The committed folder plus the shared tiny tokenizers: a complete FLUX folder."""
    shutil.copytree(FOLDER, dst)
    for name, src in TOKENIZERS.items():
        shutil.copytree(src, dst / name)
    return dst


def gguf_transformer(gguf_dir: Path, qtype: str, dtype: torch.dtype = torch.float32) -> FluxTransformer2DModel:
    v = next(x for x in tf.VARIANTS if x.file == f"tiny-flux-dev-{qtype}.gguf")
    path = gguf_dir / v.file
    if not path.exists():
        gguf_dir.mkdir(parents=True, exist_ok=True)
        tf.write_gguf(v, path)
    model = FluxTransformer2DModel.from_single_file(
        str(path), quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
        config=str(tf.REF_DIR / "config/dev"), torch_dtype=dtype)
    flux_transformer_refs.check_loaded(model)
    return model.eval()


def run_case(pipe: FluxPipeline, call: dict) -> tuple[dict, dict]:
    """Runs the pipeline once, recording what each stage produced."""
    text: dict[str, torch.Tensor] = {}
    run: dict[str, torch.Tensor] = {}
    calls: list[dict] = []

    def clip_hook(_m, args, kwargs):
        text["clip_input_ids"] = (kwargs.get("input_ids") if "input_ids" in kwargs else args[0]).clone()

    def t5_hook(_m, args, kwargs):
        text["t5_input_ids"] = (kwargs.get("input_ids") if "input_ids" in kwargs else args[0]).clone()

    def transformer_hook(_m, args, kwargs):
        calls.append({k: v.detach().clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)})

    decoded: list[torch.Tensor] = []
    original_decode = pipe.vae.decode

    def decode(z, *a, **kw):
        out = original_decode(z, *a, **kw)
        decoded.append(out[0].detach().clone())
        return out

    def on_step_end(_pipe, i, _t, kwargs):
        run[f"latents.step{i}"] = kwargs["latents"].detach().clone().contiguous()
        return {}

    handles = [pipe.text_encoder.register_forward_pre_hook(clip_hook, with_kwargs=True),
               pipe.text_encoder_2.register_forward_pre_hook(t5_hook, with_kwargs=True),
               pipe.transformer.register_forward_pre_hook(transformer_hook, with_kwargs=True)]
    pipe.vae.decode = decode
    try:
        out = pipe(prompt=call["prompt"], height=call["height"], width=call["width"],
                   num_inference_steps=call["num_inference_steps"], guidance_scale=call["guidance_scale"],
                   num_images_per_prompt=call["num_images_per_prompt"],
                   generator=torch.Generator("cpu").manual_seed(call["seed"]),
                   max_sequence_length=call["max_sequence_length"], output_type="np",
                   callback_on_step_end=on_step_end)
    finally:
        for h in handles:
            h.remove()
        pipe.vae.decode = original_decode
    first = calls[0]
    text["prompt_embeds"] = first["encoder_hidden_states"].contiguous()
    text["pooled_prompt_embeds"] = first["pooled_projections"].contiguous()
    text["text_ids"] = first["txt_ids"].contiguous()
    run["sigmas"] = pipe.scheduler.sigmas.to(torch.float32).contiguous()
    run["timesteps"] = pipe.scheduler.timesteps.to(torch.float32).contiguous()
    run["latents.initial"] = first["hidden_states"].contiguous()
    run["img_ids"] = first["img_ids"].contiguous()
    run["guidance"] = first["guidance"].contiguous()
    run["transformer_timesteps"] = torch.stack([c["timestep"] for c in calls]).contiguous()
    run["image.decoded"] = decoded[0].contiguous()
    images = out.images  # float32 numpy [N, H, W, 3] in [0, 1]
    # output_type="pil" does exactly this (VaeImageProcessor.numpy_to_pil)
    run["image.uint8"] = torch.from_numpy(np.ascontiguousarray((images * 255).round().astype("uint8")))
    assert len(calls) == call["num_inference_steps"]
    return text, run


BF16_VARIANT = "Q8_0"
BF16_CASES = ["a", "b"]


def safe_open_decoded(path: Path) -> torch.Tensor:
    from safetensors.torch import load_file
    return load_file(str(path))["image.decoded"].float()


def psnr_decoded(a: torch.Tensor, b: torch.Tensor) -> float:
    a = (a * 0.5 + 0.5).clamp(0, 1).double()
    b = (b * 0.5 + 0.5).clamp(0, 1).double()
    return (10 * torch.log10(1 / (a - b).pow(2).mean())).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf-dir", default="/tmp/tiny-flux")
    args = ap.parse_args()
    torch.set_num_threads(1)
    write_folder()
    refs = OUT / "refs"
    if refs.exists():
        shutil.rmtree(refs)
    refs.mkdir(parents=True)
    # One metadata key: safetensors writes several in a random order, and the files should be byte-reproducible.
    meta = {"versions": json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__,
                                    "transformers": transformers.__version__}, sort_keys=True)}

    with tempfile.TemporaryDirectory() as tmp:
        folder = assemble(Path(tmp) / "tiny-flux")
        for qtype in VARIANTS:
            transformer = gguf_transformer(Path(args.gguf_dir), qtype)
            pipe = FluxPipeline.from_pretrained(folder, transformer=transformer, torch_dtype=torch.float32)
            pipe.set_progress_bar_config(disable=True)
            assert pipe.vae_scale_factor == 8
            for name, call in CASES.items():
                if qtype not in call["variants"]:
                    continue
                text, run = run_case(pipe, call)
                if qtype == VARIANTS[0]:
                    save_file(text, refs / f"{name}.text.safetensors", metadata=meta)
                    desc = {k: v for k, v in call.items() if k != "variants"}
                    desc["variants"] = call["variants"]
                    (refs / f"{name}.json").write_text(json.dumps(desc, indent=2) + "\n")
                save_file(run, refs / f"{name}.{qtype}.safetensors", metadata=meta)
                img = run["image.uint8"].float()
                last = run["latents.step%d" % (call["num_inference_steps"] - 1)]
                print(f"{name} {qtype}: image {tuple(img.shape)} mean {img.mean():.2f} std {img.std():.2f}; "
                      f"final latents std {last.std():.3f}")
        # bfloat16, FLUX's usual dtype: the images only (noise drawn by torch >= 2.13 in bf16, i.e.
        # float32 normals rounded; flux4j's NoiseDraw.FLOAT32_ROUNDED).
        transformer = gguf_transformer(Path(args.gguf_dir), BF16_VARIANT, torch.bfloat16)
        pipe = FluxPipeline.from_pretrained(folder, transformer=transformer, torch_dtype=torch.bfloat16)
        pipe.set_progress_bar_config(disable=True)
        for name in BF16_CASES:
            _, run = run_case(pipe, CASES[name])
            out = {"image.decoded": run["image.decoded"], "image.uint8": run["image.uint8"]}
            save_file(out, refs / f"{name}.{BF16_VARIANT}-bf16.safetensors", metadata=meta)
            f32 = safe_open_decoded(refs / f"{name}.{BF16_VARIANT}.safetensors")
            print(f"{name} {BF16_VARIANT} bf16: diffusers' own bf16-vs-f32 gap: decoded PSNR "
                  f"{psnr_decoded(run['image.decoded'].float(), f32):.1f} dB")
    total = 0
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"{p.stat().st_size:9d} {p.relative_to(OUT)}")
    print(f"{total:9d} in all")


if __name__ == "__main__":
    main()

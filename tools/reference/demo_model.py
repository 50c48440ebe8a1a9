#!/usr/bin/env python3
"""The flux4j demo model, written the way flux-examples' DemoModel writes it, and run in diffusers.

The demo model (flux-examples, io.github.flux4j.examples.demo.DemoModel) is a tiny FLUX.1-dev-shaped
pipeline with random weights that the `flux` CLI uses when no model is given. Java generates it on
first use; this script is its Python twin, for two checks:

1. The files are the same: every weight is a function of its name (splitmix64 seeded with
   FNV-1a64(component + "/" + name) XOR "FLUXDEMO", uniform in [-1, 1), scaled per tensor as
   documented in DemoModel / DemoWeights). The script prints the MANIFEST.sha256 that Java writes;
   DemoModelTest pins its sha256.
2. What diffusers' FluxPipeline draws with it (PNG files), to compare with `flux generate`.

Run from the repository root:
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/demo_model.py --out /tmp/demo \
        [--image "a lighthouse at dusk" --seed 0 --size 256 --steps 28]
Writes /tmp/demo/demo-v1/ (the model and MANIFEST.sha256) and, with --image, /tmp/demo/diffusers.png.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_flux as tf  # noqa: E402  (fnv1a64, float_values, write_safetensors, the FLUX layout)

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "flux-examples/src/main/resources/io/github/flux4j/examples/demo/model"
VERSION = 1
SEED = int.from_bytes(b"FLUXDEMO", "big")
BLUR = np.array([0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25], np.float32).reshape(3, 3)


def uniform(component: str, name: str, shape) -> np.ndarray:
    seed = tf.fnv1a64(f"{component}/{name}".encode()) ^ SEED
    return tf.float_values(seed, int(np.prod(shape)), 1.0, 0.0).reshape(shape)


def scaled(component, name, shape, scale, offset=0.0) -> np.ndarray:
    seed = tf.fnv1a64(f"{component}/{name}".encode()) ^ SEED
    return tf.float_values(seed, int(np.prod(shape)), scale, offset).reshape(shape)


def generic(component, name, shape) -> np.ndarray:
    if name.endswith("bias"):
        return scaled(component, name, shape, 0.1 if "norm" in name else 0.05)
    if len(shape) == 1:
        return scaled(component, name, shape, 0.25, 1.0)
    return scaled(component, name, shape, float(np.float32(math.sqrt(3.0 / int(np.prod(shape[1:]))))))


# --------------------------------------------------------------------------------------- shapes

def transformer_tensor(name, shape) -> np.ndarray:
    s, off = tf.float_scale(name, shape)  # the tiny FLUX rule, seeded differently
    v = scaled("transformer", name, shape, s, off)
    if name.startswith("final_layer.linear."):
        v = v.reshape(16, 4, *shape[1:])[:, :1].repeat(4, axis=1).reshape(shape)
    return v


def clip_shapes() -> dict:
    t, h, s = "text_model.", 96, {}
    s[t + "embeddings.token_embedding.weight"] = (1851, h)
    s[t + "embeddings.position_embedding.weight"] = (77, h)
    layer = t + "encoder.layers.0."
    for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
        s[f"{layer}self_attn.{p}.weight"], s[f"{layer}self_attn.{p}.bias"] = (h, h), (h,)
    for n in ("layer_norm1", "layer_norm2"):
        s[f"{layer}{n}.weight"], s[f"{layer}{n}.bias"] = (h,), (h,)
    s[layer + "mlp.fc1.weight"], s[layer + "mlp.fc1.bias"] = (128, h), (128,)
    s[layer + "mlp.fc2.weight"], s[layer + "mlp.fc2.bias"] = (h, 128), (h,)
    s[t + "final_layer_norm.weight"], s[t + "final_layer_norm.bias"] = (h,), (h,)
    return dict(sorted(s.items()))


def clip_tensor(name, shape):
    return scaled("text_encoder", name, shape, 1.0) if "embedding" in name else generic("text_encoder", name, shape)


def t5_shapes() -> dict:
    s = {"shared.weight": (1100, 128), "encoder.final_layer_norm.weight": (128,)}
    for i in range(2):
        b = f"encoder.block.{i}.layer."
        for p in ("q", "k", "v"):
            s[f"{b}0.SelfAttention.{p}.weight"] = (64, 128)
        s[f"{b}0.SelfAttention.o.weight"] = (128, 64)
        if i == 0:
            s[f"{b}0.SelfAttention.relative_attention_bias.weight"] = (32, 2)
        s[f"{b}0.layer_norm.weight"] = (128,)
        s[f"{b}1.DenseReluDense.wi_0.weight"] = (96, 128)
        s[f"{b}1.DenseReluDense.wi_1.weight"] = (96, 128)
        s[f"{b}1.DenseReluDense.wo.weight"] = (128, 96)
        s[f"{b}1.layer_norm.weight"] = (128,)
    return dict(sorted(s.items()))


def t5_tensor(name, shape):
    if name == "shared.weight" or "relative_attention_bias" in name:
        return scaled("text_encoder_2", name, shape, 1.0)
    return generic("text_encoder_2", name, shape)


def vae_shapes() -> dict:
    s = {}

    def conv(n, o, i, k):
        s[n + ".weight"], s[n + ".bias"] = (o, i, k, k), (o,)

    def norm(n, c):
        s[n + ".weight"], s[n + ".bias"] = (c,), (c,)

    def resnet(p, i, o):
        norm(p + "norm1", i)
        conv(p + "conv1", o, i, 3)
        norm(p + "norm2", o)
        conv(p + "conv2", o, o, 3)
        if i != o:
            conv(p + "conv_shortcut", o, i, 1)

    rev = [16, 16, 8, 8]
    conv("decoder.conv_in", rev[0], 16, 3)
    for r in range(2):
        resnet(f"decoder.mid_block.resnets.{r}.", rev[0], rev[0])
    a = "decoder.mid_block.attentions.0."
    norm(a + "group_norm", rev[0])
    for p in ("to_q", "to_k", "to_v", "to_out.0"):
        s[a + p + ".weight"], s[a + p + ".bias"] = (rev[0], rev[0]), (rev[0],)
    cin = rev[0]
    for b, cout in enumerate(rev):
        for r in range(3):
            resnet(f"decoder.up_blocks.{b}.resnets.{r}.", cin if r == 0 else cout, cout)
        if b < 3:
            conv(f"decoder.up_blocks.{b}.upsamplers.0.conv", cout, cout, 3)
        cin = cout
    norm("decoder.conv_norm_out", rev[3])
    conv("decoder.conv_out", 3, rev[3], 3)
    return dict(sorted(s.items()))


def vae_tensor(name, shape):
    if len(shape) != 4 or shape[2] != 3:
        return generic("vae", name, shape)
    u = uniform("vae", name, shape)
    gain = 0.6 if name.startswith("decoder.conv_out.") else 1.0
    c = np.float32(gain * math.sqrt(3.0 / shape[1]) / 1.5)
    return ((u[:, :, 1:2, 1:2] * BLUR + np.float32(0.1) * u) * c).astype(np.float32)


# --------------------------------------------------------------------------------------- files

def write_model(dir_: Path) -> str:
    if dir_.exists():
        shutil.rmtree(dir_)
    base = dir_ / "tiny-flux-demo"
    shutil.copytree(RESOURCES, base)
    meta = {"format": "pt", "flux4j": f"demo model v{VERSION}"}
    for path, shapes, fn in (("text_encoder/model.safetensors", clip_shapes(), clip_tensor),
                             ("text_encoder_2/model.safetensors", t5_shapes(), t5_tensor),
                             ("vae/diffusion_pytorch_model.safetensors", vae_shapes(), vae_tensor)):
        tf.write_safetensors(base / path, [(n, fn(n, s)) for n, s in shapes.items()], metadata=meta)
    w = gguf.GGUFWriter(str(dir_ / "tiny-flux-demo-Q8_0.gguf"), arch="flux")
    w.add_string("general.name", "flux4j demo (random weights)")
    w.add_uint32("general.quantization_version", 2)
    w.add_uint32("general.file_type", 7)
    for name, shape in tf.tensor_shapes(True).items():
        v = transformer_tensor(name, shape)
        if len(shape) == 1:
            w.add_tensor(name, v.astype("<f4"))
        elif name.startswith(("double_blocks.", "single_blocks.")):
            w.add_tensor(name, gguf.quants.quantize(v, T.Q8_0), raw_dtype=T.Q8_0)
        else:
            w.add_tensor(name, v.astype("<f2"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    lines = []
    for p in sorted(dir_.rglob("*"), key=lambda p: p.relative_to(dir_).as_posix()):
        if p.is_file():
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(dir_).as_posix()}\n")
    manifest = "".join(lines)
    (dir_ / "MANIFEST.sha256").write_text(manifest)
    return manifest


def run_diffusers(dir_: Path, prompt: str, seed: int, size: int, steps: int, out: Path) -> None:
    import torch
    import flux_transformer_refs  # noqa: F401  (any-width linear1 split, TINY_FLUX.md section 6)
    from diffusers import FluxPipeline, FluxTransformer2DModel, GGUFQuantizationConfig
    from PIL import Image

    torch.set_num_threads(2)
    base = dir_ / "tiny-flux-demo"
    transformer = FluxTransformer2DModel.from_single_file(
        str(dir_ / "tiny-flux-demo-Q8_0.gguf"), quantization_config=GGUFQuantizationConfig(compute_dtype=torch.float32),
        config=str(base / "transformer"), torch_dtype=torch.float32)
    pipe = FluxPipeline.from_pretrained(base, transformer=transformer, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(prompt=prompt, height=size, width=size, num_inference_steps=steps, guidance_scale=3.5,
                 generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images[0]
    Image.fromarray((image * 255).round().astype("uint8")).save(out)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/demo"))
    ap.add_argument("--image", metavar="PROMPT")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=28)
    args = ap.parse_args()
    dir_ = args.out / f"demo-v{VERSION}"
    manifest = write_model(dir_)
    print(manifest, end="")
    print("manifest sha256:", hashlib.sha256(manifest.encode()).hexdigest())
    if args.image:
        run_diffusers(dir_, args.image, args.seed, args.size, args.steps, args.out / "diffusers.png")


if __name__ == "__main__":
    main()

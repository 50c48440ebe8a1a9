#!/usr/bin/env python3
"""Reference outputs of diffusers' FluxTransformer2DModel on the tiny FLUX GGUF files.

For every file variant of tiny_flux.py this writes
    flux-core/src/test/resources/reference/flux/<variant>.safetensors
holding the inputs, the float32 forward on the gguf-py-dequantized weights ("f32.*", with
intermediates for the F32, Q8_0 and Q4_K dev variants) and the bfloat16 forward through diffusers'
own GGUF loading path ("bf16.output"). See flux-core/src/test/resources/reference/flux/README.md.

Run from the repository root (diffusers is not installed; its source mirror is used):
    mkdir -p /tmp/diffusers && git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers \
        | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/flux_transformer_refs.py

Options: --gguf-dir DIR (where tiny_flux.py writes the GGUF files, default /tmp/tiny-flux),
--no-write (compute and print the tolerance table only).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_flux as tf  # noqa: E402

import diffusers  # noqa: E402
from diffusers import FluxTransformer2DModel, GGUFQuantizationConfig  # noqa: E402
from diffusers.loaders import single_file_model  # noqa: E402
from diffusers.loaders.single_file_utils import convert_flux_transformer_checkpoint_to_diffusers  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Inputs. Latent 8 x 12 (h x w) -> 4 x 6 = 24 packed tokens of 64 channels (non-square on purpose,
# so that a row/column swap in the ids shows), 8 text tokens. Values come from the same generator
# (tensor names "input.*"), rounded to bfloat16 so that both compute modes see identical inputs.
LATENT_H, LATENT_W = 8, 12
TXT_LEN = 8
# Passed as is; the model multiplies both by 1000 in the activation dtype. 0.5 -> 500 and
# 4.0 -> 4000 are exact in bfloat16, so both compute modes get identical conditioning and the
# bf16-vs-f32 gap measures arithmetic only.
TIMESTEP = 0.5
GUIDANCE = 4.0
# The "rounding" extra (dev-F32 and dev-Q8_0): 0.75 and 3.5, whose x1000 round in bf16 mode
# (bf16(0.75 * 1000) = 752, bf16(3.5 * 1000) = 3504, as in the real pipeline).
ROUNDING_TIMESTEP = 0.75
ROUNDING_GUIDANCE = 3.5
ROUNDING = {"tiny-flux-dev-F32", "tiny-flux-dev-Q8_0"}
INPUT_SCALES = {"hidden_states": 2.0, "encoder_hidden_states": 1.0, "pooled_projections": 1.0}


def bf16_exact(name: str, shape: tuple[int, ...], scale: float) -> torch.Tensor:
    v = tf.float_values(tf.tensor_seed(name), int(np.prod(shape)), scale, 0.0)
    return torch.from_numpy(v.reshape(shape)).to(torch.bfloat16).to(torch.float32)


def make_inputs(guidance: bool, timestep: float = TIMESTEP, guidance_value: float = GUIDANCE) -> dict[str, torch.Tensor]:
    hh, ww = LATENT_H // 2, LATENT_W // 2
    img_ids = torch.zeros(hh, ww, 3)
    img_ids[..., 1] = img_ids[..., 1] + torch.arange(hh)[:, None]   # as _prepare_latent_image_ids
    img_ids[..., 2] = img_ids[..., 2] + torch.arange(ww)[None, :]
    x = {
        "hidden_states": bf16_exact("input.hidden_states", (1, hh * ww, tf.IN_CHANNELS), INPUT_SCALES["hidden_states"]),
        "encoder_hidden_states": bf16_exact("input.encoder_hidden_states", (1, TXT_LEN, tf.JOINT_DIM),
                                            INPUT_SCALES["encoder_hidden_states"]),
        "pooled_projections": bf16_exact("input.pooled_projections", (1, tf.POOLED_DIM), INPUT_SCALES["pooled_projections"]),
        "timestep": torch.tensor([timestep], dtype=torch.float32),
        "img_ids": img_ids.reshape(hh * ww, 3),
        "txt_ids": torch.zeros(TXT_LEN, 3),
    }
    if guidance:
        x["guidance"] = torch.tensor([guidance_value], dtype=torch.float32)
    return x


# ---------------------------------------------------------------------------------------------
# diffusers' BFL -> diffusers conversion hard-codes inner_dim = 3072 for the split of the single
# blocks' linear1 (q, k, v, mlp rows), which fails for any other width. This wrapper lets the
# original function convert everything else (linear1 replaced by a correctly sized placeholder)
# and then splits linear1 itself with the model's real width. Everything else is diffusers' code.

def convert_any_width(checkpoint, **kwargs):
    ckpt = {}
    for k, v in checkpoint.items():
        ckpt[k.replace("model.diffusion_model.", "")] = v
    real = {}
    for k in list(ckpt):
        if ".linear1." in k and k.startswith("single_blocks."):
            real[k] = ckpt[k]
            ckpt[k] = torch.empty((3 * 3072 + 4 * 3072,) + ((1,) if k.endswith("weight") else ()))
    out = convert_flux_transformer_checkpoint_to_diffusers(ckpt, **kwargs)
    for k, v in real.items():
        i = k.split(".")[1]
        suffix = k.rsplit(".", 1)[1]
        h = v.shape[0] // 7  # rows: q, k, v (h each) and mlp (4h)
        q, kk, vv, mlp = torch.split(v, [h, h, h, 4 * h], dim=0)
        t = f"single_transformer_blocks.{i}."
        out[f"{t}attn.to_q.{suffix}"] = q
        out[f"{t}attn.to_k.{suffix}"] = kk
        out[f"{t}attn.to_v.{suffix}"] = vv
        out[f"{t}proj_mlp.{suffix}"] = mlp
    return out


single_file_model.SINGLE_FILE_LOADABLE_CLASSES["FluxTransformer2DModel"]["checkpoint_mapping_fn"] = convert_any_width


# ---------------------------------------------------------------------------------------------

def config_dir(guidance: bool) -> str:
    return str(tf.REF_DIR / "config" / ("dev" if guidance else "schnell"))


def dense_f32_model(v: tf.Variant) -> FluxTransformer2DModel:
    """The model in float32 with gguf-py's float32 dequantization of every tensor."""
    bfl = {t.name: torch.from_numpy(tf.dequantize_f32(t)) for t in tf.generate(v)}
    canonical = {k.replace(tf.PREFIX, ""): a.numpy() for k, a in bfl.items()}
    sd = convert_any_width(dict(bfl))
    # Cross-check diffusers' conversion against the documented mapping used for the test-time folder.
    mine = tf.bfl_to_diffusers(canonical)
    assert set(mine) == set(sd), set(mine) ^ set(sd)
    for k in sd:
        assert np.array_equal(mine[k], sd[k].numpy()), k
    model = FluxTransformer2DModel(**tf.config(v.guidance)).to(torch.float32)
    missing, unexpected = model.load_state_dict(sd, strict=True)
    return model.eval()


def gguf_bf16_model(path: Path, guidance: bool) -> FluxTransformer2DModel:
    model = FluxTransformer2DModel.from_single_file(
        str(path),
        quantization_config=GGUFQuantizationConfig(compute_dtype=torch.bfloat16),
        config=config_dir(guidance),
        torch_dtype=torch.bfloat16,
    )
    check_loaded(model)
    return model.eval()


def check_loaded(model) -> None:
    for n, p in list(model.named_parameters()) + list(model.named_buffers()):
        assert p.device.type != "meta", f"{n} was not loaded"


def run(model, inputs: dict[str, torch.Tensor], dtype, hooks: bool = False):
    kw = {k: (a.to(dtype) if k in ("hidden_states", "encoder_hidden_states", "pooled_projections") else a)
          for k, a in inputs.items()}
    rec: dict[str, torch.Tensor] = {}
    handles = []
    if hooks:
        def hook(name):
            def f(_m, _inp, out):
                if isinstance(out, tuple):
                    if name == "rope":
                        rec["rope_cos"], rec["rope_sin"] = out
                    else:
                        rec[name + ".encoder_hidden_states"], rec[name + ".hidden_states"] = out
                else:
                    rec[name] = out
            return f
        handles.append(model.time_text_embed.register_forward_hook(hook("temb")))
        handles.append(model.x_embedder.register_forward_hook(hook("x_embedder")))
        handles.append(model.context_embedder.register_forward_hook(hook("context_embedder")))
        handles.append(model.pos_embed.register_forward_hook(hook("rope")))
        for i, b in enumerate(model.transformer_blocks):
            handles.append(b.register_forward_hook(hook(f"double.{i}")))
        for i, b in enumerate(model.single_transformer_blocks):
            handles.append(b.register_forward_hook(hook(f"single.{i}")))
        handles.append(model.norm_out.register_forward_hook(hook("norm_out")))
    with torch.no_grad():
        out = model(**kw, return_dict=False)[0]
    for h in handles:
        h.remove()
    rec["output"] = out
    return {k: a.detach().to(torch.float32).contiguous() for k, a in rec.items()}


INTERMEDIATES = {"tiny-flux-dev-F32", "tiny-flux-dev-Q8_0", "tiny-flux-dev-Q4_K"}


def stats(ref: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    d = (x - ref).abs()
    return {
        "max_abs": d.max().item(),
        "max_ref": ref.abs().max().item(),
        "rel_max": (d.max() / ref.abs().max()).item(),
        "rel_rms": (d.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt()).item(),
        "cos": torch.nn.functional.cosine_similarity(ref.flatten(), x.flatten(), dim=0).item(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf-dir", default="/tmp/tiny-flux")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    gdir = Path(args.gguf_dir)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(8, torch.get_num_threads())))

    lines, _ = tf.write_all(gdir)  # (re)generate the GGUF + test-time files
    results: dict[str, dict[str, torch.Tensor]] = {}
    table = []
    for v in tf.VARIANTS:
        inputs = make_inputs(v.guidance)
        dense = dense_f32_model(v)
        ggufm = gguf_bf16_model(gdir / v.file, v.guidance)
        f32 = run(dense, inputs, torch.float32, hooks=v.name in INTERMEDIATES)
        bf16 = run(ggufm, inputs, torch.bfloat16, hooks=v.name in INTERMEDIATES)
        for k, a in f32.items():
            assert torch.isfinite(a).all(), (v.name, k)
        assert torch.isfinite(bf16["output"]).all(), v.name
        out = {f"input.{k}": a.contiguous() for k, a in inputs.items()}
        keep = f32 if v.name in INTERMEDIATES else {"output": f32["output"]}
        out.update({f"f32.{k}": a for k, a in keep.items()})
        out["bf16.output"] = bf16["output"]
        if v.name in ROUNDING or v.base in ROUNDING:
            rin = make_inputs(v.guidance, ROUNDING_TIMESTEP, ROUNDING_GUIDANCE)
            out["rounding.timestep"] = rin["timestep"]
            out["rounding.guidance"] = rin["guidance"]
            out["rounding.f32.output"] = run(dense, rin, torch.float32)["output"]
            out["rounding.bf16.output"] = run(ggufm, rin, torch.bfloat16)["output"]
            r = stats(out["rounding.f32.output"], out["rounding.bf16.output"])
            print(f"  rounding extra (t=0.75, g=3.5): bf16 vs f32 rel_rms {r['rel_rms']:.3e} cos {r['cos']:.4f}",
                  file=sys.stderr)
        results[v.name] = out
        s = stats(f32["output"], bf16["output"])
        table.append((v.name, s, f32, bf16))
        print(f"{v.name:34s} out std {f32['output'].std().item():.4f} max {s['max_ref']:.4f} | "
              f"bf16 vs f32: max_abs {s['max_abs']:.3e} rel_max {s['rel_max']:.3e} "
              f"rel_rms {s['rel_rms']:.3e} cos {s['cos']:.6f}", file=sys.stderr)
        if v.base:
            for k in results[v.base]:
                if not k.startswith("input.") and k in out:
                    assert torch.equal(results[v.base][k], out[k]), (v.name, k)
            print(f"  == {v.base} (both modes, bit for bit)", file=sys.stderr)

    # Intermediate tolerances (bf16 GGUF vs f32 dense) where both were recorded.
    for name, _s, f32, bf16 in table:
        if name in INTERMEDIATES:
            for k in f32:
                s = stats(f32[k], bf16[k])
                print(f"  {name:24s} {k:36s} rel_max {s['rel_max']:.3e} rel_rms {s['rel_rms']:.3e} "
                      f"|ref|max {s['max_ref']:.3f}", file=sys.stderr)

    check_test_time_files(gdir, results["tiny-flux-dev-F32"])

    if not args.no_write:
        meta = {
            "format": "pt",
            "generator": "tools/reference/flux_transformer_refs.py",
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "gguf": gguf_version(),
        }
        for name, tensors in results.items():
            # Own writer: byte-deterministic (safetensors' save_file orders the metadata randomly).
            tf.write_safetensors(tf.REF_DIR / f"{name}.safetensors",
                                 [(k, tensors[k].numpy()) for k in sorted(tensors)], meta)
        tf.MANIFEST.write_text("\n".join(lines) + "\n", encoding="ascii")
        print(f"wrote {len(results)} reference files to {tf.REF_DIR}", file=sys.stderr)


def gguf_version() -> str:
    from importlib.metadata import version
    return version("gguf")


def check_test_time_files(gdir: Path, ref: dict[str, torch.Tensor]) -> None:
    """The BFL safetensors and the diffusers folder load in diffusers to the dev-F32 model.

    Same weights, same ops: the outputs agree with the dev-F32 references to float rounding noise
    (from_pretrained's parameters can sit at other addresses, and CPU GEMM kernels may then
    reduce in another order), so this checks a tight tolerance rather than bit identity."""
    inputs = make_inputs(True)
    folder = gdir / "tiny-flux-dev-diffusers"
    bfl = str(gdir / "tiny-flux-dev-F32.safetensors")
    cases = [
        ("diffusers folder, f32", lambda: FluxTransformer2DModel.from_pretrained(str(folder), torch_dtype=torch.float32),
         torch.float32, "f32.output", 1e-5),
        ("diffusers folder, bf16", lambda: FluxTransformer2DModel.from_pretrained(str(folder), torch_dtype=torch.bfloat16),
         torch.bfloat16, "bf16.output", 5e-2),
        ("BFL safetensors, f32", lambda: FluxTransformer2DModel.from_single_file(bfl, config=config_dir(True),
                                                                             torch_dtype=torch.float32),
         torch.float32, "f32.output", 1e-5),
        ("BFL safetensors, bf16", lambda: FluxTransformer2DModel.from_single_file(bfl, config=config_dir(True),
                                                                              torch_dtype=torch.bfloat16),
         torch.bfloat16, "bf16.output", 5e-2),
    ]
    for what, load, dtype, key, tol in cases:
        m = load().eval()
        check_loaded(m)
        o = run(m, inputs, dtype)["output"]
        d = (o - ref[key]).abs().max().item()
        print(f"test-time file check: {what}: max |diff| vs dev-F32 {key} = {d:.3e}", file=sys.stderr)
        assert d <= tol, (what, d)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tiny FLUX transformers with deterministic weights, as GGUF files (and test-time safetensors).

The weights come from a small exact generator (splitmix64 streams seeded from the tensor name,
see tools/reference/TINY_FLUX.md) that the Java test helper
flux-core/src/test/java/io/github/flux4j/core/testing/TinyFluxFiles.java reproduces bit for bit.
Nothing big is committed: the GGUF files are regenerated wherever they are needed; only the
manifest (per file: generator parameters, metadata, per tensor name/type/shape/sha256, and the
sha256 of the whole file) is committed, under

    flux-core/src/test/resources/reference/flux/manifest.tsv

Usage (from the repository root):
    /tmp/ref/bin/python tools/reference/tiny_flux.py [--out DIR]     # GGUF + safetensors into DIR
    /tmp/ref/bin/python tools/reference/tiny_flux.py --manifest      # also rewrite the manifest

DIR defaults to /tmp/tiny-flux. The module is also imported by flux_transformer_refs.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

ROOT = Path(__file__).resolve().parents[2]
REF_DIR = ROOT / "flux-core/src/test/resources/reference/flux"
MANIFEST = REF_DIR / "manifest.tsv"

# ---------------------------------------------------------------------------------------------
# Model shape (see TINY_FLUX.md). hidden = heads * head_dim = 2 * 128.
HIDDEN = 256
HEADS = 2
HEAD_DIM = 128
IN_CHANNELS = 64
JOINT_DIM = 128          # T5 width (txt_in in_features); differs from IN_CHANNELS on purpose
POOLED_DIM = 96          # CLIP pooled width (vector_in in_features)
TIME_DIM = 256           # sinusoidal timestep/guidance embedding width (fixed by FLUX)
MLP = 4 * HIDDEN
NUM_DOUBLE = 2
NUM_SINGLE = 2
AXES_DIMS_ROPE = (16, 56, 56)

PREFIX = "model.diffusion_model."
GLOBAL_SEED = 0x464C5558_54494E59  # ASCII "FLUXTINY"

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB

# Float rule constants.
BIAS_SCALE = 2.0 ** -4        # biases: uniform in [-1/16, 1/16)
NORM_SCALE = 2.0 ** -2        # RMSNorm .scale: 1 + uniform in [-1/4, 1/4)
NORM_OFFSET = 1.0

EMBEDDER_PREFIXES = ("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.", "final_layer.")


def config(guidance: bool) -> dict:
    """The diffusers FluxTransformer2DModel config of the tiny model."""
    return {
        "_class_name": "FluxTransformer2DModel",
        "attention_head_dim": HEAD_DIM,
        "axes_dims_rope": list(AXES_DIMS_ROPE),
        "guidance_embeds": guidance,
        "in_channels": IN_CHANNELS,
        "joint_attention_dim": JOINT_DIM,
        "num_attention_heads": HEADS,
        "num_layers": NUM_DOUBLE,
        "num_single_layers": NUM_SINGLE,
        "out_channels": None,
        "patch_size": 1,
        "pooled_projection_dim": POOLED_DIM,
    }


def config_json(guidance: bool) -> bytes:
    return (json.dumps(config(guidance), indent=2, sort_keys=True) + "\n").encode("ascii")


# ---------------------------------------------------------------------------------------------
# Tensor list (BFL / city96 GGUF names, PyTorch shapes).

def tensor_shapes(guidance: bool) -> dict[str, tuple[int, ...]]:
    H = HIDDEN
    s: dict[str, tuple[int, ...]] = {}

    def linear(name, out_f, in_f):
        s[name + ".weight"] = (out_f, in_f)
        s[name + ".bias"] = (out_f,)

    linear("img_in", H, IN_CHANNELS)
    linear("txt_in", H, JOINT_DIM)
    linear("time_in.in_layer", H, TIME_DIM)
    linear("time_in.out_layer", H, H)
    linear("vector_in.in_layer", H, POOLED_DIM)
    linear("vector_in.out_layer", H, H)
    if guidance:
        linear("guidance_in.in_layer", H, TIME_DIM)
        linear("guidance_in.out_layer", H, H)
    for i in range(NUM_DOUBLE):
        for st in ("img", "txt"):
            p = f"double_blocks.{i}.{st}_"
            linear(p + "mod.lin", 6 * H, H)
            linear(p + "attn.qkv", 3 * H, H)
            s[p + "attn.norm.query_norm.scale"] = (HEAD_DIM,)
            s[p + "attn.norm.key_norm.scale"] = (HEAD_DIM,)
            linear(p + "attn.proj", H, H)
            linear(p + "mlp.0", MLP, H)
            linear(p + "mlp.2", H, MLP)
    for i in range(NUM_SINGLE):
        p = f"single_blocks.{i}."
        linear(p + "linear1", 3 * H + MLP, H)
        linear(p + "linear2", H, H + MLP)
        linear(p + "modulation.lin", 3 * H, H)
        s[p + "norm.query_norm.scale"] = (HEAD_DIM,)
        s[p + "norm.key_norm.scale"] = (HEAD_DIM,)
    linear("final_layer.linear", IN_CHANNELS, H)
    linear("final_layer.adaLN_modulation.1", 2 * H, H)
    return dict(sorted(s.items()))  # file order: names sorted (as in BFL safetensors)


def role(name: str, shape: tuple[int, ...]) -> str:
    """'vector' (1-D, always F32), 'embedder' (2-D, never quantized) or 'matrix' (block linear)."""
    if len(shape) == 1:
        return "vector"
    if name.startswith(EMBEDDER_PREFIXES):
        return "embedder"
    return "matrix"


# ---------------------------------------------------------------------------------------------
# The generator.

def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def tensor_seed(canonical_name: str, global_seed: int = GLOBAL_SEED) -> int:
    return fnv1a64(canonical_name.encode("utf-8")) ^ global_seed


def splitmix64(seed: int, n: int) -> np.ndarray:
    """The first n outputs of splitmix64 started at state `seed` (state += GOLDEN before each)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        return z ^ (z >> np.uint64(31))


def float_values(seed: int, n: int, scale: float, offset: float) -> np.ndarray:
    """value_i = f32(f32(r_i * scale) + offset), r_i = f32(z_i >>> 40) * 2^-23 - 1 (exact)."""
    z = splitmix64(seed, n)
    r = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1.0)
    v = r * np.float32(scale)
    if offset != 0.0:
        v = v + np.float32(offset)
    return v.astype(np.float32)


def stream_bytes(seed: int, nbytes: int) -> np.ndarray:
    words = splitmix64(seed, (nbytes + 7) // 8).astype("<u8")
    return words.view(np.uint8)[:nbytes].copy()


MODULATION_SUFFIXES = ("_mod.lin.weight", "modulation.lin.weight", "adaLN_modulation.1.weight")
INPUT_EMBEDDER_PREFIXES = ("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.")


def gain_log2(name: str) -> int:
    """log2 of a 2-D weight's gain: 2 for modulation linears (x4: gates and scales of order one,
    so that every block changes the streams substantially), 1 for the input embedders (x2), else 0."""
    if name.endswith(MODULATION_SUFFIXES):
        return 2
    if name.startswith(INPUT_EMBEDDER_PREFIXES):
        return 1
    return 0


def float_scale(name: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(scale, offset) of the float rule for a tensor."""
    if len(shape) == 2:
        return float(np.float32(2.0 ** gain_log2(name) / math.sqrt(shape[1]))), 0.0
    if name.endswith(".scale"):
        return NORM_SCALE, NORM_OFFSET
    return BIAS_SCALE, 0.0


# Quantized block matrices: per type, the byte offset of the f16 d field in a block, its binary
# exponent E (d = +-2^E * (1 + j/256), j = low byte of the field's random bits) and whether the
# sign is random (bit 15 of the field's random bits) or forced positive. Second fields are exact
# multiples of d (see TINY_FLUX.md).
QUANT_RULES = {
    T.Q8_0: dict(d_off=0, exp=-12, signed=True),
    T.Q4_0: dict(d_off=0, exp=-8, signed=True),
    T.Q5_1: dict(d_off=0, exp=-9, signed=False),   # m (offset 2) = -16 d
    T.Q4_K: dict(d_off=0, exp=-14, signed=False),  # dmin (offset 2) = 8 d
    T.Q6_K: dict(d_off=208, exp=-14, signed=True),  # scales[16] at 192 arithmetic-shifted >> 2
}


def quant_bytes(seed: int, qtype: T, shape: tuple[int, int], gain: int = 0) -> np.ndarray:
    block, tsize = GGML_QUANT_SIZES[qtype]
    rows, cols = shape
    assert cols % block == 0
    nblocks = rows * cols // block
    raw = stream_bytes(seed, nblocks * tsize).reshape(nblocks, tsize)
    rule = QUANT_RULES[qtype]
    off, e = rule["d_off"], rule["exp"] + gain
    h = raw[:, off].astype(np.uint16) | (raw[:, off + 1].astype(np.uint16) << np.uint16(8))
    j = h & np.uint16(0xFF)
    sign = (h & np.uint16(0x8000)) if rule["signed"] else np.zeros_like(h)

    def half(exp: int, neg) -> np.ndarray:
        assert -14 <= exp <= 15
        return (neg | np.uint16((exp + 15) << 10) | (j << np.uint16(2))).astype(np.uint16)

    def put(field_off: int, bits: np.ndarray):
        raw[:, field_off] = (bits & np.uint16(0xFF)).astype(np.uint8)
        raw[:, field_off + 1] = (bits >> np.uint16(8)).astype(np.uint8)

    put(off, half(e, sign))
    if qtype == T.Q5_1:
        put(2, half(e + 4, np.full_like(h, 0x8000)))
    elif qtype == T.Q4_K:
        put(2, half(e + 3, np.zeros_like(h)))
    elif qtype == T.Q6_K:
        raw[:, 192:208] = (raw[:, 192:208].view(np.int8) >> 2).view(np.uint8)
    return raw.reshape(rows, cols // block * tsize)


def to_bf16_bits(v: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest even), as gguf-py does (no NaNs occur here)."""
    n = v.astype(np.float32).view(np.uint32).astype(np.uint64)
    n = (n + (0x7FFF + ((n >> np.uint64(16)) & np.uint64(1)))) >> np.uint64(16)
    return n.astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# File variants.

@dataclass(frozen=True)
class Variant:
    file: str            # file name
    flavor: str          # "dev" (guidance_in present) or "schnell"
    qtype: str           # type of the block matrices: F32, BF16, Q8_0, ...
    embed: str           # type of the 2-D embedder / final_layer weights: F32, F16 or BF16
    prefix: str = ""     # tensor name prefix ("" or "model.diffusion_model.")
    arch: bool = True    # write general.architecture / quantization_version / file_type
    base: str = ""       # variant whose weights (and reference outputs) this one shares

    @property
    def guidance(self) -> bool:
        return self.flavor == "dev"

    @property
    def name(self) -> str:
        return self.file[: -len(".gguf")]


VARIANTS = [
    Variant("tiny-flux-dev-F32.gguf", "dev", "F32", "F32"),
    Variant("tiny-flux-dev-BF16.gguf", "dev", "BF16", "BF16"),
    Variant("tiny-flux-dev-Q8_0.gguf", "dev", "Q8_0", "F16"),
    Variant("tiny-flux-dev-Q4_0.gguf", "dev", "Q4_0", "BF16"),
    Variant("tiny-flux-dev-Q5_1.gguf", "dev", "Q5_1", "F16"),
    Variant("tiny-flux-dev-Q4_K.gguf", "dev", "Q4_K", "BF16"),
    Variant("tiny-flux-dev-Q6_K.gguf", "dev", "Q6_K", "BF16"),
    Variant("tiny-flux-schnell-F32.gguf", "schnell", "F32", "F32"),
    Variant("tiny-flux-schnell-Q8_0.gguf", "schnell", "Q8_0", "F16"),
    Variant("tiny-flux-dev-Q8_0-prefixed.gguf", "dev", "Q8_0", "F16", prefix=PREFIX,
            base="tiny-flux-dev-Q8_0"),
    Variant("tiny-flux-dev-Q4_K-noarch.gguf", "dev", "Q4_K", "BF16", arch=False,
            base="tiny-flux-dev-Q4_K"),
]

FILE_TYPE = {  # llama.cpp LlamaFileType, written as general.file_type
    "F32": 0, "BF16": 32, "Q8_0": 7, "Q4_0": 2, "Q5_1": 9, "Q4_K": 14, "Q6_K": 18,
}


@dataclass
class GenTensor:
    name: str                   # name in the file (with prefix)
    canonical: str              # name without prefix (seeds the stream)
    type: T
    shape: tuple[int, ...]      # PyTorch order
    data: bytes                 # raw GGUF bytes
    gen: str                    # generator description for the manifest


def generate(v: Variant, global_seed: int = GLOBAL_SEED) -> list[GenTensor]:
    out = []
    for canonical, shape in tensor_shapes(v.guidance).items():
        r = role(canonical, shape)
        ttype = {"vector": "F32", "embedder": v.embed, "matrix": v.qtype}[r]
        seed = tensor_seed(canonical, global_seed)
        n = int(np.prod(shape))
        if ttype in ("F32", "F16", "BF16"):
            scale, offset = float_scale(canonical, shape)
            vals = float_values(seed, n, scale, offset)
            gen = f"float scale={float(scale).hex()} offset={float(offset).hex()}"
            if ttype == "F32":
                data = vals.astype("<f4").tobytes()
            elif ttype == "F16":
                data = vals.astype("<f2").tobytes()
            else:
                data = to_bf16_bits(vals).astype("<u2").tobytes()
            gtype = T[ttype]
        else:
            gtype = T[ttype]
            gain = gain_log2(canonical)
            data = quant_bytes(seed, gtype, shape, gain).tobytes()
            rule = QUANT_RULES[gtype]
            gen = f"quant exp={rule['exp'] + gain} signed={str(rule['signed']).lower()}"
        assert len(data) == gguf.quants.quant_shape_to_byte_shape(shape, gtype)[-1] * int(np.prod(shape[:-1]))
        out.append(GenTensor(v.prefix + canonical, canonical, gtype, shape, data, gen))
    return out


def write_gguf(v: Variant, path: Path, tensors: list[GenTensor] | None = None) -> None:
    tensors = tensors if tensors is not None else generate(v)
    w = gguf.GGUFWriter(str(path), arch="flux")
    if v.arch:
        w.add_uint32("general.quantization_version", 2)
        w.add_uint32("general.file_type", FILE_TYPE[v.qtype])
    else:
        w.kv_data[0].clear()  # sd.cpp files: no metadata at all
    for t in tensors:
        if t.type == T.F32:
            arr = np.frombuffer(t.data, dtype="<f4").reshape(t.shape)
            w.add_tensor(t.name, arr)
        elif t.type == T.F16:
            arr = np.frombuffer(t.data, dtype="<f2").reshape(t.shape)
            w.add_tensor(t.name, arr)
        else:
            arr = np.frombuffer(t.data, dtype=np.uint8).reshape(t.shape[0], -1)
            w.add_tensor(t.name, arr, raw_dtype=t.type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def kv_entries(v: Variant) -> list[tuple[str, str, str]]:
    if not v.arch:
        return []
    return [("general.architecture", "STRING", "flux"),
            ("general.quantization_version", "UINT32", "2"),
            ("general.file_type", "UINT32", str(FILE_TYPE[v.qtype]))]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Dense float32 views (for the references and for the test-time safetensors).

def dequantize_f32(t: GenTensor) -> np.ndarray:
    """gguf-py's float32 dequantization of a generated tensor (PyTorch shape)."""
    if t.type == T.F32:
        return np.frombuffer(t.data, dtype="<f4").reshape(t.shape).copy()
    if t.type == T.F16:
        return np.frombuffer(t.data, dtype="<f2").astype(np.float32).reshape(t.shape)
    raw = np.frombuffer(t.data, dtype=np.uint8).reshape(t.shape[0], -1)
    return gguf.quants.dequantize(raw, t.type).astype(np.float32).reshape(t.shape)


# BFL -> diffusers names (spec section 3); splits are along the output rows.

def bfl_to_diffusers(bfl: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    H = HIDDEN
    d: dict[str, np.ndarray] = {}

    def lin(src, dst):
        d[dst + ".weight"] = bfl[src + ".weight"]
        d[dst + ".bias"] = bfl[src + ".bias"]

    lin("img_in", "x_embedder")
    lin("txt_in", "context_embedder")
    lin("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1")
    lin("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2")
    lin("vector_in.in_layer", "time_text_embed.text_embedder.linear_1")
    lin("vector_in.out_layer", "time_text_embed.text_embedder.linear_2")
    if "guidance_in.in_layer.weight" in bfl:
        lin("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1")
        lin("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2")
    for i in range(NUM_DOUBLE):
        s, t = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        lin(s + "img_mod.lin", t + "norm1.linear")
        lin(s + "txt_mod.lin", t + "norm1_context.linear")
        for st, names in (("img", ("to_q", "to_k", "to_v")), ("txt", ("add_q_proj", "add_k_proj", "add_v_proj"))):
            for suffix in ("weight", "bias"):
                parts = np.split(bfl[f"{s}{st}_attn.qkv.{suffix}"], 3, axis=0)
                for n, p in zip(names, parts):
                    d[f"{t}attn.{n}.{suffix}"] = p
        d[t + "attn.norm_q.weight"] = bfl[s + "img_attn.norm.query_norm.scale"]
        d[t + "attn.norm_k.weight"] = bfl[s + "img_attn.norm.key_norm.scale"]
        d[t + "attn.norm_added_q.weight"] = bfl[s + "txt_attn.norm.query_norm.scale"]
        d[t + "attn.norm_added_k.weight"] = bfl[s + "txt_attn.norm.key_norm.scale"]
        lin(s + "img_attn.proj", t + "attn.to_out.0")
        lin(s + "txt_attn.proj", t + "attn.to_add_out")
        lin(s + "img_mlp.0", t + "ff.net.0.proj")
        lin(s + "img_mlp.2", t + "ff.net.2")
        lin(s + "txt_mlp.0", t + "ff_context.net.0.proj")
        lin(s + "txt_mlp.2", t + "ff_context.net.2")
    for i in range(NUM_SINGLE):
        s, t = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        for suffix in ("weight", "bias"):
            x = bfl[f"{s}linear1.{suffix}"]
            q, k, vv, mlp = np.split(x, [H, 2 * H, 3 * H], axis=0)
            d[f"{t}attn.to_q.{suffix}"] = q
            d[f"{t}attn.to_k.{suffix}"] = k
            d[f"{t}attn.to_v.{suffix}"] = vv
            d[f"{t}proj_mlp.{suffix}"] = mlp
        d[t + "attn.norm_q.weight"] = bfl[s + "norm.query_norm.scale"]
        d[t + "attn.norm_k.weight"] = bfl[s + "norm.key_norm.scale"]
        lin(s + "linear2", t + "proj_out")
        lin(s + "modulation.lin", t + "norm.linear")
    lin("final_layer.linear", "proj_out")
    for suffix in ("weight", "bias"):
        shift, scale = np.split(bfl[f"final_layer.adaLN_modulation.1.{suffix}"], 2, axis=0)
        d[f"norm_out.linear.{suffix}"] = np.concatenate([scale, shift], axis=0)
    assert len(d) == len(bfl) + 8 * NUM_DOUBLE + 6 * NUM_SINGLE, (len(d), len(bfl))
    return d


def write_safetensors(path: Path, tensors: list[tuple[str, np.ndarray]], metadata: dict | None = None) -> bytes:
    """A minimal, byte-deterministic safetensors writer (F32 only; see TINY_FLUX.md)."""
    header: dict = {"__metadata__": metadata if metadata is not None else {"format": "pt"}}
    offset = 0
    blobs = []
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode("ascii")
    h += b" " * (-len(h) % 8)
    data = len(h).to_bytes(8, "little") + h + b"".join(blobs)
    path.write_bytes(data)
    return data


def write_test_time_files(out: Path) -> dict[str, bytes]:
    """The BFL-format safetensors and the diffusers-format folder of tiny-flux-dev-F32."""
    v = next(x for x in VARIANTS if x.name == "tiny-flux-dev-F32")
    bfl = {t.canonical: dequantize_f32(t) for t in generate(v)}
    files: dict[str, bytes] = {}
    files["tiny-flux-dev-F32.safetensors"] = write_safetensors(out / "tiny-flux-dev-F32.safetensors",
                                                              sorted(bfl.items()))
    folder = out / "tiny-flux-dev-diffusers"
    folder.mkdir(parents=True, exist_ok=True)
    diff = bfl_to_diffusers(bfl)
    shards = [
        sorted((k, a) for k, a in diff.items() if k.startswith("transformer_blocks.")),
        sorted((k, a) for k, a in diff.items() if not k.startswith("transformer_blocks.")),
    ]
    weight_map = {}
    total = 0
    for n, shard in enumerate(shards, 1):
        fname = f"diffusion_pytorch_model-{n:05d}-of-{len(shards):05d}.safetensors"
        files[f"tiny-flux-dev-diffusers/{fname}"] = write_safetensors(folder / fname, shard)
        for k, a in shard:
            weight_map[k] = fname
            total += a.size * 4
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    idx = (json.dumps(index, separators=(",", ":")) + "\n").encode("ascii")
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_bytes(idx)
    files["tiny-flux-dev-diffusers/diffusion_pytorch_model.safetensors.index.json"] = idx
    cfg = config_json(True)
    (folder / "config.json").write_bytes(cfg)
    files["tiny-flux-dev-diffusers/config.json"] = cfg
    return files


# ---------------------------------------------------------------------------------------------

def write_all(out: Path) -> tuple[list[str], dict[str, bytes]]:
    """Writes every GGUF variant and the test-time files into `out`; returns manifest lines."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# flux4j tiny FLUX manifest v1: generated by tools/reference/tiny_flux.py (see tools/reference/TINY_FLUX.md)",
        f"# global_seed=0x{GLOBAL_SEED:016x} hidden={HIDDEN} heads={HEADS} head_dim={HEAD_DIM} "
        f"in_channels={IN_CHANNELS} joint_attention_dim={JOINT_DIM} pooled_projection_dim={POOLED_DIM} "
        f"double={NUM_DOUBLE} single={NUM_SINGLE} axes_dims_rope={','.join(map(str, AXES_DIMS_ROPE))}",
        "# file\t<file>\tflavor\tqtype\tembed\tprefix\tarch\tseed\ttensors\tsize\tsha256",
        "# kv\t<file>\tkey\ttype\tvalue",
        "# tensor\t<file>\tname\tggml_type\tshape(torch order)\tbytes\tsha256\tgenerator",
        "# aux\t<path>\tsize\tsha256   (test-time files derived from tiny-flux-dev-F32, see TINY_FLUX.md)",
    ]
    for v in VARIANTS:
        tensors = generate(v)
        path = out / v.file
        write_gguf(v, path, tensors)
        blob = path.read_bytes()
        lines.append("\t".join(["file", v.file, v.flavor, v.qtype, v.embed, v.prefix or "-",
                                "flux" if v.arch else "-", f"0x{GLOBAL_SEED:016x}", str(len(tensors)),
                                str(len(blob)), sha256(blob)]))
        for key, typ, val in kv_entries(v):
            lines.append("\t".join(["kv", v.file, key, typ, val]))
        for t in tensors:
            lines.append("\t".join(["tensor", v.file, t.name, t.type.name, ",".join(map(str, t.shape)),
                                    str(len(t.data)), sha256(t.data), t.gen]))
        print(f"{v.file}: {len(tensors)} tensors, {len(blob)} bytes", file=sys.stderr)
    aux = write_test_time_files(out)
    for p, data in aux.items():
        lines.append("\t".join(["aux", p, str(len(data)), sha256(data)]))
    return lines, aux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/tiny-flux", help="output directory for the generated files")
    ap.add_argument("--manifest", action="store_true", help="rewrite the committed manifest.tsv")
    args = ap.parse_args()
    lines, _ = write_all(Path(args.out))
    if args.manifest:
        REF_DIR.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text("\n".join(lines) + "\n", encoding="ascii")
        for flavor, guidance in (("dev", True), ("schnell", False)):
            d = REF_DIR / "config" / flavor
            d.mkdir(parents=True, exist_ok=True)
            (d / "config.json").write_bytes(config_json(guidance))
        print(f"wrote {MANIFEST}", file=sys.stderr)


if __name__ == "__main__":
    main()

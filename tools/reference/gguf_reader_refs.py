#!/usr/bin/env python3
"""Writes GGUF files with gguf-py following FLUX's published conventions, and records what
gguf-py reads back from them, for flux-gguf's GgufFileTest.

Outputs (committed) under flux-gguf/src/test/resources/reference/reader/:
  flux_conventions.gguf   arch "flux", BFL tensor names, F32 1-D tensors, F16/BF16 embedders,
                          block matrices in many quant types, every metadata value type
  prefixed.gguf           no architecture key (sd.cpp style), "model.diffusion_model." names,
                          general.alignment = 64
  <file>.manifest.tsv     gguf-py's view: one line per metadata key (key, type, JSON value) and
                          per tensor (name, type, ggml dims, absolute offset, bytes, float index)
  <file>.f32              gguf-py's float32 dequantization of every tensor, concatenated in order

Run: /tmp/ref/bin/python tools/reference/gguf_reader_refs.py
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from gguf.quants import dequantize, quantize

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "flux-gguf", "src", "test", "resources", "reference", "reader")
rng = np.random.default_rng(20261125)

# Offsets of the f16 scale fields inside one block, per type gguf-py cannot quantize, so that
# random blocks dequantize to finite, moderate values.
SCALE_FIELDS = {
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
    Q.IQ4_NL: [0], Q.IQ4_XS: [0],
}


def random_blocks(qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        scales = (rng.standard_normal(n_blocks) * 0.01).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(rows, cols // block * size)


def add_quantized(w, name, qtype, rows, cols):
    """A [rows, cols] (PyTorch order) matrix in qtype, quantized by gguf-py where it can."""
    if qtype in SCALE_FIELDS:
        w.add_tensor(name, random_blocks(qtype, rows, cols), raw_dtype=qtype)
    else:
        data = rng.standard_normal((rows, cols)).astype(np.float32) * 0.05
        w.add_tensor(name, quantize(data, qtype), raw_dtype=qtype)


def flux_conventions(path):
    w = gguf.GGUFWriter(path, arch="flux")
    # one key per value type, plus arrays, nested arrays and unicode
    w.add_key_value("test.u8", 200, V.UINT8)
    w.add_key_value("test.i8", -100, V.INT8)
    w.add_key_value("test.u16", 60000, V.UINT16)
    w.add_key_value("test.i16", -30000, V.INT16)
    w.add_key_value("test.u32", 4000000000, V.UINT32)
    w.add_key_value("test.i32", -2000000000, V.INT32)
    w.add_key_value("test.f32", 0.1, V.FLOAT32)
    w.add_key_value("test.bool_true", True, V.BOOL)
    w.add_key_value("test.bool_false", False, V.BOOL)
    w.add_key_value("test.string", "FLUX.1-dev ünïcödé ✓ 🎨", V.STRING)
    w.add_key_value("test.u64", 18000000000000000000, V.UINT64)
    w.add_key_value("test.i64", -9000000000000000000, V.INT64)
    w.add_key_value("test.f64", 2.718281828459045, V.FLOAT64)
    w.add_key_value("test.array_i32", [1, -2, 3, -4], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.array_f32", [0.5, -1.25, 3.0e-8], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.array_str", ["a", "", "double_blocks.0", "ß"], V.ARRAY, sub_type=V.STRING)
    w.add_key_value("test.array_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("test.array_u8", [0, 1, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.array_nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY)
    w.add_key_value("general.quantization_version", 2, V.UINT32)
    w.add_key_value("general.file_type", 7, V.UINT32)
    # ComfyUI-GGUF's shape override: the tensor is stored as [4, 256] but is logically [2, 2, 256].
    w.add_key_value("comfy.gguf.orig_shape.shape_fix.weight", [2, 2, 256], V.ARRAY, sub_type=V.INT32)

    h = 64
    add_quantized(w, "double_blocks.0.img_attn.qkv.weight", Q.Q8_0, 3 * h, h)
    w.add_tensor("double_blocks.0.img_attn.qkv.bias", rng.standard_normal(3 * h).astype(np.float32))
    w.add_tensor("double_blocks.0.img_attn.norm.query_norm.scale", rng.standard_normal(16).astype(np.float32))
    add_quantized(w, "double_blocks.0.img_attn.proj.weight", Q.Q4_0, h, h)
    add_quantized(w, "double_blocks.0.img_mod.lin.weight", Q.Q4_1, 6 * h, h)
    add_quantized(w, "double_blocks.0.txt_attn.qkv.weight", Q.Q5_0, 3 * h, h)
    add_quantized(w, "double_blocks.0.txt_attn.proj.weight", Q.Q5_1, h, h)
    add_quantized(w, "double_blocks.0.img_mlp.0.weight", Q.Q2_K, 4, 256)
    add_quantized(w, "double_blocks.0.img_mlp.2.weight", Q.Q3_K, 2, 512)
    add_quantized(w, "double_blocks.0.txt_mlp.0.weight", Q.Q4_K, 4, 256)
    add_quantized(w, "double_blocks.0.txt_mlp.2.weight", Q.Q5_K, 2, 512)
    add_quantized(w, "single_blocks.0.linear1.weight", Q.Q6_K, 4, 256)
    add_quantized(w, "single_blocks.0.linear2.weight", Q.IQ4_NL, 8, 64)
    add_quantized(w, "single_blocks.0.modulation.lin.weight", Q.IQ4_XS, 3, 256)
    w.add_tensor("img_in.weight", (rng.standard_normal((h, 64)) * 0.1).astype(np.float16))
    w.add_tensor("txt_in.weight", quantize((rng.standard_normal((h, 32)) * 0.1).astype(np.float32), Q.BF16), raw_dtype=Q.BF16)
    w.add_tensor("final_layer.adaLN_modulation.1.bias", rng.standard_normal(2 * h).astype(np.float32))
    w.add_tensor("test.rank3", rng.standard_normal((2, 3, 4)).astype(np.float32))
    w.add_tensor("test.rank4", rng.standard_normal((2, 1, 3, 5)).astype(np.float16))
    add_quantized(w, "shape_fix.weight", Q.Q8_0, 4, 256)
    write(w)


def prefixed(path):
    w = gguf.GGUFWriter(path, arch="unused")
    # sd.cpp writes no general.architecture: drop the key GGUFWriter adds.
    for kv in w.kv_data:
        kv.pop("general.architecture", None)
    w.data_alignment = 64
    w.add_key_value("general.alignment", 64, V.UINT32)
    add_quantized(w, "model.diffusion_model.img_in.weight", Q.Q8_0, 8, 64)
    w.add_tensor("model.diffusion_model.img_in.bias", rng.standard_normal(8).astype(np.float32))
    w.add_tensor("model.diffusion_model.guidance_in.in_layer.bias", rng.standard_normal(5).astype(np.float32))
    write(w)


def write(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def json_value(field):
    """gguf-py's reading of one metadata field as JSON (nested arrays via their parts)."""
    return field.contents()


def type_name(field):
    t = field.types
    return ("ARRAY[" + ",".join(x.name for x in t[1:]) + "]") if t[0] == V.ARRAY else t[0].name


def dump(path):
    r = gguf.GGUFReader(path)
    lines = []
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        value = json_value(field)
        if field.types[0] == V.FLOAT32:
            value = float(np.float32(value))
        lines.append("meta\t%s\t%s\t%s" % (key, type_name(field), json.dumps(value, ensure_ascii=False)))
    floats = []
    index = 0
    for t in r.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        lines.append("tensor\t%s\t%s\t%s\t%d\t%d\t%d\t%d" % (
            t.name, t.tensor_type.name, ",".join(str(int(d)) for d in t.shape), t.data_offset, t.n_bytes,
            index, values.size))
        floats.append(values)
        index += values.size
    with open(path[:-len(".gguf")] + ".manifest.tsv", "w", encoding="utf-8") as f:
        f.write("# gguf-py %s view of %s: meta<TAB>key<TAB>type<TAB>json | tensor<TAB>name<TAB>type<TAB>ggml dims"
                "<TAB>absolute offset<TAB>bytes<TAB>first float index<TAB>count\n" % (gguf.__name__, os.path.basename(path)))
        f.write("\n".join(lines) + "\n")
    np.concatenate(floats).astype("<f4").tofile(path[:-len(".gguf")] + ".f32")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, fn in (("flux_conventions.gguf", flux_conventions), ("prefixed.gguf", prefixed)):
        path = os.path.join(OUT, name)
        fn(path)
        dump(path)
        print(path, os.path.getsize(path), file=sys.stderr)


if __name__ == "__main__":
    main()

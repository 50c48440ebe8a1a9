#!/usr/bin/env python3
"""Tiny text encoders (CLIP text model, T5 encoder) and transformers' outputs, for flux-core's tests.

Writes into flux-core/src/test/resources/reference/text/ (see README.md there):

  clip/config.json, clip/model.safetensors
        a random CLIPTextModel (hidden 64, 2 layers, 4 heads, vocab 1851 = the tiny CLIP tokenizer's, 77 positions,
        quick_gelu, legacy eos_token_id 2 like FLUX's openai/clip-vit-large-patch14 config),
        saved by save_pretrained with bfloat16 weights (half the bytes; every loader below reads
        the same bf16 values, exactly representable in float32)
  t5/config.json, t5/model-0000N-of-00003.safetensors, t5/model.safetensors.index.json
        a random T5EncoderModel (d_model 64, 2 layers, 4 heads, d_kv 16, d_ff 128, vocab 1100,
        gated-gelu (gelu_new) as T5 v1.1), saved sharded like FLUX's text_encoder_2, bf16
  t5-gguf/t5-tiny-Q8_0.gguf
        the same T5 as a llama.cpp / city96 "t5encoder" GGUF: token_embd and every matrix Q8_0
        (gguf-py's quantizer), norms and attn_rel_b F32, t5encoder.* hyper-parameter keys
  t5-gguf/t5-kquant.gguf
        a second, wider T5 (d_model 256, 1 layer, 2 heads, d_kv 64, d_ff 256, vocab 300) made of
        random Q4_K / Q6_K / Q8_0 blocks (gguf-py cannot quantize K types, so the blocks are drawn
        directly, with scales chosen for weight-like magnitudes); general.architecture "t5", no
        hyper-parameter keys (they must be inferred from the shapes) and one decoder tensor that a
        T5 *encoder* must ignore
  refs.safetensors
        inputs and transformers' outputs (see README.md for the key list)

The GGUF references ("twins") are transformers' T5EncoderModel outputs with weights set to
gguf-py's float32 dequantization of the very blocks in the file: float32 as is, bfloat16 by
rounding those float32 weights to bfloat16 (RNE), which is what flux4j's exact dequantization
to bf16 produces. Attention runs with transformers' default implementation ("sdpa").

Run from the repository root:
    /tmp/ref/bin/python tools/reference/text_encoder_refs.py
Deterministic: fixed seeds, CPU.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "flux-core/src/test/resources/reference/text"

CLIP_VOCAB = 1851      # the tiny CLIP tokenizer of flux-pipeline (tokenizer_refs.py): 1849 BOS, 1850 EOT
CLIP_BOS = 1849
CLIP_EOT = 1850        # the largest id, as 49407 in CLIP's real vocabulary
CLIP_OTHER_EOS = 500    # eos id of the non-legacy pooling variant
T5_VOCAB = 1100
T5_EOS = 1
T5_PAD = 0
T5_LEN = 64
K_LEN = 140             # > 128 = relative_attention_max_distance: the far bucket is used


def clip_config() -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=CLIP_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
        layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1, projection_dim=64)


def t5_config() -> T5Config:
    return T5Config(
        vocab_size=T5_VOCAB, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
        relative_attention_num_buckets=32, relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, is_encoder_decoder=False,
        use_cache=False, pad_token_id=T5_PAD, eos_token_id=T5_EOS, decoder_start_token_id=0)


def k_config() -> T5Config:
    return T5Config(
        vocab_size=300, d_model=256, d_kv=64, d_ff=256, num_layers=1, num_heads=2,
        relative_attention_num_buckets=32, relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, is_encoder_decoder=False,
        use_cache=False)


@torch.no_grad()
def perturb(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Makes norm weights/biases and linear biases non-trivial (their inits are 1 and 0)."""
    for name, p in model.named_parameters():
        if "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
        elif name.endswith("bias") and "relative_attention_bias" not in name:
            p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def load(cls, path: Path, dtype: torch.dtype):
    m = cls.from_pretrained(path, dtype=dtype).eval()
    assert m.config._attn_implementation == "sdpa", m.config._attn_implementation
    return m


# ----------------------------------------------------------------------------------- CLIP

def clip_ids(rng: np.random.Generator) -> torch.Tensor:
    """Two full-length (77) rows: a short prompt padded with EOT (CLIP's pad token) and a
    prompt that fills all 77 positions. Both contain CLIP_OTHER_EOS once."""
    short = [CLIP_BOS] + list(rng.integers(3, 1840, 12)) + [CLIP_EOT] * 64
    short[4] = CLIP_OTHER_EOS
    full = [CLIP_BOS] + list(rng.integers(3, 1840, 75)) + [CLIP_EOT]
    full[30] = CLIP_OTHER_EOS
    for row in (short, full):
        assert row.count(CLIP_OTHER_EOS) == 1 and len(row) == 77
    return torch.tensor([short, full], dtype=torch.long)


def make_clip(refs: dict) -> None:
    torch.manual_seed(1)
    m = CLIPTextModel(clip_config()).eval()
    perturb(m, torch.Generator().manual_seed(11))
    out = OUT / "clip"
    shutil.rmtree(out, ignore_errors=True)
    m.to(torch.bfloat16).save_pretrained(out)

    ids = clip_ids(np.random.default_rng(5))
    refs["clip.input_ids"] = ids
    for tag, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        model = load(CLIPTextModel, out, dtype)
        with torch.no_grad():
            o = model(input_ids=ids)
            refs[f"clip.{tag}.last_hidden_state"] = o.last_hidden_state.contiguous()
            refs[f"clip.{tag}.pooled"] = o.pooler_output.contiguous()
            # The same weights with a non-legacy eos_token_id: pooled at the first CLIP_OTHER_EOS.
            model.eos_token_id = CLIP_OTHER_EOS
            o2 = model(input_ids=ids)
            refs[f"clip.{tag}.pooled_eos{CLIP_OTHER_EOS}"] = o2.pooler_output.contiguous()


# ----------------------------------------------------------------------------------- T5

def t5_ids(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Row 0: 20 tokens, </s>, then padding (as T5TokenizerFast pads for FLUX); row 1: 63
    tokens and </s>, no padding. The mask is what the tokenizer would return."""
    short = list(rng.integers(2, T5_VOCAB, 20)) + [T5_EOS] + [T5_PAD] * (T5_LEN - 21)
    full = list(rng.integers(2, T5_VOCAB, T5_LEN - 1)) + [T5_EOS]
    ids = torch.tensor([short, full], dtype=torch.long)
    mask = (torch.arange(T5_LEN)[None, :] < torch.tensor([[21], [T5_LEN]])).long()
    return ids, mask


def run_t5(model: T5EncoderModel, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    with torch.no_grad():
        # FluxPipeline._get_t5_prompt_embeds passes input_ids only: no attention mask.
        return model(input_ids=ids, attention_mask=mask).last_hidden_state.contiguous()


def make_t5(refs: dict) -> T5EncoderModel:
    torch.manual_seed(2)
    m = T5EncoderModel(t5_config()).eval()
    perturb(m, torch.Generator().manual_seed(22))
    out = OUT / "t5"
    shutil.rmtree(out, ignore_errors=True)
    m.to(torch.bfloat16).save_pretrained(out, max_shard_size="150KB")
    assert (out / "model.safetensors.index.json").exists(), "expected a sharded checkpoint"

    ids, mask = t5_ids(np.random.default_rng(7))
    refs["t5.input_ids"] = ids
    refs["t5.attention_mask"] = mask
    f32 = load(T5EncoderModel, out, torch.float32)
    refs["t5.f32.last_hidden_state"] = run_t5(f32, ids)
    refs["t5.f32.masked_last_hidden_state"] = run_t5(f32, ids, mask)
    refs["t5.bf16.last_hidden_state"] = run_t5(load(T5EncoderModel, out, torch.bfloat16), ids)
    f16 = load(T5EncoderModel, out, torch.float16)
    # transformers keeps T5's `wo` in float32 when loading in float16 (_keep_in_fp32_modules).
    assert f16.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype == torch.float32
    refs["t5.f16.last_hidden_state"] = run_t5(f16, ids)

    rel = torch.arange(-300, 301)
    refs["t5.buckets_bidirectional_32_128"] = f32.encoder.block[0].layer[0].SelfAttention._relative_position_bucket(
        rel, bidirectional=True, num_buckets=32, max_distance=128).to(torch.int32)
    refs["t5.buckets_relative_positions"] = rel.to(torch.int32)
    return f32


# ----------------------------------------------------------------------------------- GGUF

def hf_to_gguf_name(name: str) -> str | None:
    """transformers T5 names -> llama.cpp names (gguf-py's tensor_mapping, as convert_hf_to_gguf)."""
    if name in ("shared.weight", "encoder.embed_tokens.weight"):
        return "token_embd.weight" if name == "shared.weight" else None
    if name == "encoder.final_layer_norm.weight":
        return "enc.output_norm.weight"
    parts = name.split(".")
    assert parts[0] == "encoder" and parts[1] == "block", name
    bid = parts[2]
    rest = ".".join(parts[3:])
    table = {
        "layer.0.layer_norm.weight": "attn_norm",
        "layer.0.SelfAttention.q.weight": "attn_q",
        "layer.0.SelfAttention.k.weight": "attn_k",
        "layer.0.SelfAttention.v.weight": "attn_v",
        "layer.0.SelfAttention.o.weight": "attn_o",
        "layer.0.SelfAttention.relative_attention_bias.weight": "attn_rel_b",
        "layer.1.layer_norm.weight": "ffn_norm",
        "layer.1.DenseReluDense.wi_0.weight": "ffn_gate",
        "layer.1.DenseReluDense.wi_1.weight": "ffn_up",
        "layer.1.DenseReluDense.wi.weight": "ffn_up",
        "layer.1.DenseReluDense.wo.weight": "ffn_down",
    }
    return f"enc.blk.{bid}.{table[rest]}.weight"


def gguf_to_hf_name(name: str) -> str:
    if name == "token_embd.weight":
        return "shared.weight"
    if name == "enc.output_norm.weight":
        return "encoder.final_layer_norm.weight"
    _, _, bid, kind, _ = name.split(".")
    table = {
        "attn_norm": "layer.0.layer_norm", "attn_q": "layer.0.SelfAttention.q",
        "attn_k": "layer.0.SelfAttention.k", "attn_v": "layer.0.SelfAttention.v",
        "attn_o": "layer.0.SelfAttention.o", "attn_rel_b": "layer.0.SelfAttention.relative_attention_bias",
        "ffn_norm": "layer.1.layer_norm", "ffn_gate": "layer.1.DenseReluDense.wi_0",
        "ffn_up": "layer.1.DenseReluDense.wi_1", "ffn_down": "layer.1.DenseReluDense.wo",
    }
    return f"encoder.block.{bid}.{table[kind]}.weight"


def write_t5_q8(model: T5EncoderModel, path: Path) -> None:
    """The dense tiny T5 (its bf16 weights, exactly as saved) as city96 would publish it."""
    cfg = model.config
    w = gguf.GGUFWriter(str(path), "t5encoder")
    w.add_context_length(512)
    w.add_embedding_length(cfg.d_model)
    w.add_feed_forward_length(cfg.d_ff)
    w.add_block_count(cfg.num_layers)
    w.add_head_count(cfg.num_heads)
    w.add_key_length(cfg.d_kv)
    w.add_value_length(cfg.d_kv)
    w.add_layer_norm_eps(cfg.layer_norm_epsilon)
    w.add_layer_norm_rms_eps(cfg.layer_norm_epsilon)
    w.add_relative_attn_buckets_count(cfg.relative_attention_num_buckets)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, p in model.state_dict().items():
        gname = hf_to_gguf_name(name)
        if gname is None:
            continue
        a = p.detach().float().numpy()
        if a.ndim == 1 or "attn_rel_b" in gname:
            w.add_tensor(gname, a.astype(np.float32))          # llama-quantize keeps these F32
        else:
            w.add_tensor(gname, gguf.quants.quantize(a, T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def random_kquant(rng: np.random.Generator, qtype: T, rows: int, cols: int) -> np.ndarray:
    """Random blocks of a K type whose values are weight-like (|w| mostly below ~0.2)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // block
    b = rng.integers(0, 256, (nblocks, size), dtype=np.uint8)
    d = (rng.uniform(0.5, 1.5, nblocks) * 2.0 ** -12).astype(np.float16)
    if qtype == T.Q4_K:      # d, dmin (f16) at 0 and 2; 6-bit scales/mins at 4..15; nibbles after
        b[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
        b[:, 2:4] = (d.astype(np.float32) * 8).astype(np.float16).view(np.uint8).reshape(-1, 2)
    elif qtype == T.Q6_K:    # ql, qh, then int8 scales at 192..207, d (f16) at 208
        b[:, 192:208] = (b[:, 192:208].view(np.int8) >> 2).view(np.uint8)
        b[:, 208:210] = d.view(np.uint8).reshape(-1, 2)
    else:
        raise ValueError(qtype)
    return b.reshape(rows, cols // block * size)


def write_t5_kquant(path: Path) -> None:
    cfg = k_config()
    rng = np.random.default_rng(33)
    d, inner, ff, vocab = cfg.d_model, cfg.num_heads * cfg.d_kv, cfg.d_ff, cfg.vocab_size
    w = gguf.GGUFWriter(str(path), "t5")    # the encoder-decoder arch string, no hyper-parameters
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    def kq(name, qtype, rows, cols):
        w.add_tensor(name, random_kquant(rng, qtype, rows, cols), raw_dtype=qtype)

    def q8(name, rows, cols, std):
        a = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(a, T.Q8_0), raw_dtype=T.Q8_0)

    def f32(name, a):
        w.add_tensor(name, np.ascontiguousarray(a, dtype=np.float32))

    kq("token_embd.weight", T.Q6_K, vocab, d)
    f32("enc.blk.0.attn_norm.weight", 1 + 0.1 * rng.standard_normal(d))
    kq("enc.blk.0.attn_q.weight", T.Q4_K, inner, d)
    kq("enc.blk.0.attn_k.weight", T.Q6_K, inner, d)
    kq("enc.blk.0.attn_v.weight", T.Q4_K, inner, d)
    q8("enc.blk.0.attn_o.weight", d, inner, inner ** -0.5)   # in_features 128: no K type fits
    f32("enc.blk.0.attn_rel_b.weight", rng.standard_normal((cfg.relative_attention_num_buckets, cfg.num_heads)))
    f32("enc.blk.0.ffn_norm.weight", 1 + 0.1 * rng.standard_normal(d))
    kq("enc.blk.0.ffn_gate.weight", T.Q4_K, ff, d)
    kq("enc.blk.0.ffn_up.weight", T.Q6_K, ff, d)
    kq("enc.blk.0.ffn_down.weight", T.Q4_K, d, ff)
    f32("enc.output_norm.weight", 1 + 0.1 * rng.standard_normal(d))
    f32("dec.output_norm.weight", np.ones(d))                 # decoder part: ignored by an encoder
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def twin(path: Path, cfg: T5Config) -> T5EncoderModel:
    """A float32 T5EncoderModel holding gguf-py's float32 dequantization of the file's tensors."""
    reader = gguf.GGUFReader(str(path))
    state = {}
    for t in reader.tensors:
        if t.name.startswith("dec."):
            continue
        shape = tuple(int(x) for x in reversed(t.shape))
        state[gguf_to_hf_name(t.name)] = torch.from_numpy(
            gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape).copy())
    model = T5EncoderModel(cfg).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"encoder.embed_tokens.weight"}, (missing, unexpected)
    model.encoder.embed_tokens = model.shared
    assert model.config._attn_implementation == "sdpa"
    return model


def make_gguf(refs: dict, dense_t5: T5EncoderModel) -> None:
    out = OUT / "t5-gguf"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    q8 = out / "t5-tiny-Q8_0.gguf"
    write_t5_q8(dense_t5, q8)
    m = twin(q8, t5_config())
    ids = refs["t5.input_ids"]
    refs["t5q8.f32.last_hidden_state"] = run_t5(m, ids)
    refs["t5q8.bf16.last_hidden_state"] = run_t5(m.to(torch.bfloat16), ids)

    kq = out / "t5-kquant.gguf"
    write_t5_kquant(kq)
    m = twin(kq, k_config())
    rng = np.random.default_rng(9)
    kids = torch.tensor([list(rng.integers(2, 300, K_LEN - 1)) + [T5_EOS]], dtype=torch.long)
    refs["t5k.input_ids"] = kids
    refs["t5k.f32.last_hidden_state"] = run_t5(m, kids)
    refs["t5k.bf16.last_hidden_state"] = run_t5(m.to(torch.bfloat16), kids)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    refs: dict[str, torch.Tensor] = {}
    make_clip(refs)
    dense = make_t5(refs)
    make_gguf(refs, dense)
    refs = {k: v.contiguous() for k, v in sorted(refs.items())}
    save_file(refs, str(OUT / "refs.safetensors"), metadata={
        "generator": "tools/reference/text_encoder_refs.py",
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "gguf": getattr(gguf, "__version__", "?")})
    for k, v in refs.items():
        print(f"{k:45s} {str(v.dtype):15s} {list(v.shape)}")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"total {total} bytes under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

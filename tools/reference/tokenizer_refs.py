#!/usr/bin/env python3
"""Tiny FLUX tokenizers (CLIP byte-level BPE, T5 SentencePiece Unigram) and reference token ids.

FLUX.1's real tokenizers (openai/clip-vit-large-patch14's and google/t5-v1_1-xxl's) are not
available offline, so the Java tokenizers are tested on tiny ones in exactly the same formats:

  flux-tokenizers/src/test/resources/tokenizers/clip/ vocab.json, merges.txt (CLIP layout: 256 byte
        symbols, the same with </w>, one token per merge, then <|startoftext|> <|endoftext|>),
        tokenizer_config.json, special_tokens_map.json and the tokenizer.json that transformers
        writes for them.
  flux-tokenizers/src/test/resources/tokenizers/t5/   spiece.model (SentencePiece Unigram, nmt_nfkc
        precompiled charsmap, <pad>=0 </s>=1 <unk>=2 like T5), the tokenizer.json transformers
        converts it to (with 100 <extra_id_N>), tokenizer_config.json, special_tokens_map.json.

Reference ids (tokenizers/refs/*.json) come from:
  * transformers' CLIPTokenizer (= CLIPTokenizerFast since transformers 5) from vocab.json +
    merges.txt and from tokenizer.json, called as diffusers' FluxPipeline calls it
    (padding="max_length", max_length=77, truncation=True), plus smaller max lengths;
  * transformers' T5Tokenizer (= T5TokenizerFast) from tokenizer.json, and `tokenizers` on
    variants of that file (older converters' normalizer/pre-tokenizer spellings);
  * the sentencepiece library itself for the slow/legacy T5Tokenizer semantics (transformers 4's
    T5Tokenizer(legacy=True) ran sp_model.encode on each piece between special tokens and
    appended </s>; transformers 5 no longer has a slow T5Tokenizer).

Usage (repository root):
    /tmp/ref/bin/python tools/reference/tokenizer_refs.py            # refs from committed tokenizers
    /tmp/ref/bin/python tools/reference/tokenizer_refs.py --train    # retrain the tiny tokenizers first
"""
from __future__ import annotations

import argparse
import base64
import copy
import io
import json
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RES = ROOT / "flux-tokenizers/src/test/resources/tokenizers"
CLIP_DIR = RES / "clip"
T5_DIR = RES / "t5"
REFS_DIR = RES / "refs"

# ---------------------------------------------------------------------------------------------
# Training corpus: deterministic, varied text (a few hundred KB).

WORDS = """a an the of in on at with under over beside behind above below near far inside outside
cat dog fox owl horse dragon robot astronaut wizard knight princess city forest mountain river ocean
lake desert castle tower bridge street market garden library kitchen bedroom spaceship moon sun star
planet galaxy cloud storm rain snow fog light shadow fire water stone glass metal wood paper gold
silver red green blue yellow purple orange black white pink brown grey golden crimson azure violet
big small tiny huge ancient modern futuristic old young beautiful dark bright glowing shiny rusty
soft sharp smooth rough wet dry cold warm hot frozen burning floating flying running sitting standing
sleeping reading painting playing dancing singing holding wearing riding eating drinking looking
photo photograph painting illustration render sketch drawing portrait landscape closeup macro wide
angle shot lens bokeh cinematic lighting dramatic studio soft volumetric rim backlit sunset sunrise
night day morning evening highly detailed intricate sharp focus 8k 4k hdr octane unreal engine
trending artstation masterpiece best quality realistic photorealistic hyperrealistic style by
oil watercolor acrylic ink charcoal pastel digital art concept anime manga comic pixel vector
minimalist surreal abstract baroque renaissance impressionist cyberpunk steampunk fantasy sci-fi
is are was were be been being have has had do does did will would can could should may might must
and or but not no yes very really quite so too also only just even still yet already always never
sign that says hello world welcome to flux text logo poster cover book title label banner neon
coffee tea cup table chair window door wall floor roof sky tree flower leaf grass rock sand wave
man woman child girl boy person people crowd family friend teacher doctor chef artist musician
its it's don't can't won't i'm you're we'll they've she'd he's let's that's what's isn't aren't""".split()

ACCENTED = """café naïve résumé façade jalapeño São Paulo Zürich Kraków Ångström crème brûlée
piñata déjà vu fiancée coöperate über straße Ærøskøbing Łódź Dvořák Mühlenstraße élève""".split()

FOREIGN = [
    "一只猫坐在月球上", "东京的夜晚", "美丽的风景画", "山水画", "ひらがなとカタカナ", "こんにちは世界",
    "한국어 문장입니다", "서울의 밤", "Привет мир", "Москва ночью", "Γειά σου κόσμε", "ΟΔΟΣ ΣΟΦΟΣ",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "क्षत्रिय", "สวัสดีชาวโลก", "Xin chào thế giới",
    "İstanbul ılık", "Ｆｕｌｌｗｉｄｔｈ　ＴＥＸＴ　１２３", "ﾊﾝｶｸ ｶﾀｶﾅ", "ﬁne ﬂower", "x² H₂O ½ ⅓",
    "①②③ ㎏ ㍻ Ⅻ", "∑ √ ∞ ≠ ≤ ≥ ±", "“smart” ‘quotes’ — … «guillemets»", "🐱🚀 👍🏽 👨‍👩‍👧 🇺🇸 ❤️ ©️",
    "e\u0301 a\u0308 o\u0302 n\u0303", "tab\there new\nline", "№ ™ ℃ ℉ µ Å",
]

PUNCT = [".", ",", "!", "?", ";", ":", "...", "!!", "?!", "-", "--", "(", ")", "[", "]", "\"", "'",
         "/", "&", "#", "@", "%", "*", "+", "=", "_", "~", "`", "^", "<", ">", "|", "\\", "$"]


def corpus(seed: int = 1234, sentences: int = 6000) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(sentences):
        n = rng.randint(4, 20)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.80:
                w = rng.choice(WORDS)
            elif r < 0.86:
                w = rng.choice(ACCENTED)
            elif r < 0.90:
                w = rng.choice(FOREIGN)
            elif r < 0.95:
                w = str(rng.randint(0, 10 ** rng.randint(1, 6)))
            else:
                w = rng.choice(PUNCT)
            if rng.random() < 0.15:
                w = w.capitalize()
            elif rng.random() < 0.03:
                w = w.upper()
            parts.append(w)
        s = " ".join(parts)
        s += rng.choice([".", "", ",", "!", "?", "."])
        lines.append(s)
    return lines


def compact_json(src: Path, dst: Path) -> None:
    """Copies a JSON file without its indentation (the test resources stay small)."""
    doc = json.loads(src.read_text(encoding="utf-8"))
    dst.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# CLIP: byte-level BPE in CLIP's file layout.

def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def train_clip(lines: list[str], vocab_size: int = 2000) -> None:
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>", continuing_subword_prefix=""))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
            behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    merges_wanted = vocab_size - 512 - 2
    trainer = trainers.BpeTrainer(
        vocab_size=merges_wanted + 600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        end_of_word_suffix="</w>", show_progress=False, min_frequency=2, special_tokens=[])
    tok.train_from_iterator(lines, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    merges = merges[:merges_wanted]

    # CLIP's vocab order: bytes, bytes + </w>, one token per merge, then the two special tokens.
    byte_syms = list(bytes_to_unicode().values())
    vocab_list = byte_syms + [s + "</w>" for s in byte_syms]
    seen = set(vocab_list)
    kept = []
    for m in merges:
        a, b = m.split(" ")
        if a + b in seen:
            continue
        seen.add(a + b)
        vocab_list.append(a + b)
        kept.append(m)
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(vocab_list)}

    if CLIP_DIR.exists():
        shutil.rmtree(CLIP_DIR)
    CLIP_DIR.mkdir(parents=True)
    (CLIP_DIR / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (CLIP_DIR / "merges.txt").write_text("#version: 0.2\n" + "\n".join(kept) + "\n", encoding="utf-8")
    special = {"content": None, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    (CLIP_DIR / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": dict(special, content="<|startoftext|>"),
        "eos_token": dict(special, content="<|endoftext|>"),
        "pad_token": "<|endoftext|>",
        "unk_token": dict(special, content="<|endoftext|>"),
    }, indent=2) + "\n", encoding="utf-8")
    # The layout of openai/clip-vit-large-patch14's tokenizer_config.json (tokens as objects).
    (CLIP_DIR / "tokenizer_config.json").write_text(json.dumps({
        "add_prefix_space": False,
        "bos_token": dict(special, content="<|startoftext|>", __type="AddedToken"),
        "do_lower_case": True,
        "eos_token": dict(special, content="<|endoftext|>", __type="AddedToken"),
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": dict(special, content="<|endoftext|>", __type="AddedToken"),
    }, indent=2) + "\n", encoding="utf-8")

    from transformers import CLIPTokenizer
    with tempfile.TemporaryDirectory() as tmp:
        CLIPTokenizer.from_pretrained(str(CLIP_DIR)).save_pretrained(tmp)
        compact_json(Path(tmp) / "tokenizer.json", CLIP_DIR / "tokenizer.json")
    print(f"CLIP: {len(vocab)} tokens, {len(kept)} merges -> {CLIP_DIR}")


# ---------------------------------------------------------------------------------------------
# T5: SentencePiece Unigram like google/t5-v1_1-xxl's spiece.model.

def train_t5(lines: list[str], vocab_size: int = 1000) -> None:
    import sentencepiece as spm

    if T5_DIR.exists():
        shutil.rmtree(T5_DIR)
    T5_DIR.mkdir(parents=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, byte_fallback=False,
        num_threads=1, shuffle_input_sentence=False, minloglevel=2)
    (T5_DIR / "spiece.model").write_bytes(model.getvalue())
    extra = [f"<extra_id_{i}>" for i in range(100)]
    (T5_DIR / "special_tokens_map.json").write_text(json.dumps({
        "additional_special_tokens": extra, "eos_token": "</s>", "pad_token": "<pad>",
        "unk_token": "<unk>"}, indent=2) + "\n", encoding="utf-8")
    # As in FLUX.1-dev's tokenizer_2/tokenizer_config.json (legacy=True, 512 tokens).
    (T5_DIR / "tokenizer_config.json").write_text(json.dumps({
        "additional_special_tokens": extra, "clean_up_tokenization_spaces": True,
        "eos_token": "</s>", "extra_ids": 100, "legacy": True, "model_max_length": 512,
        "pad_token": "<pad>", "sp_model_kwargs": {}, "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>"}, indent=2) + "\n", encoding="utf-8")

    from transformers import T5Tokenizer
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("spiece.model", "special_tokens_map.json", "tokenizer_config.json"):
            shutil.copy(T5_DIR / name, src / name)
        out = Path(tmp) / "out"
        T5Tokenizer.from_pretrained(str(src)).save_pretrained(str(out))
        compact_json(out / "tokenizer.json", T5_DIR / "tokenizer.json")
    print(f"T5: {vocab_size} pieces -> {T5_DIR}")


# ---------------------------------------------------------------------------------------------
# Prompts.

LONG_SENTENCE = ("A highly detailed cinematic photograph of an ancient castle on a mountain above a "
                 "frozen lake at sunset, volumetric light, golden clouds, 8k, sharp focus, by a "
                 "famous artist; ")


def prompts() -> list[str]:
    p = [
        "",
        " ",
        "a cat",
        "A photo of a cat holding a sign that says hello world",
        "An astronaut riding a horse on the moon, digital art, trending on ArtStation",
        "  leading and trailing spaces   ",
        "multiple     spaces\tand\ttabs\nand\nnewlines\r\nand CRLF",
        "ALL CAPS PROMPT WITH SHOUTING!!!",
        "MiXeD CaSe WoRdS",
        "punctuation: ,.;:!? ... -- () [] {} <> \"quotes\" 'single' `back`",
        "it's don't can't won't I'M YOU'RE we'll they've she'd",
        "'s 't 're 've 'm 'll 'd",
        "O'Neil's dog's bone isn't theirs",
        "digits 0123456789 and 3.14159 and 1,000,000 and 2024-01-31",
        "12345678901234567890",
        "café naïve résumé façade jalapeño crème brûlée",
        "Ångström Zürich Kraków Dvořák Łódź Ærøskøbing",
        "cafe\u0301 na\u0308ive combining marks o\u0302 n\u0303",
        "\uff41\u0301 fullwidth with combining",
        "Ｆｕｌｌｗｉｄｔｈ　ＴＥＸＴ　１２３！",
        "ﾊﾝｶｸ ｶﾀｶﾅ half-width katakana",
        "ligatures ﬁne ﬂower ﬀ ﬃ",
        "x² H₂O ½ ⅓ ① ② ㎏ ㍻ Ⅻ № ™ ℃",
        "∑ √ ∞ ≠ ≤ ≥ ± × ÷",
        "“smart” ‘quotes’ — … «guillemets» „low“",
        "emoji 🐱🚀 👍🏽 👨‍👩‍👧 🇺🇸 ❤️ ©️ 1️⃣",
        "🐱",
        "一只猫坐在月球上",
        "东京的夜晚 with English",
        "ひらがなとカタカナ こんにちは世界",
        "한국어 문장입니다 서울의 밤",
        "Привет мир, Москва ночью",
        "Γειά σου κόσμε ΟΔΟΣ ΣΟΦΟΣ σοφός",
        "مرحبا بالعالم",
        "שלום עולם",
        "नमस्ते दुनिया क्षत्रिय",
        "สวัสดีชาวโลก",
        "Xin chào thế giới",
        "İstanbul ılık IŞIK",
        "STRASSE Straße ß ẞ",
        "control \x00 \x07 \x1b chars",
        "zero\u200bwidth\u200cjoiner\u200d and BOM \ufeff",
        "no\u00a0break\u2003em\u3000ideographic\u2028line\u0085nel",
        "literal \u2581 lower one eighth block \u2581\u2581",
        "<|startoftext|>hello<|endoftext|>",
        "<|STARTOFTEXT|> upper case specials <|EndOfText|>",
        "a </s> b <pad> c <unk> d",
        "sentinel <extra_id_0> and <extra_id_99> tokens<extra_id_5>x",
        "https://example.com/path_to/file.png?query=1&b=2#anchor",
        "email someone@example.org, C++ & C# & F#, $100 or 50% off",
        "e.g. U.S.A. i.e. etc. Mr. Smith Jr.",
        "#hashtag @mention ~tilde ^caret |pipe| \\backslash/",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "a-b_c.d/e\\f:g;h",
        "!!!???...,,,;;;",
        "😀😃😄😁😆😅😂🤣",
        "mixed 中文English日本語한국어",
        "\t\n\r ",
        "trailing newline\n",
        "unicode nbsp\u00a0\u00a0double",
        "Ⓐ ⓑ ⓒ circled and ＾＿＾ fullwidth symbols",
        "ḱṓ ṩ ǅ ǈ ǋ titlecase digraphs",
        "A photo of a cat holding a sign that says hello world, " * 3,
        LONG_SENTENCE * 4,
        LONG_SENTENCE * 30,
        "word " * 600,
    ]
    return p


# ---------------------------------------------------------------------------------------------
# References.

def row(ids, mask, pad_id):
    """Real tokens of one padded row; checks that the rest is padding."""
    n = sum(mask)
    assert all(m == 1 for m in mask[:n]) and all(m == 0 for m in mask[n:]), mask
    assert all(i == pad_id for i in ids[n:]), ids
    return list(ids[:n])


def batch_refs(tok, texts, max_lengths, pad_id):
    out = {}
    for L in max_lengths:
        enc = tok(texts, padding="max_length", max_length=L, truncation=True)
        for ids, mask in zip(enc["input_ids"], enc["attention_mask"]):
            assert len(ids) == L
        out[str(L)] = [row(i, m, pad_id) for i, m in zip(enc["input_ids"], enc["attention_mask"])]
    out["untruncated"] = [tok(t)["input_ids"] for t in texts]
    enc = tok(texts, padding="longest")
    longest = len(enc["input_ids"][0])
    # Rows padded to the longest are the untruncated rows plus padding: only the length is kept.
    assert [row(i, m, pad_id) for i, m in zip(enc["input_ids"], enc["attention_mask"])] == out["untruncated"]
    out["longest"] = {"length": longest}
    return out


def clip_refs(texts):
    from transformers import CLIPTokenizer
    from tokenizers import Tokenizer

    with_json = CLIPTokenizer.from_pretrained(str(CLIP_DIR))  # uses tokenizer.json
    # ... and from vocab.json + merges.txt alone (FLUX.1's tokenizer/ folder has no tokenizer.json).
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(CLIP_DIR / name, Path(tmp) / name)
        from_vocab = CLIPTokenizer.from_pretrained(tmp)
    pad = from_vocab.pad_token_id
    a = batch_refs(from_vocab, texts, [77, 16], pad)
    b = batch_refs(with_json, texts, [77, 16], pad)
    assert a == b, "CLIP from vocab/merges and from tokenizer.json disagree"
    raw = Tokenizer.from_file(str(CLIP_DIR / "tokenizer.json"))
    tokens = [raw.encode(t).tokens for t in texts]
    assert [raw.encode(t).ids for t in texts] == a["untruncated"], "tokenizers and transformers disagree"
    decoded = [from_vocab.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
               for ids in a["untruncated"]]
    return {"tokenizer": "transformers %s CLIPTokenizer" % __import__("transformers").__version__,
            "pad_id": pad, "bos_id": from_vocab.bos_token_id, "eos_id": from_vocab.eos_token_id,
            "texts": texts, "tokens": tokens, "decoded": decoded, **a,
            "slow_v4": clip_slow_refs(texts)}


# transformers 4's pure-Python CLIPTokenizer (no ftfy) is gone from transformers 5 and cannot be
# installed here, so its algorithm is restated below from its documented behaviour: BERT's basic
# tokenizer cleans the text, CLIP's pattern is searched case-insensitively, each match is BPE'd
# with ranks from merges.txt. This checks the Java SLOW flavour against Python's own Unicode
# handling (unicodedata, str.lower/split, the regex module), not against transformers itself.

CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def basic_clean(text: str) -> str:
    import unicodedata
    chars = []
    for ch in text:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if cp == 0 or cp == 0xFFFD or (cat.startswith("C") and ch not in "\t\n\r"):
            continue
        if ch in " \t\n\r" or cat == "Zs":
            chars.append(" ")
        elif any(lo <= cp <= hi for lo, hi in CJK_RANGES):
            chars.append(" " + ch + " ")
        else:
            chars.append(ch)
    words = unicodedata.normalize("NFC", "".join(chars)).split()
    return " ".join(w.lower() for w in words)


def clip_slow_refs(texts):
    import regex

    vocab = json.loads((CLIP_DIR / "vocab.json").read_text(encoding="utf-8"))
    lines = (CLIP_DIR / "merges.txt").read_text(encoding="utf-8").strip().split("\n")[1:49152 - 256 - 2 + 1]
    ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
    byte_map = bytes_to_unicode()
    pattern = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE)
    specials = ["<|startoftext|>", "<|endoftext|>"]
    bos, eos = vocab[specials[0]], vocab[specials[1]]

    def bpe(word):
        if word in specials:
            return [word]
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = [(ranks.get((a, b), float("inf")), a, b) for a, b in zip(symbols, symbols[1:])]
            rank, a, b = min(pairs)
            if rank == float("inf"):
                break
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    special_re = re.compile("|".join(re.escape(s) for s in specials))
    out = []
    for t in texts:
        ids, pos = [bos], 0
        pieces = []
        for m in special_re.finditer(t):
            pieces.append((t[pos:m.start()], None))
            pieces.append((None, vocab[m.group(0)]))
            pos = m.end()
        pieces.append((t[pos:], None))
        for text, special in pieces:
            if special is not None:
                ids.append(special)
                continue
            for word in pattern.findall(basic_clean(text)):
                mapped = "".join(byte_map[b] for b in word.encode("utf-8"))
                ids += [vocab.get(sym, eos) for sym in bpe(mapped)]
        out.append(ids + [eos])
    return out


def t5_variants(doc):
    """tokenizer.json spellings of T5's text handling by various transformers/tokenizers versions."""
    charsmap = None
    n = doc["normalizer"]
    if n["type"] == "Precompiled":
        charsmap = n["precompiled_charsmap"]
    else:
        charsmap = [x for x in n["normalizers"] if x["type"] == "Precompiled"][0]["precompiled_charsmap"]
    pre = {"type": "Precompiled", "precompiled_charsmap": charsmap}
    collapse = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    v = {}
    legacy = copy.deepcopy(doc)  # transformers 4.2x T5 conversion
    legacy["normalizer"] = {"type": "Sequence", "normalizers": [pre, collapse]}
    legacy["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}]}
    legacy["decoder"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    v["legacy"] = legacy
    spm_conv = copy.deepcopy(doc)  # transformers 4.4x SpmConverter
    spm_conv["normalizer"] = {"type": "Sequence", "normalizers": [
        pre, {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]}
    spm_conv["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                                 "split": True}
    v["spm_converter"] = spm_conv
    first = copy.deepcopy(doc)  # legacy=False conversions prepend only at the very start
    first["normalizer"] = pre
    first["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                              "split": False}
    v["prepend_first"] = first
    return v


def t5_slow(sp, texts, max_lengths, specials):
    """transformers 4's T5Tokenizer(legacy=True): sentencepiece on the text between special tokens."""
    pat = re.compile("|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)))
    ids_of = {s: i for s, i in specials.items()}
    out_untrunc = []
    for t in texts:
        ids = []
        pos = 0
        for m in pat.finditer(t):
            if m.start() > pos:
                ids += sp.encode(t[pos:m.start()])
            ids.append(ids_of[m.group(0)])
            pos = m.end()
        if pos < len(t):
            ids += sp.encode(t[pos:])
        out_untrunc.append(ids + [1])
    out = {"untruncated": out_untrunc}
    for L in max_lengths:
        out[str(L)] = [u[:L - 1] + [1] if len(u) > L else u for u in out_untrunc]
    return out


def t5_refs(texts):
    from transformers import T5Tokenizer
    from tokenizers import Tokenizer
    import sentencepiece as spm

    tok = T5Tokenizer.from_pretrained(str(T5_DIR))
    pad = tok.pad_token_id
    lengths = [512, 256, 77, 16]
    fast = batch_refs(tok, texts, lengths, pad)
    raw = Tokenizer.from_file(str(T5_DIR / "tokenizer.json"))
    tokens = [raw.encode(t).tokens for t in texts]
    # transformers 5 rebuilds T5's text handling in T5Tokenizer.__init__; `tokenizers` reads the
    # file verbatim (as transformers 4's T5TokenizerFast did). For this file both agree.
    assert [raw.encode(t).ids for t in texts] == fast["untruncated"], "tokenizers and transformers disagree"
    decoded = [tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
               for ids in fast["untruncated"]]
    doc = json.loads((T5_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    variants = {}
    for name, vdoc in t5_variants(doc).items():
        vt = Tokenizer.from_str(json.dumps(vdoc))
        variants[name] = [vt.encode(t).ids for t in texts]
    sp = spm.SentencePieceProcessor(model_file=str(T5_DIR / "spiece.model"))
    specials = {"</s>": 1, "<pad>": 0, "<unk>": 2}
    specials.update({f"<extra_id_{i}>": tok.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(100)})
    slow = t5_slow(sp, texts, [512, 77], specials)
    slow["normalized"] = [sp.normalize(t) for t in texts]
    return {"tokenizer": "transformers %s T5Tokenizer" % __import__("transformers").__version__,
            "pad_id": pad, "eos_id": tok.eos_token_id, "unk_id": tok.unk_token_id,
            "texts": texts, "tokens": tokens, "decoded": decoded,
            "normalized": [raw.normalizer.normalize_str(t) for t in texts],
            **fast, "variants": variants, "sentencepiece": slow}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", action="store_true", help="retrain the tiny tokenizers first")
    args = ap.parse_args()
    if args.train:
        lines = corpus()
        print(f"corpus: {len(lines)} lines, {sum(len(l.encode()) + 1 for l in lines)} bytes")
        train_clip(lines)
        train_t5(lines)
    texts = prompts()
    REFS_DIR.mkdir(parents=True, exist_ok=True)
    for name, refs in (("clip_refs.json", clip_refs(texts)), ("t5_refs.json", t5_refs(texts))):
        (REFS_DIR / name).write_text(json.dumps(refs, ensure_ascii=False, separators=(",", ":")) + "\n",
                                     encoding="utf-8")
        print(f"{name}: {(REFS_DIR / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

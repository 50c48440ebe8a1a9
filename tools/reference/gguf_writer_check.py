#!/usr/bin/env python3
"""Cross-check of flux-gguf's GgufWriter against gguf-py (reader and writer).

For each GGUF file our writer produced under flux-gguf/src/test/resources/reference/writer/
(ours.gguf, ours-edge.gguf) this script writes <file>.manifest.txt: what gguf-py's GGUFReader
sees in it, i.e. the header numbers, every metadata key with its type and value, and every
tensor with its type, dims, absolute data offset, byte count and the SHA-256 of its bytes.

It then rebuilds the same content with gguf-py's GGUFWriter (same keys in the same order, same
tensors) and records whether the result is byte-identical to our file. For ours.gguf it must be;
ours-edge.gguf holds things gguf-py's writer cannot express (empty arrays, nested arrays of
element types other than INT32/FLOAT32/BOOL/STRING), so there the reason is recorded instead.

GgufWriterReferenceTest (Java) regenerates the .gguf files with the current writer, checks they
are byte-identical to the committed ones (so this verdict still applies) and compares each
manifest with what flux-gguf's own reader sees.

Manifest format, one item per line ('#' lines are comments):
    file NAME | sha256 HEX | version N | alignment N | data_offset N | kv_count N | tensor_count N
    kv KEY VALUE              KEY is a JSON string; VALUE is typed:
                                  scalar:  TYPE(LITERAL), e.g. UINT8(7), STRING("a"), FLOAT32(0.5)
                                  array:   ARRAY<ELEMTYPE>[E1,E2,...], each element a LITERAL, or
                                           itself ARRAY<...>[...] when ELEMTYPE is ARRAY
                              LITERAL: decimal integer; true/false; a float as Python's repr of
                              the exact value (nan, inf, -inf included); a JSON string (ASCII-escaped)
    tensor NAME TYPE dims=[D0,...] offset=N bytes=N sha256=HEX
                              NAME a JSON string; dims as stored, innermost first; offset absolute
    gguf_py_writer identical sha256=HEX | gguf_py_writer differs: REASON

Regenerate everything (from the repository root):
    mvn -q -f flux-gguf/pom.xml test -Dtest=GgufWriterReferenceTest -Dflux4j.regenerateReference=true
    /tmp/ref/bin/python tools/reference/gguf_writer_check.py
where /tmp/ref is a virtualenv with numpy and gguf (gguf-py) 0.19.0.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

DIR = Path(__file__).resolve().parents[2] / "flux-gguf/src/test/resources/reference/writer"
FILES = ["ours.gguf", "ours-edge.gguf"]


def literal(vtype: GGUFValueType, value) -> str:
    """One scalar in the manifest's literal syntax."""
    if vtype == GGUFValueType.STRING:
        return json.dumps(value, ensure_ascii=True)
    if vtype == GGUFValueType.BOOL:
        return "true" if value else "false"
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        # repr of a Python float is the shortest string that reads back to the same double, and
        # a float32 widened to double is exact, so Java recovers the stored bits (NaN aside).
        return repr(float(value))
    return str(int(value))


def walk(parts: list, i: int, vtype: GGUFValueType):
    """Decodes one value from a ReaderField's parts (the arrays gguf-py read from the file),
    starting at parts[i]. gguf-py lays them out as: scalar -> [value]; string -> [len, bytes];
    array -> [element type, count, element parts...]. Returns (manifest text, Python value,
    next index). Walking the parts keeps nested arrays nested (ReaderField.contents() flattens them).
    """
    if vtype == GGUFValueType.STRING:
        text = bytes(parts[i + 1]).decode("utf-8")
        return literal(vtype, text), text, i + 2
    if vtype == GGUFValueType.ARRAY:
        etype = GGUFValueType(int(parts[i][0]))
        count = int(parts[i + 1][0])
        i += 2
        texts, values = [], []
        for _ in range(count):
            text, value, i = walk(parts, i, etype)
            texts.append(text)
            values.append(value)
        return f"ARRAY<{etype.name}>[{','.join(texts)}]", (etype, values), i
    value = parts[i].tolist()[0]
    return literal(vtype, value), value, i + 1


def typed(vtype: GGUFValueType, text: str) -> str:
    return text if vtype == GGUFValueType.ARRAY else f"{vtype.name}({text})"


def plain(value):
    """The (element type, values) tuples of walk() as the nested lists GGUFWriter takes."""
    if isinstance(value, tuple):
        return [plain(v) for v in value[1]]
    return value


def rewrite_with_gguf_py(reader: GGUFReader, fields: list, path: Path) -> None:
    """Writes the content gguf-py read from our file again, with gguf-py's GGUFWriter."""
    if not fields or fields[0][0] != "general.architecture":
        raise ValueError("GGUFWriter always writes general.architecture first; our file does not start with it")
    arch = fields[0][2]
    writer = GGUFWriter(path, arch)
    for key, vtype, value in fields[1:]:
        if key == "general.alignment":
            writer.data_alignment = value
        if vtype == GGUFValueType.ARRAY:
            # Inner arrays get their element type from the Python values (int -> INT32, ...):
            # GGUFWriter has no way to say otherwise.
            writer.add_key_value(key, plain(value), vtype, sub_type=value[0])
        else:
            writer.add_key_value(key, value, vtype)
    for t in reader.tensors:
        writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check(path: Path) -> list[str]:
    data = path.read_bytes()
    reader = GGUFReader(path)
    out = [
        f"# What gguf-py {version()} GGUFReader sees in {path.name}; written by tools/reference/gguf_writer_check.py",
        f"file {path.name}",
        f"sha256 {hashlib.sha256(data).hexdigest()}",
    ]
    fields = []
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue  # gguf-py's pseudo-fields for the header
        vtype = field.types[0]
        text, value, end = walk(field.parts, 3, vtype)
        assert end == len(field.parts), field.name
        fields.append((field.name, vtype, value))
        if vtype != GGUFValueType.ARRAY or value[0] != GGUFValueType.ARRAY:
            # Flat values: what ReaderField.contents() gives must agree with the walk.
            expect = plain(value)
            got = field.contents()
            same = got == expect or (isinstance(got, float) and math.isnan(got) and math.isnan(expect)) or \
                (isinstance(got, list) and all(a == b or (a != a and b != b) for a, b in zip(got, expect)))
            assert same, (field.name, got, expect)
        out.append(f"kv {json.dumps(field.name, ensure_ascii=True)} {typed(vtype, text)}")
    out[3:3] = [
        f"version {int(reader.fields['GGUF.version'].parts[-1][0])}",
        f"alignment {reader.alignment}",
        f"data_offset {reader.data_offset}",
        f"kv_count {len(fields)}",
        f"tensor_count {len(reader.tensors)}",
    ]
    for t in reader.tensors:
        raw = bytes(np.ascontiguousarray(t.data).view(np.uint8).reshape(-1))
        assert len(raw) == t.n_bytes, t.name
        assert raw == data[t.data_offset:t.data_offset + t.n_bytes], t.name
        dims = ",".join(str(int(d)) for d in t.shape)
        out.append(f"tensor {json.dumps(t.name, ensure_ascii=True)} {t.tensor_type.name} dims=[{dims}] "
                   f"offset={t.data_offset} bytes={t.n_bytes} sha256={hashlib.sha256(raw).hexdigest()}")

    with tempfile.TemporaryDirectory() as tmp:
        twin = Path(tmp) / "gguf-py.gguf"
        try:
            rewrite_with_gguf_py(reader, fields, twin)
            twin_bytes = twin.read_bytes()
            if twin_bytes == data:
                out.append(f"gguf_py_writer identical sha256={hashlib.sha256(twin_bytes).hexdigest()}")
            else:
                at = next((k for k in range(min(len(data), len(twin_bytes))) if data[k] != twin_bytes[k]),
                          min(len(data), len(twin_bytes)))
                out.append(f"gguf_py_writer differs: first at byte {at} (ours {len(data)} bytes, gguf-py {len(twin_bytes)})")
        except Exception as e:  # noqa: BLE001 - the reason is the result
            out.append(f"gguf_py_writer differs: gguf-py cannot write this content: {type(e).__name__}: {e}")
    return out


def version() -> str:
    from importlib.metadata import version as v
    return v("gguf")


def main() -> int:
    status = 0
    for name in FILES:
        path = DIR / name
        lines = check(path)
        (DIR / (name + ".manifest.txt")).write_text("\n".join(lines) + "\n", encoding="ascii")
        print(lines[-1].replace("gguf_py_writer", f"{name}: gguf-py writer"))
        if name == "ours.gguf" and "identical" not in lines[-1]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

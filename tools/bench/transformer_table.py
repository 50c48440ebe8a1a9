#!/usr/bin/env python3
"""Prints BENCHMARKS.md's side-by-side transformer table from TransformerBenchmark's and
diffusers_transformer_bench.py's JSON files (flux4j-TYPE.json, diffusers-TYPE-gguf.json,
diffusers-TYPE-dense.json), as tools/gpu/transformer-bench.sh writes them under $OUT.

usage: transformer_table.py FOLDER... (files of the same type in later folders win)
"""
import glob
import json
import os
import sys


def load(folders):
    found = {}
    for folder in folders:
        for f in glob.glob(os.path.join(folder, "*.json")):
            found[os.path.basename(f)] = json.load(open(f))
    return found


def runs(doc, path=None):
    out = {}
    for r in doc["runs"]:
        if path is None or r.get("path") == path:
            out[r["size"]] = r
    return out


def cell(r):
    return "%.1f (%.1f)" % (r["median_ms"], r["p90_ms"]) if r else "-"


def main():
    docs = load(sys.argv[1:])
    types = sorted({k[len("flux4j-"):-len(".json")] for k in docs if k.startswith("flux4j-")},
                   key=lambda t: ["Q8_0", "Q4_K", "Q6_K", "Q5_K", "Q4_0", "BF16"].index(t)
                   if t in ["Q8_0", "Q4_K", "Q6_K", "Q5_K", "Q4_0", "BF16"] else 99)
    print("| file | runner | 1024x1024 ms median (p90) | 672x496 ms median (p90) "
          "| peak alloc / reserved GiB (1024²) | flux4j speed-up |")
    print("|---|---|---|---|---|---|")
    for t in types:
        f = docs["flux4j-%s.json" % t]
        rows = []
        for path in ("fast", "cached", "nomatvec", "reference"):
            rs = runs(f, path)
            if rs:
                rows.append(("flux4j " + path, rs))
        d = docs.get("diffusers-%s-gguf.json" % t)
        dd = docs.get("diffusers-%s-dense.json" % t)
        base = runs(d) if d else {}
        for name, rs in rows:
            big, small = rs.get("1024x1024"), rs.get("672x496")
            speed = ""
            if base and big and name == "flux4j fast":
                speed = "%.2fx / %.2fx" % (base["1024x1024"]["median_ms"] / big["median_ms"],
                                           base["672x496"]["median_ms"] / small["median_ms"])
            print("| %s | **%s** | %s | %s | %.2f / %.2f | %s |" % (
                t, name, cell(big), cell(small), big["peak_alloc_gib"], big["peak_reserved_gib"], speed))
        for label, doc in (("diffusers GGUF", d), ("diffusers dense (dequantized once)", dd)):
            if doc:
                rs = runs(doc)
                big = rs["1024x1024"]
                print("| %s | %s | %s | %s | %.2f / %.2f | |" % (
                    t, label, cell(big), cell(rs.get("672x496")), big["peak_alloc_gib"], big["peak_reserved_gib"]))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Builds ggml_kquant_ref (ggml's scalar reference quantizers behind a tiny CLI) from a ggml
# checkout, for gguf_quant_refs.py. Nothing of ggml is copied into this repository.
#
# usage: build_ggml_kquant_ref.sh <ggml source dir, or a bare git dir of ggml> <output binary>
#
# -ffp-contract=off and no -march: the reference data must be plain IEEE float32 arithmetic in
# source order (no fused multiply-add), which is what the Java port reproduces.
set -euo pipefail
src="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -d "$src/src" ]; then
  cp -r "$src/src" "$src/include" "$work/"
else
  git -C "$src" archive HEAD src include | tar -x -C "$work"
fi
gcc -O2 -ffp-contract=off -std=gnu11 -I"$work/include" -I"$work/src" \
  "$here/ggml_kquant_ref.c" "$work/src/ggml-quants.c" -lm -o "$out"
echo "built $out from ggml $(git -C "$src" rev-parse HEAD 2>/dev/null || echo '(unknown commit)')"
